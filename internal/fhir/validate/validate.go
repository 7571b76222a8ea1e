package validate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// InvariantChecker evaluates the FHIRPath constraints of the definitions.
// The validator calls it once per resource and complex element instance
// that carries constraints, after the structure of the whole resource was
// found valid. It returns the constraints that do not hold; an error means
// the checker could not evaluate one, which the validator reports as a
// warning.
type InvariantChecker interface {
	Check(at InvariantSite, constraints []spec.Constraint) (failed []spec.Constraint, err error)
}

// InvariantSite is where constraints are evaluated.
type InvariantSite struct {
	Root     fhir.Resource  // the nearest resource that is not contained (%rootResource): the one validated, or a Bundle entry's
	Resource map[string]any // the nearest enclosing resource, e.g. a Bundle entry's (%resource)
	Node     map[string]any // the element or resource the constraints are on
	// TypeName is the node's type: a type name ("HumanName", "Patient") or,
	// for a backbone element, its element path ("Patient.contact"), as
	// spec.Model names types.
	TypeName string
}

// Option configures a Validator.
type Option func(*Validator)

// WithInvariants plugs in a FHIRPath evaluator for the constraints. Without
// one the validator checks only what it can natively (ele-1 through empty
// values, dom-2 through nested contained resources).
func WithInvariants(c InvariantChecker) Option { return func(v *Validator) { v.invariants = c } }

// Validator checks resources against definitions. It is safe for
// concurrent use.
type Validator struct {
	defs       *spec.Definitions
	invariants InvariantChecker
}

// New returns a validator for defs (usually spec.R5()).
func New(defs *spec.Definitions, opts ...Option) *Validator {
	v := &Validator{defs: defs}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Validate returns the problems found in res, errors and warnings, or nil
// when there are none. The caller decides: any issue of severity error
// makes the resource unacceptable.
func (v *Validator) Validate(res fhir.Resource) []fhir.Issue {
	w := walkers.Get().(*walker)
	w.v, w.defs = v, v.defs
	defer w.release()
	rt, _ := res["resourceType"].(string)
	w.push(rt)
	w.resource(map[string]any(res), "", false)
	// Objects are walked in map order; sorting makes the outcome the same
	// on every run.
	slices.SortStableFunc(w.issues, func(a, b fhir.Issue) int {
		return strings.Compare(a.Expression[0], b.Expression[0])
	})
	return w.issues
}

// walkers keeps walkers for reuse: their buffers grow to what a
// resource needs once, not on every validation.
var walkers = sync.Pool{New: func() any { return new(walker) }}

// release returns w to walkers, keeping no reference to what it walked
// or reported.
func (w *walker) release() {
	clear(w.checks)
	*w = walker{buf: w.buf[:0], checks: w.checks[:0], paths: w.paths[:0]}
	walkers.Put(w)
}

// HasErrors reports whether any issue has severity error or fatal.
func HasErrors(issues []fhir.Issue) bool {
	for _, is := range issues {
		if is.Severity == "error" || is.Severity == "fatal" {
			return true
		}
	}
	return false
}

// walker carries one validation: the expression of the current node is
// built in buf and copied to a string only when an issue is reported.
type walker struct {
	v      *Validator
	defs   *spec.Definitions
	buf    []byte
	issues []fhir.Issue
	// pending invariant checks, run after the structural walk; paths
	// holds their nodes' expressions, one after the other
	checks  []invariantCheck
	paths   []byte
	current map[string]any // the nearest enclosing resource
	// container is the nearest enclosing resource that is not contained
	// (FHIRPath's %rootResource): the validated resource, or a Bundle
	// entry's.
	container map[string]any
}

type invariantCheck struct {
	site        InvariantSite
	from, to    int // the node's expression in walker.paths
	constraints []spec.Constraint
}

func (w *walker) push(seg string) int {
	n := len(w.buf)
	if n > 0 {
		w.buf = append(w.buf, '.')
	}
	w.buf = append(w.buf, seg...)
	return n
}

func (w *walker) pushIndex(i int) int {
	n := len(w.buf)
	w.buf = append(w.buf, '[')
	w.buf = appendInt(w.buf, i)
	w.buf = append(w.buf, ']')
	return n
}

func (w *walker) pop(n int) { w.buf = w.buf[:n] }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func (w *walker) report(severity, code, format string, args ...any) {
	w.issues = append(w.issues, fhir.Issue{Severity: severity, Code: code,
		Diagnostics: fmt.Sprintf(format, args...), Expression: []string{string(w.buf)}})
}

func (w *walker) errorf(code, format string, args ...any) { w.report("error", code, format, args...) }

// resource validates a resource object at the current expression. allowed
// is the declared type of the element holding it ("" at the top level);
// contained is true inside a contained list, where nesting more contained
// resources is forbidden (dom-2).
func (w *walker) resource(obj map[string]any, allowed string, contained bool) {
	rt, ok := obj["resourceType"].(string)
	if !ok {
		w.errorf("structure", "a resource must have a string resourceType")
		return
	}
	t := w.defs.Types[rt]
	if t == nil || t.Kind != "resource" {
		w.errorf("structure", "unknown resource type %q", rt)
		return
	}
	if t.Abstract {
		w.errorf("structure", "resource type %s is abstract", rt)
		return
	}
	if allowed != "" && !w.defs.IsA(rt, allowed) {
		w.errorf("structure", "a %s is not allowed here, only %s", rt, allowed)
		return
	}
	if contained {
		if _, has := obj["contained"]; has {
			w.errorf("invariant", "a contained resource must not contain resources (dom-2)")
		}
	}
	outer := len(w.issues)
	outerResource, outerContainer := w.current, w.container
	w.current = obj
	if !contained {
		w.container = obj
	}
	if w.v.invariants != nil {
		if root := t.Elements[0]; len(root.Constraints) > 0 {
			w.addCheck(obj, obj, rt, root.Constraints)
		}
	}
	w.object(w.defs.Position(rt, rt), obj, nil, true)
	w.current, w.container = outerResource, outerContainer
	if w.v.invariants != nil && allowed == "" && len(w.issues) == outer {
		w.runInvariants()
	}
}

// object validates the properties of a JSON object at position
// (typeName, path). targets are the allowed reference targets when the
// object is a Reference or CodeableReference.
func (w *walker) object(pos *spec.Position, obj map[string]any, targets []string, isResource bool) {
	if len(obj) == 0 {
		w.errorf("structure", "an element must have a value or children, not be empty")
		return
	}
	var seen [16]*spec.Element
	seenList := seen[:0]
	var seenNames [16]string
	names := seenNames[:0]
	for key, val := range obj {
		if isResource && key == "resourceType" {
			continue
		}
		c, ok := pos.Child(key)
		if !ok || (c.Extension && c.Kind != "primitive-type") {
			n := w.push(key)
			w.errorf("structure", "unknown element %q", key)
			w.pop(n)
			continue
		}
		if val == nil {
			// Absent and null differ: null stands only inside arrays.
			n := w.push(strings.TrimPrefix(key, "_"))
			w.errorf("structure", "null is not allowed here")
			w.pop(n)
			continue
		}
		if c.Extension {
			if _, has := obj[key[1:]]; has {
				continue // handled with its value
			}
		}
		plain := key
		if c.Extension {
			plain = key[1:]
		}
		// Two names for one element: valueString and valueQuantity.
		dup := false
		for i, e := range seenList {
			if e == c.Element && names[i] != plain {
				dup = true
			}
		}
		if dup {
			n := w.push(plain)
			w.errorf("structure", "%s has more than one value (choice %s)", c.Element.Path, c.Element.Name())
			w.pop(n)
			continue
		}
		seenList = append(seenList, c.Element)
		names = append(names, plain)
		var ext any
		if !c.Extension {
			ext = obj["_"+key]
		} else {
			ext, val = val, nil
		}
		n := w.push(plain)
		w.property(c, val, ext, targets)
		w.pop(n)
	}
	if pos == nil {
		return
	}
	for _, e := range pos.Required {
		if !containsElement(seenList, e) {
			n := w.push(requiredName(e))
			w.errorf("required", "%s is required (min %d)", e.Path, e.Min)
			w.pop(n)
		}
	}
}

func containsElement(list []*spec.Element, e *spec.Element) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

func requiredName(e *spec.Element) string {
	n := e.Name()
	if e.IsChoice() {
		return n[:len(n)-3]
	}
	return n
}

// property validates one element's JSON value (val, possibly nil when only
// the primitive extension ext is present) against its definition.
func (w *walker) property(c spec.Child, val, ext any, targets []string) {
	e := c.Element
	primitive := c.Kind == "primitive-type"
	if !e.IsList() {
		if _, isArr := val.([]any); isArr {
			w.errorf("structure", "%s holds a single value, not an array", e.Path)
			return
		}
		if _, isArr := ext.([]any); isArr {
			w.errorf("structure", "%s holds a single value, not an array", e.Path)
			return
		}
		if val == nil && ext == nil {
			w.errorf("structure", "null is not allowed here")
			return
		}
		if val != nil {
			w.item(c, val, targets)
		}
		if ext != nil {
			w.primitiveExtension(c, ext)
		}
		return
	}
	vals, okV := val.([]any)
	exts, okE := ext.([]any)
	if (val != nil && !okV) || (ext != nil && !okE) {
		w.errorf("structure", "%s repeats: its value must be an array", e.Path)
		return
	}
	if (val != nil && len(vals) == 0) || (ext != nil && len(exts) == 0) {
		w.errorf("structure", "an array must not be empty")
		return
	}
	if val != nil && ext != nil && len(vals) != len(exts) {
		w.errorf("structure", "the arrays %s and _%s must have the same length", e.Name(), e.Name())
		return
	}
	count := max(len(vals), len(exts))
	if e.Max > 0 && count > e.Max {
		w.errorf("structure", "%s allows at most %d values, found %d", e.Path, e.Max, count)
	}
	for i := 0; i < count; i++ {
		var v, x any
		if i < len(vals) {
			v = vals[i]
		}
		if i < len(exts) {
			x = exts[i]
		}
		n := w.pushIndex(i)
		switch {
		case v == nil && x == nil:
			w.errorf("structure", "null is not allowed here")
		case !primitive && (v == nil):
			w.errorf("structure", "null is not allowed here")
		default:
			if v != nil {
				w.item(c, v, targets)
			}
			if x != nil {
				w.primitiveExtension(c, x)
			}
		}
		w.pop(n)
	}
}

// primitiveExtension validates the "_name" object of a primitive: only id
// and extension.
func (w *walker) primitiveExtension(c spec.Child, ext any) {
	obj, ok := ext.(map[string]any)
	if !ok {
		w.errorf("structure", "the extension part (_%s) of a primitive must be an object", c.Element.Name())
		return
	}
	if len(obj) == 0 {
		w.errorf("structure", "an element must have a value or children, not be empty")
		return
	}
	for key, val := range obj {
		n := w.push(key)
		if key != "id" && key != "extension" {
			w.errorf("structure", "unknown element %q in a primitive's extension part", key)
		} else if child, ok := elementPosition(w.defs).Child(key); ok {
			w.property(child, val, nil, nil)
		}
		w.pop(n)
	}
}

// item validates one value of an element (one array member or the single value).
func (w *walker) item(c spec.Child, val any, targets []string) {
	e := c.Element
	if c.Kind == "primitive-type" {
		if w.primitive(c.Type, val) {
			w.binding(c, val)
		}
		return
	}
	obj, ok := val.(map[string]any)
	if !ok {
		w.errorf("structure", "%s must be a JSON object (%s), not %s", e.Path, c.Type, jsonKind(val))
		return
	}
	if c.Kind == "resource" {
		w.resource(obj, c.Type, e.Name() == "contained")
		return
	}
	refTargets := targets
	if c.Type == "Reference" || c.Type == "CodeableReference" {
		refTargets = typeTargets(e, c.Type)
	}
	w.object(c.Next, obj, refTargets, false)
	switch c.Type {
	case "Reference":
		w.reference(obj, refTargets)
	case "Coding", "CodeableConcept":
		w.codedBinding(c, obj)
	}
	if len(e.Constraints) > 0 && w.v.invariants != nil {
		typeName := c.Type
		if c.TypeName != c.Type {
			typeName = c.Path // an inline structure
		}
		w.addCheck(w.current, obj, typeName, e.Constraints)
		// The datatype's own invariants (e.g. per-1 on Period) live on
		// its root element.
		if t := w.defs.Types[c.Type]; t != nil && c.TypeName == c.Type && len(t.Elements[0].Constraints) > 0 {
			w.addCheck(w.current, obj, typeName, t.Elements[0].Constraints)
		}
	}
}

// typeTargets returns the target resource types declared for the type code
// of e, or nil.
func typeTargets(e *spec.Element, code string) []string {
	for _, tr := range e.Types {
		if tr.Code == code {
			return tr.Targets
		}
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (w *walker) addCheck(resource, node map[string]any, typeName string, constraints []spec.Constraint) {
	from := len(w.paths)
	w.paths = append(w.paths, w.buf...)
	w.checks = append(w.checks, invariantCheck{
		site: InvariantSite{Root: fhir.Resource(w.container), Resource: resource, Node: node, TypeName: typeName},
		from: from, to: len(w.paths),
		constraints: constraints})
}

func (w *walker) runInvariants() {
	for _, chk := range w.checks {
		failed, err := w.v.invariants.Check(chk.site, chk.constraints)
		expr := func() []string { return []string{string(w.paths[chk.from:chk.to])} }
		if err != nil {
			w.issues = append(w.issues, fhir.Issue{Severity: "warning", Code: "invariant",
				Diagnostics: "an invariant could not be evaluated: " + err.Error(), Expression: expr()})
		}
		for _, f := range failed {
			sev := f.Severity
			if sev != "warning" {
				sev = "error"
			}
			w.issues = append(w.issues, fhir.Issue{Severity: sev, Code: "invariant",
				Diagnostics: f.Key + ": " + f.Human, Expression: expr()})
		}
	}
	clear(w.checks)
	w.checks, w.paths = w.checks[:0], w.paths[:0]
}

// elementPosition is Element's position, where the "_name" parts of
// primitives are read.
func elementPosition(defs *spec.Definitions) *spec.Position {
	return defs.Position("Element", "Element")
}
