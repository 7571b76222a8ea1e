package fhirpath

import (
	"encoding/json"
	"strings"
	"unicode"
)

// dateOperands reads a string compared with a date as a date: without a
// Model, a FHIR date element is only known as a JSON string.
func dateOperands(a, b any) (any, any) {
	if s, ok := a.(string); ok {
		if d, isDT := b.(DateTime); isDT {
			if p, err := parseDateTime(s, d.Kind); err == nil {
				return p, b
			}
			if p, err := parseDateTime(s, KindDateTime); err == nil && d.Kind != KindTime {
				return p, b
			}
		}
	}
	if s, ok := b.(string); ok {
		if _, isDT := a.(DateTime); isDT {
			y, x := dateOperands(s, a)
			return x, y
		}
	}
	return a, b
}

// numeric returns v as a Decimal when it is a number.
func numeric(v any) (Decimal, bool) {
	switch v := v.(type) {
	case int64:
		return DecimalFromInt(v), true
	case Long:
		return DecimalFromInt(int64(v)), true
	case Decimal:
		return v, true
	}
	return Decimal{}, false
}

// equalItems is = on two items; ok is false when the result is empty
// (dates of different precision, quantities of incomparable units).
func equalItems(a, b Node) (eq, ok bool) {
	va, vb := dateOperands(system(a), system(b))
	switch x := va.(type) {
	case string:
		y, isStr := vb.(string)
		return isStr && x == y, true
	case bool:
		y, isBool := vb.(bool)
		return isBool && x == y, true
	case int64, Long, Decimal:
		if _, isQ := vb.(Quantity); isQ {
			return false, true
		}
		dx, _ := numeric(x)
		dy, isNum := numeric(vb)
		return isNum && dx.Cmp(dy) == 0, true
	case DateTime:
		y, isDT := vb.(DateTime)
		if !isDT || (x.Kind == KindTime) != (y.Kind == KindTime) {
			return false, true
		}
		c, known := compareDateTime(x, y)
		return c == 0, known
	case Quantity:
		y, isQ := vb.(Quantity)
		if !isQ {
			return false, true
		}
		if (x.Unit == "year" || x.Unit == "month") != (y.Unit == "year" || y.Unit == "month") {
			return false, false
		}
		yc, conv := convertQuantity(y, x.Unit)
		if !conv {
			return false, false
		}
		return x.Value.Cmp(yc.Value) == 0, true
	case map[string]any:
		y, isMap := vb.(map[string]any)
		return isMap && jsonEqual(x, y), true
	case nil:
		return false, vb != nil
	}
	return false, true
}

// jsonEqual compares two JSON trees; numbers compare by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, has := y[k]
			if !has || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		dx, e1 := ParseDecimal(string(x))
		dy, e2 := ParseDecimal(string(y))
		return e1 == nil && e2 == nil && dx.Cmp(dy) == 0
	}
	return a == b
}

// equivItems is ~ on two items.
func equivItems(a, b Node) bool {
	va, vb := system(a), system(b)
	switch x := va.(type) {
	case string:
		y, isStr := vb.(string)
		return isStr && normalizeSpace(x) == normalizeSpace(y)
	case int64, Long, Decimal:
		dx, _ := numeric(x)
		dy, isNum := numeric(vb)
		if !isNum {
			return false
		}
		s := min(dx.scale, dy.scale)
		return dx.rescale(s).Cmp(dy.rescale(s)) == 0
	case DateTime:
		y, isDT := vb.(DateTime)
		if !isDT {
			return false
		}
		c, known := compareDateTime(x, y)
		return known && c == 0
	case Quantity:
		y, isQ := vb.(Quantity)
		if !isQ {
			return false
		}
		if x.Unit == "year" || x.Unit == "month" {
			if u := map[string]string{"year": "a", "month": "mo"}[x.Unit]; u != "" {
				x.Unit = u
			}
		}
		if y.Unit == "year" || y.Unit == "month" {
			y.Unit = map[string]string{"year": "a", "month": "mo"}[y.Unit]
		}
		yc, conv := convertQuantity(y, x.Unit)
		if !conv {
			return false
		}
		s := min(x.Value.scale, y.Value.scale)
		return x.Value.rescale(s).Cmp(yc.Value.rescale(s)) == 0
	case map[string]any:
		y, isMap := vb.(map[string]any)
		return isMap && jsonEquiv(x, y)
	}
	eq, _ := equalItems(a, b)
	return eq
}

func jsonEquiv(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range x {
			if k == "id" || k == "extension" {
				continue
			}
			if !jsonEquiv(v, y[k]) {
				return false
			}
		}
		for k := range y {
			if _, has := x[k]; !has && k != "id" && k != "extension" {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && normalizeSpace(x) == normalizeSpace(y)
	}
	return jsonEqual(a, b)
}

func normalizeSpace(s string) string {
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " "))
}

// compareItems orders two items for < > <= >=. ok is false when the
// result is empty; err reports operands that cannot be compared.
func compareItems(a, b Node) (c int, ok bool, err error) {
	va, vb := dateOperands(system(a), system(b))
	switch x := va.(type) {
	case string:
		if y, isStr := vb.(string); isStr {
			return strings.Compare(x, y), true, nil
		}
	case int64, Long, Decimal:
		dx, _ := numeric(x)
		if dy, isNum := numeric(vb); isNum {
			return dx.Cmp(dy), true, nil
		}
	case DateTime:
		if y, isDT := vb.(DateTime); isDT {
			c, known := compareDateTime(x, y)
			return c, known, nil
		}
	case Quantity:
		if y, isQ := vb.(Quantity); isQ {
			yc, conv := convertQuantity(y, x.Unit)
			if !conv {
				return 0, false, nil
			}
			return x.Value.Cmp(yc.Value), true, nil
		}
	}
	return 0, false, evalErr("cannot compare %s with %s", typeName(a), typeName(b))
}
