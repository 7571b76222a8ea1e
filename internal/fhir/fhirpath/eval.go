package fhirpath

import (
	"fmt"
	"strings"
)

// EvalError is a failure while evaluating an expression: a singleton was
// expected, an operand had the wrong type, a variable is undefined.
type EvalError struct {
	Pos int
	Msg string
}

func (e *EvalError) Error() string { return "fhirpath: " + e.Msg }

func evalErr(format string, args ...any) error { return &EvalError{Msg: fmt.Sprintf(format, args...)} }

// node is a compiled expression element. eval receives the focus
// collection and returns the result.
type node interface {
	eval(e *env, in []Node) ([]Node, error)
}

// env is the evaluation state: the caller's context plus the iteration
// variables and the variables defined so far on the current chain.
type env struct {
	ctx    *Context
	model  Model
	strict bool
	this   []Node
	index  int
	total  []Node
	vars   *binding
	steps  *int        // evaluation steps, bounded by Context.MaxSteps
	cache  []cacheSlot // hoisted subexpressions' values, shared by the whole evaluation
}

// binding is one defineVariable, in a list that grows toward the head so
// that inner scopes share the outer ones without copying.
type binding struct {
	name  string
	value []Node
	next  *binding
}

type literalNode struct{ value []Node }

func literal(v ...Node) node                             { return &literalNode{v} }
func (l *literalNode) eval(*env, []Node) ([]Node, error) { return l.value, nil }

type thisNode struct{}

func (thisNode) eval(e *env, in []Node) ([]Node, error) { return e.this, nil }

type indexVarNode struct{}

func (indexVarNode) eval(e *env, in []Node) ([]Node, error) {
	if e.index < 0 {
		return nil, nil
	}
	return []Node{intNode(int64(e.index))}, nil
}

type totalNode struct{}

func (totalNode) eval(e *env, in []Node) ([]Node, error) { return e.total, nil }

// memberNode navigates to the children called name of each focus item. At
// the start of a path a type name selects the focus items of that type
// (Patient.name on a Patient).
type memberNode struct {
	target node
	name   string
}

func (m *memberNode) eval(e *env, in []Node) ([]Node, error) {
	focus := in
	if m.target != nil {
		var err error
		if focus, err = m.target.eval(e, in); err != nil {
			return nil, err
		}
	}
	if err := e.step(len(focus)); err != nil {
		return nil, err
	}
	var out []Node
	declared := false
	for _, n := range focus {
		if m.target == nil && m.name != "" && m.name[0] >= 'A' && m.name[0] <= 'Z' {
			if _, isMap := n.Value.(map[string]any); isMap && e.isType(n.Type, m.name) {
				out = append(out, n)
				declared = true
				continue
			}
		}
		if m.target == nil && e.model != nil && m.name[0] >= 'A' && m.name[0] <= 'Z' && e.model.BaseType(m.name) != "" {
			declared = true
			continue // a type name at the start of a path that the focus is not
		}
		var undeclared bool
		out, undeclared = e.children(n, m.name, out)
		declared = declared || !undeclared
	}
	// As FHIRPath's static checking would, reject a name that no item's
	// type declares.
	if !declared && len(focus) > 0 && e.strict {
		return nil, evalErr("unknown element %s on %s", m.name, typeName(focus[0]))
	}
	return out, nil
}

type indexNode struct {
	target, index node
	pos           int
}

func (x *indexNode) eval(e *env, in []Node) ([]Node, error) {
	focus, err := x.target.eval(e, in)
	if err != nil {
		return nil, err
	}
	idx, err := e.evalArg(x.index, in)
	if err != nil {
		return nil, err
	}
	i, ok, err := singletonInt(idx)
	if err != nil || !ok {
		return nil, err
	}
	if i < 0 || i >= int64(len(focus)) {
		return nil, nil
	}
	return focus[i : i+1], nil
}

type negateNode struct {
	operand node
	pos     int
}

func (x *negateNode) eval(e *env, in []Node) ([]Node, error) {
	v, err := x.operand.eval(e, in)
	if err != nil || len(v) == 0 {
		return nil, err
	}
	if len(v) > 1 {
		return nil, evalErr("unary minus on a collection of %d items", len(v))
	}
	switch s := system(v[0]).(type) {
	case int64:
		return []Node{intNode(-s)}, nil
	case Long:
		return []Node{{Value: -s, Type: TypeLong, Index: -1}}, nil
	case Decimal:
		return []Node{decNode(s.Neg())}, nil
	case Quantity:
		return []Node{quantityNode(Quantity{Value: s.Value.Neg(), Unit: s.Unit})}, nil
	}
	return nil, evalErr("cannot negate %s", v[0].Type)
}

type varNode struct {
	name string
	pos  int
}

func (v *varNode) eval(e *env, in []Node) ([]Node, error) {
	for b := e.vars; b != nil; b = b.next {
		if b.name == v.name {
			return b.value, nil
		}
	}
	c := e.ctx
	switch v.name {
	case "context":
		return c.contextNodes, nil
	case "resource":
		if c.Resource != nil {
			return []Node{ResourceNode(c.Resource)}, nil
		}
		return c.contextNodes, nil
	case "rootResource":
		if c.RootResource != nil {
			return []Node{ResourceNode(c.RootResource)}, nil
		}
		if c.Resource != nil {
			return []Node{ResourceNode(c.Resource)}, nil
		}
		return c.contextNodes, nil
	case "ucum":
		return []Node{stringNode("http://unitsofmeasure.org")}, nil
	case "sct":
		return []Node{stringNode("http://snomed.info/sct")}, nil
	case "loinc":
		return []Node{stringNode("http://loinc.org")}, nil
	}
	if val, ok := c.Variables[v.name]; ok {
		return val, nil
	}
	if rest, ok := strings.CutPrefix(v.name, "vs-"); ok {
		return []Node{stringNode("http://hl7.org/fhir/ValueSet/" + rest)}, nil
	}
	if rest, ok := strings.CutPrefix(v.name, "ext-"); ok {
		return []Node{stringNode("http://hl7.org/fhir/StructureDefinition/" + rest)}, nil
	}
	return nil, &EvalError{Pos: v.pos, Msg: "undefined variable %" + v.name}
}

// evalArg evaluates a function argument or operand in a scope of its own,
// so variables it defines do not leak into the rest of the chain.
func (e *env) evalArg(n node, in []Node) ([]Node, error) {
	sub := *e
	return n.eval(&sub, in)
}

// step counts evaluation work against Context.MaxSteps.
func (e *env) step(n int) error {
	*e.steps += 1 + n
	if e.ctx.MaxSteps > 0 && *e.steps > e.ctx.MaxSteps {
		return evalErr("evaluation exceeded %d steps", e.ctx.MaxSteps)
	}
	return nil
}

func intNode(v int64) Node     { return Node{Value: v, Type: TypeInteger, Index: -1} }
func decNode(v Decimal) Node   { return Node{Value: v, Type: TypeDecimal, Index: -1} }
func stringNode(v string) Node { return Node{Value: v, Type: TypeString, Index: -1} }
func boolNode(v bool) Node     { return Node{Value: v, Type: TypeBoolean, Index: -1} }
func quantityNode(q Quantity) Node {
	return Node{Value: q, Type: TypeQuantity, Index: -1}
}

func boolResult(v bool) ([]Node, error) { return []Node{boolNode(v)}, nil }

func dateTimeNode(d DateTime) Node {
	switch d.Kind {
	case KindDate:
		return Node{Value: d, Type: TypeDate, Index: -1}
	case KindTime:
		return Node{Value: d, Type: TypeTime, Index: -1}
	}
	return Node{Value: d, Type: TypeDateTime, Index: -1}
}

// singletonInt reads an integer singleton; ok is false for an empty collection.
func singletonInt(c []Node) (int64, bool, error) {
	if len(c) == 0 {
		return 0, false, nil
	}
	if len(c) > 1 {
		return 0, false, evalErr("expected a single integer, got %d items", len(c))
	}
	switch v := system(c[0]).(type) {
	case int64:
		return v, true, nil
	case Long:
		return int64(v), true, nil
	}
	return 0, false, evalErr("expected an integer, got %s", c[0].Type)
}

// singletonBool applies the singleton evaluation of collections for a
// boolean context: an empty collection is unknown, a single item that is
// not a boolean is true, more than one item is an error.
func singletonBool(c []Node) (val, ok bool, err error) {
	if len(c) == 0 {
		return false, false, nil
	}
	if len(c) > 1 {
		return false, false, evalErr("expected a single boolean, got %d items", len(c))
	}
	if b, isBool := system(c[0]).(bool); isBool {
		return b, true, nil
	}
	return true, true, nil
}

// singletonString reads a string singleton; ok is false for an empty collection.
func singletonString(c []Node) (string, bool, error) {
	if len(c) == 0 {
		return "", false, nil
	}
	if len(c) > 1 {
		return "", false, evalErr("expected a single string, got %d items", len(c))
	}
	if s, isStr := system(c[0]).(string); isStr {
		return s, true, nil
	}
	return "", false, evalErr("expected a string, got %s", typeName(c[0]))
}

func typeName(n Node) string {
	if n.Type == "" {
		return "an element"
	}
	return n.Type
}
