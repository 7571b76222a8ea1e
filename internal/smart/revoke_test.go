package smart

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestRevoke: RFC 7009 for access and refresh tokens; a client revokes
// only its own tokens; unknown tokens are answered 200.
func TestRevoke(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("patient/*.rs offline_access")
	other := e.publicApp("patient/*.rs")
	tok := e.userToken(app.ID, "patient/*.rs offline_access", "alice", "", "")
	access, refresh := str(tok["access_token"]), str(tok["refresh_token"])

	revoke := func(clientID, token string) (int, map[string]any) {
		status, _, body := e.post(PathRevoke, url.Values{"client_id": {clientID}, "token": {token}})
		return status, body
	}
	if status, body := revoke(other.ID, access); status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
		t.Errorf("revoking another client's token: %d %v", status, body)
	}
	if status, _ := revoke(app.ID, "no-such-token"); status != http.StatusOK {
		t.Errorf("unknown token: %d, want 200", status)
	}
	if status, body := revoke(app.ID, ""); status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("no token: %d %v", status, body)
	}
	if status, body := revoke("nobody", access); status != http.StatusUnauthorized {
		t.Errorf("unknown client: %d %v", status, body)
	}
	if status, _ := revoke(app.ID, access); status != http.StatusOK {
		t.Errorf("revoke access token: %d", status)
	}
	if status, _, _ := e.fhirGet(access); status != http.StatusUnauthorized {
		t.Errorf("revoked access token: %d, want 401", status)
	}
	if status, _ := revoke(app.ID, access); status != http.StatusOK {
		t.Errorf("revoking twice: %d", status)
	}
	if status, _ := revoke(app.ID, refresh); status != http.StatusOK {
		t.Errorf("revoke refresh token: %d", status)
	}
	status, _, body := e.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {app.ID}})
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("revoked refresh token: %d %v", status, body)
	}
}

// TestIntrospect: RFC 7662 for a confidential client (its own tokens) or
// a backend service token (any token).
func TestIntrospect(t *testing.T) {
	e := newEnv(t)
	conf, secret := e.addClient(Client{Name: "Confidential app", Type: ClientSecret, RedirectURIs: []string{appRedirect}, Scope: "launch/patient patient/*.rs offline_access"})
	pub := e.publicApp("patient/*.rs")
	svc, key := e.serviceClient("system/*.rs")

	// A confidential app's token, obtained with client_secret_post.
	verifier := oauth2.GenerateVerifier()
	code := e.code(e.authParams(conf.ID, "launch/patient patient/*.rs offline_access", verifier), "alice", "", "")
	status, _, tok := e.post(PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect},
		"code_verifier": {verifier}, "client_id": {conf.ID}, "client_secret": {secret}})
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	status, _, svcTok := e.post(PathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"},
		"client_assertion_type": {jwtBearer}, "client_assertion": {key.assertion(t, svc.ID, e.ts.URL+PathToken, e.clock.Now(), "i1")}})
	if status != http.StatusOK {
		t.Fatalf("service token: %d %v", status, svcTok)
	}
	asClient := func(token string) (int, map[string]any) {
		status, _, body := e.post(PathIntrospect, url.Values{"token": {token}, "client_id": {conf.ID}, "client_secret": {secret}})
		return status, body
	}
	asService := func(token string) (int, map[string]any) {
		status, _, body := e.post(PathIntrospect, url.Values{"token": {token}}, "Authorization", "Bearer "+str(svcTok["access_token"]))
		return status, body
	}
	status, got := asClient(str(tok["access_token"]))
	if status != http.StatusOK || got["active"] != true || got["sub"] != "alice" || got["patient"] != "p1" ||
		got["client_id"] != conf.ID || got["scope"] != "launch/patient patient/*.rs offline_access" || got["exp"] == nil {
		t.Errorf("introspect access token: %d %v", status, got)
	}
	if status, got := asClient(str(tok["refresh_token"])); status != http.StatusOK || got["active"] != true || got["sub"] != "alice" {
		t.Errorf("introspect refresh token: %d %v", status, got)
	}
	if status, got := asService(str(tok["access_token"])); status != http.StatusOK || got["active"] != true {
		t.Errorf("introspect as a service: %d %v", status, got)
	}
	if status, got := asClient(str(svcTok["access_token"])); status != http.StatusOK || got["active"] != false {
		t.Errorf("another client's token: %d %v, want inactive", status, got)
	}
	if status, got := asClient("garbage"); status != http.StatusOK || got["active"] != false {
		t.Errorf("garbage: %d %v", status, got)
	}
	// Public clients and user tokens may not introspect.
	if status, _, got := e.post(PathIntrospect, url.Values{"token": {str(tok["access_token"])}, "client_id": {pub.ID}}); status != http.StatusUnauthorized {
		t.Errorf("public client: %d %v", status, got)
	}
	if status, _, got := e.post(PathIntrospect, url.Values{"token": {"x"}}, "Authorization", "Bearer "+str(tok["access_token"])); status != http.StatusUnauthorized {
		t.Errorf("user token as credentials: %d %v", status, got)
	}
	if status, _, got := e.post(PathIntrospect, url.Values{"token": {"x"}}); status != http.StatusUnauthorized {
		t.Errorf("no credentials: %d %v", status, got)
	}
	// Expired and revoked tokens are inactive.
	e.clock.Advance(2 * time.Hour)
	if status, got := asClient(str(tok["access_token"])); status != http.StatusOK || got["active"] != false {
		t.Errorf("expired token: %d %v", status, got)
	}
}
