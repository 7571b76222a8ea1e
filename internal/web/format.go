package web

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
)

// How the chart writes clinical values: numbers with a leading zero and
// without trailing zeros (0.5, 5), units as a person reads them (mmHg,
// °C, mcg) rather than as UCUM codes, never the abbreviations that are
// misread (U, IU, µg).

// readableUnits maps UCUM codes to what the screen shows. A code not
// listed is shown as the quantity's unit text, else as the code with its
// annotation braces removed.
var readableUnits = map[string]string{
	"mm[Hg]":           "mmHg",
	"Cel":              "°C",
	"[degF]":           "°F",
	"kg/m2":            "kg/m²",
	"/min":             "/min",
	"{beats}/min":      "beats/min",
	"{breaths}/min":    "breaths/min",
	"ug":               "mcg",
	"ug/L":             "mcg/L",
	"ug/dL":            "mcg/dL",
	"ng/mL":            "ng/mL",
	"U":                "units",
	"U/L":              "units/L",
	"[IU]":             "units",
	"[IU]/L":           "units/L",
	"10*3/uL":          "10³/mcL",
	"10*6/uL":          "10⁶/mcL",
	"10*9/L":           "10⁹/L",
	"10*12/L":          "10¹²/L",
	"uL":               "mcL",
	"mL/min/{1.73_m2}": "mL/min/1.73m²",
	"mL/min/1.73m2":    "mL/min/1.73m²",
	"1":                "",
	"{score}":          "",
}

// unitOf is the readable unit of a Quantity.
func unitOf(q map[string]any) string {
	code := str(q, "code")
	if u, ok := readableUnits[code]; ok {
		return u
	}
	if u := str(q, "unit"); u != "" {
		if r, ok := readableUnits[u]; ok {
			return r
		}
		return u
	}
	return strings.NewReplacer("{", "", "}", "").Replace(code)
}

// numberText writes a FHIR decimal for the screen: a leading zero always
// (0.5), no trailing zeros (5, not 5.0), and no more than two decimals
// where the data carries noise (Synthea's 161.6903996970082 is 161.69).
func numberText(v any) (string, bool) {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = string(n)
	case float64:
		s = strconv.FormatFloat(n, 'f', -1, 64)
	case string:
		s = n
	default:
		return "", false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	if _, frac, ok := strings.Cut(s, "."); ok && len(frac) > 3 || strings.ContainsAny(s, "eE") {
		s = strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if strings.HasPrefix(s, ".") {
		s = "0" + s
	} else if strings.HasPrefix(s, "-.") {
		s = "-0" + s[1:]
	}
	return s, true
}

func numberOf(v any) (float64, bool) {
	if n, ok := v.(string); ok { // integer64 and decimals written as strings
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return datatype.Number(v)
}

// quantityText is "5.4 mmol/L", in the locale's digits; "" when q has no
// value.
func (l *Locale) quantityText(v any) string {
	q, _ := v.(map[string]any)
	n, ok := numberText(q["value"])
	if !ok {
		return ""
	}
	text := l.Decimal(n)
	if c := str(q, "comparator"); c != "" {
		text = c + text
	}
	if u := unitOf(q); u != "" {
		text += " " + u
	}
	return text
}

// fhirTime reads a FHIR dateTime or instant (any precision).
func fhirTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// dateTimeText writes a FHIR dateTime as 09-Mar-1984 14:05 (the time
// only when the data has one), in the time zone written in it.
func (l *Locale) dateTimeText(s string) string {
	if len(s) <= 10 {
		return l.Date(s)
	}
	t, ok := fhirTime(s)
	if !ok {
		return l.Date(s)
	}
	return l.DateTime(t)
}

// effectiveOf is when a clinical resource happened: the first of the
// usual date elements it carries (a Period's start).
func effectiveOf(r map[string]any) string {
	for _, k := range []string{"effectiveDateTime", "effectiveInstant", "occurrenceDateTime", "issued", "date", "onsetDateTime", "recordedDate", "authoredOn", "start", "recorded"} {
		if s := str(r, k); s != "" {
			return s
		}
	}
	for _, k := range []string{"effectivePeriod", "actualPeriod", "period", "occurrencePeriod", "onsetPeriod"} {
		if p, _ := r[k].(map[string]any); p != nil {
			if s := str(p, "start"); s != "" {
				return s
			}
		}
	}
	return ""
}
