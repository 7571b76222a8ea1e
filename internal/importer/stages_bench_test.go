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
	// stage runs step on each of n resources per iteration.
	stage := func(name string, n int, step func(i int) error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i := range n {
					if err := step(i); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/resource")
		})
	}
	stage("parse", len(examples), func(i int) error {
		_, err := fhir.ParseResource(examples[i].Body)
		return err
	})
	stage("convert", len(r4), func(i int) error {
		_, _, err := ConvertR4(r4[i])
		return err
	})
	stage("validate", len(r5), func(i int) error {
		withInvariants.Validate(r5[i])
		return nil
	})
	stage("prepare", len(r5), func(i int) error {
		_, err := prep.Prepare(r5[i])
		return err
	})
}
