package sqlstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Index rows wait in a buffer until the write function returns: a search
// inside the function still sees its own writes, a resource written twice
// keeps only its last rows, and a function that fails after the buffer
// flushed part of its rows leaves no row behind. On both databases.
func TestIndexBuffer(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *DB{"sqlite": openTest, "postgres": openPostgresTest} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			defer db.Close()
			family := func(f string) *search.Query {
				return &search.Query{Type: "Patient", Filters: []*search.Filter{testFilter("Patient", "family", "exact", search.Value{Exact: f})}}
			}
			count := func(f string) int {
				t.Helper()
				res, err := db.Search(ctx, family(f))
				if err != nil {
					t.Fatal(err)
				}
				return len(res.Matches)
			}
			err := db.Write(ctx, func(tx store.Tx) error {
				p := benchPatient(1)
				p.SetID("p1")
				if _, _, err := tx.Update(p, 0); err != nil {
					return err
				}
				res, err := tx.Search(family("Family1"))
				if err != nil {
					return err
				}
				if len(res.Matches) != 1 {
					return fmt.Errorf("a search in the function finds %d of its own patient", len(res.Matches))
				}
				// Written again in the same function: only the new name.
				p = benchPatient(2)
				p.SetID("p1")
				_, _, err = tx.Update(p, 0)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if a, b := count("Family1"), count("Family2"); a != 0 || b != 1 {
				t.Errorf("after writing p1 twice: %d by the first name, %d by the second; want 0 and 1", a, b)
			}

			// More rows than the buffer holds, then a failure.
			boom := errors.New("boom")
			err = db.Write(ctx, func(tx store.Tx) error {
				for i := range flushRows/10 + 50 {
					p := benchPatient(7)
					p.SetID(fmt.Sprintf("many-%d", i))
					if _, _, err := tx.Update(p, 0); err != nil {
						return err
					}
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("the failing function: %v", err)
			}
			if n := count("Family7"); n != 0 {
				t.Errorf("a failed function left %d patients in the index", n)
			}
			var rows int
			if err := db.readers.QueryRowContext(ctx, "SELECT count(*) FROM idx_string").Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows == 0 || rows > 40 {
				t.Errorf("%d string rows after the failure; want only p1's", rows)
			}
		})
	}
}

// Prefetch answers the Reads that follow as the database would: a
// resource as current, a missing one not found, a deleted one gone, and
// one written since as written.
func TestPrefetch(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *DB{"sqlite": openTest, "postgres": openPostgresTest} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			defer db.Close()
			err := db.Write(ctx, func(tx store.Tx) error {
				for i, id := range []string{"a", "gone"} {
					p := benchPatient(i)
					p.SetID(id)
					if _, _, err := tx.Update(p, 0); err != nil {
						return err
					}
				}
				_, err := tx.Delete("Patient", "gone", 0)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			err = db.Write(ctx, func(tx store.Tx) error {
				pf, ok := tx.(store.Prefetcher)
				if !ok {
					return errors.New("the SQL store's Tx is not a store.Prefetcher")
				}
				if err := pf.Prefetch([]string{"Patient/a", "Patient/gone", "Patient/none"}); err != nil {
					return err
				}
				if v, err := tx.Read("Patient", "a"); err != nil || v.VersionID != 1 || v.Resource == nil {
					return fmt.Errorf("Patient/a: %v %v", v, err)
				}
				if _, err := tx.Read("Patient", "gone"); !fhir.IsKind(err, fhir.KindGone) {
					return fmt.Errorf("Patient/gone: %v", err)
				}
				if _, err := tx.Read("Patient", "none"); !fhir.IsKind(err, fhir.KindNotFound) {
					return fmt.Errorf("Patient/none: %v", err)
				}
				p := benchPatient(5)
				p.SetID("none")
				if _, created, err := tx.Update(p, 0); err != nil || !created {
					return fmt.Errorf("writing Patient/none: %v %v", created, err)
				}
				p = benchPatient(6)
				p.SetID("a")
				if _, _, err := tx.Update(p, 0); err != nil {
					return err
				}
				if v, err := tx.Read("Patient", "a"); err != nil || v.VersionID != 2 {
					return fmt.Errorf("Patient/a after its update: %v %v", v, err)
				}
				if v, err := tx.Read("Patient", "none"); err != nil || v.VersionID != 1 {
					return fmt.Errorf("Patient/none after its creation: %v %v", v, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
