package sqlstore

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// TestPostgresAnalyzesAfterLoad checks that a process that has written
// its first thousand versions refreshes the planner's statistics, rather
// than leaving the index tables unknown to the planner until autovacuum
// comes round.
func TestPostgresAnalyzesAfterLoad(t *testing.T) {
	db := openPostgresTest(t)
	defer db.Close()
	createPatients(t, db, 11, 100)
	waitAnalysed(t, db)
}

// createPatients creates batches×size patients, a batch per write.
func createPatients(t *testing.T, db *DB, batches, size int) {
	t.Helper()
	for range batches {
		err := db.Write(context.Background(), func(tx store.Tx) error {
			for range size {
				if _, err := tx.Create(fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Analysed"}}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// waitAnalysed waits until idx_string has been analysed, and returns how
// many times it was.
func waitAnalysed(t *testing.T, db *DB) int64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a bound on waiting, not a speed assertion
	for {
		var analysed sql.NullTime
		var count int64
		err := db.readers.QueryRowContext(context.Background(),
			"SELECT last_analyze, analyze_count FROM pg_stat_user_tables WHERE relname = 'idx_string'").Scan(&analysed, &count)
		if err != nil {
			t.Fatal(err)
		}
		if analysed.Valid {
			return count
		}
		if time.Now().After(deadline) {
			t.Fatal("idx_string was not analysed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostgresAnalyzesAfterBulkLoad checks that a bulk load gathers no
// statistics while it writes (they would be stale at once, and cost the
// server's CPU the load needs) and gathers them once its indexes are
// built.
func TestPostgresAnalyzesAfterBulkLoad(t *testing.T) {
	ctx := context.Background()
	db := openPostgresTest(t)
	defer db.Close()
	begun, err := db.BeginBulk(ctx)
	if err != nil || !begun {
		t.Fatalf("BeginBulk: %v %v", begun, err)
	}
	createPatients(t, db, 11, 100)
	// Write has returned, so the writer's maybeAnalyze has run: it must
	// have left its threshold (1,000) behind the versions written, which
	// it moves past them when it starts an ANALYZE.
	if db.nextAnalyze > db.written {
		t.Errorf("statistics were refreshed during the bulk load (next at %d versions)", db.nextAnalyze)
	}
	if err := db.EndBulk(ctx); err != nil {
		t.Fatal(err)
	}
	if n := waitAnalysed(t, db); n != 1 {
		t.Errorf("idx_string analysed %d times", n)
	}
}
