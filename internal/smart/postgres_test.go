package smart

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// TestServersSharePostgres runs two servers on one PostgreSQL database,
// as a hospital runs several copies: they sign with the same key, accept
// each other's tokens, and a code, refresh token or client assertion used
// on one cannot be used again on the other, even at the same moment.
func TestServersSharePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL runs are skipped with -short")
	}
	st, err := sqlstore.OpenPostgres(context.Background(), pgtest.DSN(t), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	shared := func(o *Options) { o.FHIRBase = "https://emr.example.org/fhir" }
	a, b := newEnvOn(t, st, shared), newEnvOn(t, st, shared)
	if ka, kb := a.srv.keys.current().JWKS(), b.srv.keys.current().JWKS(); string(ka) != string(kb) {
		t.Fatalf("the servers have different keys:\n%s\n%s", ka, kb)
	}
	app := a.publicApp("launch/patient patient/*.rs offline_access")
	patientScope := "launch/patient patient/*.rs offline_access"

	// A code from a, exchanged at a and b at once: one succeeds.
	verifier := oauth2.GenerateVerifier()
	params := a.authParams(app.ID, patientScope, verifier)
	params.Set("aud", "https://emr.example.org/fhir")
	code := a.code(params, "alice", "", "")
	var wg sync.WaitGroup
	var sa, sb int
	wg.Go(func() { sa, _ = a.exchange(app.ID, code, verifier) })
	wg.Go(func() { sb, _ = b.exchange(app.ID, code, verifier) })
	wg.Wait()
	if (sa == http.StatusOK) == (sb == http.StatusOK) {
		t.Fatalf("exchanges at both servers: %d and %d, want exactly one 200", sa, sb)
	}

	// Tokens from one server work on the other.
	verifier = oauth2.GenerateVerifier()
	params = a.authParams(app.ID, patientScope, verifier)
	params.Set("aud", "https://emr.example.org/fhir")
	status, tok := a.exchange(app.ID, a.code(params, "alice", "", ""), verifier)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	for name, e := range map[string]*env{"a": a, "b": b} {
		if status, _, p := e.fhirGet(str(tok["access_token"])); status != http.StatusOK || p.Patient != "p1" {
			t.Errorf("server %s: %d %+v", name, status, p)
		}
	}
	// Refresh at b, then the spent token again at a: family revoked everywhere.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok["refresh_token"])}, "client_id": {app.ID}}
	if status, _, body := b.post(PathToken, form); status != http.StatusOK {
		t.Fatalf("refresh at b: %d %v", status, body)
	}
	if status, _, body := a.post(PathToken, form); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("reuse at a: %d %v", status, body)
	}
	if status, _, _ := b.fhirGet(str(tok["access_token"])); status != http.StatusUnauthorized {
		t.Errorf("access token of the revoked family at b: %d", status)
	}

	// A client assertion used at a is a replay at b.
	svc, key := a.serviceClient("system/*.rs")
	assertion := key.assertion(t, svc.ID, "https://emr.example.org"+PathToken, a.clock.Now(), "shared-jti")
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.rs"},
		"client_assertion_type": {jwtBearer}, "client_assertion": {assertion}}
	if status, _, body := a.post(PathToken, cc); status != http.StatusOK {
		t.Fatalf("client_credentials at a: %d %v", status, body)
	}
	if status, _, body := b.post(PathToken, cc); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("replay at b: %d %v", status, body)
	}
}
