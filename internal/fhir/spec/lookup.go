package spec

import "strings"

// A position inside a resource is a (type name, element path) pair: the
// children of ("Observation", "Observation.component") are defined in the
// Observation snapshot, those of ("HumanName", "HumanName") in HumanName's.
// Backbone elements stay in their resource's snapshot; an element of a
// datatype moves to that datatype's own definition; a contentReference moves
// to the referenced path in the same snapshot.

// Position is an object position with its children indexed by JSON
// property name. Walkers that visit many resources should hold Positions
// (from Definitions.Position and Child.Next) rather than look up names.
type Position struct {
	TypeName, Path string
	Children       []*Element // in definition order
	Required       []*Element // the children with min > 0
	byJSON         map[string]Child
}

// Child is what a JSON property name resolves to at a position.
type Child struct {
	Element *Element // the declared element, e.g. Observation.value[x] for valueQuantity
	Type    string   // the concrete type code: Quantity; BackboneElement or Element for inline structures
	Kind    string   // Type's kind: primitive-type, complex-type or resource; "" for inline structures and System types
	Choice  bool     // the element is a choice and the name carried the type suffix
	// Extension is true when the property was the primitive extension
	// sibling "_name" rather than "name"; its JSON shape is an Element (id,
	// extension), aligned with the value's.
	Extension bool
	// TypeName and Path are the position of the child's own children, and
	// Next that position itself (nil when it has no children, as for
	// System types).
	TypeName, Path string
	Next           *Position
}

// IsList reports whether the child is a JSON array.
func (c Child) IsList() bool { return c.Element.IsList() }

// Child resolves a JSON property name at the position, "_name" included;
// see Definitions.ChildType.
func (p *Position) Child(jsonName string) (Child, bool) {
	if p == nil {
		return Child{}, false
	}
	if len(jsonName) > 1 && jsonName[0] == '_' {
		c, ok := p.byJSON[jsonName[1:]]
		c.Extension = true
		return c, ok
	}
	c, ok := p.byJSON[jsonName]
	return c, ok
}

// Position returns the position (typeName, path), or nil when nothing is
// defined below it.
func (d *Definitions) Position(typeName, path string) *Position {
	t := d.Types[typeName]
	if t == nil {
		return nil
	}
	d.index()
	return t.positions[path]
}

// index builds the positions of every type in two passes, so that a
// child's Next may point into another type.
func (d *Definitions) index() {
	d.indexOnce.Do(func() {
		for _, t := range d.Types {
			t.byPath = make(map[string]*Element, len(t.Elements))
			t.positions = make(map[string]*Position)
			for _, e := range t.Elements {
				t.byPath[e.Path] = e
				i := strings.LastIndexByte(e.Path, '.')
				if i < 0 {
					continue
				}
				parent := e.Path[:i]
				pos := t.positions[parent]
				if pos == nil {
					pos = &Position{TypeName: t.Name, Path: parent, byJSON: make(map[string]Child)}
					t.positions[parent] = pos
				}
				pos.Children = append(pos.Children, e)
				if e.Min > 0 {
					pos.Required = append(pos.Required, e)
				}
			}
		}
		for _, t := range d.Types {
			for _, pos := range t.positions {
				for _, e := range pos.Children {
					t.addJSONNames(pos, e)
				}
			}
		}
	})
}

// addJSONNames records the property names under which e may appear.
func (t *Type) addJSONNames(pos *Position, e *Element) {
	d := t.defs
	if e.IsChoice() {
		stem := strings.TrimSuffix(e.name, "[x]")
		for _, tr := range e.Types {
			c := Child{Element: e, Type: tr.Code, Choice: true, TypeName: tr.Code, Path: tr.Code}
			if ct := d.Types[tr.Code]; ct != nil {
				c.Kind, c.Next = ct.Kind, ct.positions[tr.Code]
			}
			pos.byJSON[stem+upperFirst(tr.Code)] = c
		}
		return
	}
	c := Child{Element: e}
	switch {
	case e.ContentRef != "":
		c.TypeName, c.Path = t.Name, e.ContentRef
		c.Type = "BackboneElement"
		if ref := t.byPath[e.ContentRef]; ref != nil && len(ref.Types) > 0 {
			c.Type = ref.Types[0].Code
		}
		c.Next = t.positions[e.ContentRef]
	case t.positions[e.Path] != nil:
		// An inline structure (BackboneElement, or Element inside datatypes
		// such as Timing.repeat).
		c.TypeName, c.Path = t.Name, e.Path
		if len(e.Types) > 0 {
			c.Type = e.Types[0].Code
		}
		c.Next = t.positions[e.Path]
	case len(e.Types) > 0:
		c.Type = e.Types[0].Code
		c.TypeName, c.Path = c.Type, c.Type
		if ct := d.Types[c.Type]; ct != nil {
			c.Kind, c.Next = ct.Kind, ct.positions[c.Type]
		}
	}
	pos.byJSON[e.name] = c
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// ChildType resolves the JSON property name of an object at position
// (typeName, parentPath) to its element and concrete type: "valueQuantity"
// at ("Observation", "Observation") gives element Observation.value[x] with
// type Quantity; "_birthDate" at ("Patient", "Patient") gives
// Patient.birthDate with Extension set. Inherited elements (id, meta,
// extension, modifierExtension) resolve like any other since snapshots
// carry them. ok is false for an unknown name or position.
func (d *Definitions) ChildType(typeName, parentPath, jsonName string) (c Child, ok bool) {
	return d.Position(typeName, parentPath).Child(jsonName)
}

// Element returns the element at a full path such as
// "Observation.component.value[x]", "Questionnaire.item.item.linkId"
// (through contentReference) or "Patient.name.given" (into a datatype: the
// HumanName.given element), or nil. A choice may be named by its [x] form
// or by a typed name (valueQuantity).
func (d *Definitions) Element(typeName, path string) *Element {
	t := d.Types[typeName]
	if t == nil {
		return nil
	}
	if e := t.Lookup(path); e != nil {
		return e
	}
	_, _, e := d.walk(typeName, path)
	return e
}

// walk follows path from the root of typeName and returns the position of
// the last element's children and the element itself.
func (d *Definitions) walk(typeName, path string) (string, string, *Element) {
	segs := strings.Split(path, ".")
	t := d.Types[typeName]
	if t == nil || segs[0] != typeName {
		return "", "", nil
	}
	tn, p, el := typeName, typeName, t.Elements[0]
	for _, seg := range segs[1:] {
		c, ok := d.childBySegment(tn, p, seg)
		if !ok {
			return "", "", nil
		}
		tn, p, el = c.TypeName, c.Path, c.Element
	}
	return tn, p, el
}

func (d *Definitions) childBySegment(typeName, parentPath, seg string) (Child, bool) {
	if strings.HasSuffix(seg, "[x]") {
		for _, e := range d.ChildrenAt(typeName, parentPath) {
			if e.name == seg {
				// A choice has no single position for its children.
				return Child{Element: e}, true
			}
		}
		return Child{}, false
	}
	return d.ChildType(typeName, parentPath, seg)
}

// Children returns the elements directly below path in typeName (resolving
// contentReference and moving into datatypes as Element does), in
// definition order, or nil.
func (d *Definitions) Children(typeName, path string) []*Element {
	tn, p, e := d.walk(typeName, path)
	if e == nil || tn == "" {
		return nil
	}
	return d.ChildrenAt(tn, p)
}

// ChildrenAt returns the elements directly below a position (typeName,
// parentPath) as ChildType understands it, without walking: ("Observation",
// "Observation.component"), ("HumanName", "HumanName"). Nil when the
// position has no children.
func (d *Definitions) ChildrenAt(typeName, parentPath string) []*Element {
	if p := d.Position(typeName, parentPath); p != nil {
		return p.Children
	}
	return nil
}

// Lookup returns the element of type t at its own path, or nil.
func (t *Type) Lookup(path string) *Element {
	t.defs.index()
	return t.byPath[path]
}
