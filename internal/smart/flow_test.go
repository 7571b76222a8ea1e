package smart

import (
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// authParams returns valid authorisation request parameters.
func (e *env) authParams(clientID, scope, verifier string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {appRedirect},
		"scope": {scope}, "state": {"st"}, "aud": {e.base},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
}

// code runs the authorisation request with params and signs in as user,
// picking patient when asked, and returns the code.
func (e *env) code(params url.Values, user, otp, patient string) string {
	e.t.Helper()
	b := newBrowser(e.t)
	p := b.get(e.ts.URL + PathAuthorize + "?" + params.Encode())
	if p.status != http.StatusOK {
		e.t.Fatalf("authorize: %d %s\n%s", p.status, p.location, p.body)
	}
	p = b.login(e.ts.URL, p, user, testPassword, otp)
	if p.status == http.StatusOK && strings.Contains(p.body, "Choose a patient") {
		p = b.pickPatient(e.ts.URL, p, patient)
	}
	return redirectParams(e.t, p).Get("code")
}

// exchange posts the code to the token endpoint as a public client.
func (e *env) exchange(clientID, code, verifier string) (int, map[string]any) {
	e.t.Helper()
	status, _, body := e.post(PathToken, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect},
		"client_id": {clientID}, "code_verifier": {verifier},
	})
	return status, body
}

// userToken runs the whole flow for a public app and returns the token response.
func (e *env) userToken(clientID, scope, user, otp, patient string) map[string]any {
	e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	code := e.code(e.authParams(clientID, scope, verifier), user, otp, patient)
	status, body := e.exchange(clientID, code, verifier)
	if status != http.StatusOK {
		e.t.Fatalf("exchange: %d %v", status, body)
	}
	return body
}

func str(v any) string { s, _ := v.(string); return s }
