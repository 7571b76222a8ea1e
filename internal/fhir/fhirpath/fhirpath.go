package fhirpath

import (
	"fmt"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// Expression is a compiled FHIRPath expression. It is immutable and safe
// for concurrent use: compile once, evaluate many times.
type Expression struct {
	src   string
	root  node
	slots int // cached subexpressions (see hoist)
}

// Compile parses a FHIRPath expression. Syntax errors are *SyntaxError
// with the byte offset of the problem; unknown functions and wrong
// argument counts are reported here too.
func Compile(expr string) (*Expression, error) { return compile(expr, true) }

// compile is Compile; hoisting false leaves out the caching of
// focus-free subexpressions (for tests that compare the two).
func compile(expr string, hoisting bool) (*Expression, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("unexpected %q after the expression", t.text)}
	}
	slots := 0
	if hoisting {
		root, slots = hoist(root)
	}
	return &Expression{src: expr, root: root, slots: slots}, nil
}

// MustCompile is Compile for expressions known to be valid; it panics on
// error. Use it for package-level expressions.
func MustCompile(expr string) *Expression {
	e, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the source of the expression.
func (x *Expression) String() string { return x.src }

// Context carries what an evaluation may need besides its input. The zero
// value (or a nil *Context) is usable: no model, %resource is the input.
type Context struct {
	// Model gives FHIR type information; nil infers types from the JSON.
	Model Model
	// Lenient makes navigation to an element the Model does not declare
	// (Observation.valueQuantity, a misspelt name) give an empty result.
	// By default, with a Model, it is an error, as FHIRPath's type checking
	// would report it; without a Model names are never checked.
	Lenient bool
	// Resource and RootResource are %resource and %rootResource; when nil
	// they default to the input resource (and to Resource).
	Resource, RootResource map[string]any
	// Variables are the caller's %variables (without the %).
	Variables map[string][]Node
	// Resolve returns the resource a reference (e.g. "Patient/1", a
	// "#contained" id or an absolute URL) points at, or nil. When Resolve
	// is nil or returns nil, resolve() looks in the containing resource's
	// contained list and Bundle, and otherwise yields a stub of the type
	// named by the reference, so that resolve() is Patient still works.
	Resolve func(reference string) map[string]any
	// MemberOf answers memberOf(valueSet) for a code, Coding or
	// CodeableConcept node; ok false means unknown (empty result). When nil,
	// memberOf returns empty.
	MemberOf func(n Node, valueSet string) (member bool, ok bool, err error)
	// Trace receives the collections passed to trace(); nil discards them.
	Trace func(name string, c []Node)
	// Now fixes now(), today() and timeOfDay(); zero means the clock.
	Now time.Time
	// MaxSteps bounds the work of one evaluation (0: 10 million steps) so
	// that a hostile expression cannot run away.
	MaxSteps int

	contextNodes []Node
}

// Evaluate evaluates the expression. Each input is a Node, a
// map[string]any (a resource or element: a resource is typed by its
// resourceType) or a []Node. The result is a collection; evaluation
// errors are *EvalError.
func (x *Expression) Evaluate(ctx *Context, input ...any) (out []Node, err error) {
	// A panic here is a bug of ours; the caller (a search indexer, a
	// validator) should get an error rather than crash.
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &EvalError{Msg: fmt.Sprintf("internal error evaluating %q: %v", x.src, p)}
		}
	}()
	// One allocation holds the evaluation state: simple paths are evaluated
	// for every resource written, so their fixed cost matters.
	st := &evalState{}
	if ctx != nil {
		st.ctx = *ctx
	}
	c := &st.ctx
	if c.MaxSteps == 0 {
		c.MaxSteps = 10_000_000
	}
	in := st.inBuf[:0]
	for _, v := range input {
		switch v := v.(type) {
		case Node:
			in = append(in, v)
		case []Node:
			in = append(in, v...)
		case map[string]any:
			in = append(in, ResourceNode(v))
		case fhir.Resource:
			in = append(in, ResourceNode(v))
		default:
			return nil, evalErr("unsupported input %T", v)
		}
	}
	c.contextNodes = in
	if c.Resource == nil && len(in) == 1 {
		if m, ok := in[0].Value.(map[string]any); ok && m["resourceType"] != nil {
			c.Resource = m
		}
	}
	st.env = env{ctx: c, model: c.Model, strict: !c.Lenient, this: in, index: -1, steps: &st.steps}
	if x.slots > 0 {
		st.env.cache = make([]cacheSlot, x.slots)
	}
	return x.root.eval(&st.env, in)
}

type evalState struct {
	ctx   Context
	env   env
	steps int
	inBuf [1]Node
}

// EvaluateBool evaluates the expression as a boolean condition (an
// invariant): ok is false when the result is empty; a single non-boolean
// item counts as true; several items are an error.
func (x *Expression) EvaluateBool(ctx *Context, input ...any) (val, ok bool, err error) {
	out, err := x.Evaluate(ctx, input...)
	if err != nil {
		return false, false, err
	}
	return singletonBool(out)
}
