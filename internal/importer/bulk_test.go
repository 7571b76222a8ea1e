package importer

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/emr-project/emr/internal/store"
)

// TestBulkLoad: an import into an empty store that can load in bulk does,
// and ends the load when it ends, even cancelled; an import into a store
// holding resources does not.
func TestBulkLoad(t *testing.T) {
	rs := r5Resources(t, 200)
	first := writeNDJSON(t, filepath.Join(t.TempDir(), "first.ndjson"), lines(rs[:100])...)
	second := writeNDJSON(t, filepath.Join(t.TempDir(), "second.ndjson"), lines(rs[100:])...)
	st := openSQLite(t)
	bl, ok := st.(store.BulkLoader)
	if !ok {
		t.Fatal("the SQLite store is not a store.BulkLoader")
	}
	// loading records, at each committed write, whether a load ran.
	var loading []bool
	opts := options(st)
	opts.Created = func(context.Context, []*store.Version) error {
		loading = append(loading, bl.BulkLoading())
		return nil
	}
	wantTotal(t, importOK(t, opts, first), Counts{Read: 100, Created: 100})
	if len(loading) == 0 || slices.Contains(loading, false) {
		t.Errorf("into an empty store, a bulk load ran at each write: %v; want all true", loading)
	}
	if bl.BulkLoading() {
		t.Error("the bulk load outlived the import")
	}
	loading = nil
	wantTotal(t, importOK(t, opts, second), Counts{Read: 100, Created: 100})
	if len(loading) == 0 || slices.Contains(loading, true) {
		t.Errorf("into a store holding resources, a bulk load ran at each write: %v; want all false", loading)
	}
	for _, r := range rs {
		if _, err := st.Read(context.Background(), r.Type(), r.ID()); err != nil {
			t.Errorf("%s/%s: %v", r.Type(), r.ID(), err)
		}
	}

	// Cancelled after the first write: the load ends all the same.
	st = openSQLite(t)
	bl = st.(store.BulkLoader)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts = options(st)
	opts.Created = func(context.Context, []*store.Version) error {
		if !bl.BulkLoading() {
			t.Error("no bulk load at the first write")
		}
		cancel()
		return nil
	}
	if _, err := Import(ctx, opts, first); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled import: %v", err)
	}
	if bl.BulkLoading() {
		t.Error("the bulk load outlived the cancelled import")
	}
}
