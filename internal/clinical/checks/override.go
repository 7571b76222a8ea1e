package checks

import (
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// TherapyAppropriate is the default mitigation action of an override: v3
// ActCode 1, "Therapy Appropriate" (confirmed drug therapy appropriate).
var TherapyAppropriate = datatype.Coding{System: datatype.ActCode, Code: "1", Display: "Therapy Appropriate"}

// Override is a clinician's decision to go ahead despite an alert.
type Override struct {
	Alert Alert
	// PatientID is the patient's id; Encounter the visit ("Encounter/1"),
	// or "".
	PatientID, Encounter string
	// Proposed is the reference of the order or prescription signed
	// despite the alert ("MedicationRequest/7"), or "" when it is not
	// stored yet (the caller then adds it).
	Proposed string
	// Author is the clinician ("Practitioner/3"); AuthorName their name
	// for the reference's display, or "".
	Author, AuthorName string
	// Reason is why, in the clinician's words. It is required.
	Reason string
	// Action is the mitigation action; zero means TherapyAppropriate.
	Action datatype.Coding
	// When is the time of the override.
	When time.Time
}

// DetectedIssue returns the R5 DetectedIssue that records an overridden
// alert: status final, the alert's code and severity, the patient as
// subject, the proposed order and the data that fired as implicated, the
// alert's message as detail, and one mitigation carrying the action, the
// author, the time and the reason as its note. It returns an error of
// kind fhir.KindInvalid when the reason, patient, author or time is
// missing: an override without a reason is not allowed.
func DetectedIssue(o Override) (fhir.Resource, error) {
	switch {
	case strings.TrimSpace(o.Reason) == "":
		return nil, fhir.Errorf(fhir.KindInvalid, "checks: an override needs a reason")
	case o.PatientID == "":
		return nil, fhir.Errorf(fhir.KindInvalid, "checks: an override needs the patient")
	case o.Author == "" && o.AuthorName == "":
		// A user account that names no Practitioner is still someone:
		// the author is then their name alone.
		return nil, fhir.Errorf(fhir.KindInvalid, "checks: an override needs its author")
	case o.When.IsZero():
		return nil, fhir.Errorf(fhir.KindInvalid, "checks: an override needs its time")
	case o.Alert.Rule == "":
		return nil, fhir.Errorf(fhir.KindInvalid, "checks: an override needs the alert it overrides")
	}
	action := o.Action
	if action.Code == "" {
		action = TherapyAppropriate
	}
	when := o.When.Format(time.RFC3339)
	author := datatype.Ref(o.Author, o.AuthorName)
	severity := o.Alert.Severity
	if severity == "" {
		severity = High
	}
	di := fhir.Resource{
		"resourceType":       "DetectedIssue",
		"status":             "final",
		"severity":           string(severity),
		"code":               datatype.Concept(o.Alert.Message(), o.Alert.Code),
		"subject":            datatype.Ref("Patient/"+o.PatientID, ""),
		"identifiedDateTime": when,
		"detail":             strings.TrimSpace(o.Alert.Message() + " " + o.Alert.Detail),
		"mitigation": []any{map[string]any{
			"action": datatype.Concept("", action),
			"date":   when,
			"author": author,
			"note": []any{map[string]any{
				"authorReference": author, "time": when, "text": o.Reason,
			}},
		}},
		// The rule that fired, so a later reader (and the CDS issue's
		// reports) can group overrides by rule.
		"category": []any{datatype.Concept("", datatype.Coding{System: RuleSystem, Code: o.Alert.Rule})},
	}
	if o.Encounter != "" {
		di["encounter"] = datatype.Ref(o.Encounter, "")
	}
	var implicated []any
	for _, r := range append([]string{o.Proposed}, o.Alert.Implicated...) {
		if r != "" {
			implicated = append(implicated, datatype.Ref(r, ""))
		}
	}
	if len(implicated) > 0 {
		di["implicated"] = implicated
	}
	if o.Alert.Matched.Code != "" {
		di["evidence"] = []any{map[string]any{"code": []any{datatype.Concept("", o.Alert.Matched)}}}
	}
	return di, nil
}

// RuleSystem is the code system of the check IDs, used as the
// DetectedIssue category.
const RuleSystem = "https://emr-project.org/fhir/CodeSystem/check-rule"
