// Package storetest is the conformance suite every store.Store backend
// passes: the contract written in store.go's doc comments, as tests. A
// backend's own test calls Run with a function that opens a fresh, empty
// store for each subtest.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// AuditScanner is implemented by backends whose audit log the suite can
// read back; without it the audit checks are skipped.
type AuditScanner interface {
	// ScanAudit calls fn with every audit event recorded after seq afterSeq,
	// oldest first, and stops at fn's first error, returning it.
	ScanAudit(ctx context.Context, afterSeq int64, fn func(seq int64, event fhir.Resource) error) error
}

// Run runs the whole suite. open must return a new empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []suiteTest
	}{
		{"CRUD", crudTests},
		{"IfMatch", ifMatchTests},
		{"Tx", txTests},
		{"History", historyTests},
		{"Concurrency", slices.Concat(concurrencyTests, isolationTests, loadTests)},
		{"Audit", auditTests},
		{"Search", searchTests},
		{"MatchKeys", slices.Concat(matchKeyTests, keyBlockTests)},
		{"Records", recordTests},
		{"Access", slices.Concat(accessTests, consentTests)},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.run(t, s)
				})
			}
		})
	}
}

type suiteTest struct {
	name string
	run  func(t *testing.T, s store.Store)
}

var ctx = context.Background()

func patient(family string) fhir.Resource {
	return fhir.Resource{
		"resourceType": "Patient",
		"name":         []any{map[string]any{"family": family}},
	}
}

func family(t *testing.T, v *store.Version) string {
	t.Helper()
	if v == nil || v.Resource == nil {
		t.Fatalf("version %+v has no resource", v)
	}
	names, _ := v.Resource["name"].([]any)
	if len(names) == 0 {
		t.Fatalf("resource %s has no name", v.Resource.JSON())
	}
	s, _ := names[0].(map[string]any)["family"].(string)
	return s
}

// write runs fn in its own Write and fails the test on error.
func write(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Write(ctx, fn); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func create(t *testing.T, s store.Store, res fhir.Resource) *store.Version {
	t.Helper()
	var v *store.Version
	write(t, s, func(tx store.Tx) (err error) {
		v, err = tx.Create(res)
		return err
	})
	return v
}

func update(t *testing.T, s store.Store, res fhir.Resource) *store.Version {
	t.Helper()
	var v *store.Version
	write(t, s, func(tx store.Tx) (err error) {
		v, _, err = tx.Update(res, 0)
		return err
	})
	return v
}

func del(t *testing.T, s store.Store, typ, id string) *store.Version {
	t.Helper()
	var v *store.Version
	write(t, s, func(tx store.Tx) (err error) {
		v, err = tx.Delete(typ, id, 0)
		return err
	})
	return v
}

func wantKind(t *testing.T, what string, err error, kind fhir.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want kind %d", what, kind)
	}
	if got := fhir.KindOf(err); got != kind {
		t.Fatalf("%s: got error %v of kind %d, want kind %d", what, err, got, kind)
	}
}

// checkVersion compares the store-owned fields of a version and its meta.
func checkVersion(t *testing.T, what string, v *store.Version, typ, id string, versionID int64, deleted bool) {
	t.Helper()
	if v == nil {
		t.Fatalf("%s: got nil version", what)
	}
	if v.Type != typ || v.ID != id || v.VersionID != versionID || v.Deleted != deleted {
		t.Fatalf("%s: got %s/%s v%d deleted=%v, want %s/%s v%d deleted=%v",
			what, v.Type, v.ID, v.VersionID, v.Deleted, typ, id, versionID, deleted)
	}
	if v.Seq <= 0 {
		t.Errorf("%s: got Seq %d, want > 0", what, v.Seq)
	}
	if v.LastUpdated.IsZero() || v.LastUpdated.Location() != time.UTC {
		t.Errorf("%s: got LastUpdated %v, want a UTC time", what, v.LastUpdated)
	}
	if deleted {
		if v.Resource != nil {
			t.Errorf("%s: tombstone has resource %s", what, v.Resource.JSON())
		}
		return
	}
	if v.Resource == nil {
		t.Fatalf("%s: got no resource", what)
	}
	if got := v.Resource.ID(); got != id {
		t.Errorf("%s: resource id %q, want %q", what, got, id)
	}
	if got, want := v.Resource.VersionID(), fmt.Sprint(versionID); got != want {
		t.Errorf("%s: meta.versionId %q, want %q", what, got, want)
	}
	lu, _ := v.Resource.Meta()["lastUpdated"].(string)
	parsed, err := time.Parse(time.RFC3339Nano, lu)
	if err != nil || !parsed.Equal(v.LastUpdated) || lu[len(lu)-1] != 'Z' {
		t.Errorf("%s: meta.lastUpdated %q, want the UTC instant of Version.LastUpdated %v", what, lu, v.LastUpdated)
	}
}

var errTest = errors.New("storetest: deliberate failure")
