package fhirpath

import (
	"fmt"
	"strings"
)

// callNode is a function invocation: target.name(args) or name(args) on
// the focus.
type callNode struct {
	name    string
	target  node
	args    []node
	typeArg string // the type argument of is, as and ofType
	fn      *funcDef
	pos     int
}

// funcDef describes a function: its argument count and implementation,
// which receives the focus (the collection it is invoked on) and the input
// that non-iterative arguments are evaluated on.
type funcDef struct {
	min, max int
	impl     func(e *env, c *callNode, focus, in []Node) ([]Node, error)
}

var functions map[string]*funcDef

func init() { functions = builtinFunctions() }

func newCall(name string, target node, args []node, pos int) (node, error) {
	fn, ok := functions[name]
	if !ok {
		return nil, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("unknown function %s", name)}
	}
	if len(args) < fn.min || len(args) > fn.max {
		return nil, &SyntaxError{Pos: pos, Msg: fmt.Sprintf("%s takes %s, got %d", name, arity(fn), len(args))}
	}
	c := &callNode{name: name, target: target, args: args, fn: fn, pos: pos}
	switch name {
	case "is", "as", "ofType":
		t, ok := typeName2(args[0])
		if !ok {
			return nil, &SyntaxError{Pos: pos, Msg: name + " expects a type name"}
		}
		c.typeArg = t
	}
	return c, nil
}

func arity(f *funcDef) string {
	if f.min == f.max {
		return fmt.Sprintf("%d arguments", f.min)
	}
	return fmt.Sprintf("%d to %d arguments", f.min, f.max)
}

// typeName2 reads an expression written as a type name (Quantity,
// System.String, FHIR.Patient).
func typeName2(n node) (string, bool) {
	m, ok := n.(*memberNode)
	if !ok {
		return "", false
	}
	if m.target == nil {
		return m.name, true
	}
	prefix, ok := typeName2(m.target)
	return prefix + "." + m.name, ok
}

func (c *callNode) eval(e *env, in []Node) ([]Node, error) {
	focus := in
	if c.target != nil {
		var err error
		if focus, err = c.target.eval(e, in); err != nil {
			return nil, err
		}
	}
	if err := e.step(len(focus)); err != nil {
		return nil, err
	}
	out, err := c.fn.impl(e, c, focus, in)
	if err != nil {
		if ee, ok := err.(*EvalError); ok && ee.Pos == 0 {
			ee.Pos = c.pos
			if !strings.Contains(ee.Msg, c.name+"()") {
				ee.Msg = c.name + "(): " + ee.Msg
			}
		}
		return nil, err
	}
	return out, nil
}

// arg evaluates argument i on the function's input.
func (c *callNode) arg(e *env, i int, in []Node) ([]Node, error) {
	if i >= len(c.args) {
		return nil, nil
	}
	return e.evalArg(c.args[i], in)
}

// argFor evaluates argument i with $this bound to one item of the focus.
func (c *callNode) argFor(e *env, i int, item Node, index int, total []Node) ([]Node, error) {
	sub := *e
	sub.this = []Node{item}
	sub.index = index
	sub.total = total
	return c.args[i].eval(&sub, sub.this)
}

// iterating returns the environment an argument evaluated once per item
// of focus runs in. FHIRPath's static checking gives a collection of
// several types (descendants(), children()) their union as its type, in
// which a name is valid when any of them declares it; the check of each
// item on its own, which sees one type at a time, would refuse dom-3's
// descendants().where(reference = '#'). It is left out for such a
// collection.
func iterating(e *env, focus []Node) *env {
	if !e.strict || len(focus) < 2 {
		return e
	}
	for _, n := range focus[1:] {
		if n.Type != focus[0].Type {
			lenient := *e
			lenient.strict = false
			return &lenient
		}
	}
	return e
}

// single returns the only item of focus; ok is false when it is empty.
func single(focus []Node, fn string) (Node, bool, error) {
	focus = withValues(focus)
	switch len(focus) {
	case 0:
		return Node{}, false, nil
	case 1:
		return focus[0], true, nil
	}
	return Node{}, false, evalErr("%s() expects a single item, got %d", fn, len(focus))
}

// singleString returns the string value of the only item of focus.
func singleString(focus []Node, fn string) (string, bool, error) {
	n, ok, err := single(focus, fn)
	if !ok || err != nil {
		return "", ok, err
	}
	s, isStr := system(n).(string)
	if !isStr {
		return "", false, evalErr("%s() expects a string, got %s", fn, typeName(n))
	}
	return s, true, nil
}

// stringArg evaluates argument i as a single string; ok is false when empty.
func (c *callNode) stringArg(e *env, i int, in []Node) (string, bool, error) {
	v, err := c.arg(e, i, in)
	if err != nil {
		return "", false, err
	}
	return singletonString(v)
}

func (c *callNode) intArg(e *env, i int, in []Node) (int64, bool, error) {
	v, err := c.arg(e, i, in)
	if err != nil {
		return 0, false, err
	}
	return singletonInt(v)
}
