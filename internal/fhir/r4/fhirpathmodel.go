package r4

import (
	"strings"

	"github.com/emr-project/emr/internal/fhir/spec"
)

// PathModel answers FHIRPath's and FHIRPath Patch's type questions about R4
// resources from the R4 element table, so that a patch written against R4
// paths resolves R4 elements: Encounter.class is one Coding in R4, where R5
// has a list of CodeableConcept. It implements fhirpath.Model and
// fhirpatch.Model.
//
// The table leaves out what every type shares (id, extension,
// modifierExtension) and the base types; those questions, and any about a
// type the R4 table does not hold (primitives' values, types R4 lacks), go
// to the R5 model, where the answer is the same.
type PathModel struct {
	r5 *spec.Model
}

// FHIRPathModel returns the R4 model.
func FHIRPathModel() *PathModel {
	return &PathModel{r5: spec.R5().FHIRPathModel()}
}

// known reports whether the R4 table describes the structure parentType
// ("Encounter", "Encounter.hospitalization", "Coding").
func (m *PathModel) known(parentType string) bool {
	if parentType == "" || isPrimitive(parentType) {
		return false
	}
	t := r4Model()
	if strings.IndexByte(parentType, '.') >= 0 {
		_, ok := t.byPath[parentType]
		return ok
	}
	return t.root[parentType]
}

// shared is the model type that holds id, extension and modifierExtension
// for parentType.
func (m *PathModel) shared(parentType string) string {
	if strings.IndexByte(parentType, '.') < 0 && m.r5.BaseType(parentType) != "" {
		return parentType
	}
	return "Element"
}

// ChildType returns the R4 type of element name below parentType: a type
// name, an element path for an inline structure, or isChoice for a choice
// element asked without suffix.
func (m *PathModel) ChildType(parentType, name string) (typ string, isChoice bool, ok bool) {
	if !m.known(parentType) {
		return m.r5.ChildType(parentType, name)
	}
	switch name {
	case "id", "extension", "modifierExtension":
		return m.r5.ChildType(m.shared(parentType), name)
	}
	t := r4Model()
	if e, found := t.byPath[parentType+"."+name]; found {
		switch ty := e.typ(); {
		case e.contentRef != "":
			return e.contentRef, false, true
		case isInline(ty):
			return e.path, false, true
		default:
			return ty, false, true
		}
	}
	if _, found := t.byPath[parentType+"."+name+"[x]"]; found {
		return "", true, true
	}
	return "", false, false
}

// BaseType returns what t derives from; an inline structure's declared
// type (BackboneElement, Element) comes from the R4 table.
func (m *PathModel) BaseType(t string) string {
	if strings.IndexByte(t, '.') < 0 {
		return m.r5.BaseType(t)
	}
	e, ok := r4Model().byPath[t]
	if !ok {
		return m.r5.BaseType(t)
	}
	if e.contentRef != "" {
		if ref, ok := r4Model().byPath[e.contentRef]; ok {
			e = ref
		}
	}
	if len(e.types) > 0 {
		return e.types[0]
	}
	return ""
}

// Repeats reports whether element name of parentType may repeat in R4.
func (m *PathModel) Repeats(parentType, name string) bool {
	if !m.known(parentType) {
		return m.r5.Repeats(parentType, name)
	}
	switch name {
	case "extension", "modifierExtension":
		return true
	case "id":
		return false
	}
	if e, ok := r4Model().lookup(parentType + "." + name); ok {
		return e.list
	}
	return false
}
