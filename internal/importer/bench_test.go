package importer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// clinical are the resource types of patient records, as Synthea writes
// them: the benchmark leaves out the large conformance resources.
var clinical = map[string]bool{
	"Patient": true, "Practitioner": true, "PractitionerRole": true, "Organization": true, "Location": true,
	"Encounter": true, "Condition": true, "Observation": true, "DiagnosticReport": true, "Procedure": true,
	"MedicationRequest": true, "Medication": true, "MedicationAdministration": true, "MedicationStatement": true,
	"Immunization": true, "AllergyIntolerance": true, "CarePlan": true, "CareTeam": true, "Goal": true,
	"Claim": true, "ExplanationOfBenefit": true, "Coverage": true, "ImagingStudy": true, "Device": true,
	"DocumentReference": true, "Provenance": true, "ServiceRequest": true,
}

var withInvariants = validate.New(spec.R5(), validate.WithInvariants(validate.NewFHIRPathInvariants(spec.R5())))

// BenchmarkImport measures import throughput into SQLite on disk: valid
// official R5 examples of clinical types, copied under new ids to 5,000 resources of
// NDJSON, validated (with and without the FHIRPath invariants), indexed
// and written durably; PostgreSQL too when pgtest can start it.
// Run: go test -bench Import -run '^$' -benchtime 2x ./internal/importer
func BenchmarkImport(b *testing.B) {
	var base []fhir.Resource
	for _, r := range r5Resources(b, 0) {
		if clinical[r.Type()] && !validate.HasErrors(withInvariants.Validate(r)) {
			base = append(base, r)
		}
	}
	var rs []fhir.Resource
	for copyNo := 0; len(rs) < 5000; copyNo++ {
		for _, r := range base {
			if len(rs) == 5000 {
				break
			}
			c := r.Clone()
			if id := fmt.Sprintf("%s-c%d", r.ID(), copyNo); fhir.ValidID(id) {
				c.SetID(id)
				rs = append(rs, c)
			}
		}
	}
	file := writeNDJSON(b, filepath.Join(b.TempDir(), "bench.ndjson"), lines(rs)...)
	openPostgres := func(b *testing.B) store.Store {
		st, err := sqlstore.OpenPostgres(context.Background(), pgtest.DSN(b), sqlstore.Options{Extractor: search.NewExtractor(spec.R5())})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}
	for _, bc := range []struct {
		name      string
		open      func(b *testing.B) store.Store
		validator Validator
	}{
		{"sqlite/invariants", func(b *testing.B) store.Store { return openSQLite(b) }, withInvariants},
		{"sqlite/structure", func(b *testing.B) store.Store { return openSQLite(b) }, testValidator},
		{"postgres/invariants", openPostgres, withInvariants},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				st := bc.open(b)
				b.StartTimer()
				start := time.Now()
				sum, err := Import(context.Background(), Options{Store: st, Validator: bc.validator}, file)
				elapsed += time.Since(start)
				if err != nil || sum.Total().Created != int64(len(rs)) {
					b.Fatalf("%v: %+v %v", err, sum.Total(), sum.Problems)
				}
			}
			b.ReportMetric(float64(len(rs)*b.N)/elapsed.Seconds(), "resources/s")
		})
	}
}
