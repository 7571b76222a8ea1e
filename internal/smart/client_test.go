package smart

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// TestClientRegistration: what a registration must make sense of, and
// that a secret is stored only as a hash.
func TestClientRegistration(t *testing.T) {
	e := newEnv(t)
	roles := access.DefaultRoles(spec.R5())
	jwks := newServiceKey(t).jwks
	priv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	privateJWKS, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv, KeyID: "k"}}})
	tests := []struct {
		name string
		c    Client
		ok   bool
	}{
		{"public app", Client{Name: "app", Type: ClientPublic, RedirectURIs: []string{appRedirect}, Scope: "launch/patient patient/*.rs"}, true},
		{"native app on localhost", Client{Name: "app", Type: ClientPublic, RedirectURIs: []string{"http://127.0.0.1:7000/cb"}, Scope: "patient/*.rs"}, true},
		{"backend service", Client{Name: "svc", Type: ClientJWT, JWKS: jwks, Scope: "system/*.rs", Role: "service"}, true},
		{"no name", Client{Type: ClientPublic, RedirectURIs: []string{appRedirect}, Scope: "patient/*.rs"}, false},
		{"bad type", Client{Name: "x", Type: "open", RedirectURIs: []string{appRedirect}, Scope: "patient/*.rs"}, false},
		{"bad scope", Client{Name: "x", Type: ClientPublic, RedirectURIs: []string{appRedirect}, Scope: "patient/*.zz"}, false},
		{"no scope", Client{Name: "x", Type: ClientPublic, RedirectURIs: []string{appRedirect}}, false},
		{"user scope without redirect", Client{Name: "x", Type: ClientSecret, Scope: "user/*.rs"}, false},
		{"http redirect", Client{Name: "x", Type: ClientPublic, RedirectURIs: []string{"http://app.example.org/cb"}, Scope: "patient/*.rs"}, false},
		{"redirect with fragment", Client{Name: "x", Type: ClientPublic, RedirectURIs: []string{appRedirect + "#x"}, Scope: "patient/*.rs"}, false},
		{"relative redirect", Client{Name: "x", Type: ClientPublic, RedirectURIs: []string{"/cb"}, Scope: "patient/*.rs"}, false},
		{"public with system scope", Client{Name: "x", Type: ClientPublic, Scope: "system/*.rs", Role: "service"}, false},
		{"system scope without role", Client{Name: "x", Type: ClientJWT, JWKS: jwks, Scope: "system/*.rs"}, false},
		{"unknown role", Client{Name: "x", Type: ClientJWT, JWKS: jwks, Scope: "system/*.rs", Role: "wizard"}, false},
		{"role without system scope", Client{Name: "x", Type: ClientPublic, RedirectURIs: []string{appRedirect}, Scope: "patient/*.rs", Role: "service"}, false},
		{"jwt without JWKS", Client{Name: "x", Type: ClientJWT, Scope: "system/*.rs", Role: "service"}, false},
		{"JWKS with a private key", Client{Name: "x", Type: ClientJWT, JWKS: privateJWKS, Scope: "system/*.rs", Role: "service"}, false},
		{"JWKS not JSON", Client{Name: "x", Type: ClientJWT, JWKS: []byte("{"), Scope: "system/*.rs", Role: "service"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := e.srv.Clients().Add(context.Background(), tt.c, roles)
			if tt.ok != (err == nil) {
				t.Fatalf("Add: %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidClient) {
				t.Errorf("error %v does not wrap ErrInvalidClient", err)
			}
			if got != nil && got.ID == "" {
				t.Error("no client id")
			}
		})
	}

	c, secret, err := e.srv.Clients().Add(context.Background(), Client{Name: "conf", Type: ClientSecret, RedirectURIs: []string{appRedirect}, Scope: "user/*.rs"}, roles)
	if err != nil || secret == "" {
		t.Fatalf("secret client: %v, secret %q", err, secret)
	}
	stored, _ := e.srv.Clients().Get(context.Background(), c.ID)
	if ok, _, _ := auth.VerifyPassword(stored.SecretHash, secret); !ok {
		t.Error("the stored hash does not verify the secret")
	}
	raw, _ := e.store.GetRecord(context.Background(), KindClient, c.ID)
	if raw == nil || strings.Contains(string(raw.Value), secret) {
		t.Error("the secret is stored in clear")
	}
	list, err := e.srv.Clients().List(context.Background())
	if err != nil || len(list) != 4 {
		t.Errorf("List: %d clients, %v; want 4", len(list), err)
	}
	if err := e.srv.Clients().Remove(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Clients().Remove(context.Background(), c.ID); !fhir.IsKind(err, fhir.KindNotFound) {
		t.Errorf("removing twice: %v, want not found", err)
	}
}

// TestClientIDNotAFlag checks that a client id never begins with '-' or
// '_', so `emr client remove ID` cannot read it as a flag. One id in 32
// would without the rule; 2,000 ids miss it with odds of 1 in 10^27.
func TestClientIDNotAFlag(t *testing.T) {
	for range 2000 {
		id := randomID()
		if len(id) != 22 || id[0] == '-' || id[0] == '_' {
			t.Fatalf("client id %q", id)
		}
	}
}
