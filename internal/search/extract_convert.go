package search

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emr-project/emr/internal/fhir/fhirpath"
)

// add converts one value a parameter's expression selected into entries of
// the parameter's kind, as the specification's search page says for each
// pair of parameter type and data type. Values that a kind cannot index
// (a Reference for a string parameter) add nothing.
func (ex *extraction) add(param string, kind Kind, n fhirpath.Node) {
	if kind == "" {
		kind = inferKind(n.Type)
	}
	switch kind {
	case KindString:
		ex.addString(param, n)
	case KindToken:
		ex.addToken(param, n)
	case KindReference, "resource":
		ex.addReference(param, n)
	case KindDate:
		ex.addDate(param, n)
	case KindNumber:
		ex.addNumber(param, n)
	case KindQuantity:
		ex.addQuantity(param, n)
	case KindURI:
		if s, ok := primitiveString(n); ok && s != "" {
			ex.out = append(ex.out, Entry{Param: param, Kind: KindURI, Exact: s})
		}
	}
}

// inferKind chooses the kind of a composite component whose definition is
// missing from the specification, by the type of its value.
func inferKind(typ string) Kind {
	switch typ {
	case "date", "dateTime", "instant", "Period", "Timing", fhirpath.TypeDate, fhirpath.TypeDateTime:
		return KindDate
	case "Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "Money", "Range", fhirpath.TypeQuantity:
		return KindQuantity
	case "integer", "decimal", "positiveInt", "unsignedInt", "integer64", fhirpath.TypeInteger, fhirpath.TypeDecimal:
		return KindNumber
	case "Reference", "CodeableReference", "canonical":
		return KindReference
	case "uri", "url", "oid", "uuid":
		return KindURI
	case "string", "markdown", "HumanName", "Address", fhirpath.TypeString:
		return KindString
	}
	return KindToken
}

// primitiveString returns a primitive value as its FHIR string form.
func primitiveString(n fhirpath.Node) (string, bool) {
	switch v := n.Value.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		return string(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case fhirpath.Long:
		return strconv.FormatInt(int64(v), 10), true
	case fhirpath.Decimal:
		return v.String(), true
	case fhirpath.DateTime:
		return v.String(), true
	}
	return "", false
}

// str returns m[key] when it is a string.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// list returns m[key] as a list: an array as it is, a single value as a
// list of one.
func list(m map[string]any, key string) []any {
	switch v := m[key].(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

// obj returns m[key] when it is an object.
func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

// ---- string

func (ex *extraction) addString(param string, n fhirpath.Node) {
	m, ok := n.Value.(map[string]any)
	if !ok {
		if s, ok := primitiveString(n); ok {
			ex.putString(param, s)
		}
		return
	}
	switch n.Type {
	case "HumanName":
		ex.putString(param, str(m, "family"))
		ex.putStrings(param, m, "given")
		ex.putStrings(param, m, "prefix")
		ex.putStrings(param, m, "suffix")
		ex.putString(param, str(m, "text"))
	case "Address":
		ex.putStrings(param, m, "line")
		for _, k := range [...]string{"city", "district", "state", "postalCode", "country", "text"} {
			ex.putString(param, str(m, k))
		}
	default:
		ex.stringLeaves(param, m, 0)
	}
}

func (ex *extraction) putStrings(param string, m map[string]any, key string) {
	for _, v := range list(m, key) {
		if s, ok := v.(string); ok {
			ex.putString(param, s)
		}
	}
}

func (ex *extraction) putString(param, s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	ex.out = append(ex.out, Entry{Param: param, Kind: KindString, Text: fold(s), Exact: s})
}

// notText are the keys of a complex value whose strings are identifiers or
// machinery, not text a person would search for.
var notText = map[string]bool{"id": true, "extension": true, "modifierExtension": true, "system": true,
	"url": true, "reference": true, "version": true, "code": true, "use": true, "type": true,
	"resourceType": true, "contentType": true, "data": true, "language": true}

// stringLeaves indexes the text inside a complex value of a type the
// specification does not name for string search (Annotation, a backbone
// element): every string element except identifiers and codes.
func (ex *extraction) stringLeaves(param string, m map[string]any, depth int) {
	if depth > 4 {
		return
	}
	// In key order, so that the entries come out the same every time.
	keys := make([]string, 0, len(m))
	for k := range m {
		if !notText[k] && !strings.HasPrefix(k, "_") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, e := range list(m, k) {
			switch e := e.(type) {
			case string:
				ex.putString(param, e)
			case map[string]any:
				ex.stringLeaves(param, e, depth+1)
			}
		}
	}
}

// ---- token

func (ex *extraction) addToken(param string, n fhirpath.Node) {
	m, ok := n.Value.(map[string]any)
	if !ok {
		if s, ok := primitiveString(n); ok && s != "" {
			ex.out = append(ex.out, Entry{Param: param, Kind: KindToken, Code: s})
		}
		return
	}
	switch n.Type {
	case "Coding":
		ex.putCoding(param, m, "")
	case "CodeableConcept":
		ex.putConcept(param, m)
	case "CodeableReference":
		if c := obj(m, "concept"); c != nil {
			ex.putConcept(param, c)
		}
	case "Identifier":
		ex.putIdentifier(param, m)
	case "ContactPoint":
		// The specification indexes a ContactPoint by its value alone.
		if v := str(m, "value"); v != "" {
			ex.out = append(ex.out, Entry{Param: param, Kind: KindToken, Code: v})
		}
	}
}

func (ex *extraction) putCoding(param string, m map[string]any, text string) {
	sys, code, display := str(m, "system"), str(m, "code"), str(m, "display")
	if display == "" {
		display = text
	}
	if sys == "" && code == "" && display == "" {
		return
	}
	ex.out = append(ex.out, Entry{Param: param, Kind: KindToken, System: sys, Code: code, Display: fold(display)})
}

// putConcept indexes one entry per coding. The concept's text goes on a
// coding without a display, or on its own entry when every coding has a
// display reading otherwise (or there is no coding), so that :text finds
// it.
func (ex *extraction) putConcept(param string, m map[string]any) {
	text := str(m, "text")
	used := text == ""
	folded := fold(text)
	for _, c := range list(m, "coding") {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if !used {
			// A coding without a display carries the text; one whose
			// display reads as the text already finds it (Synthea's
			// concepts nearly all repeat their display as text: one row
			// less for each).
			switch display := str(cm, "display"); {
			case display == "":
				ex.putCoding(param, cm, text)
				used = true
				continue
			case fold(display) == folded:
				used = true
			}
		}
		ex.putCoding(param, cm, "")
	}
	if !used {
		ex.out = append(ex.out, Entry{Param: param, Kind: KindToken, Display: fold(text)})
	}
}

func (ex *extraction) putIdentifier(param string, m map[string]any) {
	e := Entry{Param: param, Kind: KindToken, System: str(m, "system"), Code: str(m, "value")}
	if e.System == "" && e.Code == "" {
		return
	}
	typ := obj(m, "type")
	e.Display = fold(str(typ, "text"))
	codings := list(typ, "coding")
	if len(codings) == 0 {
		ex.out = append(ex.out, e)
		return
	}
	for _, c := range codings {
		cm, _ := c.(map[string]any)
		e.TypeSystem, e.TypeCode = str(cm, "system"), str(cm, "code")
		ex.out = append(ex.out, e)
	}
}

// fold is Normalize without its allocation for the many values that are
// already folded: plain lower-case ASCII with single spaces between words,
// which Normalize would give back unchanged.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf, 'A' <= c && c <= 'Z', c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return Normalize(s)
		case c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' '):
			return Normalize(s)
		}
	}
	return s
}

// ---- number

func (ex *extraction) addNumber(param string, n fhirpath.Node) {
	text, ok := numberText(n)
	if !ok {
		return
	}
	_, lo, hi, err := NumberRange(text)
	if err != nil {
		return
	}
	ex.out = append(ex.out, Entry{Param: param, Kind: KindNumber, Low: lo, High: hi})
}

// numberText returns a numeric value as written: the JSON number text keeps
// the precision the range depends on. A Quantity gives its value.
func numberText(n fhirpath.Node) (string, bool) {
	switch v := n.Value.(type) {
	case map[string]any:
		num, ok := v["value"].(json.Number)
		return string(num), ok
	case fhirpath.Quantity:
		return v.Value.String(), true
	case string: // integer64 is a JSON string
		return v, v != ""
	case bool, fhirpath.DateTime:
		return "", false
	}
	return primitiveString(n)
}

// ---- quantity

const ucumSystem = "http://unitsofmeasure.org"

// Unbounded ends of a Range, finite so that every backend can store them.
const (
	minNumber = -math.MaxFloat64
	maxNumber = math.MaxFloat64
)

func (ex *extraction) addQuantity(param string, n fhirpath.Node) {
	switch v := n.Value.(type) {
	case fhirpath.Quantity:
		_, lo, hi, err := NumberRange(v.Value.String())
		if err == nil {
			ex.putQuantity(param, lo, hi, ucumSystem, v.Unit)
		}
		return
	case map[string]any:
		switch n.Type {
		case "Money":
			if lo, hi, ok := valueRange(v); ok {
				ex.putQuantity(param, lo, hi, "urn:iso:std:iso:4217", str(v, "currency"))
			}
			return
		case "Range":
			low, high := obj(v, "low"), obj(v, "high")
			lo, _, okLow := valueRange(low)
			_, hi, okHigh := valueRange(high)
			if !okLow && !okHigh {
				return
			}
			if !okLow {
				lo = minNumber
			}
			if !okHigh {
				hi = maxNumber
			}
			unit := low
			if !okLow {
				unit = high
			}
			sys, code := quantityUnit(unit)
			ex.putQuantity(param, lo, hi, sys, code)
			return
		}
		// Quantity and its profiles: Age, Duration, Distance, Count,
		// SimpleQuantity, MoneyQuantity.
		if lo, hi, ok := valueRange(v); ok {
			sys, code := quantityUnit(v)
			ex.putQuantity(param, lo, hi, sys, code)
		}
	}
}

// quantityUnit returns the unit to index: the coded unit, or the unit text
// without a system when there is no code.
func quantityUnit(q map[string]any) (system, code string) {
	if c := str(q, "code"); c != "" {
		return str(q, "system"), c
	}
	return "", str(q, "unit")
}

func valueRange(q map[string]any) (lo, hi float64, ok bool) {
	num, ok := q["value"].(json.Number)
	if !ok {
		return 0, 0, false
	}
	_, lo, hi, err := NumberRange(string(num))
	return lo, hi, err == nil
}

// putQuantity adds the entry as written and, for a UCUM unit the table
// knows, its canonical form in base units.
func (ex *extraction) putQuantity(param string, lo, hi float64, system, code string) {
	ex.out = append(ex.out, Entry{Param: param, Kind: KindQuantity, Low: lo, High: hi, System: system, Code: code})
	if system != ucumSystem {
		return
	}
	if base, factor, ok := UCUMCanonical(code); ok {
		e := Entry{Param: param, Kind: KindQuantity, Low: lo, High: hi, System: ucumSystem, Code: base, Canonical: true}
		if lo != minNumber {
			e.Low = lo * factor
		}
		if hi != maxNumber {
			e.High = hi * factor
		}
		ex.out = append(ex.out, e)
	}
}
