package fhirapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/sharedtest"
)

// BenchmarkR4 measures what the R4 face adds to the R5 path: a read of an
// Encounter in R5 and in R4, and the smallest Synthea patient
// transaction posted to /fhir/R4 and, converted beforehand, to /fhir
// (resources/s reported).
// go test ./internal/fhirapi -run '^$' -bench R4 -benchtime 2s
func BenchmarkR4(b *testing.B) {
	s := newTestServer(b)
	id := s.do("POST", "/fhir/R4/Encounter", r4Encounter).resource(b).ID()
	for _, base := range []string{"/fhir", "/fhir/R4"} {
		b.Run("read"+base, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if r := s.do("GET", base+"/Encounter/"+id, ""); r.status != http.StatusOK {
					b.Fatalf("status %d", r.status)
				}
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join(sharedtest.Path(b, "testdata", "synthea-r4"), "*.json"))
	sort.Slice(files, func(i, j int) bool { return fileSize(files[i]) < fileSize(files[j]) })
	body, err := os.ReadFile(files[0])
	if err != nil {
		b.Fatal(err)
	}
	r4Bundle, err := fhir.ParseResource(body)
	if err != nil {
		b.Fatal(err)
	}
	r5Bundle, _, err := r4.ToR5(r4Bundle)
	if err != nil {
		b.Fatal(err)
	}
	// The same transaction, converted beforehand, on the R5 base.
	bodies := map[string]string{"/fhir": string(r5Bundle.JSON()), "/fhir/R4": string(body)}
	for _, base := range []string{"/fhir", "/fhir/R4"} {
		b.Run("transaction"+base, func(b *testing.B) {
			n := 0
			for i := 0; i < b.N; i++ {
				r := s.do("POST", base, bodies[base])
				if r.status != http.StatusOK {
					b.Fatalf("status %d: %s", r.status, r.body)
				}
				entries, _ := r.resource(b)["entry"].([]any)
				n += len(entries)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}
