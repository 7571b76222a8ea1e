package dosage

import (
	"math"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/clinical/datatype"
)

// maxDoseValue bounds a typed dose: far above any real dose, low enough
// that arithmetic on it stays exact.
const maxDoseValue = 1e6

// ParseDose reads a dose as typed: a number ("1", "0.5", "½" is not
// accepted: write 0.5) or a range ("1-2", "1 to 2", "1–2"). For a single
// number low and high are equal. It returns an error of kind
// fhir.KindInvalid naming the field "dose" for anything else, zero and
// negative doses included.
func ParseDose(s string) (low, high float64, err error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, 0, fieldError("dose", "a dose is required")
	}
	for _, sep := range []string{" to ", "-", "–"} {
		if a, b, ok := strings.Cut(t, sep); ok {
			if low, err = doseNumber(a, s); err != nil {
				return 0, 0, err
			}
			if high, err = doseNumber(b, s); err != nil {
				return 0, 0, err
			}
			if high <= low {
				return 0, 0, fieldError("dose", "in the range %q the second number must be larger", s)
			}
			return low, high, nil
		}
	}
	low, err = doseNumber(t, s)
	return low, low, err
}

func doseNumber(part, whole string) (float64, error) {
	part = strings.TrimSpace(part)
	// A leading decimal point (".5") is the misreading the UI guide warns
	// of: refuse it rather than guess.
	if strings.HasPrefix(part, ".") {
		return 0, fieldError("dose", "%q: write a leading zero (0.5, not .5)", whole)
	}
	f, err := strconv.ParseFloat(part, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(part, "eExXpP_") {
		return 0, fieldError("dose", "%q is not a number", whole)
	}
	if f <= 0 || f > maxDoseValue {
		return 0, fieldError("dose", "%q must be above zero and at most %v", whole, maxDoseValue)
	}
	return f, nil
}

// durationWords map the units people type to UCUM duration codes.
var durationWords = map[string]string{
	"d": "d", "day": "d", "days": "d",
	"wk": "wk", "w": "wk", "week": "wk", "weeks": "wk",
	"mo": "mo", "month": "mo", "months": "mo",
	"h": "h", "hour": "h", "hours": "h",
}

// ParseDuration reads a duration as typed: "7 days", "2 weeks", "10 d",
// "3 months", "48 hours", or a bare whole number of days ("7"). It
// returns a Quantity in UCUM (d, wk, mo, h), or an error of kind
// fhir.KindInvalid naming the field "duration".
func ParseDuration(s string) (datatype.Quantity, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	num, unit := t, "d"
	if i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); i >= 0 {
		num = strings.TrimSpace(t[:i])
		word := strings.TrimSpace(t[i:])
		code, ok := durationWords[word]
		if !ok {
			return datatype.Quantity{}, fieldError("duration", "%q: the unit must be days, weeks, months or hours", s)
		}
		unit = code
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 || n != math.Trunc(n) || n > 1000 {
		return datatype.Quantity{}, fieldError("duration", "%q: the duration must be a whole number from 1 to 1000", s)
	}
	word := periodUnits[unit]
	if n != 1 {
		word += "s"
	}
	return datatype.Quantity{Value: n, Unit: word, System: datatype.UCUM, Code: unit}, nil
}
