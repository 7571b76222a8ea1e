// Package datatype reads and builds the FHIR data types the clinical
// packages share (Coding, CodeableConcept, CodeableReference, Quantity,
// Reference) on the JSON trees of fhir.Resource. Readers never panic on a
// tree of the wrong shape: they return the zero value, because a resource
// from the store or a client may hold anything the validator let through.
package datatype

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Code system URIs used across the clinical packages.
const (
	LOINC   = "http://loinc.org"
	UCUM    = "http://unitsofmeasure.org"
	SNOMED  = "http://snomed.info/sct"
	RxNorm  = "http://www.nlm.nih.gov/research/umls/rxnorm"
	ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
)

// Coding is a FHIR Coding reduced to what comparisons need.
type Coding struct {
	System, Code, Display string
}

// Same reports whether c and o name the same concept: equal system and
// code (display never decides). A coding without a code matches nothing.
func (c Coding) Same(o Coding) bool {
	return c.Code != "" && c.System == o.System && c.Code == o.Code
}

// JSON returns the coding as a FHIR Coding object.
func (c Coding) JSON() map[string]any {
	return withStrings(map[string]any{}, "system", c.System, "code", c.Code, "display", c.Display)
}

// withStrings sets the key/value pairs of m whose value is not empty:
// FHIR JSON has no empty strings.
func withStrings(m map[string]any, pairs ...string) map[string]any {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			m[pairs[i]] = pairs[i+1]
		}
	}
	return m
}

// Concept returns a CodeableConcept of the codings and text ("" for none).
func Concept(text string, codings ...Coding) map[string]any {
	m := map[string]any{}
	if len(codings) > 0 {
		list := make([]any, len(codings))
		for i, c := range codings {
			list[i] = c.JSON()
		}
		m["coding"] = list
	}
	if text != "" {
		m["text"] = text
	}
	return m
}

// Obj returns v as a JSON object, or nil.
func Obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// List returns v as a JSON array; a single object is a list of one, so
// that a reader of a repeating element also copes with a non-repeating one.
func List(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return nil
	default:
		return []any{v}
	}
}

// Str returns m[key] as a string, or "".
func Str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// CodingOf reads one Coding object.
func CodingOf(v any) Coding {
	m := Obj(v)
	return Coding{System: Str(m, "system"), Code: Str(m, "code"), Display: Str(m, "display")}
}

// Codings returns the codings of a CodeableConcept, or of a
// CodeableReference's concept, or of a bare Coding.
func Codings(v any) []Coding {
	m := Obj(v)
	if m == nil {
		return nil
	}
	if c, ok := m["concept"]; ok { // CodeableReference
		return Codings(c)
	}
	if _, ok := m["code"].(string); ok { // a Coding itself
		return []Coding{CodingOf(m)}
	}
	var out []Coding
	for _, c := range List(m["coding"]) {
		if cd := CodingOf(c); cd.Code != "" {
			out = append(out, cd)
		}
	}
	return out
}

// Text returns the words to show for a CodeableConcept or
// CodeableReference: its text, else the first coding's display, else
// its code, else "".
func Text(v any) string {
	m := Obj(v)
	if c, ok := m["concept"]; ok {
		return Text(c)
	}
	if t := Str(m, "text"); t != "" {
		return t
	}
	if d := Str(m, "display"); d != "" { // a Reference or a Coding
		return d
	}
	for _, c := range Codings(m) {
		if c.Display != "" {
			return c.Display
		}
	}
	for _, c := range Codings(m) {
		return c.Code
	}
	return ""
}

// AnySame reports whether some coding of a matches some coding of b, and
// returns the first such coding of a.
func AnySame(a, b []Coding) (Coding, bool) {
	for _, x := range a {
		for _, y := range b {
			if x.Same(y) {
				return x, true
			}
		}
	}
	return Coding{}, false
}

// Number reads a JSON number as the parser (json.Number) or code (float64,
// int, int64) leaves it. NaN and infinities are refused.
func Number(v any) (float64, bool) {
	var f float64
	switch v := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(v), 64); err != nil {
			return 0, false
		}
	case float64:
		f = v
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// Decimal returns f as a FHIR decimal: json.Number in the shortest form,
// no trailing zeros ("5", "0.5", "72.6").
func Decimal(f float64) json.Number { return json.Number(FormatNumber(f)) }

// FormatNumber writes f for people and for FHIR alike: a leading zero
// always, a trailing zero never ("0.5", "5", "1250").
func FormatNumber(f float64) string {
	if f == 0 {
		return "0" // and never "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Round rounds f to places decimal places.
func Round(f float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(f*p) / p
}

// Quantity is a FHIR Quantity reduced to value and unit.
type Quantity struct {
	Value float64
	// Unit is the human-readable unit; Code the UCUM code when System is UCUM.
	Unit, System, Code string
	// Comparator is <, <=, >=, > or "" (ad for the lower bound of a value).
	Comparator string
}

// QuantityOf reads a Quantity object; ok is false without a number.
func QuantityOf(v any) (q Quantity, ok bool) {
	m := Obj(v)
	q.Value, ok = Number(m["value"])
	q.Unit, q.System, q.Code, q.Comparator = Str(m, "unit"), Str(m, "system"), Str(m, "code"), Str(m, "comparator")
	return q, ok
}

// UnitText is the unit to show: the unit, else the code.
func (q Quantity) UnitText() string {
	if q.Unit != "" {
		return q.Unit
	}
	return q.Code
}

// JSON returns q as a FHIR Quantity object.
func (q Quantity) JSON() map[string]any {
	return withStrings(map[string]any{"value": Decimal(q.Value)},
		"unit", q.Unit, "system", q.System, "code", q.Code, "comparator", q.Comparator)
}

// Ref returns a Reference object to typ/id ("" parts omitted).
func Ref(reference, display string) map[string]any {
	m := map[string]any{}
	if reference != "" {
		m["reference"] = reference
	}
	if display != "" {
		m["display"] = display
	}
	return m
}

// RefOf returns the reference string of a Reference object, or of a
// CodeableReference's reference.
func RefOf(v any) string {
	m := Obj(v)
	if r, ok := m["reference"].(map[string]any); ok { // CodeableReference
		return Str(r, "reference")
	}
	return Str(m, "reference")
}

// SplitRef splits "Type/id" (also the tail of an absolute URL and a
// "Type/id/_history/n" reference) into type and id; ok is false for
// anything else, a contained "#id" reference included.
func SplitRef(ref string) (typ, id string, ok bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return "", "", false
	}
	typ, id = parts[len(parts)-2], parts[len(parts)-1]
	if typ == "" || id == "" || typ[0] < 'A' || typ[0] > 'Z' {
		return "", "", false
	}
	return typ, id, true
}
