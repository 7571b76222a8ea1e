package checks

import (
	"context"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Allergy fires when the proposed drug, or one of its ingredients, has the
// same code (system and code) as a recorded allergy's substance
// (AllergyIntolerance.code or a reaction's substance). Allergies that are
// refuted, entered in error, inactive or resolved are skipped; one without
// a clinical status counts, since an unknown status is not a reason to
// stay silent.
type Allergy struct{}

// ID returns "allergy".
func (Allergy) ID() string { return "allergy" }

// Run checks a MedicationRequest; other orders give no alert.
func (Allergy) Run(ctx context.Context, c Context) ([]Alert, error) {
	if c.Proposed.Type() != "MedicationRequest" {
		return nil, nil
	}
	d, err := drugOf(ctx, c.Data, c.Proposed)
	if err != nil {
		return nil, err
	}
	if len(d.all()) == 0 {
		return nil, nil
	}
	allergies, err := c.Data.Allergies(ctx, c.PatientID)
	if err != nil {
		return nil, err
	}
	var alerts []Alert
	for _, a := range allergies {
		if !allergyCounts(a) {
			continue
		}
		substances := datatype.Codings(a["code"])
		for _, r := range datatype.List(a["reaction"]) {
			substances = append(substances, datatype.Codings(datatype.Obj(r)["substance"])...)
		}
		alert := Alert{
			Rule: "allergy", Severity: allergySeverity(a),
			Code:       datatype.Coding{System: datatype.ActCode, Code: "ALGY", Display: "Allergy Alert"},
			Implicated: []string{ref(a)},
		}
		allergen := datatype.Text(a["code"])
		if m, ok := datatype.AnySame(d.codes, substances); ok {
			alert.MessageID, alert.Matched = "checks.allergy", m
			alert.Args = []string{d.name, allergen, codeText(m)}
			alerts = append(alerts, alert)
			continue
		}
		for _, in := range d.ingredients {
			if m, ok := datatype.AnySame(in.codes, substances); ok {
				alert.MessageID, alert.Matched = "checks.allergy.ingredient", m
				alert.Args = []string{d.name, allergen, codeText(m), in.name}
				alerts = append(alerts, alert)
				break
			}
		}
	}
	return alerts, nil
}

// allergyCounts reports whether an allergy is current enough to alert on.
func allergyCounts(a fhir.Resource) bool {
	for _, c := range datatype.Codings(a["verificationStatus"]) {
		if c.Code == "refuted" || c.Code == "entered-in-error" {
			return false
		}
	}
	for _, c := range datatype.Codings(a["clinicalStatus"]) {
		if c.Code == "inactive" || c.Code == "resolved" {
			return false
		}
	}
	return true
}

// allergySeverity follows the allergy's criticality: low is moderate,
// anything else (high, unable-to-assess, not recorded) is high.
func allergySeverity(a fhir.Resource) Severity {
	if datatype.Str(a, "criticality") == "low" {
		return Moderate
	}
	return High
}

// codeText writes a coding for an alert: "RxNorm 723" style, system
// abbreviated where known.
func codeText(c datatype.Coding) string {
	name := map[string]string{
		datatype.RxNorm: "RxNorm", datatype.SNOMED: "SNOMED CT", datatype.LOINC: "LOINC",
	}[c.System]
	if name == "" {
		name = c.System
	}
	if name == "" {
		return c.Code
	}
	return name + " " + c.Code
}
