package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/storetest"
)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "data", "emr.db"), Options{Extractor: storetest.Extractor()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

// openPostgresTest opens a store on a fresh database of the test
// PostgreSQL server (pgtest), skipping t when there is none.
func openPostgresTest(t testing.TB) *DB {
	t.Helper()
	db, err := OpenPostgres(context.Background(), pgtest.DSN(t), Options{Extractor: storetest.Extractor()})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	return db
}

func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPostgresTest(t) })
}
