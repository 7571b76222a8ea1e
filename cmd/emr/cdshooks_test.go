package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestServeCDSHooks: emr serve publishes its CDS services, and a call
// without a client's JWT is refused.
func TestServeCDSHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	s := startServer(t, t.TempDir())
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
}
