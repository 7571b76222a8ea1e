package search

import "testing"

func benchmarkExtract(b *testing.B, doc string) {
	x := testExtractor(b)
	res := mustParse(b, doc)
	entries, err := x.Extract(res)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Extract(res); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(entries)), "entries/op")
}

func BenchmarkExtractPatient(b *testing.B)     { benchmarkExtract(b, patientJSON) }
func BenchmarkExtractObservation(b *testing.B) { benchmarkExtract(b, observationJSON) }

func BenchmarkNewExtractor(b *testing.B) {
	defs := testExtractor(b).defs
	b.ReportAllocs()
	for b.Loop() {
		NewExtractor(defs)
	}
}
