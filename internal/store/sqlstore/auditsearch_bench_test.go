package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
)

// BenchmarkSearchAudit measures audit searches on a log of 100,000
// records or EMR_BENCH_AUDIT_RECORDS, written as the gate writes them
// (audit.Event): 10,000 patients, 500 users, 80% reads, 2% refused, a
// third with a purpose of use. EMR_BENCH_AUDIT_BACKENDS (default both)
// picks sqlite and/or postgres:
//
//	EMR_BENCH_AUDIT_RECORDS=1000000 go test ./internal/store/sqlstore -run '^$' -bench SearchAudit -benchtime 200x
func BenchmarkSearchAudit(b *testing.B) {
	records := 100000
	if s := os.Getenv("EMR_BENCH_AUDIT_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("EMR_BENCH_AUDIT_RECORDS=%q: want a positive number", s)
		}
		records = n
	}
	backends := []string{"sqlite", "postgres"}
	if s := os.Getenv("EMR_BENCH_AUDIT_BACKENDS"); s != "" {
		backends = []string{s}
	}
	for _, name := range backends {
		b.Run(name, func(b *testing.B) {
			var (
				db  *DB
				err error
			)
			if name == "sqlite" {
				db, err = OpenSQLite(ctx, b.TempDir()+"/emr.db", Options{ReadConns: 4})
			} else {
				db, err = OpenPostgres(ctx, pgtest.DSN(b), Options{ReadConns: 4})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			start := time.Now()
			r := rand.New(rand.NewPCG(7, 7))
			var mid time.Time
			const perWrite = 1000
			for done := 0; done < records; done += perWrite {
				// As the gate writes them: a write's event as JSON in the
				// write's transaction, the others in compact form.
				var encoded []audit.Encoded
				err := db.Write(ctx, func(tx store.Tx) error {
					for i := range min(perWrite, records-done) {
						e := benchSearchEntry(r, done+i)
						if e.Interaction == "read" || e.Interaction == "search-type" {
							enc, _ := audit.Encode(e, store.NewID())
							encoded = append(encoded, enc)
							continue
						}
						ev := audit.Event(e)
						ev.SetID(store.NewID())
						if err := tx.AppendAudit(ev); err != nil {
							return err
						}
					}
					return nil
				})
				if err == nil {
					err = db.AppendEncodedAudit(ctx, encoded...)
				}
				if err != nil {
					b.Fatal(err)
				}
				if done == records/2 {
					mid = time.Now()
				}
			}
			b.Logf("%d audit records written in %s", records, time.Since(start).Round(time.Millisecond))
			if name == "postgres" {
				var log, index int64
				if err := db.readers.QueryRowContext(ctx, "SELECT pg_total_relation_size('audit_event'), pg_total_relation_size('audit_posting')").Scan(&log, &index); err == nil {
					b.Logf("audit_event %d MB, audit_posting %d MB", log>>20, index>>20)
				}
			} else {
				var log, index int64
				if err := db.readers.QueryRowContext(ctx, `SELECT (SELECT sum(pgsize) FROM dbstat WHERE name = 'audit_event'),
					(SELECT sum(pgsize) FROM dbstat WHERE name = 'audit_posting')`).Scan(&log, &index); err == nil {
					b.Logf("audit_event %d MB, audit_posting %d MB", log>>20, index>>20)
				}
			}
			ms := mid.UnixMilli()
			term := func(name, value string) []audit.Term { return []audit.Term{{Name: name, Value: value}} }
			for _, c := range []struct {
				name string
				q    store.AuditQuery
			}{
				{"patient", store.AuditQuery{Terms: [][]audit.Term{term("patient", "Patient/p42")}}},
				{"patient+total", store.AuditQuery{Terms: [][]audit.Term{term("patient", "Patient/p42")}, Total: true}},
				{"agent", store.AuditQuery{Terms: [][]audit.Term{term("agent", "user7")}}},
				{"agent+total", store.AuditQuery{Terms: [][]audit.Term{term("agent", "user7")}, Total: true}},
				{"patient+agent+action", store.AuditQuery{Terms: [][]audit.Term{term("patient", "Patient/p42"), term("agent", "user7"), term("action", "R")}}},
				{"outcome=4", store.AuditQuery{Terms: [][]audit.Term{term("outcome", "4")}}},
				{"action=R+outcome=4+purpose", store.AuditQuery{Terms: [][]audit.Term{term("action", "R"), term("outcome", "4"), term("purpose", "TREAT")}}},
				{"entity", store.AuditQuery{Terms: [][]audit.Term{term("entity", "Observation/o42")}}},
				{"all newest", store.AuditQuery{}},
				{"date ge mid", store.AuditQuery{Recorded: [][]store.TimeRange{{{From: ms}}}}},
				{"date lt mid", store.AuditQuery{Recorded: [][]store.TimeRange{{{To: ms}}}}},
				{"patient+date lt mid", store.AuditQuery{Terms: [][]audit.Term{term("patient", "Patient/p42")}, Recorded: [][]store.TimeRange{{{To: ms}}}}},
				{"action=R+total", store.AuditQuery{Terms: [][]audit.Term{term("action", "R")}, Total: true}},
			} {
				b.Run(c.name, func(b *testing.B) {
					var page *store.AuditPage
					for b.Loop() {
						c.q.Count = 50
						if page, err = db.SearchAudit(ctx, c.q); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(len(page.Records)), "results")
					if page.Total >= 0 {
						b.ReportMetric(float64(page.Total), "total")
					}
				})
			}
		})
	}
}

// benchSearchEntry is the i-th entry of the benchmark's log.
func benchSearchEntry(r *rand.Rand, i int) audit.Entry {
	e := audit.Entry{
		Interaction: "read",
		Type:        "Observation", ID: fmt.Sprintf("o%d", r.IntN(200000)), VersionID: 1,
		Patient:  fmt.Sprintf("Patient/p%d", r.IntN(10000)),
		Agent:    audit.Agent{User: fmt.Sprintf("user%d", r.IntN(500)), Address: "10.0.0.7"},
		Recorded: time.Now(), Observer: "bench",
	}
	switch n := r.IntN(100); {
	case n < 10:
		e.Interaction, e.ID, e.Query = "search-type", "", "code=1234-5"
	case n < 15:
		e.Interaction = "update"
	case n < 20:
		e.Interaction = "create"
	}
	if r.IntN(50) == 0 {
		e.Outcome, e.Detail = audit.MinorFailure, "denied: not in care"
	}
	if r.IntN(3) == 0 {
		e.Purpose = "TREAT"
	}
	return e
}
