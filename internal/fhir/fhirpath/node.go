package fhirpath

import (
	"encoding/json"
	"slices"
	"strings"
)

// System type names, as reported in Node.Type for values that FHIRPath
// computes (literals, function results) rather than reads from a resource.
const (
	TypeBoolean  = "System.Boolean"
	TypeString   = "System.String"
	TypeInteger  = "System.Integer"
	TypeLong     = "System.Long"
	TypeDecimal  = "System.Decimal"
	TypeDate     = "System.Date"
	TypeDateTime = "System.DateTime"
	TypeTime     = "System.Time"
	TypeQuantity = "System.Quantity"
)

// Long is a FHIRPath Long (64-bit) value, written 1L.
type Long int64

// Node is one item of a FHIRPath collection.
//
// For an item read from a resource, Value is the JSON value
// (map[string]any for a complex element or resource; string, bool or
// json.Number for a primitive; nil for a primitive that has only an id or
// extensions), Type is its FHIR type name ("HumanName", "Quantity",
// "string", "code", "Patient"; for a backbone element whatever name the
// Model gave it, or "" when unknown), and Parent, Key and Index say where it
// is: Parent[Key] holds it, at Index when Parent[Key] is an array (else
// Index is -1). Ext is the primitive's "_key" companion object (id and
// extension), when there is one.
//
// For a computed value Parent is nil and Type is one of the System type
// names; Value is then a string, bool, int64, Long, Decimal, DateTime or
// Quantity.
type Node struct {
	Value  any
	Type   string
	Parent map[string]any
	Key    string
	Index  int
	Ext    map[string]any
}

// ResourceNode returns the node of a whole resource, typed by its
// resourceType.
func ResourceNode(res map[string]any) Node {
	t, _ := res["resourceType"].(string)
	return Node{Value: res, Type: t, Index: -1}
}

// IsSystem reports whether n is a computed System value.
func (n Node) IsSystem() bool { return strings.HasPrefix(n.Type, "System.") }

// Model supplies FHIR type information. The fhirpath package works without
// one (Options.Model nil) by inferring types from the JSON itself: it then
// knows resources by their resourceType, primitives by their JSON kind and
// choice elements by the type suffix of their key, but complex elements have
// an unknown ("") type unless they are choice values (valueQuantity is a
// Quantity) or resources.
type Model interface {
	// ChildType returns the type of the element name declared on
	// parentType. For a choice element (value[x], asked as "value") it
	// returns isChoice true and typ "". For a backbone element typ may be
	// any name the Model resolves again as a parentType (for example
	// "Patient.contact"). ok is false when parentType has no such element
	// or the model does not know parentType.
	ChildType(parentType, name string) (typ string, isChoice bool, ok bool)
	// BaseType returns the type t derives from ("Age" → "Quantity",
	// "Patient" → "DomainResource", "Patient.contact" → "BackboneElement"),
	// or "" for a root or unknown type. It drives is, as and ofType.
	BaseType(t string) string
}

// primitiveTypes are the FHIR primitive type names, used to tell
// valueString (a FHIR "string") from valueQuantity (a "Quantity").
var primitiveTypes = map[string]bool{
	"boolean": true, "integer": true, "integer64": true, "string": true, "decimal": true, "uri": true,
	"url": true, "canonical": true, "base64Binary": true, "instant": true, "date": true,
	"dateTime": true, "time": true, "code": true, "oid": true, "id": true, "markdown": true,
	"unsignedInt": true, "positiveInt": true, "uuid": true, "xhtml": true,
}

// choiceType maps the suffix of a choice key ("Quantity", "String",
// "DateTime") to the FHIR type name ("Quantity", "string", "dateTime").
func choiceType(suffix string) string {
	if suffix == "" {
		return ""
	}
	lower := strings.ToLower(suffix[:1]) + suffix[1:]
	if primitiveTypes[lower] {
		return lower
	}
	return suffix
}

// children appends to out the children called name of n. undeclared is
// true when the Model knows n's type and it has no such element.
func (e *env) children(n Node, name string, out []Node) (_ []Node, undeclared bool) {
	obj, ok := n.Value.(map[string]any)
	if !ok {
		// A primitive's id and extensions live in its "_key" companion.
		if n.Ext != nil && (name == "extension" || name == "id") {
			return appendChild(out, n.Ext, name, map[string]string{"extension": "Extension", "id": "string"}[name]), undeclared
		}
		return out, undeclared
	}
	typ, isChoice, known := "", false, false
	if e.model != nil && n.Type != "" {
		typ, isChoice, known = e.model.ChildType(n.Type, name)
		undeclared = !known && e.model.BaseType(n.Type) != "" && !e.choiceKey(n.Type, name)
		if undeclared && obj["resourceType"] == n.Type {
			// Contained resources and entries are typed Resource, so an
			// expression may ask them for a DomainResource's elements
			// (dom-2: contained.contained.empty()); one that is not a
			// DomainResource (Parameters, Binary, Bundle) has none.
			_, _, domain := e.model.ChildType("DomainResource", name)
			undeclared = !domain
		}
	}
	if !isChoice {
		_, has := obj[name]
		hasExt := false
		if !has {
			_, hasExt = obj["_"+name]
		}
		if has || hasExt {
			if !known {
				typ = ""
			}
			return appendChild(out, obj, name, typ), undeclared
		}
		if known {
			return out, undeclared
		}
	}
	// A choice element: the key is name followed by a type suffix. A
	// valid resource has one; an invalid one with several (valueQuantity
	// beside valueString) gives them all, in the order of their keys, not
	// whichever the map's iteration meets first.
	var found [1]string
	keys := found[:0]
	for k := range obj {
		switch {
		case len(k) > len(name) && strings.HasPrefix(k, name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z':
			keys = append(keys, k)
		case len(k) > len(name)+1 && k[0] == '_' && strings.HasPrefix(k[1:], name) && k[len(name)+1] >= 'A' && k[len(name)+1] <= 'Z':
			if _, has := obj[k[1:]]; !has {
				keys = append(keys, k[1:])
			}
		}
	}
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	for _, k := range keys {
		out = appendChild(out, obj, k, choiceType(k[len(name):]))
	}
	return out, undeclared
}

// choiceKey reports whether name is a choice element's key with its type
// suffix (valueQuantity), which lenient FHIRPath engines accept.
func (e *env) choiceKey(parentType, name string) bool {
	for i := len(name) - 1; i > 0; i-- {
		if name[i] >= 'A' && name[i] <= 'Z' {
			if _, isChoice, ok := e.model.ChildType(parentType, name[:i]); ok && isChoice {
				return !e.strict
			}
		}
	}
	return false
}

// appendChild appends the nodes held at obj[key] (an array's items in
// order), pairing each primitive with its "_key" companion.
func appendChild(out []Node, obj map[string]any, key, typ string) []Node {
	v, has := obj[key]
	var ext any
	if len(obj) > 1 || !has {
		// Only look up the "_key" companion when the object could hold one
		// (beside the value, or alone): building the key costs an
		// allocation on the hot path.
		var buf [64]byte
		if len(key) < len(buf) {
			buf[0] = '_'
			n := copy(buf[1:], key)
			ext = obj[string(buf[:n+1])]
		} else {
			ext = obj["_"+key]
		}
	}
	switch v := v.(type) {
	case []any:
		out = slices.Grow(out, len(v))
		exts, _ := ext.([]any)
		for i, item := range v {
			var x map[string]any
			if i < len(exts) {
				x, _ = exts[i].(map[string]any)
			}
			if item == nil && x == nil {
				continue
			}
			out = append(out, Node{Value: item, Type: itemType(typ, item), Parent: obj, Key: key, Index: i, Ext: x})
		}
		if len(v) == 0 {
			for i, x := range exts {
				if x, ok := x.(map[string]any); ok {
					out = append(out, Node{Type: typ, Parent: obj, Key: key, Index: i, Ext: x})
				}
			}
		}
		return out
	case nil:
		switch x := ext.(type) {
		case map[string]any:
			return append(out, Node{Type: typ, Parent: obj, Key: key, Index: -1, Ext: x})
		case []any:
			for i, xi := range x {
				if xm, ok := xi.(map[string]any); ok {
					out = append(out, Node{Type: typ, Parent: obj, Key: key, Index: i, Ext: xm})
				}
			}
		}
		return out
	default:
		x, _ := ext.(map[string]any)
		return append(out, Node{Value: v, Type: itemType(typ, v), Parent: obj, Key: key, Index: -1, Ext: x})
	}
}

// itemType fills in a type the model did not give from the JSON itself.
func itemType(typ string, v any) string {
	if typ != "" && typ != "Resource" && typ != "DomainResource" {
		return typ
	}
	switch v := v.(type) {
	case map[string]any:
		if rt, ok := v["resourceType"].(string); ok {
			return rt
		}
	case string:
		if typ == "" {
			return "string"
		}
	case bool:
		if typ == "" {
			return "boolean"
		}
	case json.Number:
		if typ == "" {
			if strings.ContainsAny(string(v), ".eE") {
				return "decimal"
			}
			return "integer"
		}
	}
	return typ
}

// allChildren appends every child element of n, in key order of the JSON
// object (Go map order is random, so keys are sorted for stable results).
func (e *env) allChildren(n Node, out []Node) []Node {
	obj, ok := n.Value.(map[string]any)
	if !ok {
		return out
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if k == "resourceType" {
			continue
		}
		if k[0] == '_' {
			if _, has := obj[k[1:]]; has {
				continue
			}
			k = k[1:]
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		typ := ""
		if e.model != nil && n.Type != "" {
			var isChoice, ok bool
			typ, isChoice, ok = e.model.ChildType(n.Type, k)
			if !ok || isChoice {
				typ = ""
			}
		}
		if typ == "" {
			// choice keys: find the longest element prefix
			for i := len(k) - 1; i > 0; i-- {
				if k[i] >= 'A' && k[i] <= 'Z' {
					if e.model != nil && n.Type != "" {
						if _, isChoice, ok := e.model.ChildType(n.Type, k[:i]); ok && isChoice {
							typ = choiceType(k[i:])
							break
						}
					}
				}
			}
		}
		out = appendChild(out, obj, k, typ)
	}
	return out
}
