package r4

import (
	"maps"
	"slices"
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
