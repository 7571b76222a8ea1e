package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Limits of SMART Backend Services client authentication
// (client-confidential-asymmetric): the assertion's exp must be no more
// than five minutes ahead; assertionLeeway tolerates clock skew.
const (
	maxAssertionLifetime = 5 * time.Minute
	assertionLeeway      = time.Minute
	minRSABits           = 2048
)

// VerifyClientAssertion authenticates a confidential client by the JWT it
// sends as client_assertion (client_assertion_type
// urn:ietf:params:oauth:client-assertion-type:jwt-bearer), following SMART
// Backend Services asymmetric client authentication:
//
//   - header: alg RS384 or ES384, kid naming a key in clientJWKS (the
//     client's registered JWK Set), typ "JWT" if present;
//   - claims: iss and sub equal to clientID, aud containing tokenURL, exp
//     present, not passed and no more than five minutes after now, jti
//     present; nbf and iat, if present, not in the future.
//
// One minute of clock skew is tolerated. On success it returns jti and exp:
// the caller must refuse the assertion if it has seen that jti from that
// client before, and remember the jti until exp. Errors wrap
// ErrInvalidToken and the specific cause (see KeySet.Verify); answer them
// all with invalid_client.
func VerifyClientAssertion(assertion string, clientJWKS []byte, clientID, tokenURL string, now time.Time) (jti string, exp time.Time, err error) {
	return verifyClientJWT(assertion, clientJWKS, clientID, tokenURL, now, true)
}

// VerifyCDSClientJWT authenticates a CDS Hooks client by the JWT it sends
// as its bearer token (CDS Hooks 2.0, "Trusting CDS Clients"): as
// VerifyClientAssertion, but the client is named by iss (or, for clients
// that send one, by sub), iat is required, and aud must contain the CDS
// Service's URL.
func VerifyCDSClientJWT(token string, clientJWKS []byte, clientID, serviceURL string, now time.Time) (jti string, exp time.Time, err error) {
	return verifyClientJWT(token, clientJWKS, clientID, serviceURL, now, false)
}

// ClientJWTNames returns the iss and sub claims of a client JWT without
// checking anything: the client whose keys must then verify it.
func ClientJWTNames(token string) (iss, sub string, err error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS384, jose.ES384})
	if err != nil {
		return "", "", tokenError(ErrTokenMalformed, "not a JWT signed with RS384 or ES384")
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil || (c.Issuer == "" && c.Subject == "") {
		return "", "", tokenError(ErrTokenClaims, "no iss")
	}
	return c.Issuer, c.Subject, nil
}

func verifyClientJWT(assertion string, clientJWKS []byte, clientID, tokenURL string, now time.Time, issuerIsClient bool) (jti string, exp time.Time, err error) {
	if clientID == "" || tokenURL == "" || now.IsZero() {
		return "", time.Time{}, errors.New("auth: verify client assertion: clientID, tokenURL and now are required")
	}
	h, err := peekHeader(assertion)
	if err != nil {
		return "", time.Time{}, err
	}
	alg := jose.SignatureAlgorithm(h.Alg)
	if alg != jose.RS384 && alg != jose.ES384 {
		return "", time.Time{}, tokenError(ErrTokenAlgorithm, "alg %q, want RS384 or ES384", h.Alg)
	}
	if h.Typ != "" && h.Typ != "JWT" {
		return "", time.Time{}, tokenError(ErrTokenMalformed, "typ %q, want JWT", h.Typ)
	}
	if h.Kid == "" {
		return "", time.Time{}, tokenError(ErrTokenUnknownKey, "no kid in header")
	}
	key, err := clientKey(clientJWKS, h.Kid, alg)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return "", time.Time{}, tokenError(ErrTokenMalformed, "%v", err)
	}
	var c jwt.Claims
	if err := tok.Claims(key, &c); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return "", time.Time{}, tokenError(ErrTokenSignature, "%v", err)
		}
		return "", time.Time{}, tokenError(ErrTokenMalformed, "%v", err)
	}
	if issuerIsClient && (c.Issuer != clientID || c.Subject != clientID) {
		return "", time.Time{}, tokenError(ErrTokenIssuer, "iss %q and sub %q must both be the client_id %q", c.Issuer, c.Subject, clientID)
	}
	if !issuerIsClient {
		if c.Issuer != clientID && c.Subject != clientID {
			return "", time.Time{}, tokenError(ErrTokenIssuer, "iss %q (or sub %q) must be the client's id", c.Issuer, c.Subject)
		}
		if c.IssuedAt == nil {
			return "", time.Time{}, tokenError(ErrTokenClaims, "no iat")
		}
	}
	if !c.Audience.Contains(tokenURL) {
		return "", time.Time{}, tokenError(ErrTokenAudience, "aud %q, want %q", []string(c.Audience), tokenURL)
	}
	if c.ID == "" {
		return "", time.Time{}, tokenError(ErrTokenClaims, "no jti")
	}
	if c.Expiry == nil {
		return "", time.Time{}, tokenError(ErrTokenClaims, "no exp")
	}
	exp = c.Expiry.Time()
	if exp.After(now.Add(maxAssertionLifetime + assertionLeeway)) {
		return "", time.Time{}, tokenError(ErrTokenClaims, "exp %s is more than 5 minutes ahead", exp.UTC().Format(time.RFC3339))
	}
	var nbf, iat int64
	if c.NotBefore != nil {
		nbf = c.NotBefore.Time().Unix()
	}
	if c.IssuedAt != nil {
		iat = c.IssuedAt.Time().Unix()
	}
	if err := checkTimes(exp.Unix(), nbf, iat, now, assertionLeeway); err != nil {
		return "", time.Time{}, err
	}
	return c.ID, exp, nil
}

// clientKey finds the public key with the given kid in a client's JWK Set
// and checks that it suits alg: an RSA key of at least 2048 bits for RS384,
// a P-384 key for ES384, and no contrary "alg" or "use".
func clientKey(clientJWKS []byte, kid string, alg jose.SignatureAlgorithm) (any, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(clientJWKS, &set); err != nil {
		return nil, fmt.Errorf("auth: client JWKS: %w", err)
	}
	for _, k := range set.Key(kid) {
		if k.Algorithm != "" && k.Algorithm != string(alg) || k.Use != "" && k.Use != "sig" {
			continue
		}
		pub := k.Public() // never verify with private material a client published by mistake
		switch key := pub.Key.(type) {
		case *rsa.PublicKey:
			if alg == jose.RS384 && key.N.BitLen() >= minRSABits {
				return key, nil
			}
		case *ecdsa.PublicKey:
			if alg == jose.ES384 && key.Curve == elliptic.P384() {
				return key, nil
			}
		}
	}
	return nil, tokenError(ErrTokenUnknownKey, "no %s key with kid %q in the client's JWKS", alg, kid)
}
