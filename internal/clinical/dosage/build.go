package dosage

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Form holds the fields of a prescribing form, as typed or chosen.
type Form struct {
	// Dose is a number ("1", "0.5") or a range ("1-2", "1 to 2").
	Dose string
	// DoseUnit is a UCUM code or a common name ("tablet", "mg", "mcg").
	DoseUnit string
	// Route is a route key ("oral"), an abbreviation ("PO") or a SNOMED
	// CT route code.
	Route string
	// Frequency is a code or phrase: QD/"once daily", BID, TID, QID,
	// q4h … q24h, "q4-6h", QOD/"every other day", "at bedtime", "in the
	// morning", "in the evening", "weekly", "once", or "as needed"/PRN.
	Frequency string
	// Duration is "7 days", "2 weeks", "10 d", or a bare number of days;
	// "" for none.
	Duration string
	// AsNeeded marks the dose as taken when needed; AsNeededFor says for
	// what ("pain").
	AsNeeded    bool
	AsNeededFor string
	// MaxPerDay is the most to take in a day, in DoseUnit; "" for none.
	MaxPerDay string
	// Instructions is an additional instruction ("Take with food");
	// PatientInstruction the patient's own wording.
	Instructions, PatientInstruction string
}

// GTS is the code system of Timing.code abbreviations.
const GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"

// frequency is what a Form.Frequency stands for.
type frequency struct {
	repeat   map[string]any
	code     string // GTS abbreviation, or ""
	asNeeded bool
}

var frequencies = map[string]frequency{
	"qd":             {repeatOf(map[string]any{"code": GTSCode("QD")}), "QD", false},
	"bid":            {timingCodes["BID"], "BID", false},
	"tid":            {timingCodes["TID"], "TID", false},
	"qid":            {timingCodes["QID"], "QID", false},
	"qod":            {timingCodes["QOD"], "QOD", false},
	"at bedtime":     {timingCodes["BED"], "BED", false},
	"in the morning": {timingCodes["AM"], "AM", false},
	"in the evening": {map[string]any{"frequency": 1, "period": 1, "periodUnit": "d", "when": []any{"EVE"}}, "", false},
	"weekly":         {timingCodes["WK"], "WK", false},
	"once":           {map[string]any{"count": 1}, "", false},
	"as needed":      {nil, "", true},
}

var frequencyAliases = map[string]string{
	"daily": "qd", "once daily": "qd", "once a day": "qd", "every day": "qd",
	"twice daily": "bid", "twice a day": "bid", "bd": "bid",
	"three times a day": "tid", "three times daily": "tid", "tds": "tid",
	"four times a day": "qid", "four times daily": "qid", "qds": "qid",
	"every other day": "qod", "alternate days": "qod",
	"bedtime": "at bedtime", "qhs": "at bedtime", "hs": "at bedtime", "nightly": "at bedtime", "bed": "at bedtime",
	"qam": "in the morning", "am": "in the morning", "every morning": "in the morning", "morning": "in the morning",
	"qpm": "in the evening", "every evening": "in the evening", "evening": "in the evening",
	"once a week": "weekly", "wk": "weekly", "stat": "once", "single dose": "once",
	"prn": "as needed", "when needed": "as needed",
}

// everyHours matches q8h, q 8 h, every 8 hours, q4-6h, every 4 to 6 hours.
var everyHours = regexp.MustCompile(`^(?:q|every)\s*(\d{1,2})(?:\s*(?:-|to)\s*(\d{1,2}))?\s*(?:h|hr|hrs|hour|hours)$`)

// GTSCode returns a Timing.code CodeableConcept for a GTS abbreviation.
func GTSCode(code string) map[string]any {
	return datatype.Concept("", datatype.Coding{System: GTS, Code: code})
}

func lookupFrequency(s string) (frequency, error) {
	key := strings.Join(strings.Fields(strings.ToLower(s)), " ")
	if a, ok := frequencyAliases[key]; ok {
		key = a
	}
	if f, ok := frequencies[key]; ok {
		return f, nil
	}
	if m := everyHours.FindStringSubmatch(key); m != nil {
		h, _ := strconv.Atoi(m[1])
		if h < 1 || h > 24 {
			return frequency{}, fieldError("frequency", "every %d hours is not a frequency (1 to 24 hours)", h)
		}
		r := map[string]any{"frequency": 1, "period": h, "periodUnit": "h"}
		code := ""
		if h == 24 {
			r["period"], r["periodUnit"] = 1, "d"
		} else if _, ok := timingCodes["Q"+m[1]+"H"]; ok {
			code = "Q" + m[1] + "H"
		}
		if m[2] != "" {
			hm, _ := strconv.Atoi(m[2])
			if hm <= h || hm > 24 {
				return frequency{}, fieldError("frequency", "every %d to %d hours: the second number must be larger, at most 24", h, hm)
			}
			r["periodMax"], code = hm, ""
		}
		return frequency{repeat: r, code: code}, nil
	}
	return frequency{}, fieldError("frequency", "%q is not a frequency this form knows (e.g. BID, TID, q8h, once daily, at bedtime, as needed)", s)
}

func fieldError(field, format string, args ...any) error {
	return fhir.At(fhir.KindInvalid, "value", field, "dosage: "+field+": "+format, args...)
}

// Build returns the R5 Dosage the form describes. It returns an error of
// kind fhir.KindInvalid whose expression names the form field (dose,
// doseUnit, route, frequency, duration, maxPerDay) for a value it cannot
// read, and for a form without a dose or a frequency.
func Build(f Form) (map[string]any, error) {
	d := map[string]any{}
	low, high, err := ParseDose(f.Dose)
	if err != nil {
		return nil, err
	}
	unit, ok := lookupUnit(f.DoseUnit)
	if !ok {
		return nil, fieldError("doseUnit", "%q is not a dose unit this form knows (e.g. tablet, capsule, mg, mcg, mL, units)", f.DoseUnit)
	}
	quantity := func(v float64) map[string]any {
		word := unit.other
		if v == 1 {
			word = unit.one
		}
		return datatype.Quantity{Value: v, Unit: word, System: datatype.UCUM, Code: unit.code}.JSON()
	}
	dr := map[string]any{}
	if high > low {
		dr["doseRange"] = map[string]any{"low": quantity(low), "high": quantity(high)}
	} else {
		dr["doseQuantity"] = quantity(low)
	}
	d["doseAndRate"] = []any{dr}

	if strings.TrimSpace(f.Route) != "" {
		r, ok := lookupRoute(f.Route)
		if !ok {
			return nil, fieldError("route", "%q is not a route this form knows (e.g. oral, topical, inhaled, subcutaneous)", f.Route)
		}
		d["route"] = datatype.Concept("", datatype.Coding{System: datatype.SNOMED, Code: r.snomed, Display: r.display})
	}

	asNeeded := f.AsNeeded || strings.TrimSpace(f.AsNeededFor) != ""
	var repeat map[string]any
	if strings.TrimSpace(f.Frequency) == "" {
		if !asNeeded {
			return nil, fieldError("frequency", "a frequency is required (or mark the dose as needed)")
		}
	} else {
		fr, err := lookupFrequency(f.Frequency)
		if err != nil {
			return nil, err
		}
		asNeeded = asNeeded || fr.asNeeded
		if fr.repeat != nil {
			repeat = map[string]any{}
			for k, v := range fr.repeat {
				repeat[k] = v
			}
			timing := map[string]any{"repeat": repeat}
			if fr.code != "" {
				timing["code"] = GTSCode(fr.code)
			}
			d["timing"] = timing
		}
	}
	if strings.TrimSpace(f.Duration) != "" {
		q, err := ParseDuration(f.Duration)
		if err != nil {
			return nil, err
		}
		if repeat == nil {
			repeat = map[string]any{}
			d["timing"] = map[string]any{"repeat": repeat}
		}
		repeat["boundsDuration"] = q.JSON()
	}
	if asNeeded {
		if t := strings.TrimSpace(f.AsNeededFor); t != "" {
			d["asNeededFor"] = []any{datatype.Concept(t)}
		} else {
			d["asNeeded"] = true
		}
	}
	if strings.TrimSpace(f.MaxPerDay) != "" {
		v, err := strconv.ParseFloat(strings.TrimSpace(f.MaxPerDay), 64)
		if err != nil || v <= 0 || v > 1e6 {
			return nil, fieldError("maxPerDay", "%q is not a number above zero", f.MaxPerDay)
		}
		if v < high {
			return nil, fieldError("maxPerDay", "the most in a day (%s) is less than one dose (%s)", datatype.FormatNumber(v), datatype.FormatNumber(high))
		}
		d["maxDosePerPeriod"] = []any{map[string]any{"numerator": quantity(v),
			"denominator": datatype.Quantity{Value: 1, Unit: "day", System: datatype.UCUM, Code: "d"}.JSON()}}
	}
	if t := strings.TrimSpace(f.Instructions); t != "" {
		d["additionalInstruction"] = []any{datatype.Concept(t)}
	}
	if t := strings.TrimSpace(f.PatientInstruction); t != "" {
		d["patientInstruction"] = t
	}
	text, err := Text(d)
	if err != nil {
		return nil, err
	}
	d["text"] = text
	return d, nil
}
