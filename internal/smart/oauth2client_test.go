package smart

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/emr-project/emr/internal/access"
)

// TestOAuth2ClientAuthorizationCode runs a standalone launch with
// golang.org/x/oauth2 as the app: PKCE S256, the sign-in form driven as a
// browser would, the code exchanged by config.Exchange, and the access
// token used on the FHIR API through the middleware.
func TestOAuth2ClientAuthorizationCode(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("launch/patient offline_access patient/*.rs patient/Observation.cruds")
	config := &oauth2.Config{
		ClientID:    app.ID,
		RedirectURL: appRedirect,
		Scopes:      []string{"launch/patient", "offline_access", "patient/Observation.rs", "patient/Patient.read"},
		Endpoint: oauth2.Endpoint{
			AuthURL: e.ts.URL + PathAuthorize, TokenURL: e.ts.URL + PathToken, AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := config.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("aud", e.base))

	b := newBrowser(t)
	loginPage := b.get(authURL)
	if loginPage.status != http.StatusOK || loginPage.fields.Get("csrf") == "" {
		t.Fatalf("authorize: %d\n%s", loginPage.status, loginPage.body)
	}
	back := redirectParams(t, b.login(e.ts.URL, loginPage, "alice", testPassword, ""))
	if back.Get("state") != "state-123" || back.Get("code") == "" {
		t.Fatalf("redirect params %v, want code and state-123", back)
	}

	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
	tok, err := config.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("patient") != "p1" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Errorf("token: refresh %q, patient %v, type %q, expiry %v", tok.RefreshToken, tok.Extra("patient"), tok.TokenType, tok.Expiry)
	}
	if got, want := tok.Extra("scope"), "launch/patient offline_access patient/Observation.rs patient/Patient.rs"; got != want {
		t.Errorf("scope %q, want %q", got, want)
	}

	resp, err := config.Client(ctx, tok).Get(e.base + "/Observation")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("FHIR call with the token: %d", resp.StatusCode)
	}
	_, _, p := e.fhirGet(tok.AccessToken)
	want := &access.Principal{User: "alice", Client: app.ID, Role: "patient", FHIRUser: "Patient/p1", Patient: "p1", Grants: []access.Grant{
		{Context: "patient", Type: "Observation", Perms: "rs"}, {Context: "patient", Type: "Patient", Perms: "rs"},
	}}
	if !principalEqual(p, want) {
		t.Errorf("principal %+v, want %+v", p, want)
	}

	// The refresh token works through the library too (rotation).
	expired := *tok
	expired.Expiry = expired.Expiry.Add(-24 * 3600e9)
	fresh, err := config.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fresh.RefreshToken == "" {
		t.Errorf("refresh gave the same tokens back")
	}
}

// TestOAuth2ClientBackendServices gets a token with
// golang.org/x/oauth2/clientcredentials and a private_key_jwt assertion,
// and calls the FHIR API as the service.
func TestOAuth2ClientBackendServices(t *testing.T) {
	e := newEnv(t)
	svc, key := e.serviceClient("system/Observation.cruds system/Patient.rs")
	config := &clientcredentials.Config{
		ClientID: svc.ID,
		TokenURL: e.ts.URL + PathToken,
		Scopes:   []string{"system/Observation.rs", "system/Patient.read", "patient/Observation.rs"},
		EndpointParams: url.Values{
			"client_assertion_type": {jwtBearer},
			"client_assertion":      {key.assertion(t, svc.ID, e.ts.URL+PathToken, e.clock.Now(), "jti-1")},
		},
		AuthStyle: oauth2.AuthStyleInParams,
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
	tok, err := config.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Extra("scope"), "system/Observation.rs system/Patient.rs"; got != want {
		t.Errorf("scope %q, want %q", got, want)
	}
	if in, ok := tok.Extra("expires_in").(float64); !ok || in <= 0 || in > 300 {
		t.Errorf("expires_in %v, want at most 300", tok.Extra("expires_in"))
	}
	_, _, p := e.fhirGet(tok.AccessToken)
	want := &access.Principal{Client: svc.ID, Role: "service", Grants: []access.Grant{
		{Context: "system", Type: "Observation", Perms: "rs"}, {Context: "system", Type: "Patient", Perms: "rs"},
	}}
	if !principalEqual(p, want) {
		t.Errorf("principal %+v, want %+v", p, want)
	}
	// The same assertion again is a replay.
	if _, err := config.Token(ctx); err == nil {
		t.Error("a replayed client assertion got a token")
	} else if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_client" {
		t.Errorf("replay: %v, want invalid_client", err)
	}
}

func principalEqual(a, b *access.Principal) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.User == b.User && a.Client == b.Client && a.Role == b.Role && a.FHIRUser == b.FHIRUser &&
		a.Patient == b.Patient && slices.EqualFunc(a.Grants, b.Grants, func(x, y access.Grant) bool {
		return x.Context == y.Context && x.Type == y.Type && x.Perms == y.Perms && x.Filters.Encode() == y.Filters.Encode()
	})
}
