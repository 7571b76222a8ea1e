package sqlstore

import (
	"errors"
	"fmt"
	"testing"

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
