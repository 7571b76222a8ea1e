package fhirapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhirapi"
)

// denyObservations refuses everything touching Observation.
type denyObservations struct{}

func (denyObservations) Decide(_ context.Context, req access.Request) error {
	if req.Type == "Observation" {
		return fhir.Errorf(fhir.KindForbidden, "not allowed")
	}
	return nil
}

// TestGateDecidesEveryPath checks that the policy is asked on direct
// interactions and on Bundle entries alike, and that refusals are audited.
func TestGateDecidesEveryPath(t *testing.T) {
	var s *testServer
	s = newTestServer(t, func(o *fhirapi.Options) {
		o.Gate = access.NewGate(o.Store, denyObservations{}, "test")
	})
	obs := `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`
	if r := s.do("POST", "/fhir/Observation", obs); r.status != http.StatusForbidden {
		t.Errorf("direct create: %d, want 403", r.status)
	}
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":{"resourceType":"Patient","id":"g1"},"request":{"method":"PUT","url":"Patient/g1"}},
	 {"resource":` + obs + `,"request":{"method":"POST","url":"Observation"}}]}`
	if r := s.do("POST", "/fhir", tx); r.status != http.StatusForbidden {
		t.Errorf("transaction entry: %d, want 403: %s", r.status, r.body)
	}
	if r := s.do("GET", "/fhir/Patient/g1", ""); r.status != http.StatusNotFound {
		t.Errorf("transaction refused in part was written: %d", r.status)
	}
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"resource":` + obs + `,"request":{"method":"POST","url":"Observation"}}]}`
	r := s.do("POST", "/fhir", batch)
	status := r.resource(t)["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)["status"]
	if status != "403 Forbidden" {
		t.Errorf("batch entry: %v, want 403", status)
	}
	refusals := 0
	for _, ev := range s.auditEvents(t) {
		if ev["outcome"].(map[string]any)["code"].(map[string]any)["code"] == "4" {
			refusals++
		}
	}
	if refusals < 3 {
		t.Errorf("%d refusals audited, want at least 3", refusals)
	}
}
