package smart

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
)

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authenticateClient identifies the client of a token, revocation or
// introspection request by the one method it used: client_secret_basic,
// client_secret_post, private_key_jwt, or (public clients only) a bare
// client_id. A confidential client must authenticate.
func (s *Server) authenticateClient(r *http.Request, form url.Values) (*Client, error) {
	ctx := r.Context()
	basicID, basicSecret, hasBasic := r.BasicAuth()
	methods := 0
	for _, used := range []bool{hasBasic, form.Has("client_secret"), form.Has("client_assertion") || form.Has("client_assertion_type")} {
		if used {
			methods++
		}
	}
	if methods > 1 {
		return nil, errInvalidRequest("use exactly one client authentication method")
	}
	switch {
	case hasBasic:
		// RFC 6749 2.3.1: both are form-urlencoded before Basic encoding.
		id, err1 := url.QueryUnescape(basicID)
		secret, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return nil, errInvalidClient("malformed Basic credentials")
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return nil, errInvalidRequest("client_id differs from the authenticated client")
		}
		return s.checkSecret(ctx, id, secret)
	case form.Has("client_secret"):
		return s.checkSecret(ctx, form.Get("client_id"), form.Get("client_secret"))
	case form.Has("client_assertion") || form.Has("client_assertion_type"):
		return s.checkAssertion(ctx, form)
	}
	c, err := s.clients.Get(ctx, form.Get("client_id"))
	if err != nil {
		if isNotFound(err) {
			return nil, errInvalidClient("unknown client")
		}
		return nil, err
	}
	if c.confidential() {
		return nil, errInvalidClient("client authentication is required")
	}
	return c, nil
}

func (s *Server) checkSecret(ctx context.Context, id, secret string) (*Client, error) {
	c, err := s.clients.Get(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return nil, errInvalidClient("unknown client or wrong secret")
		}
		return nil, err
	}
	if c.Type != ClientSecret {
		return nil, errInvalidClient("this client does not authenticate with a secret")
	}
	ok, _, err := auth.VerifyPassword(c.SecretHash, secret)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errInvalidClient("unknown client or wrong secret")
	}
	return c, nil
}

// checkAssertion verifies a private_key_jwt client assertion against the
// client's JWK Set and refuses a jti it has seen, remembering each until
// the assertion expires.
func (s *Server) checkAssertion(ctx context.Context, form url.Values) (*Client, error) {
	if form.Get("client_assertion_type") != jwtBearer {
		return nil, errInvalidClient("client_assertion_type must be " + jwtBearer)
	}
	assertion := form.Get("client_assertion")
	id := form.Get("client_id")
	if id == "" {
		// The client is the assertion's issuer; the signature is checked
		// below against that client's keys.
		tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS384, jose.ES384})
		if err != nil {
			return nil, errInvalidClient("client_assertion is not a JWT signed with RS384 or ES384")
		}
		var c jwt.Claims
		if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil || c.Issuer == "" {
			return nil, errInvalidClient("client_assertion has no iss")
		}
		id = c.Issuer
	}
	c, err := s.clients.Get(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return nil, errInvalidClient("unknown client")
		}
		return nil, err
	}
	if c.Type != ClientJWT {
		return nil, errInvalidClient("this client does not authenticate with private_key_jwt")
	}
	jti, exp, err := auth.VerifyClientAssertion(assertion, c.JWKS, c.ID, s.endpoint(PathToken), s.now())
	if err != nil {
		if errors.Is(err, auth.ErrInvalidToken) {
			s.logger.Info("smart: client assertion refused", "client", c.ID, "err", err)
			return nil, errInvalidClient("client_assertion: " + causeOf(err))
		}
		return nil, err
	}
	if _, err := putJSON(ctx, s.opts.Records, KindAssertionID, c.ID+" "+jti, c.ID, exp.Add(leeway), struct{}{}, 0); err != nil {
		if lostRace(err) {
			return nil, errInvalidClient("client_assertion jti has been used before")
		}
		return nil, err
	}
	return c, nil
}

// causeOf names the kind of an auth token error, for an error_description
// that helps a client developer without echoing the token.
func causeOf(err error) string {
	for _, kind := range []error{auth.ErrTokenMalformed, auth.ErrTokenAlgorithm, auth.ErrTokenUnknownKey,
		auth.ErrTokenSignature, auth.ErrTokenExpired, auth.ErrTokenNotYet, auth.ErrTokenIssuer,
		auth.ErrTokenAudience, auth.ErrTokenClaims} {
		if errors.Is(err, kind) {
			return kind.Error()
		}
	}
	return "invalid"
}

// CDSClient authenticates the caller of a CDS Service by its bearer JWT
// (CDS Hooks 2.0): signed with the keys of a registered private_key_jwt
// client allowed CDS Hooks, named by iss (or sub), for serviceURL (aud),
// within five minutes, with iat, and its jti never seen before from that
// client.
func (s *Server) CDSClient(ctx context.Context, token, serviceURL string) (*Client, error) {
	iss, sub, err := auth.ClientJWTNames(token)
	if err != nil {
		return nil, err
	}
	var c *Client
	for _, id := range []string{iss, sub} {
		if id == "" {
			continue
		}
		if c, err = s.clients.Get(ctx, id); err == nil {
			break
		}
		if !isNotFound(err) {
			return nil, err
		}
	}
	if c == nil {
		return nil, fmt.Errorf("%w: unknown client", auth.ErrInvalidToken)
	}
	if c.Type != ClientJWT || !c.CDSHooks {
		return nil, fmt.Errorf("%w: the client is not registered for CDS Hooks (--type jwt --cds-hooks)", auth.ErrInvalidToken)
	}
	jti, exp, err := auth.VerifyCDSClientJWT(token, c.JWKS, c.ID, serviceURL, s.now())
	if err != nil {
		return nil, err
	}
	if _, err := putJSON(ctx, s.opts.Records, KindAssertionID, c.ID+" cds "+jti, c.ID, exp.Add(leeway), struct{}{}, 0); err != nil {
		if lostRace(err) {
			return nil, fmt.Errorf("%w: jti has been used before", auth.ErrInvalidToken)
		}
		return nil, err
	}
	return c, nil
}

// CauseOf names the kind of a refused token without echoing it, for an
// answer to its sender.
func CauseOf(err error) string { return causeOf(err) }

// TokenPrincipal verifies an access token this server issued (as the FHIR
// API does) and returns the caller it stands for: a CDS Service reads the
// FHIR data a CDS client lends it (fhirAuthorization) as that caller.
func (s *Server) TokenPrincipal(ctx context.Context, token string) (*access.Principal, error) {
	claims, err := s.verifyAccess(ctx, token)
	if err != nil {
		return nil, err
	}
	return s.Principal(ctx, claims)
}
