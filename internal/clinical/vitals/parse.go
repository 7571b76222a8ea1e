package vitals

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Value is one reading, in the sign's canonical unit.
type Value struct {
	Sign  Sign
	Value float64
	// Entered is the input as typed (trimmed), EnteredUnit the UCUM code
	// of the unit it was typed in; Converted is true when that was not
	// the canonical unit.
	Entered, EnteredUnit string
	Converted            bool
}

// unit is a unit a sign may be typed in: its UCUM code and the conversion
// to the sign's canonical unit.
type unit struct {
	code    string
	toCanon func(float64) float64
}

func same(v float64) float64 { return v }

func scale(f float64) func(float64) float64 { return func(v float64) float64 { return v * f } }

// Exact factors: the international avoirdupois pound and inch.
var (
	kilogram   = unit{"kg", same}
	gram       = unit{"g", scale(0.001)}
	pound      = unit{"[lb_av]", scale(0.45359237)}
	centimetre = unit{"cm", same}
	metre      = unit{"m", scale(100)}
	inch       = unit{"[in_i]", scale(2.54)}
	foot       = unit{"[ft_i]", scale(30.48)}
	celsius    = unit{"Cel", same}
	fahrenheit = unit{"[degF]", func(v float64) float64 { return (v - 32) * 5 / 9 }}
	perMinute  = unit{"/min", same}
	percent    = unit{"%", same}
	score      = unit{"{score}", same}
	mmHg       = unit{"mm[Hg]", same}
)

// units are what each sign may be typed in, by the words people write
// (lower case, "°" kept) and by UCUM code.
var units = map[string]map[string]unit{
	"weight": {"kg": kilogram, "kgs": kilogram, "kilo": kilogram, "kilos": kilogram, "kilogram": kilogram, "kilograms": kilogram,
		"g": gram, "gram": gram, "grams": gram,
		"lb": pound, "lbs": pound, "pound": pound, "pounds": pound, "[lb_av]": pound},
	"height": {"cm": centimetre, "centimetre": centimetre, "centimetres": centimetre, "centimeter": centimetre, "centimeters": centimetre,
		"m": metre, "metre": metre, "metres": metre, "meter": metre, "meters": metre,
		"in": inch, "inch": inch, "inches": inch, `"`: inch, "[in_i]": inch,
		"ft": foot, "feet": foot, "foot": foot, "'": foot, "[ft_i]": foot},
	"temp": {"c": celsius, "°c": celsius, "cel": celsius, "celsius": celsius, "centigrade": celsius, "degc": celsius, "deg c": celsius,
		"f": fahrenheit, "°f": fahrenheit, "[degf]": fahrenheit, "fahrenheit": fahrenheit, "degf": fahrenheit, "deg f": fahrenheit},
	"pulse": {"/min": perMinute, "bpm": perMinute, "beats/min": perMinute, "beats/minute": perMinute, "per min": perMinute, "/ min": perMinute},
	"resp":  {"/min": perMinute, "breaths/min": perMinute, "breaths/minute": perMinute, "rpm": perMinute, "per min": perMinute, "/ min": perMinute},
	"spo2":  {"%": percent},
	"pain":  {"/10": score, "/ 10": score, "{score}": score},
	"bp":    {"mmhg": mmHg, "mm hg": mmHg, "mm[hg]": mmHg},
}

// UnitsFor returns the UCUM codes a sign may be typed in, for a unit
// selector (the canonical one first).
func UnitsFor(key string) []string {
	s, ok := Lookup(key)
	if !ok {
		return nil
	}
	out := []string{s.Unit}
	seen := map[string]bool{s.Unit: true}
	for _, u := range units[key] {
		if !seen[u.code] {
			seen[u.code] = true
			out = append(out, u.code)
		}
	}
	return out
}

var (
	numberUnit = regexp.MustCompile(`^([0-9]+(?:[.,][0-9]+)?)\s*(.*)$`)
	feetInches = regexp.MustCompile(`^([0-9]+)\s*(?:ft|feet|foot|')\s*(?:([0-9]+(?:[.,][0-9]+)?)\s*(?:in|inch|inches|"|'')?)?$`)
	bloodPres  = regexp.MustCompile(`^([0-9]+)\s*/\s*([0-9]+)\s*(mm\s*hg|mm\[hg\])?$`)
)

// maxInput bounds what a field may hold: no reading needs more.
const maxInput = 40

// normalize makes typed input comparable: trimmed, lower case, one space
// between words, the look-alike degree, prime and quote signs folded.
func normalize(s string) string {
	s = strings.NewReplacer("º", "°", "˚", "°", "′", "'", "’", "'", "″", `"`, "”", `"`, "“", `"`, "''", `"`).Replace(s)
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	return strings.ReplaceAll(strings.ReplaceAll(s, "° ", "°"), "deg ", "deg")
}

// fieldError is the error for one field of the form.
func fieldError(field, format string, args ...any) *fhir.Error {
	return fhir.At(fhir.KindInvalid, "value", field, format, args...)
}

// Parse reads the value typed for a sign (not bp: see ParseBloodPressure)
// and converts it to the canonical unit. A number without a unit is in
// unitCode when it is given (the form's unit selector); otherwise it is
// accepted for a sign with one unit, and for temperature when its size
// says the scale (25–45 is °C, 77–113 is °F); weight and height need a
// unit. It returns an error of kind fhir.KindInvalid whose expression is
// the sign's key and whose message names the sign, for input it cannot
// read and for a value outside the plausible limits.
func Parse(key, input, unitCode string) (Value, error) {
	sign, ok := Lookup(key)
	if !ok || key == "bp" || key == "bmi" {
		return Value{}, fieldError(key, "%q is not a vital sign typed by itself", key)
	}
	entered := strings.TrimSpace(input)
	if entered == "" {
		return Value{}, fieldError(key, "%s: no value", sign.Label)
	}
	if len(entered) > maxInput {
		return Value{}, fieldError(key, "%s: %d characters is too long for a reading", sign.Label, len(entered))
	}
	s := normalize(entered)
	var n float64
	var u unit
	if m := feetInches.FindStringSubmatch(s); key == "height" && m != nil {
		feet, _ := strconv.ParseFloat(m[1], 64)
		inches := 0.0
		if m[2] != "" {
			inches, _ = strconv.ParseFloat(strings.Replace(m[2], ",", ".", 1), 64)
			if inches >= 12 {
				return Value{}, fieldError(key, "%s: %q has %v inches; a foot has 12", sign.Label, entered, inches)
			}
		}
		n, u = feet*12+inches, inch
	} else {
		m := numberUnit.FindStringSubmatch(s)
		if m == nil {
			return Value{}, fieldError(key, "%s: %q is not a number with a unit", sign.Label, entered)
		}
		// A decimal comma (98,6) is read as a decimal point: no vital
		// sign reaches a thousand, so it cannot be a thousands separator.
		n, _ = strconv.ParseFloat(strings.Replace(m[1], ",", ".", 1), 64)
		var err error
		if u, err = unitOf(sign, m[2], unitCode, n, entered); err != nil {
			return Value{}, err
		}
	}
	if key == "pain" && n != math.Trunc(n) {
		return Value{}, fieldError(key, "%s: %q must be a whole number from 0 to 10", sign.Label, entered)
	}
	v := datatype.Round(u.toCanon(n), sign.Places)
	if err := limit(sign, key, v, entered); err != nil {
		return Value{}, err
	}
	return Value{Sign: sign, Value: v, Entered: entered, EnteredUnit: u.code, Converted: u.code != sign.Unit}, nil
}

// unitOf finds the unit typed, or the unit of a bare number.
func unitOf(sign Sign, typed, unitCode string, n float64, entered string) (unit, error) {
	table := units[sign.Key]
	if typed != "" {
		if u, ok := table[typed]; ok {
			return u, nil
		}
		return unit{}, fieldError(sign.Key, "%s: %q is not a unit for %s (use %s)", sign.Label, typed, strings.ToLower(sign.Label), strings.Join(UnitsFor(sign.Key), ", "))
	}
	if unitCode != "" {
		for _, u := range table {
			if u.code == unitCode {
				return u, nil
			}
		}
		if unitCode == sign.Unit {
			return unit{sign.Unit, same}, nil
		}
		return unit{}, fieldError(sign.Key, "%s: %q is not a unit for %s", sign.Label, unitCode, strings.ToLower(sign.Label))
	}
	switch sign.Key {
	case "temp":
		switch {
		case n >= 25 && n <= 45:
			return celsius, nil
		case n >= 77 && n <= 113:
			return fahrenheit, nil
		}
		return unit{}, fieldError(sign.Key, "%s: %q: say °C or °F", sign.Label, entered)
	case "weight", "height":
		return unit{}, fieldError(sign.Key, "%s: %q needs a unit (%s)", sign.Label, entered, strings.Join(UnitsFor(sign.Key), " or "))
	}
	return unit{sign.Unit, same}, nil
}

// limit refuses a value outside the sign's plausible range.
func limit(sign Sign, field string, v float64, entered string) error {
	if v < sign.Min || v > sign.Max {
		return fieldError(field, "%s: %s %s is not plausible (from %s to %s %s); check for a typo",
			sign.Label, datatype.FormatNumber(v), sign.UnitText, datatype.FormatNumber(sign.Min), datatype.FormatNumber(sign.Max), sign.UnitText)
	}
	return nil
}

// ParseBloodPressure reads "120/80" (optionally with mmHg) into systolic
// and diastolic. It returns an error of kind fhir.KindInvalid with
// expression "bp" for input it cannot read, a value outside the limits,
// and a diastolic not below the systolic.
func ParseBloodPressure(input string) (systolic, diastolic Value, err error) {
	entered := strings.TrimSpace(input)
	if entered == "" {
		return Value{}, Value{}, fieldError("bp", "Blood pressure: no value")
	}
	m := bloodPres.FindStringSubmatch(normalize(entered))
	if len(entered) > maxInput || m == nil {
		return Value{}, Value{}, fieldError("bp", "Blood pressure: %q is not systolic/diastolic, e.g. 120/80", entered)
	}
	sys, _ := strconv.ParseFloat(m[1], 64)
	dia, _ := strconv.ParseFloat(m[2], 64)
	if err := limit(Systolic, "bp", sys, entered); err != nil {
		return Value{}, Value{}, err
	}
	if err := limit(Diastolic, "bp", dia, entered); err != nil {
		return Value{}, Value{}, err
	}
	if dia >= sys {
		return Value{}, Value{}, fieldError("bp", "Blood pressure: the diastolic (%s) must be below the systolic (%s); were they swapped?",
			datatype.FormatNumber(dia), datatype.FormatNumber(sys))
	}
	return Value{Sign: Systolic, Value: sys, Entered: entered, EnteredUnit: "mm[Hg]"},
		Value{Sign: Diastolic, Value: dia, Entered: entered, EnteredUnit: "mm[Hg]"}, nil
}
