package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// NewToken returns a fresh opaque token: 32 random bytes (256 bits) in
// unpadded base64url, 43 characters. Use it for session ids, refresh
// tokens, authorisation codes and the like; hand the token to the client
// and store only HashToken(token).
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the SHA-256 of t as lower-case hex, the form in which
// opaque tokens are stored and looked up. A fast hash is enough because
// tokens carry 256 bits of entropy; a stolen database then yields no usable
// token.
func HashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// ErrPKCE is wrapped by every error VerifyPKCE returns; the OAuth error to
// send is invalid_grant.
var ErrPKCE = errors.New("auth: PKCE verification failed")

// VerifyPKCE checks a PKCE code verifier (RFC 7636) against the code
// challenge and method recorded with the authorisation code. Only the S256
// method is accepted: "plain" protects nothing against an attacker who saw
// the authorisation request. The verifier must be 43 to 128 characters of
// [A-Za-z0-9-._~]. It returns nil on success and an error wrapping ErrPKCE
// otherwise.
func VerifyPKCE(verifier, challenge, method string) error {
	if method != "S256" {
		return fmt.Errorf("%w: code_challenge_method %q is not S256", ErrPKCE, method)
	}
	if err := checkPKCEString(verifier); err != nil {
		return fmt.Errorf("%w: code_verifier %v", ErrPKCE, err)
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) != 1 {
		return fmt.Errorf("%w: code_verifier does not match code_challenge", ErrPKCE)
	}
	return nil
}

// checkPKCEString applies RFC 7636 section 4.1: 43 to 128 characters of
// the unreserved set.
func checkPKCEString(s string) error {
	if len(s) < 43 || len(s) > 128 {
		return fmt.Errorf("has %d characters, want 43 to 128", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			return fmt.Errorf("has a character outside [A-Za-z0-9-._~] at byte %d", i)
		}
	}
	return nil
}
