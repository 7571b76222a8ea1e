package fhirpath

import (
	"fmt"
	"strings"
)

// maxNesting bounds the nesting of parenthesised and nested expressions so
// that hostile input cannot exhaust the stack.
const maxNesting = 200

type parser struct {
	toks  []token
	pos   int
	depth int
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == s
}

func (p *parser) isWord(s string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == s
}

func (p *parser) fail(format string, args ...any) error {
	return &SyntaxError{Pos: p.peek().pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expect(op string) error {
	if !p.isOp(op) {
		t := p.peek()
		if t.kind == tEOF {
			return p.fail("expected %q, found end of expression", op)
		}
		return p.fail("expected %q, found %q", op, t.text)
	}
	p.next()
	return nil
}

// binary operator precedence, lowest first; each level is left-associative.
var precedence = [][]string{
	{"implies"},
	{"or", "xor"},
	{"and"},
	{"in", "contains"},
	{"=", "~", "!=", "!~"},
	{"<", ">", "<=", ">="},
	{"|"},
	{"is", "as"},
	{"+", "-", "&"},
	{"*", "/", "div", "mod"},
}

func (p *parser) matchBinary(level int) (string, bool) {
	t := p.peek()
	if t.kind != tOp && t.kind != tIdent {
		return "", false
	}
	for _, op := range precedence[level] {
		if t.text == op {
			return op, true
		}
	}
	return "", false
}

func (p *parser) expr(level int) (node, error) {
	if level == len(precedence) {
		return p.unary()
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, p.fail("expression nested too deeply")
	}
	left, err := p.expr(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		op, ok := p.matchBinary(level)
		if !ok {
			return left, nil
		}
		pos := p.next().pos
		if op == "is" || op == "as" {
			typ, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &typeOpNode{op: op, left: left, typ: typ, pos: pos}
			continue
		}
		right, err := p.expr(level + 1)
		if err != nil {
			return nil, err
		}
		left, err = newBinary(op, left, right, pos)
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) typeSpecifier() (string, error) {
	var parts []string
	for {
		t := p.next()
		if t.kind != tIdent && t.kind != tDelimIdent {
			return "", &SyntaxError{t.pos, "expected a type name"}
		}
		parts = append(parts, t.text)
		if !p.isOp(".") {
			return strings.Join(parts, "."), nil
		}
		p.next()
	}
}

func (p *parser) unary() (node, error) {
	if p.isOp("+") || p.isOp("-") {
		t := p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxNesting {
			return nil, p.fail("expression nested too deeply")
		}
		operand, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return operand, nil
		}
		return &negateNode{operand: operand, pos: t.pos}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (node, error) {
	n, err := p.term()
	if err != nil {
		return nil, err
	}
	for steps := 0; ; steps++ {
		// Evaluation recurses once per step of a path; bound it.
		if steps > 10*maxNesting {
			return nil, p.fail("path too long")
		}
		switch {
		case p.isOp("."):
			p.next()
			t := p.next()
			if t.kind != tIdent && t.kind != tDelimIdent {
				return nil, &SyntaxError{t.pos, "expected a name after '.'"}
			}
			if t.kind == tIdent && p.isOp("(") {
				fn, err := p.call(t, n)
				if err != nil {
					return nil, err
				}
				n = fn
				continue
			}
			n = &memberNode{target: n, name: t.text}
		case p.isOp("["):
			pos := p.next().pos
			idx, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			n = &indexNode{target: n, index: idx, pos: pos}
		default:
			return n, nil
		}
	}
}

func (p *parser) call(name token, target node) (node, error) {
	p.next() // (
	var args []node
	if !p.isOp(")") {
		for {
			a, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.isOp(",") {
				p.next()
				continue
			}
			break
		}
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	return newCall(name.text, target, args, name.pos)
}

var calendarUnits = map[string]string{
	"year": "year", "years": "year", "month": "month", "months": "month",
	"week": "week", "weeks": "week", "day": "day", "days": "day",
	"hour": "hour", "hours": "hour", "minute": "minute", "minutes": "minute",
	"second": "second", "seconds": "second", "millisecond": "millisecond", "milliseconds": "millisecond",
}

func (p *parser) term() (node, error) {
	t := p.next()
	switch t.kind {
	case tEOF:
		return nil, &SyntaxError{t.pos, "unexpected end of expression"}
	case tString:
		return literal(Node{Value: t.text, Type: TypeString, Index: -1}), nil
	case tLong:
		v, ok := parseInteger(t.text)
		if !ok {
			return nil, &SyntaxError{t.pos, "long literal out of range"}
		}
		return literal(Node{Value: Long(v), Type: TypeLong, Index: -1}), nil
	case tNumber:
		if n := p.peek(); n.kind == tString || (n.kind == tIdent && calendarUnits[n.text] != "") {
			p.next()
			d, _ := ParseDecimal(t.text)
			unit := n.text
			if n.kind == tIdent {
				unit = calendarUnits[n.text]
			}
			return literal(Node{Value: Quantity{Value: d, Unit: unit}, Type: TypeQuantity, Index: -1}), nil
		}
		if !strings.Contains(t.text, ".") {
			if v, ok := parseInteger(t.text); ok {
				return literal(Node{Value: v, Type: TypeInteger, Index: -1}), nil
			}
		}
		d, err := ParseDecimal(t.text)
		if err != nil {
			return nil, &SyntaxError{t.pos, err.Error()}
		}
		return literal(Node{Value: d, Type: TypeDecimal, Index: -1}), nil
	case tDate:
		v, err := parseDateLiteral(t.text)
		if err != nil {
			return nil, &SyntaxError{t.pos, err.Error()}
		}
		return literal(v), nil
	case tVar:
		return &varNode{name: t.text, pos: t.pos}, nil
	case tSpecial:
		switch t.text {
		case "$this":
			return thisNode{}, nil
		case "$index":
			return indexVarNode{}, nil
		case "$total":
			return totalNode{}, nil
		}
		return nil, &SyntaxError{t.pos, fmt.Sprintf("unknown special variable %s", t.text)}
	case tDelimIdent:
		return &memberNode{name: t.text}, nil
	case tIdent:
		switch t.text {
		case "true", "false":
			return literal(Node{Value: t.text == "true", Type: TypeBoolean, Index: -1}), nil
		}
		if p.isOp("(") {
			return p.call(t, nil)
		}
		return &memberNode{name: t.text}, nil
	case tOp:
		switch t.text {
		case "(":
			p.depth++
			defer func() { p.depth-- }()
			if p.depth > maxNesting {
				return nil, p.fail("expression nested too deeply")
			}
			n, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return n, nil
		case "{":
			if err := p.expect("}"); err != nil {
				return nil, err
			}
			return literal(), nil
		}
	}
	return nil, &SyntaxError{t.pos, fmt.Sprintf("unexpected %q", t.text)}
}
