package r4

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/google/go-cmp/cmp"
)

// TestR5Examples converts the official R5 examples of the supported types
// to R4 and back, which must give the example again.
func TestR5Examples(t *testing.T) {
	var converted, equal, refused int
	kept := map[string]int{}
	missing := map[string]int{} // R4 mandatory elements absent from the output, by path
	for _, ex := range sharedtest.R5Examples(t) {
		in, err := fhir.ParseResource(ex.Body)
		if err != nil || !supported[in.Type()] {
			continue
		}
		r4, report, err := ToR4(in)
		if fhir.IsKind(err, fhir.KindNotSupported) {
			refused++ // holds (contains, or has as entry) a resource of a type without conversion
			continue
		}
		if err != nil {
			t.Errorf("%s: to R4: %v", ex.File, err)
			continue
		}
		converted++
		if unknown := unknownR4(r4, r4.Type(), r4.Type()); len(unknown) > 0 {
			t.Errorf("%s: R4 output has elements R4 does not define: %v", ex.File, unknown)
		}
		for _, p := range missingR4(r4, r4.Type()) {
			missing[p]++
		}
		for p, n := range report.Kept {
			kept[p] += n
		}
		back, _, err := ToR5(r4)
		if err != nil {
			t.Errorf("%s: back to R5: %v", ex.File, err)
			continue
		}
		if diff := cmp.Diff(in, back); diff != "" {
			t.Errorf("%s: R5 → R4 → R5 differs (-in +back):\n%s", ex.File, diff)
		} else {
			equal++
		}
	}
	t.Logf("%d R5 examples converted to R4, %d round trips equal; %d refused for holding a resource of a type without conversion", converted, equal, refused)
	for _, p := range slices.Sorted(maps.Keys(kept)) {
		t.Logf("kept as extension: %s ×%d", p, kept[p])
	}
	for _, p := range slices.Sorted(maps.Keys(missing)) {
		t.Logf("R4 output lacks mandatory %s ×%d (R5 left it optional or moved it; reported, not a failure)", p, missing[p])
	}
}

// missingR4 lists the mandatory R4 elements absent from obj (at path at)
// and from the objects below it, resources included.
func missingR4(obj map[string]any, at string) []string {
	var out []string
	m := r4Model()
	for _, e := range m.byPath {
		if !e.required || parentPath(e.path) != at {
			continue
		}
		found := false
		for k := range obj {
			if ce, _, ok := m.child(at, strings.TrimPrefix(k, "_")); ok && ce == e {
				found = true
				break
			}
		}
		if !found {
			out = append(out, e.path)
		}
	}
	for k, v := range obj {
		e, ty, ok := m.child(at, k)
		if !ok || isPrimitive(ty) {
			continue
		}
		for _, item := range asList(v) {
			if sub, ok := item.(map[string]any); ok {
				next := e.next(ty)
				if isResource(ty) {
					next, _ = sub["resourceType"].(string)
				}
				out = append(out, missingR4(sub, next)...)
			}
		}
	}
	return out
}

// unknownR4 lists the properties of an R4 resource that the R4 element tree
// does not know, as paths.
func unknownR4(obj map[string]any, at, path string) []string {
	var out []string
	for k, v := range obj {
		switch k {
		case "resourceType", "id", "extension", "modifierExtension", "_id":
			continue
		}
		name := k
		if len(name) > 1 && name[0] == '_' {
			name = name[1:]
		}
		e, ty, ok := r4Model().child(at, name)
		if !ok {
			out = append(out, path+"."+k)
			continue
		}
		if k[0] == '_' || isPrimitive(ty) {
			continue
		}
		for _, item := range asList(v) {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			if isResource(ty) {
				rt, _ := m["resourceType"].(string)
				out = append(out, unknownR4(m, rt, path+"."+k)...)
			} else {
				out = append(out, unknownR4(m, e.next(ty), path+"."+k)...)
			}
		}
	}
	return out
}
