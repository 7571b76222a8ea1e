package sqlstore

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/storetest"
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

// Index rows sent in bulk (on PostgreSQL a COPY, for more than chunkRows
// rows of a kind) are the rows a write of one resource inserts, column
// for column, when the resources are created and again when they are all
// updated in one function (the old rows cleared, the new ones copied).
// On both databases.
func TestIndexRowsInBulk(t *testing.T) {
	// One flush for the whole bulk write, so that every kind has more
	// than chunkRows rows in it.
	defer func(rows int) { flushRows = rows }(flushRows)
	flushRows = 1 << 20
	for name, open := range map[string]func(testing.TB) *DB{"sqlite": openTest, "postgres": openPostgresTest} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			defer db.Close()
			const n = 100
			resources := func(prefix string, i, version int) []fhir.Resource {
				p := benchPatient(i + version*1000)
				p.SetID(fmt.Sprintf("%s%d", prefix, i))
				o := benchObservation(i+version*7, 1)
				o.SetID(fmt.Sprintf("%s%d", prefix, i))
				o["subject"] = map[string]any{"reference": "Patient/" + p.ID()}
				return []fhir.Resource{p, o}
			}
			tables := append(slices.Collect(maps.Values(tableOf)), "idx_compartment")
			slices.Sort(tables)
			tables = slices.Compact(tables)
			for version := range 2 {
				var all []fhir.Resource
				for i := range n {
					all = append(all, resources("bulk", i, version)...)
				}
				storetest.Put(t, db, all...)
				for i := range n {
					storetest.Put(t, db, resources("single", i, version)...)
				}
				for _, table := range tables {
					bulk, single := tableRows(t, db, table, "bulk"), tableRows(t, db, table, "single")
					if len(bulk) < 2*n && table != "idx_number" && table != "idx_uri" {
						t.Errorf("version %d, %s: %d rows of the bulk write", version+1, table, len(bulk))
					}
					if !slices.Equal(bulk, single) {
						t.Errorf("version %d, %s: %d rows written in bulk, %d singly; they differ:\n%q\n%q",
							version+1, table, len(bulk), len(single), bulk[:min(5, len(bulk))], single[:min(5, len(single))])
					}
				}
			}
		})
	}
}

// tableRows lists table's rows of the resources whose ids begin with
// prefix, every column but rid, with the prefix taken out, sorted.
func tableRows(t *testing.T, db *DB, table, prefix string) []string {
	t.Helper()
	rows, err := db.readers.QueryContext(ctx, "SELECT x.*, k.id FROM "+table+" x JOIN resource_key k ON k.rid = x.rid WHERE k.id LIKE ?", prefix+"%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, c := range cols {
			if c != "rid" {
				v := vals[i]
				if s, ok := v.([]byte); ok {
					v = string(s)
				}
				fmt.Fprintf(&b, "%s=%v ", c, v)
			}
		}
		out = append(out, strings.ReplaceAll(b.String(), prefix, ""))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
