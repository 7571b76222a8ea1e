package r4

import (
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
)

// BenchmarkSynthea converts the first 2,000 Synthea resources to R5 and
// back; the figure is per resource and both directions.
func BenchmarkSynthea(b *testing.B) {
	examples := sharedtest.SyntheaR4(b)
	var resources []fhir.Resource
	for _, ex := range examples[:min(len(examples), 2000)] {
		r, err := fhir.ParseResource(ex.Body)
		if err != nil {
			b.Fatal(err)
		}
		resources = append(resources, r)
	}
	for i := 0; b.Loop(); i++ {
		r5, _, err := ToR5(resources[i%len(resources)])
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ToR4(r5); err != nil {
			b.Fatal(err)
		}
	}
}
