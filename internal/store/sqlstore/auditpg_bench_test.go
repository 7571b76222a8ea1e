package sqlstore

import "testing"

// BenchmarkAppendAuditPostgres is BenchmarkAppendAudit on the test
// PostgreSQL server (pgtest: fsync off, so the figures show the work of an
// append, not the disk's flush): each append is an audit-only batch.
func BenchmarkAppendAuditPostgres(b *testing.B) {
	b.Run("Sequential", func(b *testing.B) {
		db := openPostgresTest(b)
		defer db.Close()
		for b.Loop() {
			if err := db.AppendAudit(ctx, benchAudit()); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b)
	})
	b.Run("Parallel", func(b *testing.B) {
		db := openPostgresTest(b)
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
