package auth

import (
	"errors"
	"strings"
	"testing"
)

// cheapArgon2 keeps tests fast; TestHashPasswordDefaultParameters covers
// the real cost once.
var cheapArgon2 = argon2Params{memory: 64, time: 1, threads: 1, saltLen: 16, keyLen: 32}

func useCheapArgon2(t *testing.T) {
	t.Helper()
	saved := hashArgon2
	hashArgon2 = cheapArgon2
	t.Cleanup(func() { hashArgon2 = saved })
}

func TestHashPasswordDefaultParameters(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("got %q, want OWASP default parameters", h)
	}
	ok, rehash, err := VerifyPassword(h, "correct horse battery staple")
	if !ok || rehash || err != nil {
		t.Errorf("VerifyPassword = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestVerifyPassword(t *testing.T) {
	useCheapArgon2(t)
	h, err := HashPassword("s3cret-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("s3cret-passphrase")
	if h == h2 {
		t.Error("two hashes of one password are equal; salt is not random")
	}
	tests := []struct {
		pw     string
		wantOK bool
	}{
		{"s3cret-passphrase", true},
		{"s3cret-passphrasE", false},
		{"s3cret-passphras", false},
		{"", false},
		{strings.Repeat("x", 5000), false},
	}
	for _, tt := range tests {
		ok, rehash, err := VerifyPassword(h, tt.pw)
		if err != nil || ok != tt.wantOK || rehash {
			t.Errorf("VerifyPassword(%.20q) = %v, %v, %v; want %v, false, nil", tt.pw, ok, rehash, err, tt.wantOK)
		}
	}
}

func TestVerifyPasswordNeedsRehash(t *testing.T) {
	useCheapArgon2(t)
	weak, _ := HashPassword("pw")
	hashArgon2 = argon2Params{memory: 128, time: 2, threads: 1, saltLen: 16, keyLen: 32}
	ok, rehash, err := VerifyPassword(weak, "pw")
	if !ok || !rehash || err != nil {
		t.Errorf("got %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	// A wrong password never asks for a rehash.
	if _, rehash, _ := VerifyPassword(weak, "other"); rehash {
		t.Error("wrong password reported needsRehash")
	}
}

func TestHashPasswordRejects(t *testing.T) {
	for _, pw := range []string{"", strings.Repeat("a", 1025)} {
		if _, err := HashPassword(pw); err == nil {
			t.Errorf("HashPassword(len %d): got nil error", len(pw))
		}
	}
}

func TestParsePHC(t *testing.T) {
	const salt = "c2FsdHNhbHRzYWx0c2FsdA"                     // 16 bytes
	const key = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI" // 32 bytes
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"valid", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key, true},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"old version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"order", "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key, false},
		{"memory bomb", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key, false},
		{"time bomb", "$argon2id$v=19$m=19456,t=1000,p=1$" + salt + "$" + key, false},
		{"zero time", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key, false},
		{"zero threads", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key, false},
		{"memory below 8p", "$argon2id$v=19$m=7,t=2,p=1$" + salt + "$" + key, false},
		{"leading zero", "$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key, false},
		{"sign", "$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key, false},
		{"padded base64", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, false},
		{"short salt", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key, false},
		{"short key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$c2FsdA", false},
		{"extra field", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$", false},
		{"missing field", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"empty", "", false},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := parsePHC(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("parsePHC: got error %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformedHash) {
				t.Errorf("got %v, want ErrMalformedHash", err)
			}
			_, _, verr := VerifyPassword(tt.in, "x")
			if (verr == nil) != tt.ok {
				t.Errorf("VerifyPassword error %v, want ok=%v", verr, tt.ok)
			}
		})
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parsePHC(s)
		if err != nil {
			return
		}
		// Anything accepted is within the DoS limits and has one spelling.
		if p.memory > maxArgon2Memory || p.time > maxArgon2Time || p.threads > maxArgon2Threads {
			t.Fatalf("accepted out-of-range parameters %+v", p)
		}
		if got := encodePHC(p, salt, key); got != s {
			t.Fatalf("re-encoded %q as %q", s, got)
		}
	})
}

func TestPasswordPolicyCheck(t *testing.T) {
	tests := []struct {
		user, pw string
		wantErr  string // substring; "" means accepted
	}{
		{"alice", "vivid-otter-lamp-42", ""},
		{"alice", "short", "at least 12"},
		{"alice", "ÄÖÜäöüßéèêëà", ""}, // 12 characters, 24 bytes
		{"alice", strings.Repeat("ab", 128) + "c", "at most 256"},
		{"alice", strings.Repeat("zq", 128), ""},
		{"alice", "aaaaaaaaaaaaaaaa", "single character"},
		{"alice", "my-ALICE-password-x", "user name"},
		{"al", "al-is-my-name-here", ""}, // too short a name to match on
		{"", "nobody-here-at-all", ""},
		{"bob", "Password2024!", "too common"},
		{"bob", "qwertyuiop12", "too common"},
		{"bob", "123456789012", "too common"},
		{"bob", "Welcome1!!!!", "too common"},
		{"bob", "invalid\xffutf8-bytes", "invalid"},
	}
	for _, tt := range tests {
		err := PasswordPolicy{}.Check(tt.user, tt.pw)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Check(%q, %q) = %v, want nil", tt.user, tt.pw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrWeakPassword) {
			t.Errorf("Check(%q, %q) = %v, want ErrWeakPassword mentioning %q", tt.user, tt.pw, err, tt.wantErr)
		}
	}
	if err := (PasswordPolicy{MaxBytes: 5000}).Check("", strings.Repeat("xy", 600)); err == nil {
		t.Error("MaxBytes over 1024 accepted a password HashPassword refuses")
	}
	custom := PasswordPolicy{MinLength: 16, MaxBytes: 20}
	if err := custom.Check("", "fifteen-chars-x"); err == nil {
		t.Error("MinLength 16 accepted 15 characters")
	}
	if err := custom.Check("", "twenty-one-characters"); err == nil {
		t.Error("MaxBytes 20 accepted 21 bytes")
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		pw := GeneratePassword()
		if len(pw) != 20 {
			t.Fatalf("got %q, want 20 characters", pw)
		}
		if strings.ContainsAny(pw, "0Oo1Iil") {
			t.Fatalf("got %q with an ambiguous character", pw)
		}
		if err := (PasswordPolicy{}).Check("", pw); err != nil {
			t.Fatalf("generated %q fails the policy: %v", pw, err)
		}
		if seen[pw] {
			t.Fatalf("generated %q twice", pw)
		}
		seen[pw] = true
	}
}

// BenchmarkVerifyPassword measures one login's hashing cost at the real
// parameters, which bounds logins per second per core.
func BenchmarkVerifyPassword(b *testing.B) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		VerifyPassword(h, "correct horse battery staple")
	}
}
