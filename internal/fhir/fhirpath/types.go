package fhirpath

import "strings"

// builtinBase is the type hierarchy used when there is no Model, and for
// the primitives a Model may not describe.
var builtinBase = map[string]string{
	"Age": "Quantity", "Duration": "Quantity", "Distance": "Quantity", "Count": "Quantity",
	"SimpleQuantity": "Quantity", "MoneyQuantity": "Quantity",
	"code": "string", "id": "string", "markdown": "string",
	"url": "uri", "canonical": "uri", "oid": "uri", "uuid": "uri",
	"positiveInt": "integer", "unsignedInt": "integer",
	"Bundle": "Resource", "Parameters": "Resource", "Binary": "Resource",
	"DomainResource": "Resource", "BackboneElement": "Element",
}

// baseType returns the parent of t from the model, else the built-in table;
// a resource type unknown to both derives from DomainResource.
func (e *env) baseType(t string, isResource bool) string {
	if e.model != nil {
		if b := e.model.BaseType(t); b != "" {
			return b
		}
	}
	if b, ok := builtinBase[t]; ok {
		return b
	}
	if isResource && t != "Resource" && t != "DomainResource" {
		return "DomainResource"
	}
	return ""
}

// isType reports whether an item of type actual is of the named type
// (possibly qualified: System.String, FHIR.Patient).
func (e *env) isType(actual, name string) bool {
	return e.isTypeOf(Node{Type: actual}, name)
}

func (e *env) isTypeOf(n Node, spec string) bool { return e.typeMatch(n, spec, false) }

// typeMatch reports whether n is of type spec. With exact, a FHIR
// primitive matches only its own type (as and ofType do not treat a code
// as a string, while is does).
func (e *env) typeMatch(n Node, spec string, exact bool) bool {
	ns, name := "", spec
	if i := strings.LastIndexByte(spec, '.'); i >= 0 {
		ns, name = spec[:i], spec[i+1:]
		if ns != "System" && ns != "FHIR" {
			// A backbone type name such as Patient.contact.
			ns, name = "", spec
		}
	}
	if n.IsSystem() {
		return (ns == "" || ns == "System") && n.Type[len("System."):] == name
	}
	if ns == "System" || n.Type == "" {
		return false
	}
	_, isMap := n.Value.(map[string]any)
	res := isMap && n.Value.(map[string]any)["resourceType"] != nil
	if exact && primitiveTypes[n.Type] {
		// FHIR primitives match only their own type: a code is not a string
		// for is, as and ofType.
		return n.Type == name
	}
	for t, depth := n.Type, 0; t != "" && depth < 20; t, depth = e.baseType(t, res), depth+1 {
		if t == name {
			return true
		}
	}
	return false
}

// checkTypeName reports an error for a type name the model does not know.
func (e *env) checkTypeName(spec string) error {
	if e.model == nil {
		return nil
	}
	name, isSystem := strings.CutPrefix(spec, "System.")
	if isSystem || systemTypeNames[name] {
		return nil
	}
	name = strings.TrimPrefix(name, "FHIR.")
	if e.model.BaseType(name) == "" && builtinBase[name] == "" && name != "Base" && name != "Resource" && name != "Element" {
		return evalErr("unknown type %s", spec)
	}
	return nil
}

var systemTypeNames = map[string]bool{
	"Boolean": true, "String": true, "Integer": true, "Long": true, "Decimal": true,
	"Date": true, "DateTime": true, "Time": true, "Quantity": true,
}

type typeOpNode struct {
	op   string // is, as
	left node
	typ  string
	pos  int
}

func (t *typeOpNode) eval(e *env, in []Node) ([]Node, error) {
	if err := e.checkTypeName(t.typ); err != nil {
		return nil, err
	}
	c, err := e.evalArg(t.left, in)
	if err != nil || len(c) == 0 {
		return nil, err
	}
	if len(c) > 1 {
		return nil, evalErr("%s expects a single item, got %d", t.op, len(c))
	}
	if t.op == "is" {
		return boolResult(e.isTypeOf(c[0], t.typ))
	}
	if e.isTypeOf(c[0], t.typ) {
		return c, nil
	}
	return nil, nil
}

// typeInfo returns the namespace and name type() reports for n.
func typeInfo(n Node) (ns, name string) {
	if n.IsSystem() {
		return "System", n.Type[len("System."):]
	}
	return "FHIR", n.Type
}
