// Package fhirapitest helps tests call a FHIR API handler in process.
package fhirapitest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
)

// Do sends a request to api as an administrator (user dr-alice, role
// admin), with a FHIR JSON body and Prefer: return=representation, and
// returns the JSON answer; an answer of 300 or more fails the test.
func Do(t testing.TB, api http.Handler, method, path, body string) map[string]any {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Prefer", "return=representation")
	req = req.WithContext(access.WithPrincipal(req.Context(), &access.Principal{User: "dr-alice", Role: "admin"}))
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	if rec.Code >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: the answer is not JSON: %v", method, path, err)
		}
	}
	return out
}
