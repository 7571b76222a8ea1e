package smart

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
)

// TestAuthenticateRefuses: every bad token is a 401 with an RFC 6750
// challenge and an OperationOutcome.
func TestAuthenticateRefuses(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("patient/*.rs")
	good := grant{ClientID: app.ID, User: "alice", Scope: "patient/*.rs", Patient: "p1"}
	sign := func(mod func(*auth.Claims)) string {
		_, c, err := e.srv.issue(good, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		mod(c)
		tok, err := e.srv.keys.current().Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	otherKey, _ := auth.GenerateKey(time.Now())
	otherSet, _ := auth.NewKeySet(otherKey)
	_, foreignClaims, _ := e.srv.issue(good, time.Hour)
	foreign, _ := otherSet.Sign(foreignClaims)
	valid := sign(func(*auth.Claims) {})
	tampered := valid[:len(valid)-4] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, valid[len(valid)-4:])
	revoked, revokedClaims := sign(func(*auth.Claims) {}), (*auth.Claims)(nil)
	revokedClaims, _ = e.srv.verifyAccess(t.Context(), revoked)
	if err := e.srv.revokeAccess(t.Context(), revokedClaims.ID, revokedClaims.Expiry); err != nil {
		t.Fatal(err)
	}
	removedClient := e.publicApp("patient/*.rs")
	byRemoved, _, _ := e.srv.issue(grant{ClientID: removedClient.ID, User: "alice", Scope: "patient/*.rs"}, time.Hour)
	if err := e.srv.Clients().Remove(t.Context(), removedClient.ID); err != nil {
		t.Fatal(err)
	}
	unknownUser, _, _ := e.srv.issue(grant{ClientID: app.ID, User: "mallory", Scope: "patient/*.rs"}, time.Hour)

	tests := []struct {
		name, token, header string
		wantDesc            string
	}{
		{"no token", "", "", "bearer access token is required"},
		{"basic scheme", "", "Basic YTpi", "bearer access token is required"},
		{"garbage", "not-a-jwt", "", "malformed"},
		{"expired", sign(func(c *auth.Claims) { c.Expiry = time.Now().Add(-2 * time.Minute).Unix() }), "", "expired"},
		{"not yet valid", sign(func(c *auth.Claims) { c.NotBefore = time.Now().Add(10 * time.Minute).Unix() }), "", "not yet valid"},
		{"wrong audience", sign(func(c *auth.Claims) { c.Audience = auth.Audience{"https://other.example/fhir"} }), "", "wrong audience"},
		{"wrong issuer", sign(func(c *auth.Claims) { c.Issuer = "https://other.example" }), "", "wrong issuer"},
		{"no jti", sign(func(c *auth.Claims) { c.ID = "" }), "", "not valid"},
		{"bad signature", tampered, "", "bad signature"},
		{"unknown kid", foreign, "", "unknown signing key"},
		{"revoked", revoked, "", "revoked"},
		{"client removed", byRemoved, "", "not valid"},
		{"unknown user", unknownUser, "", "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.base+"/Patient", nil)
			switch {
			case tt.header != "":
				req.Header.Set("Authorization", tt.header)
			case tt.token != "":
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var oo map[string]any
			json.NewDecoder(resp.Body).Decode(&oo)
			challenge := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(challenge, `Bearer realm="emr"`) ||
				!strings.Contains(challenge+fmt.Sprint(oo), tt.wantDesc) || oo["resourceType"] != "OperationOutcome" {
				t.Errorf("got %d, WWW-Authenticate %q, body %v; want 401 mentioning %q", resp.StatusCode, challenge, oo, tt.wantDesc)
			}
			if tt.token != "" && !strings.Contains(challenge, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q lacks error=invalid_token", challenge)
			}
		})
	}
	if status, _, p := e.fhirGet(valid); status != http.StatusOK || p.Patient != "p1" {
		t.Errorf("valid token: %d %+v", status, p)
	}
	e.users.setDisabled("alice", true)
	if status, challenge, _ := e.fhirGet(valid); status != http.StatusUnauthorized || !strings.Contains(challenge, "invalid_token") {
		t.Errorf("token of a disabled user: %d %q", status, challenge)
	}
}

// TestAuthenticateOpenPaths: the capability statement and the SMART
// configuration need no token.
func TestAuthenticateOpenPaths(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/fhir/metadata", "/fhir/.well-known/smart-configuration", "/fhir/R4/metadata"} {
		resp, err := http.Get(e.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			t.Errorf("GET %s: 401", path)
		}
	}
}

// TestPrincipalGrants: the token's scopes become the principal's grants:
// v1 scopes as letters, query constraints as decoded values, named scopes
// and other contexts left out; a patient user is bound to their record.
func TestPrincipalGrants(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("patient/*.cruds")
	svc, _ := e.serviceClient("system/*.cruds")
	tests := []struct {
		name string
		g    grant
		want access.Principal
	}{
		{"v1 and v2 with a constraint", grant{ClientID: app.ID, User: "drsmith", Patient: "p2",
			Scope: "launch/patient openid patient/Patient.read user/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category%7Claboratory patient/Condition.write system/*.rs"},
			access.Principal{User: "drsmith", Client: app.ID, Role: "physician", FHIRUser: "Practitioner/pr1", Patient: "p2", Grants: []access.Grant{
				{Context: "patient", Type: "Patient", Perms: "rs"},
				{Context: "user", Type: "Observation", Perms: "rs", Filters: url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}},
				{Context: "patient", Type: "Condition", Perms: "cud"},
			}}},
		{"patient user bound to own record", grant{ClientID: app.ID, User: "alice", Patient: "p2", Scope: "patient/*.*"},
			access.Principal{User: "alice", Client: app.ID, Role: "patient", FHIRUser: "Patient/p1", Patient: "p1", Grants: []access.Grant{
				{Context: "patient", Type: "*", Perms: "cruds"}}}},
		{"no resource scope grants nothing", grant{ClientID: app.ID, User: "alice", Scope: "launch/patient"},
			access.Principal{User: "alice", Client: app.ID, Role: "patient", FHIRUser: "Patient/p1", Patient: "p1", Grants: []access.Grant{}}},
		{"service keeps system scopes only", grant{ClientID: svc.ID, Scope: "system/Observation.c patient/*.rs"},
			access.Principal{Client: svc.ID, Role: "service", Grants: []access.Grant{{Context: "system", Type: "Observation", Perms: "c"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, err := e.srv.issue(tt.g, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			status, _, p := e.fhirGet(tok)
			if status != http.StatusOK || !principalEqual(p, &tt.want) {
				t.Errorf("got %d %+v, want %+v", status, p, tt.want)
			}
			if p != nil && p.Grants == nil {
				t.Error("Grants is nil: the principal would be limited by its role only")
			}
		})
	}
}
