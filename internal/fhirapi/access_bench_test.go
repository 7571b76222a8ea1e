package fhirapi_test

import (
	"net/http"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// BenchmarkReadUnderPolicy measures what the role policy and the patients'
// Consents add to a read, in one run: the same Patient reads with no
// policy, as a physician (whose reads of patient data check the Consents
// with one query), and as the patient (bound to their compartment).
// Run: go test -bench ReadUnderPolicy -run '^$' ./internal/fhirapi
func BenchmarkReadUnderPolicy(b *testing.B) {
	defs := spec.R5()
	plain := newTestServer(b)
	governed := newAccessServer(b, access.DefaultRoles(defs), map[string]*access.Principal{
		"physician": {User: "d", Role: "physician", FHIRUser: "Practitioner/d"},
		"patient":   {User: "p", Role: "patient", Patient: "bp1"},
	})
	const body = `{"resourceType":"Patient","id":"bp1","name":[{"family":"Bench"}]}`
	if r := plain.do("PUT", "/fhir/Patient/bp1", body); r.status != http.StatusCreated {
		b.Fatal(r.status)
	}
	if r := governed.do("PUT", "/fhir/Patient/bp1", body, "X-Test-Caller: physician"); r.status != http.StatusCreated {
		b.Fatal(r.status, string(r.body))
	}
	for _, c := range []struct {
		name   string
		s      *testServer
		caller string
	}{{"NoPolicy", plain, ""}, {"Physician", governed, "physician"}, {"Patient", governed, "patient"}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if r := c.s.do("GET", "/fhir/Patient/bp1", "", "X-Test-Caller: "+c.caller); r.status != http.StatusOK {
					b.Fatalf("status %d", r.status)
				}
			}
		})
	}
}
