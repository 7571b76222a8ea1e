package mpi

import (
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

// FuzzFromPatient feeds arbitrary JSON: normalisation, keys and a
// self-comparison must never panic, and a record compared with itself must
// not disagree with itself on any field.
func FuzzFromPatient(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","name":[{"family":"García-López","given":["José"]}],"birthDate":"1980-03-04"}`))
	f.Add([]byte(`{"resourceType":"Patient","name":{"family":1,"given":"x"},"birthDate":"19","telecom":[null,{"value":"+1"}]}`))
	f.Add([]byte(`{"resourceType":"Patient","name":[{"use":"maiden","family":"Иванова"}],"identifier":[{"value":"- -"}]}`))
	f.Add([]byte(`{"resourceType":"Patient","address":[{"line":"Calle Mayor","postalCode":[]}],"gender":"unknown"}`))
	m := DefaultModel()
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := fhir.ParseResource(data)
		if err != nil {
			return
		}
		p := FromPatient(res)
		_ = p.BlockingKeys()
		r := m.Compare(p, p)
		for _, fr := range r.Fields {
			if fr.Level == LevelDisagree {
				t.Fatalf("a record disagrees with itself on %s: %+v", fr.Field, p)
			}
		}
	})
}

// FuzzComparators checks the string comparators and name comparison on
// arbitrary strings: no panic, Jaro–Winkler in [0, 1] and symmetric, OSA
// symmetric and bounded by the longer length.
func FuzzComparators(f *testing.F) {
	f.Add("MARTHA", "MARHTA")
	f.Add("", "ABC")
	f.Add("Müller", "Mueller")
	f.Add("Александр", "\xff\xfe")
	m := DefaultModel()
	f.Fuzz(func(t *testing.T, a, b string) {
		jw := jaroWinkler(a, b)
		if jw < 0 || jw > 1 {
			t.Fatalf("jaroWinkler(%q, %q) = %v, outside [0, 1]", a, b, jw)
		}
		if back := jaroWinkler(b, a); abs(back-jw) > 1e-9 {
			t.Fatalf("jaroWinkler not symmetric: %v vs %v", jw, back)
		}
		d := osaDistance(a, b)
		if d != osaDistance(b, a) || d > max(len(a), len(b)) || (d == 0) != (a == b) {
			t.Fatalf("osaDistance(%q, %q) = %d", a, b, d)
		}
		fa, fb := foldName(a, false), foldName(b, false)
		_, _ = phonetic(fa), consonantSkeleton(fa)
		pa := FromPatient(fhir.Resource{"name": []any{map[string]any{"given": []any{a}, "family": b}}})
		pb := FromPatient(fhir.Resource{"name": []any{map[string]any{"given": []any{b}, "family": a}}})
		r1, r2 := m.Compare(pa, pb), m.Compare(pb, pa)
		if r1.Grade != r2.Grade || abs(r1.Score-r2.Score) > 1e-9 {
			t.Fatalf("Compare not symmetric for %q/%q: %v %v", fa, fb, r1, r2)
		}
	})
}
