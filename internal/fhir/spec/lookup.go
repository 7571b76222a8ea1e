package spec

import "strings"

// A position inside a resource is a (type name, element path) pair: the
// children of ("Observation", "Observation.component") are defined in the
// Observation snapshot, those of ("HumanName", "HumanName") in HumanName's.
// Backbone elements stay in their resource's snapshot; an element of a
// datatype moves to that datatype's own definition; a contentReference moves
// to the referenced path in the same snapshot.

// Child is what a JSON property name resolves to at a position.
type Child struct {
	Element *Element // the declared element, e.g. Observation.value[x] for valueQuantity
	Type    string   // the concrete type code: Quantity; BackboneElement or Element for inline structures
	Choice  bool     // the element is a choice and the name carried the type suffix
	// Extension is true when the property was the primitive extension
	// sibling "_name" rather than "name"; its JSON shape is an Element (id,
	// extension), aligned with the value's.
	Extension bool
	// TypeName and Path are the position of the child's own children.
	TypeName, Path string
}

// IsList reports whether the child is a JSON array.
func (c Child) IsList() bool { return c.Element.IsList() }

type childIndex struct {
	list   []*Element
	byJSON map[string]Child
}

func (t *Type) index() {
	t.once.Do(func() {
		t.byPath = make(map[string]*Element, len(t.Elements))
		t.children = make(map[string]*childIndex)
		for _, e := range t.Elements {
			t.byPath[e.Path] = e
			i := strings.LastIndexByte(e.Path, '.')
			if i < 0 {
				continue
			}
			parent := e.Path[:i]
			ci := t.children[parent]
			if ci == nil {
				ci = &childIndex{byJSON: make(map[string]Child)}
				t.children[parent] = ci
			}
			ci.list = append(ci.list, e)
		}
		for _, ci := range t.children {
			for _, e := range ci.list {
				t.addJSONNames(ci, e)
			}
		}
	})
}

// addJSONNames records the property names under which e may appear.
func (t *Type) addJSONNames(ci *childIndex, e *Element) {
	if e.IsChoice() {
		stem := strings.TrimSuffix(e.name, "[x]")
		for _, tr := range e.Types {
			ci.byJSON[stem+upperFirst(tr.Code)] = Child{Element: e, Type: tr.Code, Choice: true, TypeName: tr.Code, Path: tr.Code}
		}
		return
	}
	c := Child{Element: e}
	switch {
	case e.ContentRef != "":
		c.TypeName, c.Path = t.Name, e.ContentRef
		if ref := t.byPath[e.ContentRef]; ref != nil && len(ref.Types) > 0 {
			c.Type = ref.Types[0].Code
		} else {
			c.Type = "BackboneElement"
		}
	case t.children[e.Path] != nil && len(t.children[e.Path].list) > 0:
		// An inline structure (BackboneElement, or Element inside datatypes
		// such as Timing.repeat).
		c.TypeName, c.Path = t.Name, e.Path
		if len(e.Types) > 0 {
			c.Type = e.Types[0].Code
		}
	case len(e.Types) > 0:
		c.Type = e.Types[0].Code
		c.TypeName, c.Path = c.Type, c.Type
	}
	ci.byJSON[e.name] = c
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
	t := d.Types[typeName]
	if t == nil {
		return Child{}, false
	}
	t.index()
	ci := t.children[parentPath]
	if ci == nil {
		return Child{}, false
	}
	ext := false
	if len(jsonName) > 1 && jsonName[0] == '_' {
		ext, jsonName = true, jsonName[1:]
	}
	c, ok = ci.byJSON[jsonName]
	c.Extension = ext
	return c, ok
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
	t.index()
	if e := t.byPath[path]; e != nil {
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
		t := d.Types[typeName]
		if t == nil {
			return Child{}, false
		}
		t.index()
		if ci := t.children[parentPath]; ci != nil {
			for _, e := range ci.list {
				if e.name == seg {
					// A choice has no single position for its children.
					return Child{Element: e}, true
				}
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
	t := d.Types[tn]
	if t == nil {
		return nil
	}
	t.index()
	if ci := t.children[p]; ci != nil {
		return ci.list
	}
	return nil
}

// Lookup returns the element of type t at its own path, or nil.
func (t *Type) Lookup(path string) *Element {
	t.index()
	return t.byPath[path]
}

// ChildrenAt returns the elements directly below a position (typeName,
// parentPath) as ChildType understands it, without walking: ("Observation",
// "Observation.component"), ("HumanName", "HumanName"). Nil when the
// position has no children.
func (d *Definitions) ChildrenAt(typeName, parentPath string) []*Element {
	t := d.Types[typeName]
	if t == nil {
		return nil
	}
	t.index()
	if ci := t.children[parentPath]; ci != nil {
		return ci.list
	}
	return nil
}
