package smart

import (
	"errors"
	"net/http"
	"strings"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/auth"
)

// revoke is RFC 7009 token revocation, for refresh tokens (their whole
// family, and the access tokens it gave) and access tokens (their jti is
// refused until they expire). The client must authenticate as for the
// token endpoint and may revoke only its own tokens; an unknown or
// invalid token is answered 200, as the RFC says.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	e := audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "token-revoked",
		Agent: audit.Agent{Address: callerAddr(r)}}
	if err := s.revokeRequest(w, r, &e); err != nil {
		e.Outcome, e.Detail = outcomeOf(err)
		s.record(r.Context(), e)
		s.writeOAuthError(w, r, err)
		return
	}
	s.record(r.Context(), e)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeRequest revokes the token of the request, filling in e, its
// audit record, as it learns who asks and what was revoked.
func (s *Server) revokeRequest(w http.ResponseWriter, r *http.Request, e *audit.Entry) error {
	form, err := postForm(w, r)
	if err != nil {
		return err
	}
	client, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	e.Agent.Client = client.ID
	token := form.Get("token")
	if token == "" {
		return errInvalidRequest("token is required")
	}
	ctx := r.Context()
	e.Detail = "unknown, expired or foreign token: nothing to revoke"
	if looksLikeJWT(token) {
		claims, err := s.keys.current().Verify(token, auth.VerifyOptions{Issuer: s.issuer, Audience: s.opts.FHIRBase, Now: s.now(), Leeway: leeway})
		if err != nil {
			return nil // expired, foreign or garbage: nothing to revoke
		}
		if claims.ClientID != client.ID {
			return errUnauthorizedClient("the token was issued to another client")
		}
		e.Agent.User, e.Subject, e.Patient = claims.Subject, claims.Subject, patientRef(claims.Patient)
		e.Detail = "access token " + claims.ID
		return s.revokeAccess(ctx, claims.ID, claims.Expiry)
	}
	var rt refreshRecord
	if _, err := getJSON(ctx, s.opts.Records, KindRefresh, auth.HashToken(token), s.now(), &rt); err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	if rt.ClientID != client.ID {
		return errUnauthorizedClient("the token was issued to another client")
	}
	e.Agent.User, e.Subject, e.Patient = rt.User, rt.User, patientRef(rt.Patient)
	e.Detail = "refresh token: its family and the access tokens it gave"
	return s.revokeFamily(ctx, rt.User, rt.Family)
}

func looksLikeJWT(token string) bool { return strings.Count(token, ".") == 2 }

// introspect is RFC 7662 token introspection. The caller is a client
// authenticating as at the token endpoint (it learns about its own tokens
// only), or a backend service presenting its bearer token (a resource
// server: it learns about any token).
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	resp, err := s.introspectRequest(w, r)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) introspectRequest(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	ctx := r.Context()
	service := false
	if scheme, bearer, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
		claims, err := s.verifyAccess(ctx, strings.TrimSpace(bearer))
		if err == nil && claims.Subject != "" {
			err = errors.New("not a backend service token")
		}
		if err == nil {
			_, err = s.Principal(ctx, claims)
		}
		if err != nil {
			return nil, errInvalidClient("the bearer token must be a valid backend service token")
		}
		service = true
	}
	form, err := postForm(w, r)
	if err != nil {
		return nil, err
	}
	onlyClient := ""
	if !service {
		client, err := s.authenticateClient(r, form)
		if err != nil {
			return nil, err
		}
		if !client.confidential() {
			return nil, errInvalidClient("introspection needs a confidential client or a backend service token")
		}
		onlyClient = client.ID
	}
	token := form.Get("token")
	if token == "" {
		return nil, errInvalidRequest("token is required")
	}
	inactive := map[string]any{"active": false}
	if looksLikeJWT(token) {
		claims, err := s.verifyAccess(ctx, token)
		if err != nil || (onlyClient != "" && claims.ClientID != onlyClient) {
			return inactive, nil
		}
		if _, err := s.Principal(ctx, claims); err != nil {
			return inactive, nil
		}
		out := map[string]any{
			"active": true, "token_type": "Bearer", "scope": claims.Scope, "client_id": claims.ClientID,
			"exp": claims.Expiry, "iat": claims.IssuedAt, "iss": claims.Issuer, "aud": claims.Audience, "jti": claims.ID,
		}
		for name, v := range map[string]string{"sub": claims.Subject, "username": claims.Subject, "patient": claims.Patient,
			"encounter": claims.Encounter, "fhirUser": claims.FHIRUser} {
			if v != "" {
				out[name] = v
			}
		}
		return out, nil
	}
	var rt refreshRecord
	rec, err := getJSON(ctx, s.opts.Records, KindRefresh, auth.HashToken(token), s.now(), &rt)
	if err != nil || rt.Used || (onlyClient != "" && rt.ClientID != onlyClient) {
		if err != nil && !isNotFound(err) {
			return nil, err
		}
		return inactive, nil
	}
	if u, err := s.opts.Users.Get(ctx, rt.User); err != nil || u.Disabled {
		return inactive, nil
	}
	out := map[string]any{"active": true, "scope": rt.Scope, "client_id": rt.ClientID, "sub": rt.User,
		"username": rt.User, "exp": rec.Expires.Unix()}
	for name, v := range map[string]string{"patient": rt.Patient, "encounter": rt.Encounter, "fhirUser": rt.FHIRUser} {
		if v != "" {
			out[name] = v
		}
	}
	return out, nil
}
