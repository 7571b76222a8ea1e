package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := NewToken()
		if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
			t.Fatalf("got %q, want 43 characters of unpadded base64url", tok)
		}
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) != 32 {
			t.Fatalf("token %q decodes to %d bytes, %v", tok, len(b), err)
		}
		if seen[tok] {
			t.Fatalf("token %q generated twice", tok)
		}
		seen[tok] = true
	}
}

func TestHashToken(t *testing.T) {
	// SHA-256("abc") from FIPS 180-2, appendix B.1.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashToken("abc"); got != want {
		t.Errorf("HashToken(abc) = %s, want %s", got, want)
	}
}

func TestVerifyPKCE(t *testing.T) {
	// RFC 7636 appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	long := strings.Repeat("a", 128)
	longSum := sha256.Sum256([]byte(long))
	longChallenge := base64.RawURLEncoding.EncodeToString(longSum[:])
	tests := []struct {
		name                        string
		verifier, challenge, method string
		ok                          bool
	}{
		{"RFC 7636 appendix B", verifier, challenge, "S256", true},
		{"128 characters", long, longChallenge, "S256", true},
		{"plain refused", verifier, verifier, "plain", false},
		{"missing method", verifier, challenge, "", false},
		{"lower-case method", verifier, challenge, "s256", false},
		{"wrong verifier", "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", challenge, "S256", false},
		{"padded challenge", verifier, challenge + "=", "S256", false},
		{"42 characters", verifier[:42], challenge, "S256", false},
		{"129 characters", long + "a", longChallenge, "S256", false},
		{"bad character", strings.Replace(verifier, "-", "+", 1), challenge, "S256", false},
		{"empty", "", "", "S256", false},
	}
	for _, tt := range tests {
		err := VerifyPKCE(tt.verifier, tt.challenge, tt.method)
		if (err == nil) != tt.ok {
			t.Errorf("%s: got %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrPKCE) {
			t.Errorf("%s: got %v, want ErrPKCE", tt.name, err)
		}
	}
}

func FuzzVerifyPKCE(f *testing.F) {
	f.Add("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256")
	f.Add("short", "x", "plain")
	f.Fuzz(func(t *testing.T, verifier, challenge, method string) {
		err := VerifyPKCE(verifier, challenge, method)
		if err == nil {
			if method != "S256" || len(verifier) < 43 || len(verifier) > 128 {
				t.Fatalf("accepted verifier %q method %q", verifier, method)
			}
			sum := sha256.Sum256([]byte(verifier))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
				t.Fatalf("accepted a verifier that does not hash to the challenge")
			}
		}
		// A verifier always matches its own S256 challenge when well formed.
		sum := sha256.Sum256([]byte(verifier))
		own := base64.RawURLEncoding.EncodeToString(sum[:])
		if checkPKCEString(verifier) == nil && VerifyPKCE(verifier, own, "S256") != nil {
			t.Fatalf("rejected well-formed verifier %q", verifier)
		}
	})
}
