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
