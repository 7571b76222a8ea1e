package fhirapi_test

import (
	"net/http"
	"net/url"
	"strings"
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

// FuzzRequest sends arbitrary requests (method, path with query, media
// type, body) to the whole API: every answer is a well-formed status, an
// OperationOutcome for errors, and never a 5xx but 501.
func FuzzRequest(f *testing.F) {
	f.Add("GET", "/fhir/Patient?name=peter&_count=2", "", "")
	f.Add("POST", "/fhir/Patient", "application/fhir+json", patientJSON)
	f.Add("PUT", "/fhir/Patient?identifier=x|1", "application/fhir+json", patientJSON)
	f.Add("PATCH", "/fhir/Patient/1", "application/json-patch+json", `[{"op":"add","path":"/a","value":1}]`)
	f.Add("DELETE", "/fhir/Observation?subject:Patient.name=x", "", "")
	f.Add("POST", "/fhir/Patient/_search", "application/x-www-form-urlencoded", "_has:Observation:subject:code=1&_sort=-birthdate")
	f.Add("GET", "/fhir/Patient/1/$everything?_since=2020", "", "")
	f.Add("GET", "/fhir/_history?_cursor=b12", "", "")
	s := newTestServer(f)
	f.Fuzz(func(t *testing.T, method, path, contentType, body string) {
		if !strings.HasPrefix(path, "/fhir") || strings.ContainsAny(path, " \r\n\t#") || !validMethod(method) {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return // net/http refuses such a request line before any handler
		}
		s.t = t
		headers := []string{}
		if contentType != "" && !strings.ContainsAny(contentType, "\r\n") {
			headers = append(headers, "Content-Type: "+contentType)
		}
		r := s.do(method, path, body, headers...)
		if r.status >= 500 && r.status != http.StatusNotImplemented {
			t.Fatalf("%s %s (%s) %q: status %d: %s", method, path, contentType, body, r.status, r.body)
		}
		if r.status >= 400 && method != "HEAD" && r.resource(t).Type() != "OperationOutcome" {
			t.Fatalf("error without OperationOutcome")
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}
