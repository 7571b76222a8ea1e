package smart

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir"
)

// errRevoked is why a revoked token fails verification.
var errRevoked = errors.New("token has been revoked")

// verifyAccess checks an access token: ES256 by a key of the current set
// (reloading the keys once when the kid is unknown, as after another
// server rotated), iss, aud = the FHIR base, exp, nbf, and a jti that has
// not been revoked.
func (s *Server) verifyAccess(ctx context.Context, token string) (*auth.Claims, error) {
	want := auth.VerifyOptions{Issuer: s.issuer, Audience: s.opts.FHIRBase, Now: s.now(), Leeway: leeway}
	claims, err := s.keys.current().Verify(token, want)
	if errors.Is(err, auth.ErrTokenUnknownKey) && s.keys.reloadSoon(ctx) {
		claims, err = s.keys.current().Verify(token, want)
	}
	if err != nil {
		return nil, err
	}
	if claims.ID == "" {
		return nil, errors.New("token has no jti")
	}
	if _, err := s.opts.Records.GetRecord(ctx, KindRevoked, claims.ID); err == nil {
		return nil, errRevoked
	} else if !isNotFound(err) {
		return nil, err
	}
	return claims, nil
}

// Principal returns the caller a verified token stands for. A user token
// acts as its user (who must still exist and be enabled) within its
// scopes; a token without sub is a backend service acting with its
// client's role within its system/ scopes. The client must still be
// registered.
func (s *Server) Principal(ctx context.Context, claims *auth.Claims) (*access.Principal, error) {
	client, err := s.clients.Get(ctx, claims.ClientID)
	if err != nil {
		if isNotFound(err) {
			return nil, errors.New("the token's client is no longer registered")
		}
		return nil, err
	}
	scopes, _ := auth.ParseScopes(claims.Scope) // signed by us: nothing invalid
	service := claims.Subject == ""
	grants := make([]access.Grant, 0, len(scopes)) // not nil: a token is limited by its scopes
	for _, sc := range scopes {
		if sc.Context == "" || (sc.Context == "system") != service {
			continue
		}
		g := access.Grant{Context: sc.Context, Type: sc.ResourceType, Perms: sc.Permissions.String()}
		if len(sc.Params) > 0 {
			g.Filters = url.Values{}
			for _, p := range sc.Params {
				v, err := url.QueryUnescape(p.Value)
				if err != nil {
					v = p.Value
				}
				g.Filters.Add(p.Name, v)
			}
		}
		grants = append(grants, g)
	}
	if service {
		if client.Role == "" {
			return nil, errors.New("the client has no service role")
		}
		return &access.Principal{Client: client.ID, Role: client.Role, Grants: grants}, nil
	}
	u, err := s.opts.Users.Get(ctx, claims.Subject)
	if err != nil {
		return nil, fmt.Errorf("unknown user: %w", err)
	}
	if u.Disabled {
		return nil, errors.New("the account is disabled")
	}
	p := &access.Principal{User: u.Name, Client: client.ID, Role: u.Role, FHIRUser: u.FHIRUser, Patient: claims.Patient, Grants: grants}
	if u.Patient != "" {
		// A patient user is bound to their own record whatever the token says.
		p.Patient = u.Patient
	}
	return p, nil
}

// Authenticate requires a valid bearer access token on every request
// except the FHIR capability statement and the SMART configuration, and
// puts the caller on the request context (access.WithPrincipal). A request
// that already carries a principal (set by a web session handler in
// front) and no Authorization header passes as it is. A missing or
// invalid token is answered 401 with a WWW-Authenticate challenge
// (RFC 6750) and an OperationOutcome.
func (s *Server) Authenticate(next http.Handler) http.Handler {
	base := s.fhirURL.Path
	open := map[string]bool{
		base + "/metadata": true, base + "/.well-known/smart-configuration": true,
		base + "/R4/metadata": true, base + "/R4/.well-known/smart-configuration": true,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && open[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		header := r.Header.Get("Authorization")
		if header == "" && access.PrincipalFrom(r.Context()) != nil {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, _ := strings.Cut(header, " ")
		if header == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			// RFC 6750 3.1: no error code when no credentials were sent.
			unauthorized(w, "", "a bearer access token is required")
			return
		}
		claims, err := s.verifyAccess(r.Context(), strings.TrimSpace(token))
		var p *access.Principal
		if err == nil {
			p, err = s.Principal(r.Context(), claims)
		}
		if err != nil {
			s.logger.Info("smart: bearer token refused", "err", err)
			unauthorized(w, "invalid_token", describeTokenError(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), p)))
	})
}

// describeTokenError says why a token was refused, without detail an
// attacker could use.
func describeTokenError(err error) string {
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return "the access token has expired"
	case errors.Is(err, errRevoked):
		return "the access token has been revoked"
	case errors.Is(err, auth.ErrInvalidToken):
		return "the access token is not valid here: " + causeOf(err)
	}
	return "the access token is not valid"
}

func unauthorized(w http.ResponseWriter, code, desc string) {
	challenge := `Bearer realm="emr"`
	if code != "" {
		challenge += fmt.Sprintf(`, error=%q, error_description=%q`, code, desc)
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write(fhir.OperationOutcome(fhir.Issue{Severity: "error", Code: "login", Diagnostics: desc}).JSON())
}
