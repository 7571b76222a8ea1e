package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/emr-project/emr/internal/store"
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
