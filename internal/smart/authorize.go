package smart

import (
	_ "embed"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/auth"
)

//go:embed authorize.html
var authorizePageSource string

var authorizePage = template.Must(template.New("authorize").Parse(authorizePageSource))

// browserCookie binds a sign-in in progress to the browser that started
// it, so that a form posted from elsewhere (login CSRF) fails.
const browserCookie = "emr_authorize"

// maxLoginFailures ends a sign-in after this many wrong passwords; the
// accounts' own lockout applies as well.
const maxLoginFailures = 5

// authRequest is a validated authorisation request waiting for the user
// to sign in (kind "authz-request", key the hash of its id).
type authRequest struct {
	ClientID    string `json:"client_id"`
	RedirectURI string `json:"redirect_uri"`
	State       string `json:"state"`
	Scope       string `json:"scope"` // granted: requested ∩ client's
	Challenge   string `json:"code_challenge"`
	Method      string `json:"code_challenge_method"`
	// Patient, Encounter and LaunchUser come from an EHR launch.
	Patient    string `json:"patient,omitempty"`
	Encounter  string `json:"encounter,omitempty"`
	LaunchUser string `json:"launch_user,omitempty"`
	Browser    string `json:"browser"` // HashToken of the browser cookie
	CSRF       string `json:"csrf"`    // HashToken of the form's token
	Failures   int    `json:"failures,omitempty"`
	// User is set once the user signed in and must pick a patient.
	User string `json:"user,omitempty"`
}

// pageData fills authorize.html.
type pageData struct {
	Action, Request, CSRF, ClientName, Scope, User, Error string
	Picker                                                bool
}

func (s *Server) renderPage(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	d.Action = PathAuthorize
	if err := authorizePage.Execute(w, d); err != nil {
		s.logger.Error("smart: render authorize page", "err", err)
	}
}

// redirectError sends the user back to the client with an error
// (RFC 6749 4.1.2.1), once the redirect_uri is known to be the client's.
func redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	q := url.Values{"error": {code}, "error_description": {desc}}
	if state != "" {
		q.Set("state", state)
	}
	redirectWith(w, r, redirectURI, q)
}

func redirectWith(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values) {
	u, _ := url.Parse(redirectURI) // registered, so valid
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// authorize validates an authorisation request and shows the sign-in
// page. Until the client and redirect_uri are known good, errors are shown
// here; after, they go back to the client.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	for name, vs := range q {
		if len(vs) > 1 {
			s.renderPage(w, http.StatusBadRequest, pageData{Error: "The request repeats the parameter " + name + "."})
			return
		}
	}
	client, err := s.clients.Get(ctx, q.Get("client_id"))
	if err != nil {
		if !isNotFound(err) {
			s.logger.Error("smart: authorize: client lookup", "err", err)
		}
		s.renderPage(w, http.StatusBadRequest, pageData{Error: "The application is not registered with this server."})
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" && len(client.RedirectURIs) == 1 {
		redirectURI = client.RedirectURIs[0]
	}
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		s.renderPage(w, http.StatusBadRequest, pageData{Error: "The application's redirect_uri is not registered."})
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) { redirectError(w, r, redirectURI, state, code, desc) }
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	if state == "" {
		fail("invalid_request", "state is required")
		return
	}
	if strings.TrimSuffix(q.Get("aud"), "/") != s.opts.FHIRBase {
		fail("invalid_request", "aud must be this server's FHIR base URL, "+s.opts.FHIRBase)
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if method != "S256" {
		fail("invalid_request", "PKCE is required: code_challenge_method must be S256")
		return
	}
	if len(challenge) != 43 || strings.Trim(challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		fail("invalid_request", "code_challenge must be the base64url SHA-256 of the code_verifier")
		return
	}
	requested, err := auth.ParseScopes(q.Get("scope"))
	if err != nil {
		fail("invalid_scope", err.Error())
		return
	}
	var userScopes auth.ScopeSet // system/ scopes are for client_credentials only
	for _, sc := range requested {
		if sc.Context != "system" {
			userScopes = append(userScopes, sc)
		}
	}
	granted := userScopes.Intersect(client.Scopes())
	if len(granted) == 0 {
		fail("invalid_scope", "none of the requested scopes is allowed for this application")
		return
	}
	req := authRequest{ClientID: client.ID, RedirectURI: redirectURI, State: state, Challenge: challenge, Method: method}
	if launch := q.Get("launch"); launch != "" || requested.Has("launch") {
		if launch == "" || !requested.Has("launch") {
			fail("invalid_request", "an EHR launch needs both the launch parameter and the launch scope")
			return
		}
		if !client.LaunchAllowed {
			fail("unauthorized_client", "this application may not be launched from the EHR")
			return
		}
		var l launchRecord
		if _, err := getJSON(ctx, s.opts.Records, KindLaunch, auth.HashToken(launch), s.now(), &l); err != nil {
			if !isNotFound(err) {
				s.logger.Error("smart: authorize: launch lookup", "err", err)
			}
			fail("invalid_request", "unknown or expired launch")
			return
		}
		req.Patient, req.Encounter, req.LaunchUser = l.Patient, l.Encounter, l.User
		if !granted.Has("launch") {
			granted = append(granted, auth.Scope{Name: "launch"})
		}
	} else {
		granted = slices.DeleteFunc(granted, func(sc auth.Scope) bool { return sc.Context == "" && sc.Name == "launch" })
	}
	req.Scope = granted.String()

	browser, csrf, id := auth.NewToken(), auth.NewToken(), auth.NewToken()
	req.Browser, req.CSRF = auth.HashToken(browser), auth.HashToken(csrf)
	if _, err := putJSON(ctx, s.opts.Records, KindAuthRequest, auth.HashToken(id), "", s.now().Add(authRequestTTL), &req, 0); err != nil {
		s.logger.Error("smart: authorize: store request", "err", err)
		s.renderPage(w, http.StatusInternalServerError, pageData{Error: "The server could not start the sign-in."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: browserCookie, Value: browser, Path: PathAuthorize, MaxAge: int(authRequestTTL.Seconds()),
		HttpOnly: true, Secure: strings.HasPrefix(s.issuer, "https://"), SameSite: http.SameSiteLaxMode,
	})
	s.renderPage(w, http.StatusOK, pageData{Request: id, CSRF: csrf, ClientName: client.Name, Scope: req.Scope})
}
