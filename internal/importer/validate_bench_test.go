package importer

import (
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
)

// BenchmarkValidateSynthea measures what each import worker spends per
// resource on validation with the invariants: every Synthea R4 resource,
// converted to R5 once beforehand.
// Run: go test -bench ValidateSynthea -run '^$' ./internal/importer
func BenchmarkValidateSynthea(b *testing.B) {
	var rs []fhir.Resource
	for _, ex := range sharedtest.SyntheaR4(b) {
		r, err := fhir.ParseResource(ex.Body)
		if err != nil {
			b.Fatal(err)
		}
		if c, _, err := ConvertR4(r); err == nil {
			rs = append(rs, c)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rs {
			withInvariants.Validate(r)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rs)), "ns/resource")
}
