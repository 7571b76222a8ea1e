package fhirapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhirapi"
)

const patientJSON = `{"resourceType":"Patient","name":[{"family":"Chalmers","given":["Peter","James"]}],"gender":"male","birthDate":"1974-12-25","active":true}`

// TestStatusCodes drives every status code the API answers, one scenario a row.
func TestStatusCodes(t *testing.T) {
	type scenario struct {
		name    string
		setup   func(s *testServer) map[string]string // returns substitutions for {id} etc.
		method  string
		path    string
		body    string
		headers []string
		status  int
		// wantHeader lists headers that must be present (value checked when it has one).
		wantHeader []string
		// wantIssue, when set, must occur in an OperationOutcome issue (diagnostics or expression).
		wantIssue string
	}
	withPatient := func(s *testServer) map[string]string { return map[string]string{"{id}": s.mustCreate(patientJSON)} }
	deleted := func(s *testServer) map[string]string {
		id := s.mustCreate(patientJSON)
		s.do("DELETE", "/fhir/Patient/"+id, "")
		return map[string]string{"{id}": id}
	}
	cases := []scenario{
		{name: "create", method: "POST", path: "/fhir/Patient", body: patientJSON, status: 201, wantHeader: []string{"Location", "ETag: W/\"1\"", "Last-Modified"}},
		{name: "create with application/json", method: "POST", path: "/fhir/Patient", body: patientJSON, headers: []string{"Content-Type: application/json"}, status: 201},
		{name: "create minimal", method: "POST", path: "/fhir/Patient", body: patientJSON, headers: []string{"Prefer: return=minimal"}, status: 201, wantHeader: []string{"Location"}},
		{name: "create type mismatch", method: "POST", path: "/fhir/Observation", body: patientJSON, status: 400, wantIssue: "URL is for Observation"},
		{name: "create bad JSON", method: "POST", path: "/fhir/Patient", body: `{"resourceType":"Patient",`, status: 400, wantIssue: "not valid JSON"},
		{name: "create duplicate key", method: "POST", path: "/fhir/Patient", body: `{"resourceType":"Patient","gender":"male","gender":"female"}`, status: 400, wantIssue: "duplicate property"},
		{name: "create unknown element", method: "POST", path: "/fhir/Patient", body: `{"resourceType":"Patient","colour":"blue"}`, status: 400, wantIssue: "Patient.colour"},
		{name: "create bad date", method: "POST", path: "/fhir/Patient", body: `{"resourceType":"Patient","birthDate":"1974-13-45"}`, status: 400, wantIssue: "Patient.birthDate"},
		{name: "create bad required code", method: "POST", path: "/fhir/Patient", body: `{"resourceType":"Patient","gender":"m"}`, status: 400, wantIssue: "Patient.gender"},
		{name: "create no body", method: "POST", path: "/fhir/Patient", status: 400, wantIssue: "no body"},
		{name: "create form content type", method: "POST", path: "/fhir/Patient", body: patientJSON, headers: []string{"Content-Type: application/x-www-form-urlencoded"}, status: 415},
		{name: "create xml", method: "POST", path: "/fhir/Patient", body: patientJSON, headers: []string{"Content-Type: application/fhir+xml"}, status: 415},
		{name: "create R4 selects the R4 API", method: "POST", path: "/fhir/Patient", body: patientJSON, headers: []string{"Content-Type: application/fhir+json; fhirVersion=4.0"}, status: 201},
		{name: "create R3", method: "POST", path: "/fhir/Patient", body: patientJSON, headers: []string{"Content-Type: application/fhir+json; fhirVersion=3.0"}, status: 415},
		{name: "accept xml only", method: "GET", path: "/fhir/metadata", headers: []string{"Accept: application/fhir+xml"}, status: 406},
		{name: "format xml", method: "GET", path: "/fhir/metadata?_format=xml", status: 406},
		{name: "unknown type", method: "GET", path: "/fhir/Patientt/1", status: 404, wantIssue: "unknown resource type"},
		{name: "unknown route", method: "GET", path: "/fhir/Patient/1/2/3/4/5", status: 404},
		{name: "read", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}", status: 200, wantHeader: []string{"ETag: W/\"1\"", "Last-Modified"}},
		{name: "head", setup: withPatient, method: "HEAD", path: "/fhir/Patient/{id}", status: 200, wantHeader: []string{"ETag"}},
		{name: "read unknown", method: "GET", path: "/fhir/Patient/nobody", status: 404},
		{name: "read invalid id", method: "GET", path: "/fhir/Patient/a_b", status: 404},
		{name: "read deleted", setup: deleted, method: "GET", path: "/fhir/Patient/{id}", status: 410},
		{name: "read If-None-Match", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}", headers: []string{`If-None-Match: W/"1"`}, status: 304},
		{name: "read If-None-Match stale", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}", headers: []string{`If-None-Match: W/"7"`}, status: 200},
		{name: "read If-Modified-Since", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}", headers: []string{"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"}, status: 304},
		{name: "read If-Modified-Since old", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}", headers: []string{"If-Modified-Since: Fri, 01 Jan 2010 00:00:00 GMT"}, status: 200},
		{name: "vread", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}/_history/1", status: 200, wantHeader: []string{"ETag: W/\"1\""}},
		{name: "vread unknown version", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}/_history/9", status: 404},
		{name: "vread bad version", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}/_history/x", status: 404},
		{name: "vread deletion", setup: deleted, method: "GET", path: "/fhir/Patient/{id}/_history/2", status: 410},
		{name: "update", setup: withPatient, method: "PUT", path: "/fhir/Patient/{id}", body: `{"resourceType":"Patient","id":"{id}","gender":"female"}`, status: 200, wantHeader: []string{"ETag: W/\"2\""}},
		{name: "update as create", method: "PUT", path: "/fhir/Patient/client-chosen-1", body: `{"resourceType":"Patient","id":"client-chosen-1"}`, status: 201, wantHeader: []string{"Location", "ETag: W/\"1\""}},
		{name: "update id mismatch", setup: withPatient, method: "PUT", path: "/fhir/Patient/{id}", body: `{"resourceType":"Patient","id":"other"}`, status: 400, wantIssue: "Patient.id"},
		{name: "update no id", setup: withPatient, method: "PUT", path: "/fhir/Patient/{id}", body: `{"resourceType":"Patient"}`, status: 400, wantIssue: "Patient.id"},
		{name: "update If-Match", setup: withPatient, method: "PUT", path: "/fhir/Patient/{id}", body: `{"resourceType":"Patient","id":"{id}"}`, headers: []string{`If-Match: W/"1"`}, status: 200},
		{name: "update If-Match stale", setup: withPatient, method: "PUT", path: "/fhir/Patient/{id}", body: `{"resourceType":"Patient","id":"{id}"}`, headers: []string{`If-Match: W/"2"`}, status: 412},
		{name: "update If-Match malformed", setup: withPatient, method: "PUT", path: "/fhir/Patient/{id}", body: `{"resourceType":"Patient","id":"{id}"}`, headers: []string{`If-Match: banana`}, status: 400},
		{name: "update deleted resurrects", setup: deleted, method: "PUT", path: "/fhir/Patient/{id}", body: `{"resourceType":"Patient","id":"{id}"}`, status: 200, wantHeader: []string{"ETag: W/\"3\""}},
		{name: "update returns OperationOutcome", setup: withPatient, method: "PUT", path: "/fhir/Patient/{id}", body: `{"resourceType":"Patient","id":"{id}"}`, headers: []string{"Prefer: return=OperationOutcome"}, status: 200, wantIssue: "stored"},
		{name: "delete", setup: withPatient, method: "DELETE", path: "/fhir/Patient/{id}", status: 204, wantHeader: []string{"ETag: W/\"2\""}},
		{name: "delete again", setup: deleted, method: "DELETE", path: "/fhir/Patient/{id}", status: 204},
		{name: "delete unknown", method: "DELETE", path: "/fhir/Patient/nobody", status: 204},
		{name: "delete If-Match stale", setup: withPatient, method: "DELETE", path: "/fhir/Patient/{id}", headers: []string{`If-Match: W/"3"`}, status: 412},
		{name: "json patch", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}", body: `[{"op":"replace","path":"/gender","value":"female"}]`, headers: []string{"Content-Type: application/json-patch+json"}, status: 200, wantHeader: []string{"ETag: W/\"2\""}},
		{name: "json patch test fails", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}", body: `[{"op":"test","path":"/gender","value":"female"}]`, headers: []string{"Content-Type: application/json-patch+json"}, status: 422},
		{name: "json patch makes invalid", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}", body: `[{"op":"add","path":"/colour","value":"blue"}]`, headers: []string{"Content-Type: application/json-patch+json"}, status: 400, wantIssue: "Patient.colour"},
		{name: "json patch changes id", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}", body: `[{"op":"replace","path":"/id","value":"x"}]`, headers: []string{"Content-Type: application/json-patch+json"}, status: 422},
		{name: "json patch malformed", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}", body: `{"op":"replace"}`, headers: []string{"Content-Type: application/json-patch+json"}, status: 400},
		{name: "json patch unknown", method: "PATCH", path: "/fhir/Patient/nobody", body: `[]`, headers: []string{"Content-Type: application/json-patch+json"}, status: 404},
		{name: "json patch If-Match stale", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}", body: `[]`, headers: []string{"Content-Type: application/json-patch+json", `If-Match: W/"5"`}, status: 412},
		{name: "fhirpath patch", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}",
			body:   `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},{"name":"value","valueDate":"1975-01-01"}]}]}`,
			status: 200, wantHeader: []string{"ETag: W/\"2\""}},
		{name: "fhirpath patch bad operation", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}",
			body:   `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"explode"},{"name":"path","valueString":"Patient.birthDate"}]}]}`,
			status: 400},
		{name: "fhirpath patch makes invalid", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}",
			body:   `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.gender"},{"name":"value","valueCode":"robot"}]}]}`,
			status: 400, wantIssue: "Patient.gender"},
		{name: "fhirpath patch adds a choice element", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}",
			body:   `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"deceased"},{"name":"value","valueBoolean":true}]}]}`,
			status: 200, wantIssue: `"deceasedBoolean":true`},
		{name: "fhirpath patch adds to a list", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}",
			body:   `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"identifier"},{"name":"value","valueIdentifier":{"system":"urn:mrn","value":"123"}}]}]}`,
			status: 200, wantIssue: `"identifier":[{"system":"urn:mrn","value":"123"}]`},
		{name: "patch wrong body type", setup: withPatient, method: "PATCH", path: "/fhir/Patient/{id}", body: patientJSON, status: 400, wantIssue: "Parameters"},
		{name: "history instance", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}/_history", status: 200},
		{name: "history unknown instance", method: "GET", path: "/fhir/Patient/nobody/_history", status: 404},
		{name: "history type", setup: withPatient, method: "GET", path: "/fhir/Patient/_history?_count=1", status: 200},
		{name: "history system", setup: withPatient, method: "GET", path: "/fhir/_history?_since=2020-01-01", status: 200},
		{name: "history bad since", method: "GET", path: "/fhir/_history?_since=yesterday", status: 400, wantIssue: "_since"},
		{name: "history bad count", method: "GET", path: "/fhir/_history?_count=-1", status: 400},
		{name: "history unknown parameter", method: "GET", path: "/fhir/_history?foo=bar", status: 400, wantIssue: "foo"},
		{name: "metadata", method: "GET", path: "/fhir/metadata", status: 200},
		{name: "metadata wrong method", method: "DELETE", path: "/fhir/metadata", status: 405, wantHeader: []string{"Allow"}},
		{name: "instance wrong method", method: "POST", path: "/fhir/Patient/1", body: patientJSON, status: 405},
		{name: "search unknown parameter", method: "GET", path: "/fhir/Patient?colour=blue", status: 400, wantIssue: "colour"},
		{name: "operation unknown", method: "GET", path: "/fhir/Patient/$everything", status: 501},
		{name: "bundle not a bundle", method: "POST", path: "/fhir", body: patientJSON, status: 400, wantIssue: "Bundle"},
		{name: "bundle wrong type", method: "POST", path: "/fhir", body: `{"resourceType":"Bundle","type":"collection"}`, status: 400, wantIssue: "Bundle.type"},
		{name: "summary", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}?_summary=true", status: 200},
		{name: "summary bad", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}?_summary=maybe", status: 400},
		{name: "elements", setup: withPatient, method: "GET", path: "/fhir/Patient/{id}?_elements=name", status: 200},
		{name: "malformed query", method: "GET", path: "/fhir/metadata?a=%zz", status: 400},
	}
	s := newTestServer(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.t = t
			subst := map[string]string{}
			if c.setup != nil {
				subst = c.setup(s)
			}
			path, body := c.path, c.body
			for k, v := range subst {
				path = strings.ReplaceAll(path, k, v)
				body = strings.ReplaceAll(body, k, v)
			}
			r := s.do(c.method, path, body, c.headers...)
			if r.status != c.status {
				t.Fatalf("%s %s: got status %d, want %d; body %s", c.method, path, r.status, c.status, r.body)
			}
			for _, h := range c.wantHeader {
				name, want, hasValue := strings.Cut(h, ":")
				got := r.header.Get(name)
				if got == "" || (hasValue && got != strings.TrimSpace(want)) {
					t.Errorf("header %s: got %q, want %q", name, got, strings.TrimSpace(want))
				}
			}
			if r.status >= 400 {
				oo := r.resource(t)
				if oo.Type() != "OperationOutcome" {
					t.Fatalf("error body is a %s, want OperationOutcome", oo.Type())
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
					t.Errorf("error Content-Type %q", ct)
				}
			}
			if c.wantIssue != "" && !strings.Contains(string(r.body), c.wantIssue) {
				t.Errorf("body does not mention %q: %s", c.wantIssue, r.body)
			}
			if c.method == "HEAD" && len(r.body) != 0 {
				t.Errorf("HEAD answered a body")
			}
		})
	}
}

// TestOversizedBody checks the request size bound.
func TestOversizedBody(t *testing.T) {
	s := newTestServer(t, func(o *fhirapi.Options) { o.MaxBodyBytes = 1024 })
	big := `{"resourceType":"Patient","name":[{"text":"` + strings.Repeat("x", 4096) + `"}]}`
	r := s.do("POST", "/fhir/Patient", big)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d, want 413: %s", r.status, r.body)
	}
	if r.resource(t).Type() != "OperationOutcome" {
		t.Fatal("413 without OperationOutcome")
	}
}

// TestReadReturnsServerMeta checks the server sets versionId and lastUpdated
// and keeps client meta such as tags.
func TestReadReturnsServerMeta(t *testing.T) {
	s := newTestServer(t)
	id := s.mustCreate(`{"resourceType":"Patient","meta":{"versionId":"99","tag":[{"system":"http://example.org","code":"x"}]}}`)
	res := s.do("GET", "/fhir/Patient/"+id, "").resource(t)
	meta := res["meta"].(map[string]any)
	if meta["versionId"] != "1" {
		t.Errorf("versionId: got %v, want 1", meta["versionId"])
	}
	if _, _, err := fhir.ParseDateRange(meta["lastUpdated"].(string)); err != nil {
		t.Errorf("lastUpdated %v: %v", meta["lastUpdated"], err)
	}
	if tags, _ := meta["tag"].([]any); len(tags) != 1 {
		t.Errorf("tags lost: %v", meta)
	}
}
