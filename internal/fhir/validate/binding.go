package validate

import "github.com/emr-project/emr/internal/fhir/spec"

// requiredSet returns the value set of e's binding when it is required and
// enumerable; nil means there is nothing to check.
func (w *walker) requiredSet(e *spec.Element) *spec.ValueSet {
	b := e.Binding
	if b == nil || b.Strength != "required" {
		return nil
	}
	vs := w.defs.ValueSet(b.ValueSet)
	if vs == nil || !vs.Enumerable {
		return nil
	}
	return vs
}

// binding checks a code (or a string/uri bound like one) against a
// required value set.
func (w *walker) binding(c spec.Child, val any) {
	s, ok := val.(string)
	if !ok || (c.Type != "code" && c.Type != "string" && c.Type != "uri") {
		return
	}
	vs := w.requiredSet(c.Element)
	if vs == nil {
		return
	}
	if found, _ := vs.Contains("", s); !found {
		w.errorf("code-invalid", "%q is not in the required value set %s", truncate(s), vs.URL)
	}
}

// codedBinding checks a Coding or CodeableConcept bound to a required value
// set: a coding whose system the value set draws on must carry one of its
// codes. Codings from other systems are left alone (translations).
func (w *walker) codedBinding(c spec.Child, obj map[string]any) {
	vs := w.requiredSet(c.Element)
	if vs == nil {
		return
	}
	if c.Type == "Coding" {
		w.coding(vs, obj)
		return
	}
	codings, _ := obj["coding"].([]any)
	for i, cd := range codings {
		m, ok := cd.(map[string]any)
		if !ok {
			continue
		}
		n := w.push("coding")
		w.pushIndex(i)
		w.coding(vs, m)
		w.pop(n)
	}
}

func (w *walker) coding(vs *spec.ValueSet, m map[string]any) {
	system, _ := m["system"].(string)
	code, _ := m["code"].(string)
	if system == "" || code == "" || !vs.HasSystem(system) {
		return
	}
	if found, _ := vs.Contains(system, code); !found {
		n := w.push("code")
		w.errorf("code-invalid", "%s|%s is not in the required value set %s", system, truncate(code), vs.URL)
		w.pop(n)
	}
}
