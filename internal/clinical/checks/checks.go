// Package checks runs safety checks on an order or prescription before it
// is signed: allergy, duplicate therapy or order, and drug–drug
// interaction. Every check implements Check, so the clinical decision
// support to come adds rules without changing callers; each Alert says
// which rule fired and which recorded data fired it, and an overridden
// alert becomes a DetectedIssue (see Override).
//
// Checks read the patient's data through Source: MemorySource for tests
// and data already at hand, StoreSource for the store.
package checks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Check is one safety rule.
type Check interface {
	// ID names the rule ("allergy", "duplicate", "interaction"); it is
	// the Rule of every Alert the check returns.
	ID() string
	// Run returns the alerts for c.Proposed, none when the rule does not
	// fire. It returns an error only when it could not read what it needs
	// (the caller must then say the check did not run, never that it
	// passed).
	Run(ctx context.Context, c Context) ([]Alert, error)
}

// Context is what a check looks at.
type Context struct {
	// PatientID is the id of the Patient the order is for.
	PatientID string
	// Patient is that Patient resource when the caller has it, else nil.
	// The rules here do not need it; rules to come (doses by age or
	// weight, pregnancy) will read it.
	Patient fhir.Resource
	// Proposed is the MedicationRequest or ServiceRequest about to be
	// signed. It may have no id yet.
	Proposed fhir.Resource
	// Now is the time of the check (duplicate windows count back from it).
	Now time.Time
	// Data reads the patient's recorded data.
	Data Source
}

// Source is the read-only data the checks use. Each method returns an
// error only when the data could not be read; none found is an empty list.
type Source interface {
	// Allergies returns the patient's AllergyIntolerance resources, in any
	// status (the checks skip refuted, entered-in-error and inactive ones).
	Allergies(ctx context.Context, patientID string) ([]fhir.Resource, error)
	// ActiveMedications returns the patient's MedicationRequests with
	// status active or on-hold.
	ActiveMedications(ctx context.Context, patientID string) ([]fhir.Resource, error)
	// OpenServiceRequests returns the patient's ServiceRequests with status
	// active or on-hold: ordered and not yet completed.
	OpenServiceRequests(ctx context.Context, patientID string) ([]fhir.Resource, error)
	// Interactions returns the ClinicalUseDefinition resources of type
	// interaction held.
	Interactions(ctx context.Context) ([]fhir.Resource, error)
	// Resolve reads the resource a reference ("Medication/123") names. It
	// returns an error of kind fhir.KindNotFound when there is none.
	Resolve(ctx context.Context, reference string) (fhir.Resource, error)
}

// Severity is a DetectedIssue severity: high, moderate or low.
type Severity string

// The severities of DetectedIssue.severity.
const (
	High     Severity = "high"
	Moderate Severity = "moderate"
	Low      Severity = "low"
)

// Alert is one finding of a check.
type Alert struct {
	// Rule is the ID of the check that fired.
	Rule string
	// Severity says how much the finding matters.
	Severity Severity
	// Code is the kind of issue, from v3 ActCode (ALGY, DUPTHPY, DRG):
	// DetectedIssue.code.
	Code datatype.Coding
	// MessageID and Args make the message: Message renders them in
	// English; a message catalog keyed by MessageID translates them.
	MessageID string
	Args      []string
	// Matched is the code that made the rule fire (the allergen, the
	// duplicated drug or test).
	Matched datatype.Coding
	// Implicated are the references to the recorded resources that fired
	// the rule: the AllergyIntolerance, the other MedicationRequest or
	// ServiceRequest, the ClinicalUseDefinition.
	Implicated []string
	// Detail says more in English (an interaction's effect), or "".
	Detail string
}

// Key identifies the alert within one run of the checks: the rule and
// the data that fired it. A form that lists alerts and posts back which
// ones were overridden, with their reasons, names them by Key.
func (a Alert) Key() string {
	return a.Rule + ":" + a.Matched.System + "|" + a.Matched.Code + ":" + strings.Join(a.Implicated, ",")
}

// Message returns the alert in English.
func (a Alert) Message() string {
	format, ok := messages[a.MessageID]
	if !ok {
		return a.MessageID
	}
	args := make([]any, len(a.Args))
	for i, s := range a.Args {
		args[i] = s
	}
	return fmt.Sprintf(format, args...)
}

// messages are the English texts of the alerts, by MessageID.
var messages = map[string]string{
	"checks.allergy":              "Allergy: %[1]s matches the recorded allergy to %[2]s (%[3]s).",
	"checks.allergy.ingredient":   "Allergy: %[1]s contains %[4]s, which matches the recorded allergy to %[2]s (%[3]s).",
	"checks.duplicate.medication": "Duplicate therapy: %[1]s is already prescribed (%[2]s).",
	"checks.duplicate.order":      "Duplicate order: %[1]s was ordered on %[2]s and is not yet completed (%[3]s).",
	"checks.interaction":          "Interaction: %[1]s interacts with %[2]s, already prescribed (%[3]s).",
}

// Default returns the checks every order and prescription goes through:
// allergy, duplicate (with orderWindow for repeated tests) and
// interaction.
func Default(orderWindow time.Duration) []Check {
	return []Check{Allergy{}, Duplicate{OrderWindow: orderWindow}, Interaction{}}
}

// RunAll runs every check and returns all their alerts, in the order of
// checks. The first error stops it and names the check.
func RunAll(ctx context.Context, checks []Check, c Context) ([]Alert, error) {
	if c.Proposed == nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "checks: no proposed order")
	}
	if t := c.Proposed.Type(); t != "MedicationRequest" && t != "ServiceRequest" {
		return nil, fhir.Errorf(fhir.KindInvalid, "checks: a %q is not an order or prescription", t)
	}
	if c.Data == nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "checks: no data source")
	}
	var all []Alert
	for _, ch := range checks {
		alerts, err := ch.Run(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("checks: %s: %w", ch.ID(), err)
		}
		all = append(all, alerts...)
	}
	return all, nil
}

// ref returns "Type/id" of a resource, or "" when it has no id.
func ref(r fhir.Resource) string {
	if r.ID() == "" {
		return ""
	}
	return r.Type() + "/" + r.ID()
}

// sameResource reports whether a and b are the same stored resource.
func sameResource(a, b fhir.Resource) bool {
	return a.ID() != "" && a.Type() == b.Type() && a.ID() == b.ID()
}
