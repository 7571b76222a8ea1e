package validate

import (
	"slices"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir/spec"
)

var withInvariants = New(spec.R5(), WithInvariants(NewFHIRPathInvariants(spec.R5())))

func TestInvariants(t *testing.T) {
	tests := []struct {
		name, json, key, expression string
	}{
		{"per-1 period order", `{"resourceType":"Patient","name":[{"family":"x","period":{"start":"2020-01-05","end":"2020-01-01"}}]}`, "per-1", "Patient.name[0].period"},
		{"dom-3 unreferenced contained", `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","name":"x"}]}`, "dom-3", "Patient"},
		// Its descendants have types with and without a reference element.
		{"dom-3 unreferenced contained with backbone elements", `{"resourceType":"Patient","contained":[{"resourceType":"Provenance","id":"v1","target":[{"reference":"Patient/x"}],"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/y"}}]}]}`, "dom-3", "Patient"},
		{"obs-6 dataAbsentReason with value", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","dataAbsentReason":{"text":"x"}}`, "obs-6", "Observation"},
		{"ext-1 extension with both", `{"resourceType":"Patient","extension":[{"url":"http://x.org","valueString":"a","extension":[{"url":"b","valueString":"c"}]}]}`, "ext-1", "Patient.extension[0]"},
		{"in a bundle entry", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","dataAbsentReason":{"text":"x"}}}]}`, "obs-6", "Bundle.entry[0].resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issues := withInvariants.Validate(parse(t, tt.json))
			for _, is := range issues {
				if is.Code == "invariant" && strings.HasPrefix(is.Diagnostics, tt.key+":") && slices.Contains(is.Expression, tt.expression) {
					return
				}
			}
			t.Errorf("got %v, want %s at %s", issues, tt.key, tt.expression)
		})
	}
	if issues := withInvariants.Validate(parse(t, patientJSON)); len(issues) > 0 {
		t.Errorf("example patient: %v", issues)
	}
	// A Bundle entry's resource is the root (%rootResource) of what it
	// contains: its local references resolve there, without a warning.
	entry := `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"performer":[{"reference":"#p"}],"contained":[{"resourceType":"Practitioner","id":"p"}]}}]}`
	for _, is := range withInvariants.Validate(parse(t, entry)) {
		if strings.HasPrefix(is.Diagnostics, "ref-1:") || strings.HasPrefix(is.Diagnostics, "dom-3:") || strings.Contains(is.Diagnostics, "could not be evaluated") {
			t.Errorf("local reference in a Bundle entry: %v", is)
		}
	}
}

func BenchmarkValidatePatientInvariants(b *testing.B) {
	r := parse(b, patientJSON)
	b.ReportAllocs()
	for b.Loop() {
		withInvariants.Validate(r)
	}
}
