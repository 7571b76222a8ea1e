package auth

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// rfc6238Secret is the SHA1 key of RFC 6238 appendix B, "12345678901234567890", in base32.
const rfc6238Secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestTOTPKnownAnswers(t *testing.T) {
	// RFC 6238 appendix B, SHA1 column; a 6-digit code is the last 6 of the 8.
	tests := []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		want := tt.code[2:]
		step, ok := VerifyTOTP(rfc6238Secret, want, time.Unix(tt.unix, 0), 0)
		if !ok || step != tt.unix/30 {
			t.Errorf("T=%d code %s: got step %d ok %v, want step %d ok true", tt.unix, want, step, ok, tt.unix/30)
		}
		if got, _ := totpCode(rfc6238Secret, tt.unix/30); got != want {
			t.Errorf("T=%d: got code %s, want %s", tt.unix, got, want)
		}
	}
}

func TestVerifyTOTP(t *testing.T) {
	now := time.Unix(1111111111, 0) // step 37037037, code 050471
	const step = 37037037
	prev, _ := totpCode(rfc6238Secret, step-1)
	next, _ := totpCode(rfc6238Secret, step+1)
	far, _ := totpCode(rfc6238Secret, step+2)
	tests := []struct {
		name     string
		code     string
		lastStep int64
		wantStep int64
		wantOK   bool
	}{
		{"current", "050471", 0, step, true},
		{"spaces", "050 471", 0, step, true},
		{"previous step", prev, 0, step - 1, true},
		{"next step", next, 0, step + 1, true},
		{"two steps ahead", far, 0, 0, false},
		{"replay of same step", "050471", step, 0, false},
		{"older than last used", prev, step, 0, false},
		{"newer than last used", next, step, step + 1, true},
		{"wrong", "123456", 0, 0, false},
		{"too short", "05047", 0, 0, false},
		{"letters", "05047a", 0, 0, false},
		{"empty", "", 0, 0, false},
	}
	for _, tt := range tests {
		gotStep, ok := VerifyTOTP(rfc6238Secret, tt.code, now, tt.lastStep)
		if ok != tt.wantOK || gotStep != tt.wantStep {
			t.Errorf("%s: got %d, %v; want %d, %v", tt.name, gotStep, ok, tt.wantStep, tt.wantOK)
		}
	}
	for _, secret := range []string{"not base32!", "", "GEZDGNBVGY3TQOJQGEZDGNBV"} { // the last is 15 bytes
		code, _ := totpCode(secret, step)
		if _, ok := VerifyTOTP(secret, code, now, 0); ok {
			t.Errorf("accepted a code for the invalid or short secret %q", secret)
		}
	}
	if _, ok := VerifyTOTP(strings.ToLower(rfc6238Secret), "050471", now, 0); !ok {
		t.Error("lower-case secret refused")
	}
}

func TestNewTOTP(t *testing.T) {
	secret, u, err := NewTOTP("EMR Clinic", "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 32 { // 20 bytes in unpadded base32
		t.Errorf("secret %q: got %d characters, want 32", secret, len(secret))
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme != "otpauth" || parsed.Host != "totp" {
		t.Fatalf("got URL %q (%v), want otpauth://totp/…", u, err)
	}
	q := parsed.Query()
	if q.Get("secret") != secret || q.Get("issuer") != "EMR Clinic" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("URL %q lacks the expected parameters", u)
	}
	now := time.Now()
	code, _ := totpCode(secret, now.Unix()/30)
	if _, ok := VerifyTOTP(secret, code, now, 0); !ok {
		t.Error("a fresh secret does not verify its own code")
	}
	if _, _, err := NewTOTP("", "alice"); err == nil {
		t.Error("empty issuer: got nil error")
	}
}

func TestRecoveryCodes(t *testing.T) {
	plain, hashed := NewRecoveryCodes(10)
	if len(plain) != 10 || len(hashed) != 10 {
		t.Fatalf("got %d codes and %d hashes, want 10 and 10", len(plain), len(hashed))
	}
	for _, c := range plain {
		if len(c) != 11 || c[5] != '-' {
			t.Fatalf("code %q is not xxxxx-xxxxx", c)
		}
	}
	stored := slices.Clone(hashed)

	remaining, ok := UseRecoveryCode(stored, " "+strings.ToUpper(strings.ReplaceAll(plain[3], "-", " "))+" ")
	if !ok || len(remaining) != 9 || slices.Contains(remaining, hashed[3]) {
		t.Fatalf("using code 3: got ok=%v, %d remaining", ok, len(remaining))
	}
	if !slices.Equal(stored, hashed) {
		t.Error("UseRecoveryCode modified its argument")
	}
	if _, ok := UseRecoveryCode(remaining, plain[3]); ok {
		t.Error("a used code was accepted again")
	}
	if again, ok := UseRecoveryCode(remaining, "zzzzz-zzzzz"); ok || len(again) != 9 {
		t.Errorf("wrong code: got ok=%v, %d remaining", ok, len(again))
	}
	for _, bad := range []string{"", "short", plain[0] + "x", "ééééé-ééééé"} {
		if _, ok := UseRecoveryCode(hashed, bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestRecoveryCodeLookAlikes(t *testing.T) {
	// Crockford base32: o reads as 0, i and l as 1.
	hashed := []string{hashRecoveryCode("0123456789")} // the code 01234-56789
	if _, ok := UseRecoveryCode(hashed, "OI234-56789"); !ok {
		t.Error("look-alike letters not normalised")
	}
	if _, ok := UseRecoveryCode(hashed, "ol234-56789"); !ok {
		t.Error("look-alike letters not normalised")
	}
}
