package smart

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/auth"
)

// grant is what a token is issued for: kept with an authorisation code
// and a refresh token, and put into the access token's claims.
type grant struct {
	ClientID  string `json:"client_id"`
	User      string `json:"user,omitempty"` // "" for a backend service
	FHIRUser  string `json:"fhir_user,omitempty"`
	Scope     string `json:"scope"`
	Patient   string `json:"patient,omitempty"`
	Encounter string `json:"encounter,omitempty"`
}

// tokenResponse is the token endpoint's answer (RFC 6749 5.1 with the
// SMART launch context).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Patient      string `json:"patient,omitempty"`
	Encounter    string `json:"encounter,omitempty"`
	user         string // the user the token acts for, for the audit record
}

// tokenAudit is what the audit record of a token request says; the
// request fills it in as it learns.
type tokenAudit struct {
	grantType string
	claimed   string // the client_id the request names, before it authenticates
	client    string // the authenticated client
}

// maxFormBytes bounds the body of a token, revocation or introspection
// request: they are a few parameters.
const maxFormBytes = 64 << 10

// postForm parses an application/x-www-form-urlencoded body; parameters in
// the URL are not read (RFC 6749 3.2 wants them in the body).
func postForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, errInvalidRequest("the body must be application/x-www-form-urlencoded parameters")
	}
	for name, vs := range r.PostForm {
		if len(vs) > 1 {
			return nil, errInvalidRequest("parameter " + name + " is repeated")
		}
	}
	return r.PostForm, nil
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	var ta tokenAudit
	resp, err := s.tokenRequest(w, r, &ta)
	e := audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "token-issued",
		Agent: audit.Agent{Client: ta.client, Address: callerAddr(r)}}
	grant := "grant_type " + ta.grantType
	if err != nil {
		e.Interaction = "token-refused"
		e.Outcome, e.Detail = outcomeOf(err)
		if ta.client == "" && ta.claimed != "" {
			grant += ", client_id " + ta.claimed + " (not authenticated)"
		}
		e.Detail = joinDetail(grant, e.Detail)
		s.record(r.Context(), e)
		s.writeOAuthError(w, r, err)
		return
	}
	e.Agent.User, e.Subject, e.Patient = resp.user, resp.user, patientRef(resp.Patient)
	e.Detail = joinDetail(grant, "scope "+resp.Scope)
	if resp.RefreshToken != "" {
		e.Detail += "; with a refresh token"
	}
	// A token goes out only once its grant is on record.
	if err := s.record(r.Context(), e); err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request, ta *tokenAudit) (*tokenResponse, error) {
	form, err := postForm(w, r)
	if err != nil {
		return nil, err
	}
	ta.claimed = form.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		ta.claimed = id
	}
	gt := form.Get("grant_type")
	ta.grantType = gt
	switch gt {
	case "authorization_code", "refresh_token", "client_credentials":
	case "":
		return nil, errInvalidRequest("grant_type is required")
	default:
		return nil, errUnsupportedGrant("grant_type " + gt + " is not supported")
	}
	client, err := s.authenticateClient(r, form)
	if err != nil {
		return nil, err
	}
	ta.client = client.ID
	switch gt {
	case "authorization_code":
		return s.exchangeCode(r.Context(), client, form)
	case "refresh_token":
		return s.refresh(r.Context(), client, form)
	}
	return s.clientCredentials(r.Context(), client, form)
}

// issue signs an access token for g, valid for ttl.
func (s *Server) issue(g grant, ttl time.Duration) (string, *auth.Claims, error) {
	now := s.now()
	c := &auth.Claims{
		Issuer:    s.issuer,
		Subject:   g.User,
		Audience:  auth.Audience{s.opts.FHIRBase},
		Expiry:    now.Add(ttl).Unix(),
		IssuedAt:  now.Unix(),
		ID:        randomID(),
		Scope:     g.Scope,
		ClientID:  g.ClientID,
		Patient:   g.Patient,
		Encounter: g.Encounter,
		FHIRUser:  g.FHIRUser,
	}
	tok, err := s.keys.current().Sign(c)
	if err != nil {
		return "", nil, err
	}
	return tok, c, nil
}

// clientCredentials is SMART Backend Services: system/ scopes only, as
// the client's role, for at most five minutes, without refresh token.
func (s *Server) clientCredentials(ctx context.Context, client *Client, form url.Values) (*tokenResponse, error) {
	if !client.confidential() || client.Role == "" {
		return nil, errUnauthorizedClient("this client is not registered as a backend service")
	}
	requested, err := auth.ParseScopes(form.Get("scope"))
	if err != nil {
		return nil, errInvalidScope(err.Error())
	}
	var system auth.ScopeSet
	for _, sc := range requested {
		if sc.Context == "system" {
			system = append(system, sc)
		}
	}
	granted := system.Intersect(client.Scopes())
	if len(granted) == 0 {
		return nil, errInvalidScope("none of the requested system/ scopes is allowed for this client")
	}
	g := grant{ClientID: client.ID, Scope: granted.String()}
	tok, _, err := s.issue(g, s.opts.BackendTokenTTL)
	if err != nil {
		return nil, err
	}
	return &tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(s.opts.BackendTokenTTL / time.Second), Scope: g.Scope}, nil
}

// revokeAccess records the access token jti as revoked until it expires.
func (s *Server) revokeAccess(ctx context.Context, jti string, exp int64) error {
	if jti == "" || !s.now().Before(time.Unix(exp, 0).Add(leeway)) {
		return nil
	}
	_, err := putJSON(ctx, s.opts.Records, KindRevoked, jti, "", time.Unix(exp, 0).Add(leeway), struct{}{}, 0)
	if lostRace(err) {
		return nil // revoked already
	}
	return err
}
