package fhirpath

import (
	"math/big"
)

type binaryNode struct {
	op          string
	left, right node
	pos         int
}

func newBinary(op string, l, r node, pos int) (node, error) {
	return &binaryNode{op: op, left: l, right: r, pos: pos}, nil
}

func (b *binaryNode) eval(e *env, in []Node) ([]Node, error) {
	switch b.op {
	case "and", "or", "xor", "implies":
		return b.logic(e, in)
	}
	l, err := e.evalArg(b.left, in)
	if err != nil {
		return nil, err
	}
	r, err := e.evalArg(b.right, in)
	if err != nil {
		return nil, err
	}
	if err := e.step(len(l) + len(r)); err != nil {
		return nil, err
	}
	if b.op != "|" {
		// A primitive that has only extensions has no value to operate on.
		l, r = withValues(l), withValues(r)
	}
	switch b.op {
	case "|":
		// union compares every pair; charge for it.
		if err := e.step(len(l) * len(r) / 8); err != nil {
			return nil, err
		}
		return union(l, r), nil
	case "=", "!=":
		eq, ok := equalCollections(l, r)
		if !ok {
			return nil, nil
		}
		return boolResult(eq == (b.op == "="))
	case "~", "!~":
		return boolResult(equivCollections(l, r) == (b.op == "~"))
	case "in", "contains":
		item, coll := l, r
		if b.op == "contains" {
			item, coll = r, l
		}
		if len(item) == 0 {
			return nil, nil
		}
		if len(item) > 1 {
			return nil, evalErr("%s expects a single item, got %d", b.op, len(item))
		}
		for _, c := range coll {
			if eq, _ := equalItems(item[0], c); eq {
				return boolResult(true)
			}
		}
		return boolResult(false)
	}
	if len(l) == 0 || len(r) == 0 {
		if b.op == "&" {
			return concat(l, r)
		}
		return nil, nil
	}
	if len(l) > 1 || len(r) > 1 {
		return nil, evalErr("operator %s expects single items, got %d and %d", b.op, len(l), len(r))
	}
	switch b.op {
	case "<", ">", "<=", ">=":
		c, ok, err := compareItems(l[0], r[0])
		if err != nil || !ok {
			return nil, err
		}
		switch b.op {
		case "<":
			return boolResult(c < 0)
		case ">":
			return boolResult(c > 0)
		case "<=":
			return boolResult(c <= 0)
		}
		return boolResult(c >= 0)
	case "&":
		return concat(l, r)
	}
	out, err := arithmetic(b.op, l[0], r[0])
	if err != nil {
		return nil, err
	}
	for _, n := range out {
		if !sizeOK(n.Value) {
			return nil, evalErr("%s: number too large", b.op)
		}
	}
	return out, nil
}

// sizeOK bounds decimals built by arithmetic: repeated multiplication
// doubles their digits each time, which a hostile expression could use to
// exhaust memory and time.
func sizeOK(v any) bool {
	switch v := v.(type) {
	case Decimal:
		return v.int().BitLen() < 4*maxDecimalDigits && v.scale < maxDecimalDigits && v.scale > -maxDecimalDigits
	case Quantity:
		return sizeOK(v.Value)
	}
	return true
}

// withValues drops the items that have no value (primitives with only an
// id or extensions), sharing c when there are none.
func withValues(c []Node) []Node {
	for i, n := range c {
		if n.Value == nil {
			out := append([]Node(nil), c[:i]...)
			for _, m := range c[i+1:] {
				if m.Value != nil {
					out = append(out, m)
				}
			}
			return out
		}
	}
	return c
}

func concat(l, r []Node) ([]Node, error) {
	s := ""
	for _, c := range [][]Node{l, r} {
		if len(c) > 1 {
			return nil, evalErr("& expects single strings")
		}
		if len(c) == 1 {
			v, ok := system(c[0]).(string)
			if !ok {
				return nil, evalErr("& expects strings, got %s", typeName(c[0]))
			}
			s += v
		}
	}
	return []Node{stringNode(s)}, nil
}

func (b *binaryNode) logic(e *env, in []Node) ([]Node, error) {
	l, err := e.evalArg(b.left, in)
	if err != nil {
		return nil, err
	}
	lv, lok, err := singletonBool(l)
	if err != nil {
		return nil, err
	}
	// Short cuts that do not need the right operand.
	switch {
	case b.op == "and" && lok && !lv:
		return boolResult(false)
	case b.op == "or" && lok && lv:
		return boolResult(true)
	case b.op == "implies" && lok && !lv:
		return boolResult(true)
	}
	r, err := e.evalArg(b.right, in)
	if err != nil {
		return nil, err
	}
	rv, rok, err := singletonBool(r)
	if err != nil {
		return nil, err
	}
	switch b.op {
	case "and":
		if rok && !rv {
			return boolResult(false)
		}
		if lok && rok {
			return boolResult(true)
		}
	case "or":
		if rok && rv {
			return boolResult(true)
		}
		if lok && rok {
			return boolResult(false)
		}
	case "xor":
		if lok && rok {
			return boolResult(lv != rv)
		}
	case "implies":
		if rok && rv {
			return boolResult(true)
		}
		if lok && rok {
			return boolResult(false)
		}
	}
	return nil, nil
}

// union merges two collections, dropping duplicates.
func union(l, r []Node) []Node {
	out := make([]Node, 0, len(l)+len(r))
	// Items whose value is a string (string, uri, code, id … all compare
	// by their text) are told apart by a set: the union of every
	// reference in a large resource (dom-3) would otherwise compare every
	// pair. Other items compare pairwise, as equality defines them.
	var texts map[string]bool
	if len(l)+len(r) > 16 {
		texts = make(map[string]bool, len(l)+len(r))
	}
	for _, c := range [][]Node{l, r} {
		for _, n := range c {
			if texts != nil {
				if s, ok := system(n).(string); ok {
					if !texts[s] {
						texts[s] = true
						out = append(out, n)
					}
					continue
				}
			}
			if !containsItem(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func containsItem(c []Node, n Node) bool {
	for _, m := range c {
		if eq, _ := equalItems(m, n); eq {
			return true
		}
	}
	return false
}

func equalCollections(l, r []Node) (eq, ok bool) {
	if len(l) == 0 || len(r) == 0 {
		return false, false
	}
	if len(l) != len(r) {
		return false, true
	}
	for i := range l {
		eq, ok := equalItems(l[i], r[i])
		if !ok {
			return false, false
		}
		if !eq {
			return false, true
		}
	}
	return true, true
}

func equivCollections(l, r []Node) bool {
	if len(l) != len(r) {
		return false
	}
	used := make([]bool, len(r))
	for _, a := range l {
		found := false
		for j, b := range r {
			if !used[j] && equivItems(a, b) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func arithmetic(op string, a, b Node) ([]Node, error) {
	va, vb := system(a), system(b)
	// Integer arithmetic stays integral except for /.
	if x, ok := va.(int64); ok {
		if y, ok := vb.(int64); ok && op != "/" {
			return intArith(op, x, y)
		}
	}
	if x, ok := va.(Long); ok {
		if y, ok := vb.(Long); ok && op != "/" {
			r, err := intArith(op, int64(x), int64(y))
			if len(r) == 1 {
				r[0] = Node{Value: Long(r[0].Value.(int64)), Type: TypeLong, Index: -1}
			}
			return r, err
		}
	}
	if x, ok := va.(string); ok && op == "+" {
		if y, ok := vb.(string); ok {
			return []Node{stringNode(x + y)}, nil
		}
	}
	if x, ok := va.(DateTime); ok && (op == "+" || op == "-") {
		q, ok := vb.(Quantity)
		if !ok {
			return nil, evalErr("cannot %s %s and %s", op, typeName(a), typeName(b))
		}
		return dateArith(op, x, q)
	}
	qa, aq := va.(Quantity)
	qb, bq := vb.(Quantity)
	if aq || bq {
		if !aq {
			if d, ok := numeric(va); ok {
				qa, aq = Quantity{Value: d, Unit: "1"}, true
			}
		}
		if !bq {
			if d, ok := numeric(vb); ok {
				qb, bq = Quantity{Value: d, Unit: "1"}, true
			}
		}
		if !aq || !bq {
			return nil, evalErr("cannot %s %s and %s", op, typeName(a), typeName(b))
		}
		return quantityArith(op, qa, qb)
	}
	x, ok1 := numeric(va)
	y, ok2 := numeric(vb)
	if !ok1 || !ok2 {
		return nil, evalErr("cannot %s %s and %s", op, typeName(a), typeName(b))
	}
	switch op {
	case "+":
		return []Node{decNode(x.Add(y))}, nil
	case "-":
		return []Node{decNode(x.Sub(y))}, nil
	case "*":
		return []Node{decNode(x.Mul(y))}, nil
	case "/":
		q, ok := x.Div(y)
		if !ok {
			return nil, nil
		}
		return []Node{decNode(q)}, nil
	case "div":
		q, ok := x.Div(y)
		if !ok {
			return nil, nil
		}
		return []Node{decNode(q.truncateTo(0, false))}, nil
	case "mod":
		if y.Sign() == 0 {
			return nil, nil
		}
		q, _ := x.Div(y)
		return []Node{decNode(x.Sub(q.truncateTo(0, false).Mul(y)))}, nil
	}
	return nil, evalErr("unknown operator %s", op)
}

func intArith(op string, x, y int64) ([]Node, error) {
	var r big.Int
	bx, by := big.NewInt(x), big.NewInt(y)
	switch op {
	case "+":
		r.Add(bx, by)
	case "-":
		r.Sub(bx, by)
	case "*":
		r.Mul(bx, by)
	case "div":
		if y == 0 {
			return nil, nil
		}
		r.Quo(bx, by)
	case "mod":
		if y == 0 {
			return nil, nil
		}
		r.Rem(bx, by)
	}
	if !r.IsInt64() {
		return nil, evalErr("integer overflow")
	}
	return []Node{intNode(r.Int64())}, nil
}

func quantityArith(op string, a, b Quantity) ([]Node, error) {
	switch op {
	case "+", "-":
		bc, ok := convertQuantity(b, a.Unit)
		if !ok {
			return nil, nil
		}
		v := a.Value.Add(bc.Value)
		if op == "-" {
			v = a.Value.Sub(bc.Value)
		}
		return []Node{quantityNode(Quantity{Value: v, Unit: a.Unit})}, nil
	case "*":
		return []Node{quantityNode(Quantity{Value: a.Value.Mul(b.Value), Unit: combineUnits(a.Unit, b.Unit, ".")})}, nil
	case "/":
		v, ok := a.Value.Div(b.Value)
		if !ok {
			return nil, nil
		}
		if bc, ok := convertQuantity(b, a.Unit); ok && a.Unit != "1" {
			v, _ = a.Value.Div(bc.Value)
			return []Node{quantityNode(Quantity{Value: v, Unit: "1"})}, nil
		}
		return []Node{quantityNode(Quantity{Value: v, Unit: combineUnits(a.Unit, b.Unit, "/")})}, nil
	}
	return nil, evalErr("cannot apply %s to quantities", op)
}

func combineUnits(a, b, sep string) string {
	if u, ok := calendarToUCUM[a]; ok {
		a = u
	}
	if u, ok := calendarToUCUM[b]; ok {
		b = u
	}
	switch {
	case b == "1":
		return a
	case a == "1" && sep == ".":
		return b
	case a == "1":
		return "/" + b
	}
	return "(" + a + ")" + sep + "(" + b + ")"
}

// ucumToCalendar maps the definite UCUM time units to the calendar
// keywords date arithmetic uses.
var ucumToCalendar = map[string]string{"wk": "week", "d": "day", "h": "hour", "min": "minute", "s": "second", "ms": "millisecond"}

func dateArith(op string, d DateTime, q Quantity) ([]Node, error) {
	unit := q.Unit
	if u, ok := ucumToCalendar[unit]; ok {
		unit = u
	}
	if calendarUnits[unit] == "" {
		return nil, evalErr("cannot add %s to a date/time", q.Unit)
	}
	if unit == "second" && !q.Value.IsInteger() {
		unit, q.Value = "millisecond", q.Value.Mul(DecimalFromInt(1000))
	}
	n, ok := q.Value.Int64()
	if !ok {
		return nil, evalErr("duration out of range")
	}
	if op == "-" {
		n = -n
	}
	r, err := addDuration(d, n, unit)
	if err != nil {
		return nil, evalErr("%v", err)
	}
	return []Node{dateTimeNode(r)}, nil
}
