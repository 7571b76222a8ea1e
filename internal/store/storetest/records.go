package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// recordTests check store.Records: versions, owners, expiry, and records
// written inside a Write committing or rolling back with it.
var recordTests = []suiteTest{
	{"CreateGetReplace", func(t *testing.T, s store.Store) {
		if _, err := s.GetRecord(ctx, "user", "alice"); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Fatalf("GetRecord of nothing: %v, want not found", err)
		}
		v, err := s.PutRecord(ctx, &store.Record{Kind: "user", Key: "alice", Value: []byte(`{"a":1}`)}, 0)
		if err != nil || v != 1 {
			t.Fatalf("create: %d, %v", v, err)
		}
		if _, err := s.PutRecord(ctx, &store.Record{Kind: "user", Key: "alice", Value: []byte(`{}`)}, 0); !fhir.IsKind(err, fhir.KindConflict) {
			t.Errorf("second create: %v, want conflict", err)
		}
		// The same key under another kind is another record.
		if _, err := s.PutRecord(ctx, &store.Record{Kind: "client", Key: "alice", Value: []byte(`{}`)}, 0); err != nil {
			t.Errorf("create under another kind: %v", err)
		}
		if _, err := s.PutRecord(ctx, &store.Record{Kind: "user", Key: "alice", Value: []byte(`{"a":2}`)}, 7); !fhir.IsKind(err, fhir.KindPreconditionFailed) {
			t.Errorf("replace of a wrong version: %v, want precondition failed", err)
		}
		if v, err = s.PutRecord(ctx, &store.Record{Kind: "user", Key: "alice", Value: []byte(`{"a":2}`)}, 1); err != nil || v != 2 {
			t.Fatalf("replace: %d, %v", v, err)
		}
		if v, err = s.PutRecord(ctx, &store.Record{Kind: "user", Key: "alice", Value: []byte(`{"a":3}`)}, store.AnyVersion); err != nil || v != 3 {
			t.Fatalf("unconditional put: %d, %v", v, err)
		}
		r, err := s.GetRecord(ctx, "user", "alice")
		if err != nil || r.Version != 3 || string(r.Value) != `{"a":3}` || r.Kind != "user" || r.Key != "alice" {
			t.Fatalf("GetRecord = %+v, %v", r, err)
		}
		if _, err := s.PutRecord(ctx, &store.Record{Kind: "user", Key: "bob", Value: []byte(`{}`)}, 1); !fhir.IsKind(err, fhir.KindPreconditionFailed) {
			t.Errorf("replace of a missing record: %v, want precondition failed", err)
		}
		if _, err := s.PutRecord(ctx, &store.Record{Kind: "user", Value: []byte(`{}`)}, 0); !fhir.IsKind(err, fhir.KindInvalid) {
			t.Errorf("record without a key: %v, want invalid", err)
		}
		if err := s.DeleteRecord(ctx, "user", "alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRecord(ctx, "user", "alice"); err != nil {
			t.Errorf("deleting a missing record: %v", err)
		}
		if _, err := s.GetRecord(ctx, "user", "alice"); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("GetRecord after delete: %v, want not found", err)
		}
		if v, err = s.PutRecord(ctx, &store.Record{Kind: "user", Key: "alice", Value: []byte(`{}`)}, 0); err != nil || v != 1 {
			t.Errorf("create after delete: %d, %v", v, err)
		}
	}},
	{"ListByOwner", func(t *testing.T, s store.Store) {
		for _, r := range []store.Record{
			{Kind: "session", Key: "s3", Owner: "bob"},
			{Kind: "session", Key: "s1", Owner: "alice"},
			{Kind: "session", Key: "s2", Owner: "alice"},
			{Kind: "user", Key: "alice"},
		} {
			r.Value = []byte(`{}`)
			if _, err := s.PutRecord(ctx, &r, 0); err != nil {
				t.Fatal(err)
			}
		}
		keys := func(owner string) string {
			rs, err := s.ListRecords(ctx, "session", owner)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rs {
				out = append(out, r.Key+"/"+r.Owner)
			}
			return fmt.Sprint(out)
		}
		if got := keys("alice"); got != "[s1/alice s2/alice]" {
			t.Errorf("alice's sessions: %s", got)
		}
		if got := keys(""); got != "[s1/alice s2/alice s3/bob]" {
			t.Errorf("every session: %s", got)
		}
		if got := keys("carol"); got != "[]" {
			t.Errorf("carol's sessions: %s", got)
		}
	}},
	{"Expiry", func(t *testing.T, s store.Store) {
		past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
		for _, r := range []store.Record{
			{Kind: "code", Key: "old", Owner: "x", Expires: past},
			{Kind: "code", Key: "new", Owner: "x", Expires: future},
			{Kind: "code", Key: "forever", Owner: "x"},
		} {
			r.Value = []byte(`{}`)
			if _, err := s.PutRecord(ctx, &r, 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.GetRecord(ctx, "code", "old"); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("expired record: %v, want not found", err)
		}
		r, err := s.GetRecord(ctx, "code", "new")
		if err != nil || !r.Expires.Equal(future.Truncate(time.Millisecond)) {
			t.Errorf("GetRecord(new) = %+v, %v; want expiry %v", r, err, future)
		}
		rs, err := s.ListRecords(ctx, "code", "x")
		if err != nil || len(rs) != 2 {
			t.Errorf("ListRecords = %d records, %v; want the 2 live ones", len(rs), err)
		}
		// An expired record's key can be created again, from version 1.
		if v, err := s.PutRecord(ctx, &store.Record{Kind: "code", Key: "old", Value: []byte(`{}`), Expires: past}, 0); err != nil || v != 1 {
			t.Errorf("create over an expired record: %d, %v", v, err)
		}
		n, err := s.DeleteExpiredRecords(ctx, time.Now())
		if err != nil || n != 1 {
			t.Errorf("DeleteExpiredRecords = %d, %v; want 1", n, err)
		}
		n, err = s.DeleteExpiredRecords(ctx, future.Add(time.Second))
		if err != nil || n != 1 {
			t.Errorf("DeleteExpiredRecords(later) = %d, %v; want 1", n, err)
		}
		if _, err := s.GetRecord(ctx, "code", "forever"); err != nil {
			t.Errorf("a record without expiry: %v", err)
		}
	}},
	{"InsideWrite", func(t *testing.T, s store.Store) {
		errStop := errors.New("stop")
		err := s.Write(ctx, func(tx store.Tx) error {
			if _, err := tx.PutRecord(&store.Record{Kind: "user", Key: "ann", Value: []byte(`{}`)}, 0); err != nil {
				return err
			}
			if r, err := tx.GetRecord("user", "ann"); err != nil || r.Version != 1 {
				t.Errorf("the Tx does not see its own record: %+v, %v", r, err)
			}
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("Write = %v", err)
		}
		if _, err := s.GetRecord(ctx, "user", "ann"); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("a record of a failed Write was kept: %v", err)
		}
		err = s.Write(ctx, func(tx store.Tx) error {
			if _, err := tx.PutRecord(&store.Record{Kind: "user", Key: "ann", Value: []byte(`{"n":1}`)}, 0); err != nil {
				return err
			}
			_, err := tx.Create(patient("Ann"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.GetRecord(ctx, "user", "ann"); err != nil || string(r.Value) != `{"n":1}` {
			t.Errorf("record of a committed Write: %+v, %v", r, err)
		}
		if err := s.Write(ctx, func(tx store.Tx) error { return tx.DeleteRecord("user", "ann") }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetRecord(ctx, "user", "ann"); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("record deleted in a Write: %v", err)
		}
	}},
	{"ConcurrentReplace", func(t *testing.T, s store.Store) {
		// Many writers read-modify-write one counter with ifVersion: each
		// increment succeeds exactly once, whatever the interleaving.
		if _, err := s.PutRecord(ctx, &store.Record{Kind: "counter", Key: "c", Value: []byte("0")}, 0); err != nil {
			t.Fatal(err)
		}
		const workers, each = 8, 10
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for done := 0; done < each; {
					r, err := s.GetRecord(ctx, "counter", "c")
					if err != nil {
						t.Error(err)
						return
					}
					var n int
					fmt.Sscan(string(r.Value), &n)
					_, err = s.PutRecord(ctx, &store.Record{Kind: "counter", Key: "c", Value: fmt.Append(nil, n+1)}, r.Version)
					switch {
					case err == nil:
						done++
					case !fhir.IsKind(err, fhir.KindPreconditionFailed):
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		r, err := s.GetRecord(ctx, "counter", "c")
		if err != nil || string(r.Value) != fmt.Sprint(workers*each) || r.Version != workers*each+1 {
			t.Errorf("counter = %+v, %v; want %d", r, err, workers*each)
		}
	}},
}
