package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/storetest"
)

// versioned is the real extractor under another version.
type versioned struct {
	store.Extractor
	version string
}

func (v versioned) Version() string { return v.version }

func TestReindex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emr.db")
	open := func(x store.Extractor) *DB {
		t.Helper()
		db, err := OpenSQLite(ctx, path, Options{Extractor: x})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return db
	}
	// Written without an index.
	db := open(nil)
	const n = 2*reindexBatch + 50
	err := db.Write(ctx, func(tx store.Tx) error {
		for i := range n {
			if _, err := tx.Create(benchPatient(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = open(versioned{storetest.Extractor(), "v1"})
	if !db.IndexStale() {
		t.Errorf("IndexStale: got false for a store indexed by no extractor")
	}
	family := &search.Query{Type: "Patient", Filters: []*search.Filter{testFilter("Patient", "family", "exact", search.Value{Exact: "Family7"})}}
	count := func() int {
		t.Helper()
		r, err := db.Search(ctx, family)
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Matches)
	}
	if got := count(); got != 0 {
		t.Errorf("before reindex: %d matches, want 0", got)
	}
	// Interrupt after the first batch, then resume.
	cctx, cancel := context.WithCancel(ctx)
	err = db.Reindex(cctx, func(done, total int64) {
		if done > 0 {
			cancel()
		}
	})
	if err == nil {
		t.Fatalf("interrupted reindex: got no error")
	}
	var calls []string
	if err := db.Reindex(ctx, func(done, total int64) { calls = append(calls, fmt.Sprintf("%d/%d", done, total)) }); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	want := []string{"200/450", "400/450", "450/450", "450/450"}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("resumed progress: got %v, want %v (carrying on after the first batch)", calls, want)
	}
	if db.IndexStale() {
		t.Errorf("IndexStale after Reindex: got true")
	}
	if got := count(); got != 1 {
		t.Errorf("after reindex: %d matches, want 1", got)
	}
	db.Close()

	db = open(versioned{storetest.Extractor(), "v1"})
	if db.IndexStale() {
		t.Errorf("IndexStale after reopening with the same version: got true")
	}
	db.Close()
	db = open(versioned{storetest.Extractor(), "v2"})
	defer db.Close()
	if !db.IndexStale() {
		t.Errorf("IndexStale with a new extractor version: got false")
	}
	if got := count(); got != 1 {
		t.Errorf("stale index still answers: %d matches, want 1", got)
	}
}
