package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

var crudTests = []suiteTest{
	{"CreateAssignsIDAndMeta", func(t *testing.T, s store.Store) {
		res := patient("Chalmers")
		res["id"] = "client-chosen"
		res["meta"] = map[string]any{
			"versionId":   "99",
			"lastUpdated": "2001-01-01T00:00:00Z",
			"tag":         []any{map[string]any{"system": "http://example.org/tags", "code": "vip"}},
			"profile":     []any{"http://example.org/StructureDefinition/p"},
			"security":    []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}},
		}
		v := create(t, s, res)
		if v.ID == "" || v.ID == "client-chosen" {
			t.Fatalf("got id %q, want a new server-assigned id", v.ID)
		}
		checkVersion(t, "create", v, "Patient", v.ID, 1, false)
		if res.ID() != v.ID || res.VersionID() != "1" {
			t.Errorf("Create did not set id and meta on its argument: %s", res.JSON())
		}
		meta := v.Resource.Meta()
		for _, k := range []string{"tag", "profile", "security"} {
			if meta[k] == nil {
				t.Errorf("meta.%s was dropped: %s", k, v.Resource.JSON())
			}
		}
		got, err := s.Read(ctx, "Patient", v.ID)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		checkVersion(t, "read", got, "Patient", v.ID, 1, false)
		if got.Seq != v.Seq || !got.LastUpdated.Equal(v.LastUpdated) {
			t.Errorf("read: got seq %d at %v, want seq %d at %v", got.Seq, got.LastUpdated, v.Seq, v.LastUpdated)
		}
		if diff := cmp.Diff(fhir.Resource(v.Resource), got.Resource); diff != "" {
			t.Errorf("read resource differs from created (-created +read):\n%s", diff)
		}
	}},
	{"CreateTwiceGivesDistinctIDs", func(t *testing.T, s store.Store) {
		a, b := create(t, s, patient("A")), create(t, s, patient("B"))
		if a.ID == b.ID {
			t.Fatalf("two creates got the same id %q", a.ID)
		}
		if b.Seq <= a.Seq {
			t.Errorf("later write has Seq %d, want > %d", b.Seq, a.Seq)
		}
	}},
	{"ReadMissing", func(t *testing.T, s store.Store) {
		create(t, s, patient("Other"))
		_, err := s.Read(ctx, "Patient", "does-not-exist")
		wantKind(t, "read missing", err, fhir.KindNotFound)
		v := create(t, s, patient("X"))
		_, err = s.Read(ctx, "Observation", v.ID)
		wantKind(t, "read with the wrong type", err, fhir.KindNotFound)
	}},
	{"UpdateAndVRead", func(t *testing.T, s store.Store) {
		v1 := create(t, s, patient("One"))
		res := patient("Two")
		res.SetID(v1.ID)
		var created bool
		var v2 *store.Version
		write(t, s, func(tx store.Tx) (err error) {
			v2, created, err = tx.Update(res, 0)
			return err
		})
		if created {
			t.Errorf("update of an existing resource: created = true")
		}
		checkVersion(t, "update", v2, "Patient", v1.ID, 2, false)
		for _, tc := range []struct {
			version int64
			family  string
		}{{1, "One"}, {2, "Two"}} {
			got, err := s.VRead(ctx, "Patient", v1.ID, tc.version)
			if err != nil {
				t.Fatalf("VRead %d: %v", tc.version, err)
			}
			checkVersion(t, "vread", got, "Patient", v1.ID, tc.version, false)
			if f := family(t, got); f != tc.family {
				t.Errorf("vread %d: family %q, want %q", tc.version, f, tc.family)
			}
		}
		cur, err := s.Read(ctx, "Patient", v1.ID)
		if err != nil || cur.VersionID != 2 || family(t, cur) != "Two" {
			t.Fatalf("read after update: got %+v, %v; want version 2", cur, err)
		}
		_, err = s.VRead(ctx, "Patient", v1.ID, 3)
		wantKind(t, "vread of a future version", err, fhir.KindNotFound)
		_, err = s.VRead(ctx, "Patient", v1.ID, 0)
		wantKind(t, "vread of version 0", err, fhir.KindNotFound)
		_, err = s.VRead(ctx, "Patient", "nobody", 1)
		wantKind(t, "vread of an unknown id", err, fhir.KindNotFound)
	}},
	{"UpdateAsCreate", func(t *testing.T, s store.Store) {
		res := patient("Client")
		res.SetID("pat-1")
		var created bool
		var v *store.Version
		write(t, s, func(tx store.Tx) (err error) {
			v, created, err = tx.Update(res, 0)
			return err
		})
		if !created {
			t.Errorf("update as create: created = false")
		}
		checkVersion(t, "update as create", v, "Patient", "pat-1", 1, false)
		got, err := s.Read(ctx, "Patient", "pat-1")
		if err != nil || family(t, got) != "Client" {
			t.Fatalf("read: %v", err)
		}
	}},
	{"UpdateKeepsMetaAndOverwritesServerFields", func(t *testing.T, s store.Store) {
		v1 := create(t, s, patient("Meta"))
		res := patient("Meta")
		res.SetID(v1.ID)
		res["meta"] = map[string]any{
			"versionId":   "42",
			"lastUpdated": "1999-01-01T00:00:00Z",
			"tag":         []any{map[string]any{"code": "kept"}},
		}
		v2 := update(t, s, res)
		checkVersion(t, "update", v2, "Patient", v1.ID, 2, false)
		got, err := s.Read(ctx, "Patient", v1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Resource.Meta()["tag"] == nil {
			t.Errorf("meta.tag was dropped: %s", got.Resource.JSON())
		}
	}},
	{"DeleteTombstone", func(t *testing.T, s store.Store) {
		v1 := create(t, s, patient("Gone"))
		tomb := del(t, s, "Patient", v1.ID)
		checkVersion(t, "delete", tomb, "Patient", v1.ID, 2, true)
		got, err := s.Read(ctx, "Patient", v1.ID)
		wantKind(t, "read of a deleted resource", err, fhir.KindGone)
		checkVersion(t, "read of a deleted resource", got, "Patient", v1.ID, 2, true)
		vt, err := s.VRead(ctx, "Patient", v1.ID, 2)
		if err != nil {
			t.Fatalf("vread of the tombstone: %v", err)
		}
		checkVersion(t, "vread of the tombstone", vt, "Patient", v1.ID, 2, true)
		old, err := s.VRead(ctx, "Patient", v1.ID, 1)
		if err != nil || family(t, old) != "Gone" {
			t.Fatalf("vread of the version before delete: %v", err)
		}
		// Deleting again writes nothing.
		if again := del(t, s, "Patient", v1.ID); again != nil {
			t.Errorf("second delete: got %+v, want nil", again)
		}
		if never := del(t, s, "Patient", "never-existed"); never != nil {
			t.Errorf("delete of a missing resource: got %+v, want nil", never)
		}
		page, err := s.History(ctx, store.HistoryQuery{Type: "Patient", ID: v1.ID})
		if err != nil || len(page.Versions) != 2 {
			t.Fatalf("history after repeated deletes: got %d versions, %v; want 2", len(page.Versions), err)
		}
		page, err = s.History(ctx, store.HistoryQuery{Type: "Patient", ID: "never-existed"})
		if err != nil || len(page.Versions) != 0 {
			t.Fatalf("history of a never-existing resource: got %d versions, %v; want 0", len(page.Versions), err)
		}
	}},
	{"Resurrect", func(t *testing.T, s store.Store) {
		v1 := create(t, s, patient("Lazarus"))
		del(t, s, "Patient", v1.ID)
		res := patient("Lazarus")
		res.SetID(v1.ID)
		var created bool
		var v3 *store.Version
		write(t, s, func(tx store.Tx) (err error) {
			v3, created, err = tx.Update(res, 0)
			return err
		})
		checkVersion(t, "resurrect", v3, "Patient", v1.ID, 3, false)
		if created {
			t.Errorf("resurrect: created = true, want false (version 3 is not a new resource)")
		}
		got, err := s.Read(ctx, "Patient", v1.ID)
		if err != nil || got.VersionID != 3 {
			t.Fatalf("read after resurrect: got %+v, %v", got, err)
		}
	}},
	{"TypesAreSeparate", func(t *testing.T, s store.Store) {
		p := patient("Same")
		p.SetID("same-id")
		o := fhir.Resource{"resourceType": "Observation", "id": "same-id", "status": "final"}
		update(t, s, p)
		update(t, s, o)
		del(t, s, "Observation", "same-id")
		if _, err := s.Read(ctx, "Patient", "same-id"); err != nil {
			t.Fatalf("Patient/same-id after deleting Observation/same-id: %v", err)
		}
	}},
}
