package sqlstore

import (
	"crypto/ed25519"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/auditchain"
	"github.com/emr-project/emr/internal/store/pgtest"
)

// BenchmarkVerifyAudit measures verifying a whole audit log, of 100,000
// records or EMR_BENCH_AUDIT_RECORDS:
//
//	EMR_BENCH_AUDIT_RECORDS=1000000 go test ./internal/store/sqlstore -run '^$' -bench VerifyAudit -benchtime 1x
func BenchmarkVerifyAudit(b *testing.B) {
	records := 100000
	if s := os.Getenv("EMR_BENCH_AUDIT_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("EMR_BENCH_AUDIT_RECORDS=%q: want a positive number", s)
		}
		records = n
	}
	open := map[string]func(b *testing.B, opts Options) *DB{
		"sqlite": func(b *testing.B, opts Options) *DB {
			db, err := OpenSQLite(ctx, b.TempDir()+"/emr.db", opts)
			if err != nil {
				b.Fatal(err)
			}
			return db
		},
		"postgres": func(b *testing.B, opts Options) *DB {
			db, err := OpenPostgres(ctx, pgtest.DSN(b), opts)
			if err != nil {
				b.Fatal(err)
			}
			return db
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			key := newAuditKey(b)
			db := open[name](b, Options{AuditKey: key})
			defer db.Close()
			start := time.Now()
			const perWrite = 1000
			for done := 0; done < records; done += perWrite {
				err := db.Write(ctx, func(tx store.Tx) error {
					for range min(perWrite, records-done) {
						if err := tx.AppendAudit(benchAudit()); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("%d audit records written in %s", records, time.Since(start).Round(time.Millisecond))
			keys := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
			for b.Loop() {
				sum, err := db.VerifyAudit(ctx, auditchain.Config{Keys: keys, Report: func(p auditchain.Problem) { b.Error(p) }})
				if err != nil {
					b.Fatal(err)
				}
				if sum.Records != int64(records) || !sum.Intact() {
					b.Fatalf("summary %+v, want %d records, intact", sum, records)
				}
			}
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/verify")
		})
	}
}
