package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
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

// TestRecordClock: records expire by Options.Now, the clock the
// application runs on, not the machine's.
func TestRecordClock(t *testing.T) {
	now := time.Date(2001, 2, 3, 4, 5, 0, 0, time.UTC)
	db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "emr.db"), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := &store.Record{Kind: "session", Key: "k", Owner: "u", Expires: now.Add(time.Hour), Value: []byte(`{}`)}
	if _, err := db.PutRecord(ctx, r, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetRecord(ctx, "session", "k"); err != nil {
		t.Errorf("a record an hour from expiry by the store's clock: %v", err)
	}
	if rs, err := db.ListRecords(ctx, "session", "u"); err != nil || len(rs) != 1 {
		t.Errorf("ListRecords: %d, %v; want 1", len(rs), err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := db.GetRecord(ctx, "session", "k"); !fhir.IsKind(err, fhir.KindNotFound) {
		t.Errorf("an expired record: %v", err)
	}
}
