package dosage

import (
	"math"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// maxOver returns the most maxDosePerPeriod allows over a span (in
// nanoseconds, as a float), for the limits in the dose's own unit over a
// period of fixed length; ok is false when none applies.
func maxOver(dosage map[string]any, unit doseUnit, span float64) (most float64, ok bool) {
	for _, r := range datatype.List(dosage["maxDosePerPeriod"]) {
		num, okN := datatype.QuantityOf(datatype.Obj(r)["numerator"])
		den, okD := datatype.QuantityOf(datatype.Obj(r)["denominator"])
		length, fixed := unitLength[den.Code]
		if u, known := unitOf(num); !okN || !okD || !fixed || !known || u.code != unit.code || den.Value <= 0 || num.Value <= 0 {
			continue
		}
		limit := num.Value * math.Ceil(span/(den.Value*float64(length)))
		if !ok || limit < most {
			most, ok = limit, true
		}
	}
	return most, ok
}

// DispenseQuantity computes the quantity to dispense for a Dosage: the
// dose (the high end of a range) times the administrations a day times
// the days of boundsDuration, or times repeat.count. A countable unit
// (tablets, capsules, puffs) is rounded up to whole units; mL is rounded
// up to a whole mL. A maxDosePerPeriod in the dose's unit caps the total.
//
// It returns an error of kind fhir.KindUnprocessable saying why when the
// units do not allow it: a dose by mass (mg) needs the product's strength,
// a duration in months or years is not a fixed number of days, and a dose
// taken only as needed has no count.
func DispenseQuantity(dosage map[string]any) (datatype.Quantity, error) {
	cannot := func(format string, args ...any) (datatype.Quantity, error) {
		return datatype.Quantity{}, fhir.Errorf(fhir.KindUnprocessable, "dosage: cannot compute the quantity to dispense: "+format, args...)
	}
	list := datatype.List(dosage["doseAndRate"])
	if len(list) == 0 {
		return cannot("no dose")
	}
	dr := datatype.Obj(list[0])
	q, ok := datatype.QuantityOf(dr["doseQuantity"])
	if r := datatype.Obj(dr["doseRange"]); r != nil {
		q, ok = datatype.QuantityOf(r["high"])
	}
	if !ok || q.Value <= 0 {
		return cannot("no dose")
	}
	unit, known := unitOf(q)
	if !known || !(unit.countable || unit.code == "mL") {
		return cannot("a dose in %s needs the product's strength to count what to dispense", q.UnitText())
	}
	r := repeatOf(datatype.Obj(dosage["timing"]))
	if r == nil {
		return cannot("no timing (a dose taken only as needed has no count)")
	}
	n, periodUnit, err := readRepeat(r)
	if err != nil {
		return datatype.Quantity{}, err
	}
	var administrations float64
	switch {
	case n.count > 0 && r["boundsDuration"] == nil:
		administrations = n.count
	case n.period > 0:
		b, ok := datatype.QuantityOf(r["boundsDuration"])
		if !ok {
			return cannot("no duration")
		}
		days, fixed := unitLength[b.Code]
		per, fixedPer := unitLength[periodUnit]
		if !fixed {
			return cannot("a duration in %q is not a fixed number of days", b.Code)
		}
		if !fixedPer {
			return cannot("a period in %q is not a fixed number of days", periodUnit)
		}
		frequency := math.Max(n.frequency, n.frequencyMax)
		if events := len(datatype.List(r["when"])); events > 1 && frequency == 1 {
			frequency = float64(events)
		}
		// The most often it may be taken: "every 4 to 6 hours" counts every 4.
		administrations = frequency * (b.Value * float64(days)) / (n.period * float64(per))
		if n.count > 0 {
			administrations = math.Min(administrations, n.count)
		}
		if most, ok := maxOver(dosage, unit, b.Value*float64(days)); ok {
			administrations = math.Min(administrations, most/q.Value)
		}
	default:
		return cannot("no frequency")
	}
	total := math.Ceil(q.Value*administrations - 1e-9)
	word := unit.other
	if total == 1 {
		word = unit.one
	}
	return datatype.Quantity{Value: total, Unit: word, System: datatype.UCUM, Code: unit.code}, nil
}
