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
	ctx := context.Background()
	db := openPostgresTest(t)
	defer db.Close()
	for range 11 {
		err := db.Write(ctx, func(tx store.Tx) error {
			for range 100 {
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
	deadline := time.Now().Add(time.Minute) // a bound on waiting, not a speed assertion
	for {
		var analysed sql.NullTime
		err := db.readers.QueryRowContext(ctx,
			"SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'idx_string'").Scan(&analysed)
		if err != nil {
			t.Fatal(err)
		}
		if analysed.Valid {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("idx_string was not analysed after 1,100 versions")
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
	for range 11 {
		err := db.Write(ctx, func(tx store.Tx) error {
			for range 100 {
				if _, err := tx.Create(fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Loaded"}}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Write has returned, so the writer's maybeAnalyze has run: it must
	// have left its threshold (1,000) behind the versions written, which
	// it moves past them when it starts an ANALYZE.
	if db.nextAnalyze > db.written {
		t.Errorf("statistics were refreshed during the bulk load (next at %d versions)", db.nextAnalyze)
	}
	if err := db.EndBulk(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute) // a bound on waiting, not a speed assertion
	for {
		var analysed sql.NullTime
		var count int64
		err := db.readers.QueryRowContext(ctx,
			"SELECT last_analyze, analyze_count FROM pg_stat_user_tables WHERE relname = 'idx_string'").Scan(&analysed, &count)
		if err != nil {
			t.Fatal(err)
		}
		if analysed.Valid {
			if count != 1 {
				t.Errorf("idx_string analysed %d times", count)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("idx_string was not analysed after the bulk load of 1,100 versions")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
