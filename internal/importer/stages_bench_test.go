package importer

import (
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/emr-project/emr/internal/store"
)

// BenchmarkWorkerStages measures, per resource, each step an import worker
// takes with a Synthea R4 resource: parse its JSON, convert it to R5,
// validate it with the invariants, and prepare its write (index entries,
// stored JSON, full text). The writer's share is BenchmarkImport's rest.
// Run: go test -bench WorkerStages -run '^$' ./internal/importer
func BenchmarkWorkerStages(b *testing.B) {
	examples := sharedtest.SyntheaR4(b)
	var r4, r5 []fhir.Resource
	for _, ex := range examples {
		r, err := fhir.ParseResource(ex.Body)
		if err != nil {
			b.Fatal(err)
		}
		c, _, err := ConvertR4(r.Clone())
		if err != nil {
			continue
		}
		r4, r5 = append(r4, r), append(r5, c)
	}
	prep := openSQLite(b).(store.Preparer)
	perResource := func(b *testing.B, n int) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/resource")
	}
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, ex := range examples {
				if _, err := fhir.ParseResource(ex.Body); err != nil {
					b.Fatal(err)
				}
			}
		}
		perResource(b, len(examples))
	})
	b.Run("convert", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range r4 {
				if _, _, err := ConvertR4(r); err != nil {
					b.Fatal(err)
				}
			}
		}
		perResource(b, len(r4))
	})
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range r5 {
				withInvariants.Validate(r)
			}
		}
		perResource(b, len(r5))
	})
	b.Run("prepare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range r5 {
				if _, err := prep.Prepare(r); err != nil {
					b.Fatal(err)
				}
			}
		}
		perResource(b, len(r5))
	})
}
