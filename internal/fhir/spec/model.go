package spec

import (
	"strings"
	"sync"
)

// FHIRPathModel returns the definitions in the shape a FHIRPath evaluator
// asks for (package fhirpath's Model): types are named by type name
// ("Patient", "HumanName") or, for backbone and other inline structures, by
// their element path ("Patient.contact", "Timing.repeat"), which the model
// resolves again as a parent type.
func (d *Definitions) FHIRPathModel() *Model {
	d.modelOnce.Do(func() { d.model = &Model{d: d} })
	return d.model
}

// Model answers type questions about FHIR elements for FHIRPath.
type Model struct {
	d *Definitions
	// children caches ChildType: evaluation asks the same few questions
	// for every element of every resource.
	children sync.Map // childKey → childAnswer
}

type childKey struct{ parent, name string }

type childAnswer struct {
	typ          string
	isChoice, ok bool
}

// position splits a model type name into a (type, path) position.
func (m *Model) position(parentType string) (string, string) {
	if i := strings.IndexByte(parentType, '.'); i >= 0 {
		return parentType[:i], parentType
	}
	return parentType, parentType
}

// ChildType returns the type of element name below parentType: a type name
// for datatypes and resources ("HumanName", "Resource"), an element path for
// inline structures ("Patient.contact"; through contentReference
// "Questionnaire.item"), or "System.String" and the like for a primitive's
// value. A choice element, asked without suffix ("value"), gives isChoice
// true and typ "". ok is false for an unknown parent or element.
func (m *Model) ChildType(parentType, name string) (typ string, isChoice bool, ok bool) {
	key := childKey{parentType, name}
	if a, hit := m.children.Load(key); hit {
		a := a.(childAnswer)
		return a.typ, a.isChoice, a.ok
	}
	typ, isChoice, ok = m.childType(parentType, name)
	if ok {
		// Only what the definitions declare: names from arbitrary input
		// must not grow the cache without bound.
		m.children.Store(key, childAnswer{typ, isChoice, ok})
	}
	return typ, isChoice, ok
}

func (m *Model) childType(parentType, name string) (typ string, isChoice bool, ok bool) {
	tn, p := m.position(parentType)
	for _, e := range m.d.ChildrenAt(tn, p) {
		switch e.Name() {
		case name:
		case name + "[x]":
			return "", true, true
		default:
			continue
		}
		c, found := m.d.ChildType(tn, p, name)
		if !found {
			return "", false, false
		}
		if c.TypeName == tn && c.Path != tn {
			return c.Path, false, true // inline structure
		}
		return strings.TrimPrefix(c.Type, "http://hl7.org/fhirpath/"), false, true
	}
	return "", false, false
}

// IsList reports whether element name below parentType repeats.
func (m *Model) IsList(parentType, name string) bool {
	tn, p := m.position(parentType)
	for _, e := range m.d.ChildrenAt(tn, p) {
		if e.Name() == name || e.Name() == name+"[x]" {
			return e.IsList()
		}
	}
	return false
}

// ChoiceTypes returns the allowed type codes of a choice element asked
// without suffix ("value" on "Observation"), or nil.
func (m *Model) ChoiceTypes(parentType, name string) []string {
	tn, p := m.position(parentType)
	for _, e := range m.d.ChildrenAt(tn, p) {
		if e.Name() == name+"[x]" {
			out := make([]string, len(e.Types))
			for i, t := range e.Types {
				out[i] = t.Code
			}
			return out
		}
	}
	return nil
}

// BaseType returns what t derives from: "Patient" → "DomainResource",
// "Age" → "Quantity", an inline structure "Patient.contact" → its declared
// type (BackboneElement, or Element inside datatypes); "" for Base or an
// unknown type.
func (m *Model) BaseType(t string) string {
	if strings.IndexByte(t, '.') < 0 {
		if ty := m.d.Types[t]; ty != nil {
			return ty.Base
		}
		return ""
	}
	tn, _ := m.position(t)
	ty := m.d.Types[tn]
	if ty == nil {
		return ""
	}
	e := ty.Lookup(t)
	if e == nil {
		return ""
	}
	if e.ContentRef != "" {
		if ref := ty.Lookup(e.ContentRef); ref != nil {
			e = ref
		}
	}
	if len(e.Types) > 0 {
		return e.Types[0].Code
	}
	return ""
}

// Repeats is IsList under the name FHIRPath Patch asks for: whether an added
// element becomes an array.
func (m *Model) Repeats(parentType, name string) bool { return m.IsList(parentType, name) }
