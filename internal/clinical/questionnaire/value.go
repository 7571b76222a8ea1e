package questionnaire

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Value is one answer (or an enableWhen's answer, or an answer option).
// Kind is the FHIR type it came as: boolean, decimal, integer, date,
// dateTime, time, string, uri, coding, quantity or reference.
type Value struct {
	Kind     string
	Bool     bool
	Number   float64 // decimal and integer
	Text     string  // date, dateTime, time, string, uri, and a reference's "Type/id"
	Coding   datatype.Coding
	Quantity datatype.Quantity
}

// Bool returns a boolean answer.
func Bool(b bool) Value { return Value{Kind: "boolean", Bool: b} }

// Integer returns an integer answer.
func Integer(n int) Value { return Value{Kind: "integer", Number: float64(n)} }

// Decimal returns a decimal answer.
func Decimal(f float64) Value { return Value{Kind: "decimal", Number: f} }

// String returns a string answer (for string and text items).
func String(s string) Value { return Value{Kind: "string", Text: s} }

// Date returns a date answer: YYYY, YYYY-MM or YYYY-MM-DD.
func Date(s string) Value { return Value{Kind: "date", Text: s} }

// Code returns a Coding answer.
func Code(system, code string) Value {
	return Value{Kind: "coding", Coding: datatype.Coding{System: system, Code: code}}
}

// valueKeys maps a value[x] element name to its Kind.
var valueKeys = map[string]string{
	"valueBoolean": "boolean", "valueDecimal": "decimal", "valueInteger": "integer", "valueDate": "date",
	"valueDateTime": "dateTime", "valueTime": "time", "valueString": "string", "valueUri": "uri",
	"valueCoding": "coding", "valueQuantity": "quantity", "valueReference": "reference",
}

// valueOf reads the value[x] of an answer, answerOption or initial.
func valueOf(m map[string]any) (Value, bool) {
	for key, kind := range valueKeys {
		raw, ok := m[key]
		if !ok {
			continue
		}
		v := Value{Kind: kind}
		switch kind {
		case "boolean":
			v.Bool, ok = raw.(bool)
		case "decimal", "integer":
			v.Number, ok = datatype.Number(raw)
		case "coding":
			v.Coding = datatype.CodingOf(raw)
			ok = v.Coding.Code != ""
		case "quantity":
			v.Quantity, ok = datatype.QuantityOf(raw)
		case "reference":
			v.Text = datatype.RefOf(raw)
			ok = v.Text != ""
		default:
			v.Text, ok = raw.(string)
		}
		return v, ok
	}
	return Value{}, false
}

// JSON returns the value as the answer object {"valueX": …}.
func (v Value) JSON() map[string]any {
	switch v.Kind {
	case "boolean":
		return map[string]any{"valueBoolean": v.Bool}
	case "decimal":
		return map[string]any{"valueDecimal": datatype.Decimal(v.Number)}
	case "integer":
		return map[string]any{"valueInteger": datatype.Decimal(v.Number)}
	case "coding":
		return map[string]any{"valueCoding": v.Coding.JSON()}
	case "quantity":
		return map[string]any{"valueQuantity": v.Quantity.JSON()}
	case "reference":
		return map[string]any{"valueReference": datatype.Ref(v.Text, "")}
	}
	for key, kind := range valueKeys {
		if kind == v.Kind {
			return map[string]any{key: v.Text}
		}
	}
	return map[string]any{"valueString": v.Text}
}

// equal reports whether two values are the same answer. A coding without
// a system matches on code alone; integer and decimal compare as numbers.
func equal(a, b Value) bool {
	switch {
	case isNumber(a) && isNumber(b):
		return a.Number == b.Number
	case a.Kind != b.Kind:
		return false
	}
	switch a.Kind {
	case "boolean":
		return a.Bool == b.Bool
	case "coding":
		if a.Coding.System == "" || b.Coding.System == "" {
			return a.Coding.Code == b.Coding.Code
		}
		return a.Coding.Same(b.Coding)
	case "quantity":
		return a.Quantity.Value == b.Quantity.Value && a.Quantity.Code == b.Quantity.Code
	}
	return a.Text == b.Text
}

func isNumber(v Value) bool { return v.Kind == "decimal" || v.Kind == "integer" }

// compare orders two values: -1, 0, 1, and ok false when they do not
// order (codings, booleans, different kinds or units).
func compare(a, b Value) (int, bool) {
	var x, y float64
	switch {
	case isNumber(a) && isNumber(b):
		x, y = a.Number, b.Number
	case a.Kind == "quantity" && b.Kind == "quantity" && a.Quantity.Code == b.Quantity.Code:
		x, y = a.Quantity.Value, b.Quantity.Value
	case a.Kind == b.Kind && (a.Kind == "date" || a.Kind == "dateTime"):
		as, _, err1 := fhir.ParseDateRange(a.Text)
		bs, _, err2 := fhir.ParseDateRange(b.Text)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return as.Compare(bs), true
	case a.Kind == b.Kind && (a.Kind == "string" || a.Kind == "time"):
		return strings.Compare(a.Text, b.Text), true
	default:
		return 0, false
	}
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

// kindsFor are the answer kinds an item type takes.
var kindsFor = map[string][]string{
	"boolean": {"boolean"}, "decimal": {"decimal", "integer"}, "integer": {"integer"},
	"date": {"date"}, "dateTime": {"dateTime", "date"}, "time": {"time"},
	"string": {"string"}, "text": {"string"}, "url": {"uri", "string"},
	"coding": {"coding"}, "quantity": {"quantity"}, "reference": {"reference"},
}

var (
	datePattern     = regexp.MustCompile(`^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$`)
	timePattern     = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$`)
	quantityPattern = regexp.MustCompile(`^([-+]?[0-9]+(?:\.[0-9]+)?)\s*(\S.*)?$`)
)

// maxAnswer bounds a typed answer.
const maxAnswer = 10000

// ParseAnswer reads an answer typed or chosen in a form for item: "yes"
// or "true" for a boolean, a number, a date (YYYY, YYYY-MM, YYYY-MM-DD),
// a dateTime, a time (hh:mm or hh:mm:ss), text, the code of an answer
// option (or "system|code"), a quantity ("70 kg"). It returns an error of
// kind fhir.KindInvalid naming the item for input that does not fit.
func ParseAnswer(it *Item, input string) (Value, error) {
	s := strings.TrimSpace(input)
	bad := func(format string, args ...any) (Value, error) {
		return Value{}, fhir.At(fhir.KindInvalid, "value", it.LinkID, "%s: "+format, append([]any{itemName(it)}, args...)...)
	}
	if len(s) > maxAnswer {
		return bad("the answer is too long")
	}
	if s == "" {
		return bad("no answer")
	}
	switch it.Type {
	case "boolean":
		switch strings.ToLower(s) {
		case "true", "yes", "y", "1", "on":
			return Bool(true), nil
		case "false", "no", "n", "0", "off":
			return Bool(false), nil
		}
		return bad("%q is not yes or no", s)
	case "integer":
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad("%q is not a whole number", s)
		}
		return Integer(int(n)), nil
	case "decimal":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(s, "eExXpPnN_") {
			return bad("%q is not a number", s)
		}
		return Decimal(f), nil
	case "date":
		if !datePattern.MatchString(s) {
			return bad("%q is not a date (YYYY-MM-DD)", s)
		}
		if len(s) == 10 {
			if _, err := time.Parse("2006-01-02", s); err != nil {
				return bad("%q is not a day of the calendar", s)
			}
		}
		return Date(s), nil
	case "dateTime":
		if datePattern.MatchString(s) {
			return Date(s), nil
		}
		if _, _, err := fhir.ParseDateRange(s); err != nil || !strings.Contains(s, "T") {
			return bad("%q is not a date and time", s)
		}
		return Value{Kind: "dateTime", Text: s}, nil
	case "time":
		if !timePattern.MatchString(s) {
			return bad("%q is not a time (hh:mm)", s)
		}
		if len(s) == 5 {
			s += ":00"
		}
		return Value{Kind: "time", Text: s}, nil
	case "string", "text":
		return String(s), nil
	case "url":
		return Value{Kind: "uri", Text: s}, nil
	case "coding":
		system, code, hasSystem := strings.Cut(s, "|")
		if !hasSystem {
			code, system = s, ""
		}
		for _, o := range it.Options {
			if o.Value.Kind == "coding" && o.Value.Coding.Code == code && (!hasSystem || o.Value.Coding.System == system) {
				return o.Value, nil
			}
		}
		if it.AnswerConstraint == "optionsOrString" {
			return String(s), nil
		}
		return bad("%q is not one of the answers offered", s)
	case "quantity":
		m := quantityPattern.FindStringSubmatch(s)
		if m == nil {
			return bad("%q is not a number with a unit", s)
		}
		f, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return bad("%q is not a number with a unit", s)
		}
		unit := strings.TrimSpace(m[2])
		return Value{Kind: "quantity", Quantity: datatype.Quantity{Value: f, Unit: unit, System: datatype.UCUM, Code: unit}}, nil
	}
	return bad("an item of type %s takes no typed answer", it.Type)
}

// itemName is how messages name an item: its text, else its linkId.
func itemName(it *Item) string {
	if it.Text != "" {
		return it.Text
	}
	return it.LinkID
}
