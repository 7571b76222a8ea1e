package fhirpath

import (
	"regexp"
	"strconv"
	"strings"
)

// converters implement toX; ok is false when the item does not convert.
var converters = map[string]func(n Node) (Node, bool){
	"Boolean":  toBoolean,
	"Integer":  toInteger,
	"Long":     toLong,
	"Decimal":  toDecimal,
	"String":   toStringNode,
	"Date":     func(n Node) (Node, bool) { return toDateKind(n, KindDate) },
	"DateTime": func(n Node) (Node, bool) { return toDateKind(n, KindDateTime) },
	"Time":     func(n Node) (Node, bool) { return toDateKind(n, KindTime) },
	"Quantity": func(n Node) (Node, bool) { return toQuantity(n, "") },
}

func addConversionFunctions(m fnMap) {
	for name, conv := range converters {
		maxArgs := 0
		if name == "Quantity" {
			maxArgs = 1
		}
		conv := conv
		m.add("to"+name, 0, maxArgs, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
			n, ok, err := single(focus, c.name)
			if !ok || err != nil {
				return nil, err
			}
			r, ok, err := convertWithUnit(e, c, n, in, conv)
			if err != nil || !ok {
				return nil, err
			}
			return []Node{r}, nil
		})
		m.add("convertsTo"+name, 0, maxArgs, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
			n, ok, err := single(focus, c.name)
			if !ok || err != nil {
				return nil, err
			}
			_, ok, err = convertWithUnit(e, c, n, in, conv)
			if err != nil {
				return nil, err
			}
			return boolResult(ok)
		})
	}
}

func convertWithUnit(e *env, c *callNode, n Node, in []Node, conv func(Node) (Node, bool)) (Node, bool, error) {
	if len(c.args) == 0 {
		r, ok := conv(n)
		return r, ok, nil
	}
	unit, ok, err := c.stringArg(e, 0, in)
	if err != nil || !ok {
		return Node{}, false, err
	}
	r, ok := toQuantity(n, unit)
	return r, ok, nil
}

func toBoolean(n Node) (Node, bool) {
	switch v := system(n).(type) {
	case bool:
		return boolNode(v), true
	case int64:
		if v == 0 || v == 1 {
			return boolNode(v == 1), true
		}
	case Long:
		if v == 0 || v == 1 {
			return boolNode(v == 1), true
		}
	case Decimal:
		switch {
		case v.Cmp(DecimalFromInt(1)) == 0:
			return boolNode(true), true
		case v.Sign() == 0:
			return boolNode(false), true
		}
	case string:
		switch strings.ToLower(v) {
		case "true", "t", "yes", "y", "1", "1.0":
			return boolNode(true), true
		case "false", "f", "no", "n", "0", "0.0":
			return boolNode(false), true
		}
	}
	return Node{}, false
}

func toInteger(n Node) (Node, bool) {
	switch v := system(n).(type) {
	case int64:
		return intNode(v), true
	case Long:
		if int64(v) == int64(int32(v)) {
			return intNode(int64(v)), true
		}
	case bool:
		if v {
			return intNode(1), true
		}
		return intNode(0), true
	case string:
		if i, ok := parseInteger(v); ok && allDigits(strings.TrimLeft(v, "+-")) {
			return intNode(i), true
		}
	}
	return Node{}, false
}

func toLong(n Node) (Node, bool) {
	switch v := system(n).(type) {
	case int64:
		return Node{Value: Long(v), Type: TypeLong, Index: -1}, true
	case Long:
		return Node{Value: v, Type: TypeLong, Index: -1}, true
	case bool:
		if v {
			return Node{Value: Long(1), Type: TypeLong, Index: -1}, true
		}
		return Node{Value: Long(0), Type: TypeLong, Index: -1}, true
	case string:
		if i, ok := parseInteger(v); ok {
			return Node{Value: Long(i), Type: TypeLong, Index: -1}, true
		}
	}
	return Node{}, false
}

func toDecimal(n Node) (Node, bool) {
	switch v := system(n).(type) {
	case int64, Long, Decimal:
		d, _ := numeric(v)
		return decNode(d), true
	case bool:
		if v {
			return decNode(Decimal{unscaled: DecimalFromInt(10).unscaled, scale: 1}), true
		}
		return decNode(Decimal{unscaled: DecimalFromInt(0).unscaled, scale: 1}), true
	case string:
		if strings.ContainsAny(v, "eE") {
			return Node{}, false
		}
		if d, err := ParseDecimal(v); err == nil {
			return decNode(d), true
		}
	}
	return Node{}, false
}

// formatValue is toString() of a System value.
func formatValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case Long:
		return strconv.FormatInt(int64(v), 10), true
	case Decimal:
		return v.String(), true
	case DateTime:
		return v.String(), true
	case Quantity:
		return v.String(), true
	}
	return "", false
}

func toStringNode(n Node) (Node, bool) {
	s, ok := formatValue(system(n))
	if !ok {
		return Node{}, false
	}
	return stringNode(s), true
}

func toDateKind(n Node, kind int) (Node, bool) {
	switch v := system(n).(type) {
	case DateTime:
		switch {
		case kind == KindTime && v.Kind == KindTime:
			return dateTimeNode(v), true
		case kind == KindTime || v.Kind == KindTime:
			return Node{}, false
		case kind == KindDate:
			v.Kind = KindDate
			if v.Prec > precDay {
				v = v.truncate(precDay)
				v.HasTZ, v.TZOffset = false, 0
			}
			return dateTimeNode(v), true
		}
		v.Kind = KindDateTime
		return dateTimeNode(v), true
	case string:
		src := v
		if kind == KindTime {
			src = strings.TrimPrefix(v, "T")
		}
		d, err := parseDateTime(src, kind)
		if err != nil && kind == KindDate {
			// a dateTime string converts to its date
			if dt, err2 := parseDateTime(v, KindDateTime); err2 == nil {
				dt.Kind = KindDateTime
				return toDateKind(dateTimeNode(dt), KindDate)
			}
			return Node{}, false
		}
		if err != nil {
			return Node{}, false
		}
		return dateTimeNode(d), true
	}
	return Node{}, false
}

var quantityText = regexp.MustCompile(`^([+-]?\d+(?:\.\d+)?)\s*(?:'([^']+)'|([a-zA-Z]+))?$`)

func toQuantity(n Node, unit string) (Node, bool) {
	var q Quantity
	switch v := system(n).(type) {
	case Quantity:
		q = v
	case int64, Long, Decimal:
		d, _ := numeric(v)
		q = Quantity{Value: d, Unit: "1"}
	case bool:
		q = Quantity{Value: DecimalFromInt(0), Unit: "1"}
		if v {
			q.Value = DecimalFromInt(1)
		}
		q.Value = q.Value.rescale(1)
	case string:
		m := quantityText.FindStringSubmatch(strings.TrimSpace(v))
		if m == nil {
			return Node{}, false
		}
		d, err := ParseDecimal(m[1])
		if err != nil {
			return Node{}, false
		}
		q = Quantity{Value: d, Unit: "1"}
		switch {
		case m[2] != "":
			q.Unit = m[2]
		case m[3] != "":
			cu := calendarUnits[m[3]]
			if cu == "" {
				return Node{}, false
			}
			q.Unit = cu
		}
	default:
		return Node{}, false
	}
	if unit != "" && unit != q.Unit {
		c, ok := convertQuantity(q, unit)
		if !ok {
			return Node{}, false
		}
		q = c
	}
	return quantityNode(q), true
}
