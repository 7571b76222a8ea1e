package checks

import (
	"context"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// DefaultOrderWindow is how far back Duplicate looks for an open order of
// the same test when OrderWindow is zero.
const DefaultOrderWindow = 30 * 24 * time.Hour

// Duplicate fires when the proposed MedicationRequest prescribes a drug
// (or an ingredient) that an active or on-hold MedicationRequest already
// prescribes, or when the proposed ServiceRequest asks for a test that was
// ordered within OrderWindow and is not completed. A request the proposal
// replaces (MedicationRequest.priorPrescription, ServiceRequest.replaces)
// and the proposal itself are not duplicates.
type Duplicate struct {
	// OrderWindow is how far back an open order counts; zero means
	// DefaultOrderWindow. An open order without authoredOn always counts.
	OrderWindow time.Duration
}

// ID returns "duplicate".
func (Duplicate) ID() string { return "duplicate" }

// Run checks either kind of order.
func (d Duplicate) Run(ctx context.Context, c Context) ([]Alert, error) {
	if c.Proposed.Type() == "ServiceRequest" {
		return d.orders(ctx, c)
	}
	return d.medications(ctx, c)
}

func (d Duplicate) medications(ctx context.Context, c Context) ([]Alert, error) {
	proposed, err := drugOf(ctx, c.Data, c.Proposed)
	if err != nil {
		return nil, err
	}
	codes := proposed.all()
	if len(codes) == 0 {
		return nil, nil
	}
	active, err := c.Data.ActiveMedications(ctx, c.PatientID)
	if err != nil {
		return nil, err
	}
	replaced := references(c.Proposed["priorPrescription"])
	var alerts []Alert
	for _, other := range active {
		if sameResource(other, c.Proposed) || replaced[ref(other)] {
			continue
		}
		od, err := drugOf(ctx, c.Data, other)
		if err != nil {
			return nil, err
		}
		if m, ok := datatype.AnySame(codes, od.all()); ok {
			alerts = append(alerts, Alert{
				Rule: "duplicate", Severity: Moderate,
				Code:      datatype.Coding{System: datatype.ActCode, Code: "DUPTHPY", Display: "Duplicate Therapy Alert"},
				MessageID: "checks.duplicate.medication", Args: []string{proposed.name, od.name},
				Matched: m, Implicated: nonEmpty(ref(other)),
			})
		}
	}
	return alerts, nil
}

func (d Duplicate) orders(ctx context.Context, c Context) ([]Alert, error) {
	codes := datatype.Codings(c.Proposed["code"])
	if len(codes) == 0 {
		return nil, nil
	}
	open, err := c.Data.OpenServiceRequests(ctx, c.PatientID)
	if err != nil {
		return nil, err
	}
	window := d.OrderWindow
	if window <= 0 {
		window = DefaultOrderWindow
	}
	since := c.Now.Add(-window)
	replaced := references(c.Proposed["replaces"])
	var alerts []Alert
	for _, other := range open {
		if sameResource(other, c.Proposed) || replaced[ref(other)] {
			continue
		}
		authored := datatype.Str(other, "authoredOn")
		if authored != "" {
			_, end, err := fhir.ParseDateRange(authored)
			if err == nil && !end.After(since) {
				continue // ordered before the window
			}
		}
		m, ok := datatype.AnySame(codes, datatype.Codings(other["code"]))
		if !ok {
			continue
		}
		when := authored
		if when == "" {
			when = "an unknown date"
		}
		alerts = append(alerts, Alert{
			Rule: "duplicate", Severity: Moderate,
			// v3 ActCode has no "duplicate order" code: a repeated test is
			// the order-side case of a duplicate therapy alert.
			Code:      datatype.Coding{System: datatype.ActCode, Code: "DUPTHPY", Display: "Duplicate Therapy Alert"},
			MessageID: "checks.duplicate.order", Args: []string{datatype.Text(c.Proposed["code"]), when, codeText(m)},
			Matched: m, Implicated: nonEmpty(ref(other)),
		})
	}
	return alerts, nil
}

// references returns the set of reference strings of a Reference or a
// list of them.
func references(v any) map[string]bool {
	set := map[string]bool{}
	for _, r := range datatype.List(v) {
		if typ, id, ok := datatype.SplitRef(datatype.RefOf(r)); ok {
			set[typ+"/"+id] = true
		}
	}
	return set
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
