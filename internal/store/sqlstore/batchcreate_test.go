package sqlstore

import (
	"fmt"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// TestCreatePrepared writes a batch of prepared resources with
// CreatePrepared: the new ones (in one statement on PostgreSQL), one that
// exists already and one twice, on both databases. Each comes back in
// order with the version it got, reads back, and has the index rows of
// the same resource written plainly.
func TestCreatePrepared(t *testing.T) {
	onBulkBackends(t, func(t *testing.T, fresh func() string) {
		db := openBulkTest(t, fresh())
		plain, old := benchPatient(1), benchPatient(2)
		plain.SetID("plain")
		old.SetID("old")
		if err := db.Write(ctx, func(tx store.Tx) error {
			if _, _, err := tx.Update(plain, 0); err != nil {
				return err
			}
			_, _, err := tx.Update(old, 0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		type want struct {
			id      string
			version int64
		}
		var (
			ps    []*store.Prepared
			wants []want
		)
		add := func(id string, version int64) {
			res := benchPatient(1) // the same content as plain, so the same index rows
			res.SetID(id)
			p, err := db.Prepare(res)
			if err != nil {
				t.Fatal(err)
			}
			ps, wants = append(ps, p), append(wants, want{id, version})
		}
		add("new0", 1)
		add("old", 2)
		add("twice", 1)
		for i := 3; i < 8; i++ {
			add(fmt.Sprint("new", i), 1)
		}
		add("twice", 2)
		var vs []*store.Version
		err := db.Write(ctx, func(tx store.Tx) error {
			refs := make([]string, len(ps))
			for i, p := range ps {
				refs[i] = "Patient/" + p.Resource.ID()
			}
			if err := tx.(store.Prefetcher).Prefetch(refs); err != nil {
				return err
			}
			var err error
			vs, err = tx.(store.BatchCreator).CreatePrepared(ps)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != len(wants) {
			t.Fatalf("%d versions for %d resources", len(vs), len(wants))
		}
		rows := func(id string) int { return indexRows(t, db, "Patient", id) }
		perPatient := rows("plain")
		if perPatient == 0 {
			t.Fatal("no index rows for the plain patient")
		}
		for i, w := range wants {
			v := vs[i]
			if v == nil || v.ID != w.id || v.VersionID != w.version || v.Seq == 0 {
				t.Fatalf("version %d: %+v, want %s version %d", i, v, w.id, w.version)
			}
			got, err := db.Read(ctx, "Patient", w.id)
			if err != nil {
				t.Fatalf("read %s: %v", w.id, err)
			}
			if w.id != "twice" && got.VersionID != w.version {
				t.Errorf("%s: read version %d, want %d", w.id, got.VersionID, w.version)
			}
			if n := rows(w.id); n != perPatient {
				t.Errorf("%s: %d index rows, want %d as written plainly", w.id, n, perPatient)
			}
		}
	})
}

// TestCreatePreparedRefusesStored: on PostgreSQL, where the resources
// the transaction takes for absent go in one statement, one wrongly taken
// so is not overwritten nor half-written: the batch fails and nothing of
// it stays. (SQLite writes each resource as an update would.)
func TestCreatePreparedRefusesStored(t *testing.T) {
	onBulkBackends(t, func(t *testing.T, fresh func() string) {
		db := openBulkTest(t, fresh())
		if db.wstmt.createNew == nil {
			t.Skip("SQLite writes each resource apart")
		}
		stored := benchPatient(1)
		stored.SetID("stored")
		if err := db.Write(ctx, func(tx store.Tx) error { _, _, err := tx.Update(stored, 0); return err }); err != nil {
			t.Fatal(err)
		}
		var ps []*store.Prepared
		for _, id := range []string{"a", "stored", "b"} {
			res := benchPatient(2)
			res.SetID(id)
			p, err := db.Prepare(res)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		err := db.Write(ctx, func(tx store.Tx) error {
			tx.(*txn).absent = map[string]bool{"Patient/a": true, "Patient/stored": true, "Patient/b": true}
			_, err := tx.(store.BatchCreator).CreatePrepared(ps)
			return err
		})
		if err == nil {
			t.Fatal("a batch creating a stored resource again succeeded")
		}
		for _, id := range []string{"a", "b"} {
			if _, err := db.Read(ctx, "Patient", id); !fhir.IsKind(err, fhir.KindNotFound) {
				t.Errorf("Patient/%s after the failed batch: %v, want not found", id, err)
			}
		}
		if v, err := db.Read(ctx, "Patient", "stored"); err != nil || v.VersionID != 1 {
			t.Errorf("Patient/stored after the failed batch: %+v %v, want version 1", v, err)
		}
	})
}
