package mpi

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// samplePersons normalises the first n generated records.
func samplePersons(n int) []Person {
	out := make([]Person, 0, n)
	Generate(5, n).Each(func(r Record) { out = append(out, FromPatient(r.Patient)) })
	return out
}

// BenchmarkMatch measures Compare on pairs as blocking delivers them:
// each record against the next ones, a mix of duplicates, household
// members and strangers.
func BenchmarkMatch(b *testing.B) {
	persons := samplePersons(2000)
	m := DefaultModel()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := persons[i%len(persons)]
		c := persons[(i+1+i/len(persons))%len(persons)]
		_ = m.Compare(a, c)
	}
}

func BenchmarkFromPatient(b *testing.B) {
	var records []Record
	Generate(5, 1000).Each(func(r Record) { records = append(records, r) })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = FromPatient(records[i%len(records)].Patient)
	}
}

func BenchmarkBlockingKeys(b *testing.B) {
	persons := samplePersons(1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = persons[i%len(persons)].BlockingKeys()
	}
}

// BenchmarkGenerate measures generation alone, records per second.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Generate(int64(i), 10000).Each(func(Record) {})
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "records/s")
}

// TestEval10k reports lookup latency (candidate selection plus Compare of
// every candidate) at 10,000 patients: go test -run TestEval10k -v.
func TestEval10k(t *testing.T) {
	rep := Evaluate(Generate(2, 10000), EvalOptions{})
	t.Logf("lookup+compare latency p50 %v p99 %v over %d records (%d pairs compared)", rep.P50, rep.P99, rep.Records, rep.Compared)
	if rep.P99 > 50*time.Millisecond {
		t.Errorf("p99 %v, want well under 50ms", rep.P99)
	}
}

// TestGenerateMillion streams a million patients and reports time and
// memory; it runs only with MPI_MILLION=1 since it takes several seconds.
func TestGenerateMillion(t *testing.T) {
	if os.Getenv("MPI_MILLION") == "" {
		t.Skip("set MPI_MILLION=1 to generate 1,000,000 patients")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	n, dups := 0, 0
	Generate(1, 1_000_000).Each(func(r Record) {
		n++
		if r.Kind == "duplicate" {
			dups++
		}
	})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	t.Logf("%d records (%d duplicates) in %v: %.0f records/s; heap in use %d KiB, total allocated %d MiB",
		n, dups, elapsed, float64(n)/elapsed.Seconds(), after.HeapInuse/1024, (after.TotalAlloc-before.TotalAlloc)>>20)
}
