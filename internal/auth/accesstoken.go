package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Errors from KeySet.Verify and VerifyClientAssertion. Every error they
// return wraps ErrInvalidToken and, where the cause is known, one of the
// more specific errors, so callers can test with errors.Is for either.
var (
	ErrInvalidToken    = errors.New("invalid token")
	ErrTokenMalformed  = errors.New("malformed")
	ErrTokenAlgorithm  = errors.New("signature algorithm not accepted")
	ErrTokenUnknownKey = errors.New("unknown signing key")
	ErrTokenSignature  = errors.New("bad signature")
	ErrTokenExpired    = errors.New("expired")
	ErrTokenNotYet     = errors.New("not yet valid")
	ErrTokenIssuer     = errors.New("wrong issuer")
	ErrTokenAudience   = errors.New("wrong audience")
	ErrTokenClaims     = errors.New("missing or invalid claim")
)

func tokenError(kind error, format string, args ...any) error {
	return fmt.Errorf("auth: %w: %w: %s", ErrInvalidToken, kind, fmt.Sprintf(format, args...))
}

// Claims are the claims of a SMART on FHIR access token. Times are Unix
// seconds; zero means absent.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub,omitempty"`
	Audience  Audience `json:"aud"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat,omitempty"`
	NotBefore int64    `json:"nbf,omitempty"`
	ID        string   `json:"jti,omitempty"`
	// Scope is the granted scopes, space-separated (see ParseScopes).
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Patient   string `json:"patient,omitempty"`   // launch context: Patient id
	Encounter string `json:"encounter,omitempty"` // launch context: Encounter id
	FHIRUser  string `json:"fhirUser,omitempty"`  // e.g. "Practitioner/123"
}

// Audience is the "aud" claim: one string or an array of strings in JSON.
type Audience []string

// UnmarshalJSON accepts a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// MarshalJSON writes a single audience as a plain string.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// VerifyOptions say what KeySet.Verify requires of a token.
type VerifyOptions struct {
	Issuer   string        // required: iss must equal it
	Audience string        // required: aud must contain it
	Now      time.Time     // required: the time to check exp, nbf, iat against
	Leeway   time.Duration // clock skew tolerated on exp, nbf, iat; at most 5 min
}

// maxLeeway bounds VerifyOptions.Leeway so a misconfiguration cannot make
// expiry meaningless.
const maxLeeway = 5 * time.Minute

// Verify checks a token signed by Sign and returns its claims. It accepts
// only ES256 from a key in the set, and requires iss and aud to match want,
// exp to be present and not passed, and nbf and iat (when present) not to be
// in the future, each with want.Leeway of tolerance. Errors wrap
// ErrInvalidToken and one of ErrTokenMalformed, ErrTokenAlgorithm,
// ErrTokenUnknownKey, ErrTokenSignature, ErrTokenExpired, ErrTokenNotYet,
// ErrTokenIssuer, ErrTokenAudience or ErrTokenClaims.
func (s *KeySet) Verify(token string, want VerifyOptions) (*Claims, error) {
	if want.Issuer == "" || want.Audience == "" || want.Now.IsZero() || want.Leeway < 0 || want.Leeway > maxLeeway {
		return nil, errors.New("auth: verify: VerifyOptions need Issuer, Audience, Now and a Leeway of 0 to 5 min")
	}
	h, err := peekHeader(token)
	if err != nil {
		return nil, err
	}
	if h.Alg != string(jose.ES256) {
		return nil, tokenError(ErrTokenAlgorithm, "alg %q, want ES256", h.Alg)
	}
	key := s.keys[h.Kid]
	if key == nil {
		return nil, tokenError(ErrTokenUnknownKey, "kid %q", h.Kid)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, tokenError(ErrTokenMalformed, "%v", err)
	}
	var c Claims
	if err := tok.Claims(key.private.Public(), &c); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, tokenError(ErrTokenSignature, "%v", err)
		}
		return nil, tokenError(ErrTokenMalformed, "%v", err)
	}
	if c.Issuer != want.Issuer {
		return nil, tokenError(ErrTokenIssuer, "iss %q, want %q", c.Issuer, want.Issuer)
	}
	if !slices.Contains(c.Audience, want.Audience) {
		return nil, tokenError(ErrTokenAudience, "aud %q, want %q", []string(c.Audience), want.Audience)
	}
	if err := checkTimes(c.Expiry, c.NotBefore, c.IssuedAt, want.Now, want.Leeway); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkTimes applies exp (required), nbf and iat (optional) with leeway.
func checkTimes(exp, nbf, iat int64, now time.Time, leeway time.Duration) error {
	if exp == 0 {
		return tokenError(ErrTokenClaims, "no exp")
	}
	if !now.Before(time.Unix(exp, 0).Add(leeway)) {
		return tokenError(ErrTokenExpired, "exp %s, now %s", time.Unix(exp, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if nbf != 0 && now.Add(leeway).Before(time.Unix(nbf, 0)) {
		return tokenError(ErrTokenNotYet, "nbf %s", time.Unix(nbf, 0).UTC().Format(time.RFC3339))
	}
	if iat != 0 && now.Add(leeway).Before(time.Unix(iat, 0)) {
		return tokenError(ErrTokenNotYet, "iat %s is in the future", time.Unix(iat, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// jwsHeader is the part of a JOSE header read before verification, to
// give precise errors for the algorithm and the key.
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

func peekHeader(token string) (jwsHeader, error) {
	var h jwsHeader
	head, _, found := strings.Cut(token, ".")
	if !found || strings.Count(token, ".") != 2 {
		return h, tokenError(ErrTokenMalformed, "not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return h, tokenError(ErrTokenMalformed, "header: %v", err)
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return h, tokenError(ErrTokenMalformed, "header: %v", err)
	}
	return h, nil
}
