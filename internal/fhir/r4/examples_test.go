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
