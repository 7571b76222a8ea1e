package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestServeCDSHooks: emr serve publishes its CDS services, refuses a call
// without a client's JWT, and answers a client registered with
// --cds-hooks, its JWT naming the service's public URL, with cards.
func TestServeCDSHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	origin := strings.TrimSuffix(s.base, "/fhir")
	status, _, doc := call(t, "GET", origin+"/cds-services", "", "", "Authorization: ")
	services, _ := doc["services"].([]any)
	if status != http.StatusOK || len(services) != 3 {
		t.Fatalf("discovery: %d %v", status, doc)
	}
	status, h, doc := call(t, "POST", origin+"/cds-services/order-sign-safety", "application/json", `{"hook":"order-sign"}`, "Authorization: ")
	if status != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" || doc["error"] == nil {
		t.Errorf("no JWT: %d %v %v", status, h, doc)
	}

	// A ward EHR registers its key for CDS Hooks.
	priv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: "k1", Algorithm: "ES384", Use: "sig"}}})
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, set, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"client", "add", "Ward EHR", "--type", "jwt", "--jwks", jwks, "--cds-hooks",
		"--scope", "system/*.rs", "--role", "service", "--data", dir}, &out, &errOut); code != 0 {
		t.Fatalf("client add: %d %s", code, errOut.String())
	}
	client := regexp.MustCompile(`client_id: (\S+)`).FindStringSubmatch(out.String())[1]
	service := origin + "/cds-services/order-sign-safety"
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	now := time.Now()
	token, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: client, Audience: jwt.Audience{service}, ID: "jti-1",
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	const rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
	body := `{"hook":"order-sign","hookInstance":"0b5c9a2e-1d2f-4c3b-9a8e-7f6d5c4b3a21","context":{"userId":"Practitioner/dr1","patientId":"p1",
		"draftOrders":{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"MedicationRequest","id":"d1","status":"draft","intent":"order",
			"subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"coding":[{"system":"` + rx + `","code":"723","display":"amoxicillin"}]}}}]}},
		"prefetch":{"allergies":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"AllergyIntolerance","id":"a1",
			"patient":{"reference":"Patient/p1"},"criticality":"high","code":{"coding":[{"system":"` + rx + `","code":"723"}]}}}]},
		"medications":null,"serviceRequests":null}}`
	status, _, doc = call(t, "POST", service, "application/json", body, "Authorization: Bearer "+token)
	cards, _ := doc["cards"].([]any)
	if status != http.StatusOK || len(cards) != 1 || cards[0].(map[string]any)["indicator"] != "critical" {
		t.Fatalf("a signed call: %d %v", status, doc)
	}
	// The same JWT again is a replay.
	if status, _, _ := call(t, "POST", service, "application/json", body, "Authorization: Bearer "+token); status != http.StatusUnauthorized {
		t.Errorf("a replayed JWT: %d", status)
	}
}
