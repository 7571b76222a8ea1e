package smart

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func kidOf(t *testing.T, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	json.Unmarshal(raw, &h)
	return h.Kid
}

// TestKeyRotation: the signing key is replaced once older than
// KeyRotation; tokens signed by the old key verify until they expire, new
// ones use the new key; another server on the same database picks the
// new key up (at once, when it meets a token signed by it); the old key
// leaves the JWKS once no token it signed can be valid.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.KeyRotation = 24 * time.Hour })
	app := e.publicApp("patient/*.rs")
	g := grant{ClientID: app.ID, User: "alice", Scope: "patient/*.rs"}
	other := newEnvOn(t, e.store, func(o *Options) { o.KeyRotation = 24 * time.Hour })
	other.clock = e.clock // same time for both copies
	other.srv.now, other.srv.keys.now = e.clock.Now, e.clock.Now
	other.srv.opts.FHIRBase, other.srv.issuer = e.srv.opts.FHIRBase, e.srv.issuer

	oldTok, _, err := e.srv.issue(g, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	oldKid := kidOf(t, oldTok)
	if k := kidOf(t, mustIssue(t, other, g)); k != oldKid {
		t.Fatalf("second server signs with %s, want the shared key %s", k, oldKid)
	}

	e.clock.Advance(24*time.Hour - 30*time.Minute)
	lateTok := mustIssue(t, e, g) // signed by the old key, valid one more hour
	e.clock.Advance(time.Hour)
	if err := e.srv.RefreshKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	newTok := mustIssue(t, e, g)
	newKid := kidOf(t, newTok)
	if newKid == oldKid {
		t.Fatal("no new signing key after KeyRotation")
	}
	if _, err := e.srv.verifyAccess(t.Context(), lateTok); err != nil {
		t.Errorf("token of the old key before its expiry: %v", err)
	}
	if _, err := e.srv.verifyAccess(t.Context(), newTok); err != nil {
		t.Errorf("token of the new key: %v", err)
	}
	// The other server has not reloaded yet, but meets the new kid.
	if _, err := other.srv.verifyAccess(t.Context(), newTok); err != nil {
		t.Errorf("other server, token of the new key: %v", err)
	}
	if k := kidOf(t, mustIssue(t, other, g)); k != newKid {
		t.Errorf("other server signs with %s after reloading, want %s", k, newKid)
	}
	if jwks := jwksKids(t, e); len(jwks) != 2 {
		t.Errorf("JWKS during rotation: %v, want both keys", jwks)
	}

	e.clock.Advance(31 * time.Minute)
	if _, err := e.srv.verifyAccess(t.Context(), lateTok); err == nil {
		t.Error("old-key token verifies after its expiry")
	}
	e.clock.Advance(2 * time.Hour) // past retain
	if err := e.srv.RefreshKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	if jwks := jwksKids(t, e); len(jwks) != 1 || jwks[0] != newKid {
		t.Errorf("JWKS after retain: %v, want only %s", jwks, newKid)
	}
}

func mustIssue(t *testing.T, e *env, g grant) string {
	t.Helper()
	tok, _, err := e.srv.issue(g, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func jwksKids(t *testing.T, e *env) []string {
	t.Helper()
	resp, err := http.Get(e.ts.URL + PathJWKS)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Errorf("JWKS holds private key %s", k.KeyID)
		}
		kids = append(kids, k.KeyID)
	}
	return kids
}

// TestConfiguration: the SMART configuration names the endpoints and
// what the server supports.
func TestConfiguration(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.base + "/.well-known/smart-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"issuer": e.ts.URL, "token_endpoint": e.ts.URL + PathToken, "authorization_endpoint": e.ts.URL + PathAuthorize,
		"jwks_uri": e.ts.URL + PathJWKS, "revocation_endpoint": e.ts.URL + PathRevoke, "introspection_endpoint": e.ts.URL + PathIntrospect,
	} {
		if c[name] != want {
			t.Errorf("%s = %v, want %s", name, c[name], want)
		}
	}
	has := func(field, v string) bool {
		list, _ := c[field].([]any)
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	for field, values := range map[string][]string{
		"code_challenge_methods_supported":                 {"S256"},
		"grant_types_supported":                            {"authorization_code", "client_credentials", "refresh_token"},
		"token_endpoint_auth_methods_supported":            {"private_key_jwt", "client_secret_basic", "client_secret_post"},
		"token_endpoint_auth_signing_alg_values_supported": {"RS384", "ES384"},
		"capabilities": {"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
			"client-confidential-asymmetric", "context-ehr-patient", "context-standalone-patient",
			"permission-v1", "permission-v2", "permission-patient", "permission-user"},
	} {
		for _, v := range values {
			if !has(field, v) {
				t.Errorf("%s lacks %s", field, v)
			}
		}
	}
	if has("capabilities", "sso-openid-connect") || has("code_challenge_methods_supported", "plain") {
		t.Error("advertises what it does not do")
	}
}

// TestRunRotates: Run reloads the keys on its own and rotates them when due.
func TestRunRotates(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Now = time.Now
		o.KeyRotation = 100 * time.Millisecond
		o.KeyRefresh = 20 * time.Millisecond
	})
	first := jwksKids(t, e)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { e.srv.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if kids := jwksKids(t, e); len(kids) > 1 || kids[0] != first[0] {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("Run did not rotate the key")
}

// TestCrossOrigin: a browser app on another origin may call the token
// endpoint (preflight included) and read the configuration.
func TestCrossOrigin(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodOptions, e.ts.URL+PathToken, nil)
	req.Header.Set("Origin", "https://app.example.org")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	_, header, _ := e.post(PathToken, url.Values{"grant_type": {"client_credentials"}})
	if header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("token error without Access-Control-Allow-Origin")
	}
	resp, err = http.Get(e.base + "/.well-known/smart-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("configuration without Access-Control-Allow-Origin")
	}
}
