package spec

import (
	"sort"
	"strings"
)

// APIModel is the view of the definitions the REST API needs: which resource
// types exist and, for _summary and _elements, each element's summary flag
// and minimum cardinality.
type APIModel struct {
	d     *Definitions
	types []string
}

// APIModel returns the REST API's view of d.
func (d *Definitions) APIModel() *APIModel {
	m := &APIModel{d: d}
	for name, t := range d.Types {
		if t.Kind == "resource" && !t.Abstract {
			m.types = append(m.types, name)
		}
	}
	sort.Strings(m.types)
	return m
}

// ResourceTypes lists every concrete resource type, sorted.
func (m *APIModel) ResourceTypes() []string { return m.types }

// IsResource reports whether name is a concrete resource type.
func (m *APIModel) IsResource(name string) bool {
	t := m.d.Types[name]
	return t != nil && t.Kind == "resource" && !t.Abstract
}

// ElementInfo describes an element of a resource by its path in the
// resource's own snapshot ("Patient.contact.name", "Observation.value[x]"),
// following contentReference (Questionnaire.item.item). Paths into datatypes
// are not elements of the resource and answer ok=false.
func (m *APIModel) ElementInfo(path string) (summary bool, min int, ok bool) {
	typeName, _, _ := strings.Cut(path, ".")
	t := m.d.Types[typeName]
	if t == nil {
		return false, 0, false
	}
	if e := t.Lookup(path); e != nil {
		return e.Summary, e.Min, true
	}
	// A path through a contentReference: resolve the parent, then look again
	// below the element it reuses.
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return false, 0, false
	}
	parent := t.Lookup(path[:i])
	if parent == nil || parent.ContentRef == "" {
		if parent == nil {
			if _, _, ok := m.ElementInfo(path[:i]); !ok {
				return false, 0, false
			}
			// The parent itself sits below a contentReference.
			return m.viaContentRef(t, path)
		}
		return false, 0, false
	}
	if e := t.Lookup(strings.TrimPrefix(parent.ContentRef, "#") + path[i:]); e != nil {
		return e.Summary, e.Min, true
	}
	return false, 0, false
}

// viaContentRef resolves a path whose ancestors pass through a
// contentReference by rewriting the deepest such ancestor.
func (m *APIModel) viaContentRef(t *Type, path string) (bool, int, bool) {
	segs := strings.Split(path, ".")
	for n := len(segs) - 1; n > 1; n-- {
		e := t.Lookup(strings.Join(segs[:n], "."))
		if e != nil && e.ContentRef != "" {
			rewritten := strings.TrimPrefix(e.ContentRef, "#") + "." + strings.Join(segs[n:], ".")
			return m.ElementInfo(rewritten)
		}
	}
	return false, 0, false
}
