package audit_test

import (
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
)

// TestEventsAreValidR5 checks that the AuditEvents we record are valid R5
// resources, for every shape of entry.
func TestEventsAreValidR5(t *testing.T) {
	v := validate.New(spec.R5())
	now := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	entries := []audit.Entry{
		{Interaction: "read", Type: "Patient", ID: "p1", VersionID: 2, Patient: "Patient/p1", Agent: audit.Agent{Address: "10.0.0.1"}, Recorded: now},
		{Interaction: "create", Type: "Observation", Agent: audit.Agent{User: "dr.who", Client: "app-1"}, Purpose: "TREAT", Recorded: now},
		{Interaction: "history-system", Query: "_since=2020", Outcome: audit.MinorFailure, Detail: "bad _since", Recorded: now},
		{Interaction: "transaction", Outcome: audit.SeriousFailure, Detail: "internal error", Recorded: now},
	}
	for _, e := range entries {
		ev := audit.Event(e)
		for _, is := range v.Validate(ev) {
			if is.Severity == "error" || is.Severity == "fatal" {
				t.Errorf("%s event: %s at %v\n%s", e.Interaction, is.Diagnostics, is.Expression, ev.JSON())
			}
		}
	}
}

func TestPatientOf(t *testing.T) {
	cases := []struct {
		res  string
		want string
	}{
		{`{"resourceType":"Patient","id":"p1"}`, "Patient/p1"},
		{`{"resourceType":"Observation","subject":{"reference":"Patient/p2/_history/3"}}`, "Patient/p2"},
		{`{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/p3"}}`, "Patient/p3"},
		{`{"resourceType":"Observation","subject":{"reference":"Group/g"}}`, ""},
		{`{"resourceType":"Organization","id":"o"}`, ""},
	}
	for _, c := range cases {
		res, err := fhir.ParseResource([]byte(c.res))
		if err != nil {
			t.Fatal(err)
		}
		if got := audit.PatientOf(res); got != c.want {
			t.Errorf("PatientOf(%s) = %q, want %q", c.res, got, c.want)
		}
	}
}
