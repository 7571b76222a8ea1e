package fhirpath

import (
	"maps"
	"math"
	"strconv"
)

// mathFn adapts a function of the single numeric input.
func mathFn(f func(e *env, c *callNode, v any, in []Node) ([]Node, error)) func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
	return func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		n, ok, err := single(focus, c.name)
		if !ok || err != nil {
			return nil, err
		}
		v := system(n)
		switch v.(type) {
		case int64, Long, Decimal, Quantity:
		default:
			return nil, evalErr("expects a number, got %s", typeName(n))
		}
		return f(e, c, v, in)
	}
}

func floatNode(f float64) ([]Node, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, nil
	}
	d, err := ParseDecimal(strconv.FormatFloat(f, 'f', -1, 64))
	if err != nil {
		return nil, nil
	}
	return []Node{decNode(d)}, nil
}

func floatOf(v any) float64 {
	if q, ok := v.(Quantity); ok {
		return q.Value.Float64()
	}
	d, _ := numeric(v)
	return d.Float64()
}

func addMathFunctions(m fnMap) {
	m.add("abs", 0, 0, mathFn(func(e *env, c *callNode, v any, in []Node) ([]Node, error) {
		switch v := v.(type) {
		case int64:
			if v < 0 {
				v = -v
			}
			return []Node{intNode(v)}, nil
		case Long:
			if v < 0 {
				v = -v
			}
			return []Node{{Value: v, Type: TypeLong, Index: -1}}, nil
		case Decimal:
			return []Node{decNode(v.Abs())}, nil
		case Quantity:
			return []Node{quantityNode(Quantity{Value: v.Value.Abs(), Unit: v.Unit})}, nil
		}
		return nil, nil
	}))
	rounding := func(floor, ceil bool) func(e *env, c *callNode, v any, in []Node) ([]Node, error) {
		return func(e *env, c *callNode, v any, in []Node) ([]Node, error) {
			d, ok := numeric(v)
			if !ok {
				return nil, evalErr("expects a number")
			}
			var r Decimal
			switch {
			case floor:
				r = d.truncateTo(0, true)
			case ceil:
				r = d.Neg().truncateTo(0, true).Neg()
			default:
				r = d.truncateTo(0, false)
			}
			i, ok := r.Int64()
			if !ok {
				return nil, evalErr("result out of range")
			}
			return []Node{intNode(i)}, nil
		}
	}
	m.add("floor", 0, 0, mathFn(rounding(true, false)))
	m.add("ceiling", 0, 0, mathFn(rounding(false, true)))
	m.add("truncate", 0, 0, mathFn(rounding(false, false)))
	m.add("round", 0, 1, mathFn(func(e *env, c *callNode, v any, in []Node) ([]Node, error) {
		d, ok := numeric(v)
		if !ok {
			return nil, evalErr("expects a number")
		}
		p := int64(0)
		if len(c.args) == 1 {
			var err error
			if p, ok, err = c.intArg(e, 0, in); err != nil || !ok {
				return nil, err
			}
			if p < 0 || p > 100 {
				return nil, evalErr("precision out of range")
			}
		}
		return []Node{decNode(d.rescale(int(p)))}, nil
	}))
	m.add("sqrt", 0, 0, mathFn(func(e *env, c *callNode, v any, in []Node) ([]Node, error) { return floatNode(math.Sqrt(floatOf(v))) }))
	m.add("exp", 0, 0, mathFn(func(e *env, c *callNode, v any, in []Node) ([]Node, error) { return floatNode(math.Exp(floatOf(v))) }))
	m.add("ln", 0, 0, mathFn(func(e *env, c *callNode, v any, in []Node) ([]Node, error) { return floatNode(math.Log(floatOf(v))) }))
	m.add("log", 1, 1, mathFn(func(e *env, c *callNode, v any, in []Node) ([]Node, error) {
		b, err := c.arg(e, 0, in)
		if err != nil || len(b) != 1 {
			return nil, err
		}
		return floatNode(math.Log(floatOf(v)) / math.Log(floatOf(system(b[0]))))
	}))
	m.add("power", 1, 1, mathFn(func(e *env, c *callNode, v any, in []Node) ([]Node, error) {
		b, err := c.arg(e, 0, in)
		if err != nil || len(b) != 1 {
			return nil, err
		}
		exp := system(b[0])
		if x, ok := v.(int64); ok {
			if y, ok := exp.(int64); ok && y >= 0 {
				f := math.Pow(float64(x), float64(y))
				if math.Abs(f) < 1<<62 {
					return []Node{intNode(int64(f))}, nil
				}
			}
		}
		if _, ok := numeric(exp); !ok {
			return nil, evalErr("power() expects a number")
		}
		return floatNode(math.Pow(floatOf(v), floatOf(exp)))
	}))
	m.add("precision", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		n, ok, err := single(focus, "precision")
		if !ok || err != nil {
			return nil, err
		}
		switch v := system(n).(type) {
		case Decimal:
			return []Node{intNode(int64(v.scale))}, nil
		case int64:
			return []Node{intNode(0)}, nil
		case DateTime:
			digits := []int{0, 4, 6, 8, 10, 12, 14, 17}
			p := digits[v.Prec]
			if v.Kind == KindTime {
				p -= 8
			}
			return []Node{intNode(int64(p))}, nil
		}
		return nil, nil
	})
	m.add("comparable", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		n, ok, err := single(focus, "comparable")
		if !ok || err != nil {
			return nil, err
		}
		o, err := c.arg(e, 0, in)
		if err != nil || len(o) != 1 {
			return nil, err
		}
		a, ok1 := system(n).(Quantity)
		b, ok2 := system(o[0]).(Quantity)
		if !ok1 || !ok2 {
			return nil, evalErr("comparable() expects quantities")
		}
		ca, ok1 := canonical(a.Unit)
		cb, ok2 := canonical(b.Unit)
		return boolResult(ok1 && ok2 && maps.Equal(ca.dims, cb.dims))
	})
	m.add("lowBoundary", 0, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) { return boundary(e, c, focus, in, false) })
	m.add("highBoundary", 0, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) { return boundary(e, c, focus, in, true) })
}

func boundary(e *env, c *callNode, focus, in []Node, high bool) ([]Node, error) {
	n, ok, err := single(focus, c.name)
	if !ok || err != nil {
		return nil, err
	}
	p, hasP := int64(-1), false
	if len(c.args) == 1 {
		if p, hasP, err = c.intArg(e, 0, in); err != nil || !hasP {
			return nil, err
		}
	}
	switch v := system(n).(type) {
	case int64, Long, Decimal:
		d, _ := numeric(v)
		if !hasP {
			p = 8
		}
		if p < 0 || p > 28 {
			return nil, nil
		}
		r, ok := decimalBoundary(d, int(p), high)
		if !ok {
			return nil, nil
		}
		return []Node{decNode(r)}, nil
	case Quantity:
		if !hasP {
			p = 8
		}
		if p < 0 || p > 28 {
			return nil, nil
		}
		r, ok := decimalBoundary(v.Value, int(p), high)
		if !ok {
			return nil, nil
		}
		return []Node{quantityNode(Quantity{Value: r, Unit: v.Unit})}, nil
	case DateTime:
		return dateBoundary(v, p, hasP, high)
	}
	return nil, nil
}

func decimalBoundary(d Decimal, p int, high bool) (Decimal, bool) {
	// The value stands for the interval of half a unit in its last digit.
	half := Decimal{unscaled: DecimalFromInt(5).unscaled, scale: d.scale + 1}
	var b Decimal
	if high {
		b = d.Add(half)
	} else {
		b = d.Sub(half)
	}
	if p >= b.scale {
		return b.rescale(p), true
	}
	if high {
		return b.Neg().truncateTo(p, true).Neg(), true
	}
	return b.truncateTo(p, true), true
}

func dateBoundary(d DateTime, p int64, hasP, high bool) ([]Node, error) {
	target := precMilli
	if hasP {
		byDigits := map[int64]int{4: precYear, 6: precMonth, 8: precDay, 10: precHour, 12: precMinute, 14: precSecond, 17: precMilli}
		if d.Kind == KindTime {
			byDigits = map[int64]int{2: precHour, 4: precMinute, 6: precSecond, 9: precMilli}
		}
		t, ok := byDigits[p]
		if !ok {
			return nil, nil
		}
		target = t
	} else if d.Kind == KindDate {
		target = precDay
	}
	r := d
	if d.Prec >= target {
		return []Node{dateTimeNode(d.truncate(target))}, nil
	}
	for q := d.Prec + 1; q <= target; q++ {
		switch q {
		case precMonth:
			r.Month = map[bool]int{false: 1, true: 12}[high]
		case precDay:
			r.Day = 1
			if high {
				r.Day = daysIn(r.Year, r.Month)
			}
		case precHour:
			r.Hour = map[bool]int{false: 0, true: 23}[high]
		case precMinute:
			r.Minute = map[bool]int{false: 0, true: 59}[high]
		case precSecond:
			r.Second = map[bool]int{false: 0, true: 59}[high]
		case precMilli:
			r.Millis = map[bool]int{false: 0, true: 999}[high]
		}
	}
	r.Prec = target
	if d.Kind == KindDateTime && target >= precHour && !d.HasTZ {
		// Unknown offset: the earliest instant is at +14:00, the latest at -12:00.
		r.HasTZ = true
		r.TZOffset = 14 * 60
		if high {
			r.TZOffset = -12 * 60
		}
	}
	return []Node{dateTimeNode(r)}, nil
}
