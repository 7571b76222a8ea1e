package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters. Authenticator apps widely support only these (RFC 6238
// with HMAC-SHA1, 6 digits, 30-second steps), so they are fixed.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpSkew   = 1 // steps accepted either side of now, for clock drift
	// minTOTPSecret is the RFC 4226 minimum secret length, 128 bits.
	minTOTPSecret = 16
)

var totpBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTP creates a TOTP secret (160 random bits, unpadded base32) for the
// account and the otpauth:// URL that authenticator apps read from a QR
// code. The caller stores the secret, shows the URL once, and should ask
// for one valid code before enabling the factor.
func NewTOTP(issuer, account string) (secret, otpauthURL string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      totpPeriod,
		SecretSize:  20,
		Digits:      totpDigits,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", fmt.Errorf("auth: new TOTP for %q: %w", account, err)
	}
	return key.Secret(), key.URL(), nil
}

// VerifyTOTP checks a 6-digit code (spaces allowed) against secret at time
// now, accepting the time steps just before and after now for clock drift.
// lastStep is the step of the last code this account used (0 if none); a
// code for that step or an earlier one is refused, so every code works at
// most once. On success the caller must store the returned step as the new
// lastStep, atomically with accepting the login.
func VerifyTOTP(secret, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != totpDigits.Length() || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	// An empty or short secret would make codes computable by anyone, for
	// instance if the caller passes "" for an account without TOTP.
	if key, err := totpBase32.DecodeString(strings.ToUpper(strings.TrimRight(secret, "="))); err != nil || len(key) < minTOTPSecret {
		return 0, false
	}
	current := now.Unix() / totpPeriod
	for s := current - totpSkew; s <= current+totpSkew; s++ {
		if s <= lastStep || s < 0 {
			continue
		}
		want, err := totpCode(secret, s)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// totpCode is the RFC 6238 code for one time step.
func totpCode(secret string, step int64) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{
		Digits:    totpDigits,
		Algorithm: otp.AlgorithmSHA1,
	})
}

// recoveryAlphabet is Crockford's base32: no i, l, o, u, so codes read
// from paper survive; normaliseRecoveryCode maps the look-alikes back.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// NewRecoveryCodes returns n one-time recovery codes of the form
// "xxxxx-xxxxx" (50 random bits each) to show the user once, and their
// hashes to store. Generating a new set replaces the old one.
func NewRecoveryCodes(n int) (plain []string, hashed []string) {
	for range n {
		c := randomString(recoveryAlphabet, 10)
		plain = append(plain, c[:5]+"-"+c[5:])
		hashed = append(hashed, hashRecoveryCode(c))
	}
	return plain, hashed
}

// UseRecoveryCode checks code against the stored hashes, ignoring case,
// spaces and dashes. If it matches one, ok is true and remaining is a new
// slice without that hash, which the caller must store (atomically with
// accepting the login) so the code cannot be used again. Otherwise
// remaining is hashed unchanged.
func UseRecoveryCode(hashed []string, code string) (remaining []string, ok bool) {
	norm, valid := normaliseRecoveryCode(code)
	if !valid {
		return hashed, false
	}
	h := []byte(hashRecoveryCode(norm))
	match := -1
	// Compare with every stored hash, not stopping at a match, so timing
	// does not tell which position matched.
	for i, stored := range hashed {
		if subtle.ConstantTimeCompare(h, []byte(stored)) == 1 && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return hashed, false
	}
	remaining = make([]string, 0, len(hashed)-1)
	remaining = append(remaining, hashed[:match]...)
	remaining = append(remaining, hashed[match+1:]...)
	return remaining, true
}

func normaliseRecoveryCode(code string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r == 'o':
			r = '0'
		case r == 'i' || r == 'l':
			r = '1'
		}
		if !strings.ContainsRune(recoveryAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	return b.String(), b.Len() == 10
}

func hashRecoveryCode(normalised string) string {
	sum := sha256.Sum256([]byte(normalised))
	return hex.EncodeToString(sum[:])
}
