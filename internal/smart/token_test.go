package smart

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestCodeExchangeErrors: the code is bound to its client, redirect_uri
// and PKCE challenge, and expires after a minute.
func TestCodeExchangeErrors(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("patient/*.rs launch/patient")
	other := e.publicApp("patient/*.rs")
	tests := []struct {
		name   string
		change func(form url.Values)
		wait   time.Duration
		want   string
	}{
		{"wrong verifier", func(f url.Values) { f.Set("code_verifier", oauth2.GenerateVerifier()) }, 0, "invalid_grant"},
		{"no verifier", func(f url.Values) { f.Del("code_verifier") }, 0, "invalid_grant"},
		{"short verifier", func(f url.Values) { f.Set("code_verifier", "abc") }, 0, "invalid_grant"},
		{"other redirect_uri", func(f url.Values) { f.Set("redirect_uri", "https://app.example.org/other") }, 0, "invalid_grant"},
		{"other client", func(f url.Values) { f.Set("client_id", other.ID) }, 0, "invalid_grant"},
		{"unknown code", func(f url.Values) { f.Set("code", "nope") }, 0, "invalid_grant"},
		{"no code", func(f url.Values) { f.Del("code") }, 0, "invalid_request"},
		{"expired code", func(url.Values) {}, codeTTL + time.Second, "invalid_grant"},
		{"unknown client", func(f url.Values) { f.Set("client_id", "nobody") }, 0, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			code := e.code(e.authParams(app.ID, "patient/*.rs", verifier), "alice", "", "")
			e.clock.Advance(tt.wait)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect},
				"client_id": {app.ID}, "code_verifier": {verifier}}
			tt.change(form)
			status, _, body := e.post(PathToken, form)
			if status < 400 || status >= 500 || body["error"] != tt.want {
				t.Errorf("got %d %v, want %s", status, body, tt.want)
			}
		})
	}
}

// TestCodeReuseRevokesTokens: a code used twice is refused, and the
// tokens the first use gave are revoked (OAuth 2.0 security BCP).
func TestCodeReuseRevokesTokens(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("patient/*.rs offline_access")
	verifier := oauth2.GenerateVerifier()
	code := e.code(e.authParams(app.ID, "patient/*.rs offline_access", verifier), "alice", "", "")
	status, first := e.exchange(app.ID, code, verifier)
	if status != http.StatusOK {
		t.Fatalf("first exchange: %d %v", status, first)
	}
	if status, _, _ := e.fhirGet(str(first["access_token"])); status != http.StatusOK {
		t.Fatalf("first token: %d", status)
	}
	status, second := e.exchange(app.ID, code, verifier)
	if status != http.StatusBadRequest || second["error"] != "invalid_grant" {
		t.Errorf("second exchange: %d %v, want invalid_grant", status, second)
	}
	if status, _, _ := e.fhirGet(str(first["access_token"])); status != http.StatusUnauthorized {
		t.Errorf("access token after code reuse: %d, want 401", status)
	}
	status, _, body := e.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(first["refresh_token"])}, "client_id": {app.ID}})
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh token after code reuse: %d %v, want invalid_grant", status, body)
	}
}

// TestRefreshRotation: each use of a refresh token gives a new one; a used
// one presented again revokes the whole family and its access tokens.
func TestRefreshRotation(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("patient/*.rs offline_access online_access")
	first := e.userToken(app.ID, "patient/*.rs offline_access", "alice", "", "")
	refresh := func(token string, extra ...string) (int, map[string]any) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {app.ID}}
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		status, _, body := e.post(PathToken, form)
		return status, body
	}
	status, second := refresh(str(first["refresh_token"]))
	if status != http.StatusOK || str(second["refresh_token"]) == "" || second["refresh_token"] == first["refresh_token"] || second["patient"] != "p1" {
		t.Fatalf("refresh: %d %v", status, second)
	}
	// Narrowing the scope on refresh.
	status, third := refresh(str(second["refresh_token"]), "scope", "patient/Observation.rs offline_access")
	if status != http.StatusOK || third["scope"] != "patient/Observation.rs offline_access" {
		t.Fatalf("narrowing refresh: %d %v", status, third)
	}
	if status, body := refresh(str(third["refresh_token"]), "scope", "user/*.rs"); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Errorf("widening refresh: %d %v, want invalid_scope", status, body)
	}
	// Reuse of the first (spent) token: refused, and the family is gone.
	if status, body := refresh(str(first["refresh_token"])); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("reuse: %d %v, want invalid_grant", status, body)
	}
	if status, body := refresh(str(third["refresh_token"])); status != http.StatusBadRequest {
		t.Errorf("newest token of a revoked family: %d %v, want refused", status, body)
	}
	if status, _, _ := e.fhirGet(str(third["access_token"])); status != http.StatusUnauthorized {
		t.Errorf("access token of a revoked family: %d, want 401", status)
	}
	// Another client cannot use the token, nor a disabled user.
	fresh := e.userToken(app.ID, "patient/*.rs online_access", "alice", "", "")
	other := e.publicApp("patient/*.rs offline_access")
	status, _, body := e.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(fresh["refresh_token"])}, "client_id": {other.ID}})
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("another client's refresh token: %d %v", status, body)
	}
	e.users.setDisabled("alice", true)
	if status, body := refresh(str(fresh["refresh_token"])); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("disabled user: %d %v", status, body)
	}
	e.users.setDisabled("alice", false)
	// online_access ends OnlineTTL after sign-in however it is used.
	e.clock.Advance(9 * time.Hour)
	if status, body := refresh(str(fresh["refresh_token"])); status != http.StatusBadRequest {
		t.Errorf("online_access refresh after 9 h: %d %v, want refused", status, body)
	}
}

// TestNoRefreshWithoutAccessScope: without offline_access or
// online_access there is no refresh token.
func TestNoRefreshWithoutAccessScope(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("patient/*.rs")
	if got := e.userToken(app.ID, "patient/*.rs offline_access", "alice", "", ""); got["refresh_token"] != nil {
		t.Errorf("refresh token %v without offline_access allowed", got["refresh_token"])
	}
}

// TestTokenEndpointErrors: bad requests are 400 or 401 with an RFC 6749
// error, never 500.
func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("patient/*.rs")
	secretClient, secret := e.addClient(Client{Name: "Confidential app", Type: ClientSecret, RedirectURIs: []string{appRedirect}, Scope: "user/*.rs system/Patient.rs", Role: "service"})
	svc, key := e.serviceClient("system/Observation.rs")
	tokenURL := e.ts.URL + PathToken
	basic := func(id, secret string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return r.Header.Get("Authorization")
	}
	cc := func(scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	}
	withAssertion := func(f url.Values, a string) url.Values {
		f.Set("client_assertion_type", jwtBearer)
		f.Set("client_assertion", a)
		return f
	}
	now := e.clock.Now()
	tests := []struct {
		name   string
		form   url.Values
		header []string
		status int
		want   string
	}{
		{"no grant_type", url.Values{}, nil, 400, "invalid_request"},
		{"password grant", url.Values{"grant_type": {"password"}}, nil, 400, "unsupported_grant_type"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, nil, 400, "invalid_request"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}}, nil, 401, "invalid_client"},
		{"public client credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ID}, "scope": {"system/*.rs"}}, nil, 400, "unauthorized_client"},
		{"confidential without secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {secretClient.ID}}, nil, 401, "invalid_client"},
		{"wrong secret basic", cc("system/Patient.rs"), []string{"Authorization", basic(secretClient.ID, "wrong")}, 401, "invalid_client"},
		{"wrong secret post", func() url.Values {
			f := cc("system/Patient.rs")
			f.Set("client_id", secretClient.ID)
			f.Set("client_secret", "wrong")
			return f
		}(), nil, 401, "invalid_client"},
		{"two methods", func() url.Values { f := cc("system/Patient.rs"); f.Set("client_secret", secret); return f }(),
			[]string{"Authorization", basic(secretClient.ID, secret)}, 400, "invalid_request"},
		{"user scope by client_credentials", cc("user/*.rs"), []string{"Authorization", basic(secretClient.ID, secret)}, 400, "invalid_scope"},
		{"scope not allowed", cc("system/Observation.rs"), []string{"Authorization", basic(secretClient.ID, secret)}, 400, "invalid_scope"},
		{"malformed scope", cc("system/Observation.zz"), []string{"Authorization", basic(secretClient.ID, secret)}, 400, "invalid_scope"},
		{"assertion wrong type", func() url.Values {
			f := withAssertion(cc("system/Observation.rs"), key.assertion(t, svc.ID, tokenURL, now, "a1"))
			f.Set("client_assertion_type", "urn:other")
			return f
		}(), nil, 401, "invalid_client"},
		{"assertion wrong audience", withAssertion(cc("system/Observation.rs"), key.assertion(t, svc.ID, "https://other.example/token", now, "a2")), nil, 401, "invalid_client"},
		{"assertion expired", withAssertion(cc("system/Observation.rs"), key.assertion(t, svc.ID, tokenURL, now.Add(-10*time.Minute), "a3")), nil, 401, "invalid_client"},
		{"assertion by another key", withAssertion(cc("system/Observation.rs"), newServiceKey(t).assertion(t, svc.ID, tokenURL, now, "a4")), nil, 401, "invalid_client"},
		{"assertion garbage", withAssertion(cc("system/Observation.rs"), "x.y.z"), nil, 401, "invalid_client"},
		{"assertion for a secret client", withAssertion(cc("system/Patient.rs"), key.assertion(t, secretClient.ID, tokenURL, now, "a5")), nil, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := e.post(PathToken, tt.form, tt.header...)
			if status != tt.status || body["error"] != tt.want {
				t.Errorf("got %d %v, want %d %s", status, body, tt.status, tt.want)
			}
			if status == 401 && len(tt.header) > 0 && !strings.HasPrefix(header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 to Basic credentials without a Basic challenge")
			}
			if header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", header.Get("Cache-Control"))
			}
		})
	}
	// And the right secret works, both ways.
	for _, header := range [][]string{{"Authorization", basic(secretClient.ID, secret)}, nil} {
		form := cc("system/Patient.rs")
		if header == nil {
			form.Set("client_id", secretClient.ID)
			form.Set("client_secret", secret)
		}
		if status, _, body := e.post(PathToken, form, header...); status != 200 || body["expires_in"] != float64(300) {
			t.Errorf("client_secret (%v): %d %v", header != nil, status, body)
		}
	}
}
