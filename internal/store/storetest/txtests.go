package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

var ifMatchTests = []suiteTest{
	{"Table", func(t *testing.T, s store.Store) {
		v1 := create(t, s, patient("Match"))
		id := v1.ID
		update(t, s, withID(patient("Match2"), id)) // now at version 2
		deleted := create(t, s, patient("Deleted"))
		del(t, s, "Patient", deleted.ID)
		for _, tc := range []struct {
			name    string
			op      func(tx store.Tx) error
			wantErr bool
		}{
			{"update stale version", func(tx store.Tx) error {
				_, _, err := tx.Update(withID(patient("x"), id), 1)
				return err
			}, true},
			{"update future version", func(tx store.Tx) error {
				_, _, err := tx.Update(withID(patient("x"), id), 7)
				return err
			}, true},
			{"update missing resource", func(tx store.Tx) error {
				_, _, err := tx.Update(withID(patient("x"), "missing"), 1)
				return err
			}, true},
			{"update deleted resource", func(tx store.Tx) error {
				_, _, err := tx.Update(withID(patient("x"), deleted.ID), 2)
				return err
			}, true},
			{"delete stale version", func(tx store.Tx) error {
				_, err := tx.Delete("Patient", id, 1)
				return err
			}, true},
			{"delete missing resource", func(tx store.Tx) error {
				_, err := tx.Delete("Patient", "missing", 1)
				return err
			}, true},
			{"update current version", func(tx store.Tx) error {
				v, _, err := tx.Update(withID(patient("ok"), id), 2)
				if err == nil && v.VersionID != 3 {
					t.Errorf("got version %d, want 3", v.VersionID)
				}
				return err
			}, false},
			{"delete current version", func(tx store.Tx) error {
				v, err := tx.Delete("Patient", id, 3)
				if err == nil && (v == nil || v.VersionID != 4 || !v.Deleted) {
					t.Errorf("got %+v, want tombstone version 4", v)
				}
				return err
			}, false},
		} {
			err := s.Write(ctx, tc.op)
			if tc.wantErr {
				wantKind(t, tc.name, err, fhir.KindPreconditionFailed)
			} else if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		_, err := s.Read(ctx, "Patient", "missing")
		wantKind(t, "If-Match on a missing resource created it", err, fhir.KindNotFound)
	}},
}

func withID(res fhir.Resource, id string) fhir.Resource {
	res.SetID(id)
	return res
}

var txTests = []suiteTest{
	{"ReadsOwnWrites", func(t *testing.T, s store.Store) {
		existing := create(t, s, patient("Before"))
		write(t, s, func(tx store.Tx) error {
			v, err := tx.Create(patient("Inside"))
			if err != nil {
				return err
			}
			got, err := tx.Read("Patient", v.ID)
			if err != nil || got.VersionID != 1 || family(t, got) != "Inside" {
				t.Errorf("tx.Read of own create: got %+v, %v", got, err)
			}
			if _, _, err := tx.Update(withID(patient("Changed"), existing.ID), 0); err != nil {
				return err
			}
			got, err = tx.Read("Patient", existing.ID)
			if err != nil || got.VersionID != 2 || family(t, got) != "Changed" {
				t.Errorf("tx.Read of own update: got %+v, %v", got, err)
			}
			if _, err := tx.Delete("Patient", v.ID, 0); err != nil {
				return err
			}
			got, err = tx.Read("Patient", v.ID)
			if fhir.KindOf(err) != fhir.KindGone || got == nil || !got.Deleted {
				t.Errorf("tx.Read of own delete: got %+v, %v; want the tombstone and KindGone", got, err)
			}
			_, err = tx.Read("Patient", "missing")
			if fhir.KindOf(err) != fhir.KindNotFound {
				t.Errorf("tx.Read of a missing resource: got %v, want KindNotFound", err)
			}
			return nil
		})
	}},
	{"NowIsLastUpdated", func(t *testing.T, s store.Store) {
		write(t, s, func(tx store.Tx) error {
			a, err := tx.Create(patient("A"))
			if err != nil {
				return err
			}
			b, err := tx.Create(patient("B"))
			if err != nil {
				return err
			}
			if !a.LastUpdated.Equal(tx.Now()) || !b.LastUpdated.Equal(tx.Now()) {
				t.Errorf("LastUpdated %v and %v, want tx.Now() %v", a.LastUpdated, b.LastUpdated, tx.Now())
			}
			return nil
		})
	}},
	{"RollbackLeavesNothing", func(t *testing.T, s store.Store) {
		existing := create(t, s, patient("Kept"))
		before := auditCount(t, s)
		var createdID string
		err := s.Write(ctx, func(tx store.Tx) error {
			v, err := tx.Create(patient("Doomed"))
			if err != nil {
				return err
			}
			createdID = v.ID
			if _, _, err := tx.Update(withID(patient("Changed"), existing.ID), 0); err != nil {
				return err
			}
			if _, err := tx.Delete("Patient", existing.ID, 0); err != nil {
				return err
			}
			if err := tx.AppendAudit(auditEvent("rolled back")); err != nil {
				return err
			}
			return errTest
		})
		if !errors.Is(err, errTest) {
			t.Fatalf("Write: got %v, want the fn's error", err)
		}
		_, err = s.Read(ctx, "Patient", createdID)
		wantKind(t, "read of a rolled-back create", err, fhir.KindNotFound)
		got, err := s.Read(ctx, "Patient", existing.ID)
		if err != nil || got.VersionID != 1 || family(t, got) != "Kept" {
			t.Fatalf("read after rolled-back update and delete: got %+v, %v; want version 1", got, err)
		}
		page, err := s.History(ctx, store.HistoryQuery{})
		if err != nil || len(page.Versions) != 1 {
			t.Fatalf("system history: got %d versions, %v; want 1", len(page.Versions), err)
		}
		if after := auditCount(t, s); after != before {
			t.Errorf("audit events: %d after a rolled-back write, want %d", after, before)
		}
		// The store still works and seq keeps growing.
		v := create(t, s, patient("After"))
		if v.Seq <= existing.Seq {
			t.Errorf("seq after rollback: %d, want > %d", v.Seq, existing.Seq)
		}
	}},
	{"PreconditionFailureInsideFnRollsBackEarlierWrites", func(t *testing.T, s store.Store) {
		existing := create(t, s, patient("E"))
		var createdID string
		err := s.Write(ctx, func(tx store.Tx) error {
			v, err := tx.Create(patient("Doomed"))
			if err != nil {
				return err
			}
			createdID = v.ID
			_, _, err = tx.Update(withID(patient("x"), existing.ID), 5)
			return err
		})
		wantKind(t, "Write", err, fhir.KindPreconditionFailed)
		_, err = s.Read(ctx, "Patient", createdID)
		wantKind(t, "read of a rolled-back create", err, fhir.KindNotFound)
	}},
	{"CanceledContext", func(t *testing.T, s store.Store) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		ran := false
		err := s.Write(cctx, func(tx store.Tx) error {
			ran = true
			_, err := tx.Create(patient("Never"))
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Write with a canceled context: got %v, want context.Canceled", err)
		}
		if ran {
			t.Errorf("fn ran with a canceled context")
		}
		page, err := s.History(ctx, store.HistoryQuery{})
		if err != nil || len(page.Versions) != 0 {
			t.Fatalf("history: got %d versions, %v; want 0", len(page.Versions), err)
		}
	}},
}
