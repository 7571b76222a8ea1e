package importer

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// failingStore fails every write of Patient/boom inside the store, after
// validation, as a database constraint would.
type failingStore struct{ store.Store }

func (s failingStore) Write(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.Store.Write(ctx, func(tx store.Tx) error { return fn(failingTx{tx}) })
}

type failingTx struct{ store.Tx }

func (tx failingTx) Update(res fhir.Resource, ifMatch int64) (*store.Version, bool, error) {
	if res.ID() == "boom" {
		return nil, false, errors.New("disk on fire")
	}
	return tx.Tx.Update(res, ifMatch)
}

// TestStoreFailureCostsOnlyItsUnit checks the writer's fallback: when a
// batch fails in the store, the other NDJSON lines are still written, and
// a transaction holding the failing resource is written not at all.
func TestStoreFailureCostsOnlyItsUnit(t *testing.T) {
	st := openSQLite(t)
	dir := t.TempDir()
	writeNDJSON(t, filepath.Join(dir, "a.ndjson"),
		`{"resourceType":"Patient","id":"a1"}`, `{"resourceType":"Patient","id":"boom"}`, `{"resourceType":"Patient","id":"a2"}`)
	writeFile(t, filepath.Join(dir, "b.json"), bundle("transaction",
		entry("urn:uuid:0d0a2d8e-0000-4000-8000-00000000000b", fhir.Resource{"resourceType": "Patient", "id": "b1"}),
		entry("urn:uuid:0d0a2d8e-0000-4000-8000-00000000000c", fhir.Resource{"resourceType": "Patient", "id": "boom"})))
	opts := options(failingStore{st})
	opts.Workers = 1
	sum := importOK(t, opts, dir)
	wantTotal(t, sum, Counts{Read: 5, Created: 2, Failed: 3})
	ctx := context.Background()
	for id, want := range map[string]bool{"a1": true, "a2": true, "b1": false, "boom": false} {
		_, err := st.Read(ctx, "Patient", id)
		if got := err == nil; got != want {
			t.Errorf("Patient/%s stored %v, want %v (%v)", id, got, want, err)
		}
	}
	if len(sum.Problems) != 2 || sum.Problems[0].Where != "line 2" || sum.Problems[1].Where != "transaction Bundle" {
		t.Errorf("problems %v, want a.ndjson line 2 and b.json's transaction", sum.Problems)
	}
}
