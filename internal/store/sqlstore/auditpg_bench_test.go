package sqlstore

import "testing"

// BenchmarkAppendAuditPostgres is BenchmarkAppendAudit on the test
// PostgreSQL server (pgtest: fsync off, so the figures show the work of an
// append, not the disk's flush): each append is an audit-only batch.
func BenchmarkAppendAuditPostgres(b *testing.B) { benchAppendAudit(b, openPostgresTest) }
