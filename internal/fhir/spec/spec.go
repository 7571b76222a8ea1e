package spec

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

//go:embed r5.json.gz
var embedded []byte

// Embedded returns the compressed embedded definitions, as ./gen wrote them.
func Embedded() []byte { return embedded }

// Definitions is the compiled R5 specification. It is read-only: share it.
type Definitions struct {
	Package      string                  // the source package, e.g. hl7.fhir.r5.core#5.0.0
	Types        map[string]*Type        // resources, datatypes and primitives by name
	SearchParams []*SearchParam          // every SearchParameter, sorted by URL
	Compartments map[string]*Compartment // by code: Patient, Encounter, RelatedPerson, Practitioner, Device

	modelOnce sync.Once
	model     *Model // FHIRPathModel's, one per Definitions so that its cache is shared

	searchByType map[string]map[string]*SearchParam

	indexOnce   sync.Once // builds Type.byPath and Type.positions
	valueSets   map[string]*ValueSet
	codeSystems map[string]*CodeSystem
}

// Type is one StructureDefinition of kind primitive-type, complex-type or
// resource (constraint profiles are not kept).
type Type struct {
	Name     string // "Patient", "HumanName", "string", "Resource"
	URL      string
	Kind     string // primitive-type | complex-type | resource
	Abstract bool
	Base     string     // name of the base type; "" for Base
	Elements []*Element // the snapshot, in definition order; Elements[0] is the root
	Regex    string     // primitives: the value's regular expression, when the spec gives one

	defs      *Definitions
	byPath    map[string]*Element
	positions map[string]*Position // by parent path
}

// Element is one ElementDefinition of a snapshot.
type Element struct {
	Path        string    // full path, e.g. "Observation.value[x]"
	Min         int       // minimum cardinality
	Max         int       // maximum cardinality; -1 for *
	Types       []TypeRef // allowed types; several for a choice element
	ContentRef  string    // path (in the same type) whose definition this element reuses, e.g. "Questionnaire.item"
	Summary     bool      // part of the _summary view
	Modifier    bool      // isModifier
	Binding     *Binding
	Constraints []Constraint

	name string // the last path segment, "value[x]"
}

// TypeRef is one allowed type of an element.
type TypeRef struct {
	Code    string   // type name ("Quantity", "Reference"); a System type URL for primitive values
	Targets []string // for Reference, canonical and CodeableReference: allowed resource type names; "Resource" allows any
}

// Binding ties a coded element to a value set.
type Binding struct {
	Strength string `json:"s"` // required | extensible | preferred | example
	ValueSet string `json:"v"` // canonical URL without |version
}

// Constraint is an invariant written in FHIRPath.
type Constraint struct {
	Key        string // e.g. "ele-1"
	Severity   string // error | warning
	Expression string
	Human      string
}

// IsList reports whether the element may repeat (JSON array).
func (e *Element) IsList() bool { return e.Max != 1 && e.Max != 0 }

// IsChoice reports whether the element is a choice (name ends in [x]).
func (e *Element) IsChoice() bool { n := e.Name(); return len(n) > 3 && n[len(n)-3:] == "[x]" }

// Name returns the last segment of the path, e.g. "value[x]".
func (e *Element) Name() string { return e.name }

// IsPrimitive reports whether the type is a FHIR primitive (string, date, ...).
func (t *Type) IsPrimitive() bool { return t.Kind == "primitive-type" }

var (
	r5Once sync.Once
	r5Defs *Definitions
)

// R5 returns the embedded R5 definitions, decoding them on first use. It
// panics only when the embedded file is corrupt, which a build cannot ship
// past the tests.
func R5() *Definitions {
	r5Once.Do(func() {
		d, err := Load(bytes.NewReader(embedded))
		if err != nil {
			panic(fmt.Sprintf("spec: embedded definitions: %v", err))
		}
		r5Defs = d
	})
	return r5Defs
}

// Load decodes definitions in the format ./gen writes (gzip-compressed JSON).
func Load(r io.Reader) (*Definitions, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("spec: load: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("spec: load: %w", err)
	}
	var f File
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("spec: load: %w", err)
	}
	return build(&f)
}

func build(f *File) (*Definitions, error) {
	d := &Definitions{
		Package:      f.Package,
		Types:        make(map[string]*Type, len(f.Types)),
		Compartments: make(map[string]*Compartment, len(f.Compartment)),
		valueSets:    make(map[string]*ValueSet, len(f.ValueSets)),
		codeSystems:  make(map[string]*CodeSystem, len(f.CodeSystems)),
	}
	constraints := make([]Constraint, len(f.Constraints))
	for i, c := range f.Constraints {
		constraints[i] = Constraint{Key: c[0], Severity: c[1], Expression: c[2], Human: c[3]}
	}
	for i := range f.Types {
		ft := &f.Types[i]
		t := &Type{defs: d, Name: ft.Name, URL: ft.URL, Kind: ft.Kind, Abstract: ft.Abstract, Base: ft.Base, Regex: ft.Regex}
		// One backing array for all elements of a type keeps the load to a
		// few allocations per type.
		store := make([]Element, len(ft.Elements))
		t.Elements = make([]*Element, len(ft.Elements))
		for j := range ft.Elements {
			fe := &ft.Elements[j]
			e := &store[j]
			*e = Element{Path: fe.Path, Min: fe.Min, Max: fe.Max, ContentRef: fe.ContentRef,
				Summary: fe.Summary, Modifier: fe.Modifier, Binding: fe.Binding, name: lastSegment(fe.Path)}
			if len(fe.Types) > 0 {
				e.Types = make([]TypeRef, len(fe.Types))
				for k, tr := range fe.Types {
					e.Types[k] = TypeRef{Code: tr.Code, Targets: tr.Targets}
				}
			}
			if len(fe.Constraints) > 0 {
				e.Constraints = make([]Constraint, len(fe.Constraints))
				for k, ci := range fe.Constraints {
					if ci < 0 || ci >= len(constraints) {
						return nil, fmt.Errorf("spec: load: %s: constraint index %d out of range", fe.Path, ci)
					}
					e.Constraints[k] = constraints[ci]
				}
			}
			t.Elements[j] = e
		}
		if len(t.Elements) == 0 {
			return nil, fmt.Errorf("spec: load: type %s has no elements", t.Name)
		}
		d.Types[t.Name] = t
	}
	d.buildSearch(f.Search)
	for _, fc := range f.Compartment {
		c := &Compartment{Code: fc.Code, URL: fc.URL, Resources: fc.Resources}
		d.Compartments[c.Code] = c
	}
	for i := range f.ValueSets {
		fv := &f.ValueSets[i]
		vs := &ValueSet{URL: fv.URL, Enumerable: fv.Enumerable}
		for _, s := range fv.Systems {
			for k, code := range s.Codes {
				vs.Concepts = append(vs.Concepts, Concept{System: s.System, Code: code, Display: s.Displays[k]})
			}
		}
		d.valueSets[vs.URL] = vs
	}
	for i := range f.CodeSystems {
		fc := &f.CodeSystems[i]
		cs := &CodeSystem{URL: fc.URL, Content: fc.Content, Concepts: make([]CodeSystemConcept, len(fc.Concepts))}
		for k, c := range fc.Concepts {
			cs.Concepts[k] = CodeSystemConcept{Code: c[0], Display: c[1], Parent: c[2]}
		}
		d.codeSystems[cs.URL] = cs
	}
	return d, nil
}

func lastSegment(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[i+1:]
		}
	}
	return path
}

// IsResource reports whether name is a resource type (abstract ones included).
func (d *Definitions) IsResource(name string) bool {
	t := d.Types[name]
	return t != nil && t.Kind == "resource"
}

// IsPrimitive reports whether name is a primitive type.
func (d *Definitions) IsPrimitive(name string) bool {
	t := d.Types[name]
	return t != nil && t.Kind == "primitive-type"
}

// IsA reports whether type name is base or derives from it (Patient is a
// DomainResource and a Resource; every type is itself).
func (d *Definitions) IsA(name, base string) bool {
	for n := name; n != ""; {
		if n == base {
			return true
		}
		t := d.Types[n]
		if t == nil {
			return false
		}
		n = t.Base
	}
	return false
}
