package smart

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestAuthorizeRequestErrors: a request whose client or redirect_uri is
// not known good is answered on a page, never redirected; other errors go
// back to the app with the error and state.
func TestAuthorizeRequestErrors(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("launch/patient patient/*.rs")
	other := e.publicApp("patient/*.rs")
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name    string
		change  func(url.Values)
		page    bool   // answered with a page (400)
		errCode string // else: the error in the redirect
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "nobody") }, true, ""},
		{"unregistered redirect_uri", func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, true, ""},
		{"redirect_uri of a prefix", func(v url.Values) { v.Set("redirect_uri", appRedirect+"/x") }, true, ""},
		{"repeated parameter", func(v url.Values) { v.Add("scope", "patient/*.rs") }, true, ""},
		{"token response type", func(v url.Values) { v.Set("response_type", "token") }, false, "unsupported_response_type"},
		{"no state", func(v url.Values) { v.Del("state") }, false, "invalid_request"},
		{"wrong aud", func(v url.Values) { v.Set("aud", "https://other.example/fhir") }, false, "invalid_request"},
		{"no aud", func(v url.Values) { v.Del("aud") }, false, "invalid_request"},
		{"no PKCE", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, false, "invalid_request"},
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain"); v.Set("code_challenge", verifier) }, false, "invalid_request"},
		{"short challenge", func(v url.Values) { v.Set("code_challenge", "abc") }, false, "invalid_request"},
		{"bad scope", func(v url.Values) { v.Set("scope", "patient/Observation.xyz") }, false, "invalid_scope"},
		{"no allowed scope", func(v url.Values) { v.Set("scope", "user/*.cruds") }, false, "invalid_scope"},
		{"system scope only", func(v url.Values) { v.Set("scope", "system/*.rs") }, false, "invalid_scope"},
		{"launch without id", func(v url.Values) { v.Set("scope", "launch patient/*.rs") }, false, "invalid_request"},
		{"unknown launch", func(v url.Values) { v.Set("scope", "launch patient/*.rs"); v.Set("launch", "nope") }, false, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := e.authParams(app.ID, "launch/patient patient/*.rs", verifier)
			tt.change(params)
			p := newBrowser(t).get(e.ts.URL + PathAuthorize + "?" + params.Encode())
			if tt.page {
				if p.status != http.StatusBadRequest || p.location != "" {
					t.Errorf("got %d to %q, want a 400 page", p.status, p.location)
				}
				return
			}
			q := redirectParams(t, p)
			if q.Get("error") != tt.errCode || q.Get("state") != params.Get("state") {
				t.Errorf("redirect %v, want error %s with the state", q, tt.errCode)
			}
		})
	}
	// The other app's client_id with this app's redirect_uri is refused too.
	params := e.authParams(other.ID, "patient/*.rs", verifier)
	params.Set("redirect_uri", "https://elsewhere.example/cb")
	if p := newBrowser(t).get(e.ts.URL + PathAuthorize + "?" + params.Encode()); p.status != http.StatusBadRequest {
		t.Errorf("foreign redirect_uri: %d", p.status)
	}
}

// TestLoginForm: the form works only from the browser that opened it and
// with its CSRF token; wrong credentials show the form again; a
// one-time code is needed where the account has MFA; five failures end
// the request.
func TestLoginForm(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("user/*.rs patient/*.rs launch/patient")
	verifier := oauth2.GenerateVerifier()
	authURL := e.ts.URL + PathAuthorize + "?" + e.authParams(app.ID, "user/*.rs", verifier).Encode()

	b := newBrowser(t)
	p := b.get(authURL)
	if csp := "default-src 'none'"; !strings.Contains(p.body, `name="csrf"`) || strings.Contains(p.body, "<script") {
		t.Fatalf("login page lacks a CSRF field or has a script:\n%s (%s)", p.body, csp)
	}

	// Another browser (no cookie) posting the same form: refused.
	if got := newBrowser(t).login(e.ts.URL, p, "drsmith", testPassword, "123456"); got.status != http.StatusForbidden {
		t.Errorf("form from another browser: %d, want 403", got.status)
	}
	// Wrong CSRF token: refused.
	forged := page{fields: url.Values{"request": {p.fields.Get("request")}, "csrf": {"forged"}, "step": {"login"}}}
	if got := b.login(e.ts.URL, forged, "drsmith", testPassword, "123456"); got.status != http.StatusForbidden {
		t.Errorf("wrong csrf: %d, want 403", got.status)
	}
	// Missing one-time code for an MFA account, then a wrong password.
	for _, try := range [][2]string{{testPassword, ""}, {"wrong", "123456"}} {
		got := b.login(e.ts.URL, p, "drsmith", try[0], try[1])
		if got.status != http.StatusOK || !strings.Contains(got.body, "is wrong") {
			t.Errorf("bad credentials %v: %d\n%s", try, got.status, got.body)
		}
	}
	got := b.login(e.ts.URL, p, "drsmith", testPassword, "123456")
	if q := redirectParams(t, got); q.Get("code") == "" {
		t.Errorf("redirect %v, want a code", q)
	}
	// The form is spent.
	if again := b.login(e.ts.URL, p, "drsmith", testPassword, "123456"); again.status == http.StatusFound {
		t.Error("the same sign-in form gave a second code")
	}

	// Five failures: access_denied.
	b = newBrowser(t)
	p = b.get(authURL)
	var last page
	for range maxLoginFailures {
		last = b.login(e.ts.URL, p, "drsmith", "wrong", "123456")
	}
	if q := redirectParams(t, last); q.Get("error") != "access_denied" {
		t.Errorf("after %d failures: %v, want access_denied", maxLoginFailures, q)
	}

	// A disabled account cannot sign in.
	e.users.setDisabled("drsmith", true)
	b = newBrowser(t)
	if got := b.login(e.ts.URL, b.get(authURL), "drsmith", testPassword, "123456"); got.status != http.StatusOK || !strings.Contains(got.body, "is wrong") {
		t.Errorf("disabled account: %d", got.status)
	}
}

// TestStandaloneLaunchContext: a patient's context is their own record; a
// clinician picks a patient, which must exist.
func TestStandaloneLaunchContext(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("launch/patient patient/*.rs user/*.rs")
	if got := e.userToken(app.ID, "launch/patient patient/*.rs", "alice", "", ""); got["patient"] != "p1" {
		t.Errorf("patient user: patient %v, want p1", got["patient"])
	}

	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	p := b.get(e.ts.URL + PathAuthorize + "?" + e.authParams(app.ID, "launch/patient patient/*.rs", verifier).Encode())
	p = b.login(e.ts.URL, p, "drsmith", testPassword, "123456")
	if !strings.Contains(p.body, "Choose a patient") {
		t.Fatalf("no patient picker:\n%s", p.body)
	}
	if again := b.pickPatient(e.ts.URL, p, "no-such-patient"); again.status != http.StatusOK || !strings.Contains(again.body, "no patient with that id") {
		t.Errorf("unknown patient: %d\n%s", again.status, again.body)
	}
	if again := b.pickPatient(e.ts.URL, p, "bad id!"); again.status != http.StatusOK || !strings.Contains(again.body, "no patient with that id") {
		t.Errorf("malformed patient id: %d", again.status)
	}
	code := redirectParams(t, b.pickPatient(e.ts.URL, p, "p2")).Get("code")
	status, body := e.exchange(app.ID, code, verifier)
	if status != http.StatusOK || body["patient"] != "p2" {
		t.Fatalf("exchange: %d %v, want patient p2", status, body)
	}
	_, _, pr := e.fhirGet(str(body["access_token"]))
	if pr == nil || pr.Patient != "p2" || pr.User != "drsmith" || pr.Role != "physician" || pr.FHIRUser != "Practitioner/pr1" {
		t.Errorf("principal %+v", pr)
	}
}

// TestEHRLaunch: the EHR asks for a launch id with the context, the app
// passes it in the authorisation request, and the token carries the
// context. Only the user who launched may complete it.
func TestEHRLaunch(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("launch launch/patient patient/*.rs user/*.rs")
	ehr := e.userToken(app.ID, "user/*.rs", "drsmith", "123456", "")

	launch := func(form url.Values, token string) (int, map[string]any) {
		status, _, body := e.post(PathLaunch, form, "Authorization", "Bearer "+token)
		return status, body
	}
	if status, _ := launch(url.Values{"patient": {"p1"}}, ""); status != http.StatusUnauthorized {
		t.Errorf("launch without a token: %d, want 401", status)
	}
	if status, body := launch(url.Values{"patient": {"p9"}}, str(ehr["access_token"])); status != http.StatusBadRequest {
		t.Errorf("launch for an unknown patient: %d %v", status, body)
	}
	status, body := launch(url.Values{"patient": {"p2"}, "encounter": {"e7"}}, str(ehr["access_token"]))
	if status != http.StatusOK || str(body["launch"]) == "" {
		t.Fatalf("launch: %d %v", status, body)
	}
	verifier := oauth2.GenerateVerifier()
	params := e.authParams(app.ID, "launch patient/*.rs", verifier)
	params.Set("launch", str(body["launch"]))
	code := e.code(params, "drsmith", "123456", "")
	status, tok := e.exchange(app.ID, code, verifier)
	if status != http.StatusOK || tok["patient"] != "p2" || tok["encounter"] != "e7" || !strings.Contains(str(tok["scope"]), "launch") {
		t.Fatalf("exchange: %d %v", status, tok)
	}

	// Another user cannot complete drsmith's launch.
	_, body = launch(url.Values{"patient": {"p1"}}, str(ehr["access_token"]))
	params.Set("launch", str(body["launch"]))
	b := newBrowser(t)
	p := b.login(e.ts.URL, b.get(e.ts.URL+PathAuthorize+"?"+params.Encode()), "alice", testPassword, "")
	if q := redirectParams(t, p); q.Get("error") != "access_denied" {
		t.Errorf("launch completed by another user: %v", q)
	}
}
