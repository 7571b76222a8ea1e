package fhirapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzR4 sends arbitrary bodies and queries to /fhir/R4: the R4 face
// answers every one with a 4xx OperationOutcome or a success in the R4
// media type, never a 5xx (501 is an honest "not implemented").
func FuzzR4(f *testing.F) {
	f.Add("Encounter", "", r4Encounter)
	f.Add("", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":`+r4Encounter+`,"request":{"method":"POST","url":"Encounter"}}]}`)
	f.Add("Encounter", "diagnosis=Condition/1&_sort=-date&_include=Encounter:diagnosis", "")
	f.Add("Observation", "encounter.diagnosis.code=x&_has:Coverage:beneficiary:payor.name=y", "")
	f.Add("", "_type=DocumentReference,Procedure&encounter=Encounter/1&_sort=encounter", "")
	f.Add("Encounter/_search", "", "")
	f.Add("Parameters", "", `{"resourceType":"Parameters","parameter":[{"name":"x","resource":{"resourceType":"Patient","gender":"other"}}]}`)
	f.Add("Patient", "", `{"resourceType":"Patient","contact":[{"name":"x"}]}`)
	s := newTestServer(f)
	f.Fuzz(func(t *testing.T, path, query, body string) {
		if strings.ContainsAny(path, "?# \t\r\n%") || strings.ContainsAny(query, "# \t\r\n") {
			return
		}
		s.t = t
		method := "GET"
		if body != "" {
			method = "POST"
		}
		target := "/fhir/R4/" + path
		if query != "" {
			target += "?" + query
		}
		if _, err := url.ParseRequestURI("http://emr.test" + target); err != nil {
			return // not a request a client can send
		}
		r := s.do(method, target, body)
		if r.status >= 500 && r.status != http.StatusNotImplemented {
			t.Fatalf("status %d for %s %s %q: %s", r.status, method, target, body, r.body)
		}
		if r.status >= 400 && r.resource(t).Type() != "OperationOutcome" {
			t.Fatalf("error without OperationOutcome: %s", r.body)
		}
		if len(r.body) > 0 && !strings.Contains(r.header.Get("Content-Type"), "fhirVersion=4.0") {
			t.Fatalf("Content-Type %q, want fhirVersion=4.0", r.header.Get("Content-Type"))
		}
	})
}
