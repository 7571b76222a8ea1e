// Package conformance_test validates what the clinical packages build
// against the R5 definitions, invariants included: the Observations of a
// vitals entry, a DetectedIssue, a MedicationRequest carrying a built
// Dosage, the shipped Questionnaires and the responses to them.
package conformance_test

import (
	"context"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/clinical/checks"
	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/clinical/dosage"
	"github.com/emr-project/emr/internal/clinical/questionnaire"
	"github.com/emr-project/emr/internal/clinical/vitals"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
)

var when = time.Date(2026, 11, 23, 9, 30, 0, 0, time.FixedZone("", 3600))

func valid(t *testing.T, v *validate.Validator, name string, r fhir.Resource) {
	t.Helper()
	// A round trip through JSON first: the store keeps the encoding.
	parsed, err := fhir.ParseResource(r.JSON())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if issues := v.Validate(parsed); validate.HasErrors(issues) {
		t.Errorf("%s is not valid R5:\n%v\n%s", name, issues, r.JSON())
	}
}

func TestConformance(t *testing.T) {
	defs := spec.R5()
	v := validate.New(defs, validate.WithInvariants(validate.NewFHIRPathInvariants(defs)))

	entry, err := vitals.Read(vitals.Input{BloodPressure: "128/82", Pulse: "72", RespiratoryRate: "16", Temperature: "98.6 °F",
		SpO2: "97%", Weight: "154 lb", Height: "5 ft 7 in", PainScore: "3"})
	if err != nil {
		t.Fatal(err)
	}
	obs, err := entry.Observations(vitals.Context{PatientID: "p1", Encounter: "Encounter/e1", Performer: "Practitioner/n1", Effective: when})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs {
		valid(t, v, "Observation "+datatype.Text(o["code"]), o)
	}
	bundle, err := entry.Transaction(vitals.Context{PatientID: "p1", Effective: when})
	if err != nil {
		t.Fatal(err)
	}
	valid(t, v, "vitals transaction Bundle", bundle)

	d, err := dosage.Build(dosage.Form{Dose: "1-2", DoseUnit: "tablet", Route: "oral", Frequency: "q4-6h", AsNeededFor: "pain", MaxPerDay: "8", Duration: "5 days", Instructions: "take with food"})
	if err != nil {
		t.Fatal(err)
	}
	qty, err := dosage.DispenseQuantity(d)
	if err != nil {
		t.Fatal(err)
	}
	mr := fhir.Resource{"resourceType": "MedicationRequest", "status": "active", "intent": "order",
		"subject":           datatype.Ref("Patient/p1", ""),
		"medication":        map[string]any{"concept": datatype.Concept("paracetamol 500 mg tablet", datatype.Coding{System: datatype.RxNorm, Code: "198440"})},
		"dosageInstruction": []any{d},
		"dispenseRequest":   map[string]any{"quantity": qty.JSON(), "numberOfRepeatsAllowed": 0}}
	valid(t, v, "MedicationRequest with a built Dosage", mr)

	allergy := fhir.Resource{"resourceType": "AllergyIntolerance", "id": "a1", "patient": datatype.Ref("Patient/p1", ""),
		"code": datatype.Concept("paracetamol", datatype.Coding{System: datatype.RxNorm, Code: "198440"})}
	alerts, err := checks.RunAll(context.Background(), checks.Default(0), checks.Context{PatientID: "p1", Proposed: mr, Now: when,
		Data: &checks.MemorySource{Resources: []fhir.Resource{allergy}}})
	if err != nil || len(alerts) != 1 {
		t.Fatalf("got %v %v, want one allergy alert", alerts, err)
	}
	di, err := checks.DetectedIssue(checks.Override{Alert: alerts[0], PatientID: "p1", Encounter: "Encounter/e1",
		Proposed: "MedicationRequest/m1", Author: "Practitioner/d1", Reason: "Tolerated it last month", When: when})
	if err != nil {
		t.Fatal(err)
	}
	valid(t, v, "DetectedIssue", di)

	forms, err := questionnaire.Forms()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range forms {
		valid(t, v, "Questionnaire "+f.ID(), f)
		q, err := questionnaire.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		answers := questionnaire.Answers{}
		for _, link := range []string{"44250-9", "44255-8", "69725-0"} {
			if q.Item(link) != nil {
				answers[link] = []questionnaire.Value{questionnaire.Code("http://loinc.org", "LA6570-1")}
			}
		}
		if q.Item("has-allergies") != nil {
			answers["has-allergies"] = []questionnaire.Value{questionnaire.Bool(true)}
			answers["allergies"] = []questionnaire.Value{questionnaire.String("penicillin: rash")}
			answers["last-visit"] = []questionnaire.Value{questionnaire.Date("2026-10")}
		}
		resp := questionnaire.Response(q, questionnaire.Evaluate(q, answers), questionnaire.ResponseInfo{Subject: "Patient/p1", Authored: when})
		valid(t, v, "QuestionnaireResponse to "+f.ID(), resp)
	}
}
