package mpi

import (
	"testing"
	"time"
)

func TestGenerateDeterministic(t *testing.T) {
	var first, second []string
	Generate(7, 500).Each(func(r Record) { first = append(first, string(r.Patient.JSON())) })
	Generate(7, 500).Each(func(r Record) { second = append(second, string(r.Patient.JSON())) })
	if len(first) != 500 {
		t.Fatalf("got %d records, want 500", len(first))
	}
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("record %d differs between runs:\n%s\n%s", i, first[i], second[i])
		}
	}
}

func TestGenerateMix(t *testing.T) {
	kinds := map[string]int{}
	corr := map[string]int{}
	start := time.Now()
	n := 20000
	Generate(1, n).Each(func(r Record) {
		kinds[r.Kind]++
		for _, c := range r.Corruptions {
			corr[c]++
		}
	})
	t.Logf("%d records in %v; kinds %v", n, time.Since(start), kinds)
	t.Logf("corruptions %v", corr)
	if d := float64(kinds["duplicate"]) / float64(n); d < 0.10 || d > 0.20 {
		t.Errorf("duplicate share %.3f, want 0.10..0.20", d)
	}
	if kinds["twin"] == 0 || kinds["household"] == 0 || kinds["namesake"] == 0 {
		t.Errorf("missing hard non-matches: %v", kinds)
	}
}
