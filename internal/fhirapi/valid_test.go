package fhirapi_test

import (
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/fhirapi"
)

// TestResponsesAreValidR5 validates what the server itself produces:
// CapabilityStatement, history and response Bundles, OperationOutcomes.
func TestResponsesAreValidR5(t *testing.T) {
	s := newTestServer(t, func(o *fhirapi.Options) {
		o.OAuth = map[string]string{"authorize": "https://emr.test/oauth/authorize", "token": "https://emr.test/oauth/token"}
		o.Bulk = &fhirapi.BulkExport{Dir: t.TempDir()}
	})
	id := s.mustCreate(patientJSON)
	s.do("DELETE", "/fhir/Patient/"+id, "")
	v := validate.New(spec.R5(), validate.WithInvariants(validate.NewFHIRPathInvariants(spec.R5())))
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/fhir/metadata", ""},
		{"GET", "/fhir/_history?_count=1", ""},
		{"GET", "/fhir/Patient/" + id + "/_history", ""},
		{"POST", "/fhir", transactionJSON},
		{"POST", "/fhir", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/nope"}}]}`},
		{"GET", "/fhir/Patient/nope", ""},
		{"GET", "/fhir/Patient/" + id + "?_summary=true", ""},
	} {
		r := s.do(c.method, c.path, c.body)
		res := r.resource(t)
		if c.path == "/fhir/metadata" {
			if sec, _ := res["rest"].([]any)[0].(map[string]any)["security"].(map[string]any); sec == nil {
				t.Errorf("the CapabilityStatement declares no SMART security")
			}
			if !strings.Contains(string(r.body), `"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"`) ||
				!strings.Contains(string(r.body), "group-export") || !strings.Contains(string(r.body), "CapabilityStatement/bulk-data") {
				t.Errorf("the CapabilityStatement declares no Bulk Data export")
			}
		}
		for _, is := range v.Validate(res) {
			if is.Severity == "error" || is.Severity == "fatal" {
				t.Errorf("%s %s: the %s we answer is invalid: %s at %v", c.method, c.path, res.Type(), is.Diagnostics, is.Expression)
			}
		}
	}
}
