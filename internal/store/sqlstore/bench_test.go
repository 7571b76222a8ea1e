package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/emr-project/emr/internal/store"
)

// benchPatient is a Patient of typical size (about 1 KB of JSON).
func benchPatient(i int) fhir.Resource {
	res, err := fhir.ParseResource(fmt.Appendf(nil, `{
		"resourceType": "Patient",
		"meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
		"identifier": [{"system": "http://hospital.example.org/mrn", "value": "MRN%08d"},
			{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-%02d-%04d"}],
		"active": true,
		"name": [{"use": "official", "family": "Family%d", "given": ["Given%d", "Middle"]}],
		"telecom": [{"system": "phone", "value": "555-%04d", "use": "home"},
			{"system": "email", "value": "patient%d@example.org"}],
		"gender": "female",
		"birthDate": "19%02d-0%d-1%d",
		"address": [{"use": "home", "line": ["%d Main Street", "Apt 4"], "city": "Springfield",
			"state": "MA", "postalCode": "01101", "country": "US"}],
		"maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]},
		"communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en-US"}]}, "preferred": true}]
	}`, i, i%100, i%10000, i, i, i%10000, i, i%100, 1+i%9, i%10, i))
	if err != nil {
		panic(err)
	}
	return res
}

func benchAudit() fhir.Resource {
	return fhir.Resource{
		"resourceType": "AuditEvent",
		"code":         map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}}},
		"action":       "R",
		"recorded":     "2026-11-23T03:49:16.123Z",
		"agent":        []any{map[string]any{"who": map[string]any{"reference": "Practitioner/123"}}},
		"source":       map[string]any{"observer": map[string]any{"display": "emr"}},
		"entity":       []any{map[string]any{"what": map[string]any{"reference": "Patient/0192"}}},
	}
}

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// readsInParallel reads patients of ids at random, GOMAXPROCS goroutines
// at once, and reports reads per second and the process's CPU time per
// read (sharedtest.ProcessCPU), which other load on the machine moves far
// less than the clock.
func readsInParallel(b *testing.B, db *DB, ids []string) {
	cpu := sharedtest.ProcessCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.Read(ctx, "Patient", ids[rand.IntN(len(ids))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if cpu > 0 {
		b.ReportMetric(float64((sharedtest.ProcessCPU()-cpu).Nanoseconds())/float64(max(b.N, 1)), "cpu-ns/op")
	}
	reportOps(b)
}

func BenchmarkCreate(b *testing.B) {
	b.Run("Sequential", func(b *testing.B) {
		db := openTest(b)
		defer db.Close()
		i := 0
		for b.Loop() {
			i++
			res := benchPatient(i)
			if err := db.Write(ctx, func(tx store.Tx) error { _, err := tx.Create(res); return err }); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b)
	})
	// Many concurrent writers, as under an HTTP load: group commit lets them
	// share fsyncs.
	b.Run("Parallel", func(b *testing.B) {
		db := openTest(b)
		defer db.Close()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			i := rand.Int()
			for pb.Next() {
				i++
				res := benchPatient(i)
				if err := db.Write(ctx, func(tx store.Tx) error { _, err := tx.Create(res); return err }); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b)
	})
}

func BenchmarkRead(b *testing.B) {
	db := openTest(b)
	defer db.Close()
	const n = 20000
	ids := make([]string, 0, n)
	for len(ids) < n {
		err := db.Write(ctx, func(tx store.Tx) error {
			for range 1000 {
				v, err := tx.Create(benchPatient(len(ids)))
				if err != nil {
					return err
				}
				ids = append(ids, v.ID)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Sequential", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Read(ctx, "Patient", ids[rand.IntN(n)]); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b)
	})
	b.Run("Parallel", func(b *testing.B) { readsInParallel(b, db, ids) })
	// The same while another goroutine commits about every millisecond.
	// WhileCommitting appends audit events, as audited reads make the
	// writer do: on SQLite they go to the audit file (auditfile.go).
	// WhileWriting writes a resource instead, to the file the readers
	// read: each such commit makes every reader connection drop its page
	// cache at its next transaction (SQLite's pager does so whenever the
	// WAL changed), which is why the audit log has a file of its own
	// (docs/audit.md). The difference between the two is what the
	// readers' caches cost; the rest is the committing goroutine's share
	// of the cores.
	for _, target := range []struct {
		name   string
		commit func() error
	}{
		{"ParallelWhileCommitting", func() error { return db.AppendAudit(ctx, benchAudit()) }},
		{"ParallelWhileWriting", func() error {
			return db.Write(ctx, func(tx store.Tx) error {
				_, _, err := tx.Update(fhir.Resource{"resourceType": "Basic", "id": "tick"}, 0)
				return err
			})
		}},
	} {
		b.Run(target.name, func(b *testing.B) {
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
					if err := target.commit(); err != nil {
						b.Error(err)
						return
					}
				}
			}()
			readsInParallel(b, db, ids)
			close(stop)
			<-done
		})
	}
}

func BenchmarkAppendAudit(b *testing.B) { benchAppendAudit(b, openTest) }

// benchAppendAudit measures appends, one audit-only batch each, alone and
// 16 at a time, on stores open makes.
func benchAppendAudit(b *testing.B, open func(testing.TB) *DB) {
	b.Run("Sequential", func(b *testing.B) {
		db := open(b)
		defer db.Close()
		for b.Loop() {
			if err := db.AppendAudit(ctx, benchAudit()); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b)
	})
	b.Run("Parallel", func(b *testing.B) {
		db := open(b)
		defer db.Close()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := db.AppendAudit(ctx, benchAudit()); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b)
	})
}
