package fhirapi_test

import (
	"net/http"
	"testing"
)

// FuzzBundle posts arbitrary bodies as Bundles: the answer is always a
// well-formed status with an OperationOutcome for errors, never a 5xx.
func FuzzBundle(f *testing.F) {
	f.Add(transactionJSON)
	f.Add(`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/x"}}]}`)
	f.Add(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/x"}},{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]}`)
	f.Add(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W10="},"request":{"method":"PATCH","url":"Patient/x"}}]}`)
	f.Add(`[]`)
	s := newTestServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		s.t = t
		r := s.do("POST", "/fhir", body)
		// 501 is an honest "not implemented yet" (conditional interactions);
		// any other 5xx is a fault.
		if r.status >= 500 && r.status != http.StatusNotImplemented {
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
		if r.status >= 400 && r.resource(t).Type() != "OperationOutcome" {
			t.Fatalf("error without OperationOutcome")
		}
		if r.status == http.StatusOK && r.resource(t).Type() != "Bundle" {
			t.Fatalf("success without Bundle")
		}
	})
}
