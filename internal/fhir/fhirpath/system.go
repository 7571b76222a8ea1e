package fhirpath

import (
	"encoding/json"
	"strings"
)

// Quantity is a FHIRPath Quantity: a decimal value and a unit, either a
// UCUM code or one of the calendar duration keywords (year, month, week,
// day, hour, minute, second, millisecond).
type Quantity struct {
	Value Decimal
	Unit  string
}

func (q Quantity) String() string {
	if calendarUnits[q.Unit] != "" {
		return q.Value.String() + " " + q.Unit
	}
	return q.Value.String() + " '" + q.Unit + "'"
}

// quantityTypes are the FHIR types that are Quantities for comparison and
// arithmetic.
var quantityTypes = map[string]bool{
	"Quantity": true, "Age": true, "Duration": true, "Distance": true, "Count": true,
	"SimpleQuantity": true, "MoneyQuantity": true,
}

// system returns n's value as a System value (string, bool, int64, Long,
// Decimal, DateTime or Quantity), converting FHIR primitives by their
// type; other values (complex elements) are returned unchanged, and a
// primitive without a value gives nil.
func system(n Node) any {
	switch v := n.Value.(type) {
	case string:
		switch n.Type {
		case "date":
			if d, err := parseDateTime(v, KindDate); err == nil {
				return d
			}
		case "dateTime", "instant":
			if d, err := parseDateTime(v, KindDateTime); err == nil {
				return d
			}
		case "time":
			if d, err := parseDateTime(v, KindTime); err == nil {
				return d
			}
		}
		return v
	case json.Number:
		s := string(v)
		if n.Type == "decimal" || strings.ContainsAny(s, ".eE") {
			if d, err := ParseDecimal(s); err == nil {
				return d
			}
			return nil
		}
		if i, ok := parseInteger(s); ok {
			if n.Type == "integer64" {
				return Long(i)
			}
			return i
		}
		return nil
	case map[string]any:
		if quantityTypes[n.Type] || (n.Type == "" && v["value"] != nil && (v["code"] != nil || v["unit"] != nil)) {
			if q, ok := fhirQuantity(v); ok {
				return q
			}
		}
		return v
	}
	return n.Value
}

// fhirQuantity reads a FHIR Quantity element: the UCUM code when the
// system is UCUM (or absent), else the unit text.
func fhirQuantity(v map[string]any) (Quantity, bool) {
	num, ok := v["value"].(json.Number)
	if !ok {
		return Quantity{}, false
	}
	d, err := ParseDecimal(string(num))
	if err != nil {
		return Quantity{}, false
	}
	unit, _ := v["code"].(string)
	if unit == "" {
		unit, _ = v["unit"].(string)
	}
	if unit == "" {
		unit = "1"
	}
	return Quantity{Value: d, Unit: unit}, true
}
