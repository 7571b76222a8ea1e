package main

import (
	"bytes"
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestSMARTAppAgainstServer: an `emr serve` process, users and an app
// registered with the command line, and golang.org/x/oauth2 as the app:
// authorisation code with PKCE, the sign-in form filled as a browser
// would, then the FHIR API with the token — each user seeing what their
// role lets them, and nothing without a token.
func TestSMARTAppAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	origin := strings.TrimSuffix(s.base, "/fhir")
	// Two patients with an Observation each, written by the harness's
	// backend service.
	for _, r := range []struct{ path, body string }{
		{"/Patient/p1", `{"resourceType":"Patient","id":"p1","name":[{"family":"One"}]}`},
		{"/Patient/p2", `{"resourceType":"Patient","id":"p2","name":[{"family":"Two"}]}`},
		{"/Observation/o1", `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}`},
		{"/Observation/o2", `{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p2"}}`},
	} {
		if status, _, _ := call(t, "PUT", s.base+r.path, fhirJSON, r.body); status != http.StatusCreated {
			t.Fatalf("PUT %s: %d", r.path, status)
		}
	}
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append(args, "--data", dir), &out, &errOut); code != 0 {
			t.Fatalf("emr %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	passwordOf := func(out string) string {
		m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no password in %q", out)
		}
		return m[1]
	}
	patientPW := passwordOf(cli("user", "add", "pat", "--role", "patient", "--patient", "p1"))
	deskPW := passwordOf(cli("user", "add", "desk", "--role", "registrar"))
	const redirect = "http://localhost:9/callback"
	out := cli("client", "add", "chart app", "--type", "public", "--redirect-uri", redirect,
		"--scope", "launch/patient offline_access patient/*.rs user/*.rs")
	clientID := regexp.MustCompile(`client_id: (\S+)`).FindStringSubmatch(out)[1]

	signIn := func(user, password string, scopes ...string) *oauth2.Token {
		t.Helper()
		config := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: scopes,
			Endpoint: oauth2.Endpoint{AuthURL: origin + "/oauth/authorize", TokenURL: origin + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
		verifier := oauth2.GenerateVerifier()
		authURL := config.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("aud", s.base))
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := browser.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		form := url.Values{"username": {user}, "password": {password}}
		for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(string(page), -1) {
			form.Set(m[1], html.UnescapeString(m[2]))
		}
		resp, err = browser.PostForm(origin+"/oauth/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		back, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(back.String(), redirect) || back.Query().Get("state") != "st4te" {
			t.Fatalf("sign-in of %s: %d to %q: %s", user, resp.StatusCode, resp.Header.Get("Location"), body)
		}
		tok, err := config.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	get := func(token, path string) (int, map[string]any) {
		t.Helper()
		status, _, doc := call(t, "GET", s.base+path, "", "", "Authorization: Bearer "+token)
		return status, doc
	}
	ids := func(bundle map[string]any) []string { return entryIDs(bundle) }

	pat := signIn("pat", patientPW, "launch/patient", "patient/Observation.rs", "patient/Patient.rs")
	if pat.Extra("patient") != "p1" {
		t.Errorf("the patient's token has patient %v, want p1", pat.Extra("patient"))
	}
	if status, doc := get(pat.AccessToken, "/Observation"); status != 200 || strings.Join(ids(doc), ",") != "o1" {
		t.Errorf("the patient's Observations: %d %v", status, ids(doc))
	}
	if status, _ := get(pat.AccessToken, "/Observation/o2"); status != 404 {
		t.Errorf("another patient's Observation: %d, want 404", status)
	}
	desk := signIn("desk", deskPW, "user/Patient.rs", "user/Observation.rs")
	if status, doc := get(desk.AccessToken, "/Patient?_sort=_id"); status != 200 || strings.Join(ids(doc), ",") != "p1,p2" {
		t.Errorf("the registrar's patients: %d %v", status, ids(doc))
	}
	if status, _ := get(desk.AccessToken, "/Observation"); status != 403 {
		t.Errorf("a registrar searching Observations: %d, want 403", status)
	}
	// Nothing without a valid token; the capability statement is public.
	status, h, _, err := request("GET", s.base+"/Patient/p1", "", "", "Authorization: Bearer not-a-token")
	if err != nil || status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("a bad token: %d %q %v", status, h.Get("WWW-Authenticate"), err)
	}
	req, _ := http.NewRequest("GET", s.base+"/Patient/p1", nil)
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if status, _, doc := call(t, "GET", s.base+"/metadata", "", ""); status != 200 || doc["resourceType"] != "CapabilityStatement" {
		t.Errorf("metadata without a token: %d", status)
	}
}
