package fhir

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzValidID: ValidID is the FHIR id pattern.
func FuzzValidID(f *testing.F) {
	idPattern := regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	for _, s := range []string{"", "a", "example-1.2", "a b", "é", strings.Repeat("a", 64), strings.Repeat("a", 65), "a\n", "_x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidID(s), idPattern.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
