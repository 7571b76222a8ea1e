package fhirapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// The benchmarks go through the whole HTTP handler (routing, validation,
// gate, audit, SQLite with fsync), in process without a network.
// go test ./internal/fhirapi -run '^$' -bench . -benchtime 2s

func BenchmarkCreate(b *testing.B) {
	s := newTestServer(b)
	b.Run("serial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if r := s.do("POST", "/fhir/Patient", patientJSON, "Prefer: return=minimal"); r.status != http.StatusCreated {
				b.Fatalf("status %d", r.status)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if r := s.do("POST", "/fhir/Patient", patientJSON, "Prefer: return=minimal"); r.status != http.StatusCreated {
					b.Errorf("status %d", r.status)
				}
			}
		})
	})
}

func BenchmarkRead(b *testing.B) {
	s := newTestServer(b)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = s.mustCreate(patientJSON)
	}
	b.Run("serial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if r := s.do("GET", "/fhir/Patient/"+ids[i%len(ids)], ""); r.status != http.StatusOK {
				b.Fatalf("status %d", r.status)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				if r := s.do("GET", "/fhir/Patient/"+ids[i%len(ids)], ""); r.status != http.StatusOK {
					b.Errorf("status %d", r.status)
				}
			}
		})
	})
}

// BenchmarkTransaction posts transactions of one patient and 20
// observations; resources/s is reported alongside.
func BenchmarkTransaction(b *testing.B) {
	s := newTestServer(b)
	var sb strings.Builder
	sb.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:0d9b5a3c-0000-4000-8000-000000000000","resource":` + patientJSON + `,"request":{"method":"POST","url":"Patient"}}`)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&sb, `,{"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"urn:uuid:0d9b5a3c-0000-4000-8000-000000000000"},"effectiveDateTime":"2024-01-%02dT10:00:00Z","valueQuantity":{"value":%d.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}},"request":{"method":"POST","url":"Observation"}}`, i+1, 60+i)
	}
	sb.WriteString(`]}`)
	body := sb.String()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := s.do("POST", "/fhir", body); r.status != http.StatusOK {
			b.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	b.ReportMetric(float64(21*b.N)/b.Elapsed().Seconds(), "resources/s")
}
