package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	testClientID = "backend-app"
	testTokenURL = "https://emr.example.org/auth/token"
)

func TestVerifyClientAssertion(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	other384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: ec384.Public(), KeyID: "ec", Algorithm: "ES384", Use: "sig"},
		{Key: rsaKey.Public(), KeyID: "rsa"},
		{Key: ec256.Public(), KeyID: "ec256"},
		{Key: smallRSA.Public(), KeyID: "small"},
		{Key: rsaKey.Public(), KeyID: "enc", Use: "enc"},
	}})

	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": testClientID, "sub": testClientID, "aud": testTokenURL,
			"exp": now.Add(4 * time.Minute).Unix(), "jti": "random-jti-1",
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	good := jwtFor(t, jose.ES384, ec384, "ec", claims(nil))

	jti, exp, err := VerifyClientAssertion(good, jwks, testClientID, testTokenURL, now)
	if err != nil || jti != "random-jti-1" || !exp.Equal(now.Add(4*time.Minute)) {
		t.Fatalf("ES384: got %q, %v, %v", jti, exp, err)
	}
	if _, _, err := VerifyClientAssertion(jwtFor(t, jose.RS384, rsaKey, "rsa", claims(nil)), jwks, testClientID, testTokenURL, now); err != nil {
		t.Errorf("RS384: %v", err)
	}
	if _, _, err := VerifyClientAssertion(jwtFor(t, jose.ES384, ec384, "ec", claims(func(c map[string]any) { c["aud"] = []string{"x", testTokenURL} })), jwks, testClientID, testTokenURL, now); err != nil {
		t.Errorf("aud array: %v", err)
	}

	tests := []struct {
		name      string
		assertion string
		want      error
	}{
		{"RS256", jwtFor(t, jose.RS256, rsaKey, "rsa", claims(nil)), ErrTokenAlgorithm},
		{"ES256", jwtFor(t, jose.ES256, ec256, "ec256", claims(nil)), ErrTokenAlgorithm},
		{"HS256", jwtFor(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "ec", claims(nil)), ErrTokenAlgorithm},
		{"unknown kid", jwtFor(t, jose.ES384, ec384, "nope", claims(nil)), ErrTokenUnknownKey},
		{"no kid", jwtFor(t, jose.ES384, ec384, "", claims(nil)), ErrTokenUnknownKey},
		{"alg differs from key's alg", jwtFor(t, jose.RS384, rsaKey, "ec", claims(nil)), ErrTokenUnknownKey},
		{"RSA key under 2048 bits", jwtFor(t, jose.RS384, smallRSA, "small", claims(nil)), ErrTokenUnknownKey},
		{"key for encryption", jwtFor(t, jose.RS384, rsaKey, "enc", claims(nil)), ErrTokenUnknownKey},
		{"someone else's key", jwtFor(t, jose.ES384, other384, "ec", claims(nil)), ErrTokenSignature},
		{"iss differs", jwtFor(t, jose.ES384, ec384, "ec", claims(func(c map[string]any) { c["iss"] = "other" })), ErrTokenIssuer},
		{"sub differs", jwtFor(t, jose.ES384, ec384, "ec", claims(func(c map[string]any) { c["sub"] = "other" })), ErrTokenIssuer},
		{"aud is the issuer", jwtFor(t, jose.ES384, ec384, "ec", claims(func(c map[string]any) { c["aud"] = "https://emr.example.org" })), ErrTokenAudience},
		{"no jti", jwtFor(t, jose.ES384, ec384, "ec", claims(func(c map[string]any) { delete(c, "jti") })), ErrTokenClaims},
		{"no exp", jwtFor(t, jose.ES384, ec384, "ec", claims(func(c map[string]any) { delete(c, "exp") })), ErrTokenClaims},
		{"exp too far ahead", jwtFor(t, jose.ES384, ec384, "ec", claims(func(c map[string]any) { c["exp"] = now.Add(10 * time.Minute).Unix() })), ErrTokenClaims},
		{"expired", jwtFor(t, jose.ES384, ec384, "ec", claims(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), ErrTokenExpired},
		{"nbf in future", jwtFor(t, jose.ES384, ec384, "ec", claims(func(c map[string]any) { c["nbf"] = now.Add(3 * time.Minute).Unix() })), ErrTokenNotYet},
		{"garbage", "a.b.c", ErrTokenMalformed},
	}
	for _, tt := range tests {
		_, _, err := VerifyClientAssertion(tt.assertion, jwks, testClientID, testTokenURL, now)
		if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, _, err := VerifyClientAssertion(good, []byte("{"), testClientID, testTokenURL, now); err == nil {
		t.Error("bad JWKS: got nil error")
	}
	if _, _, err := VerifyClientAssertion(good, jwks, "", testTokenURL, now); err == nil {
		t.Error("empty client id: got nil error")
	}
}
