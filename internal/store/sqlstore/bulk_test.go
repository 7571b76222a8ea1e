package sqlstore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/storetest"
)

// bulkPatients is how many patients (each with three Observations and a
// Condition) the bulk-load tests write.
const bulkPatients = 40

// writeBulkData writes patients from..to-1 of the bulk-load tests' data,
// each with its Observations and Condition, in one Write.
func writeBulkData(t testing.TB, st store.Store, from, to int) {
	t.Helper()
	if err := bulkData(st, from, to); err != nil {
		t.Fatal(err)
	}
}

func bulkData(st store.Store, from, to int) error {
	return st.Write(ctx, func(tx store.Tx) error {
		for i := from; i < to; i++ {
			p := benchPatient(i)
			p.SetID(fmt.Sprintf("pt%d", i))
			rs := []fhir.Resource{p, benchCondition(i)}
			rs[1].SetID(fmt.Sprintf("cond%d", i))
			for j := range 3 {
				o := benchObservation(i, j)
				o.SetID(fmt.Sprintf("obs%d-%d", i, j))
				rs = append(rs, o)
			}
			for _, r := range rs {
				if _, _, err := tx.Update(r, 0); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// bulkQueries are searches on each kind of index table the bulk load
// drops an index of, each matching some of the data.
func bulkQueries() map[string]*search.Query {
	pt3 := &search.CompartmentRef{Type: "Patient", ID: "pt3"}
	return map[string]*search.Query{
		"Patient?identifier": {Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "identifier", "", search.Value{System: "http://hospital.example.org/mrn", Code: "MRN00000007", HasSystem: true})}},
		"Patient?family:exact": {Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "family", "exact", search.Value{Exact: "Family12"})}},
		"Patient?name": {Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "name", "", search.Value{Raw: "family1", Text: "family1"})}},
		"Patient?birthdate": {Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "birthdate", "", testDate("ge", "1930"))}},
		"Observation?subject": {Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "subject", "", search.Value{RefType: "Patient", RefID: "pt5"})}},
		"Observation?code": {Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "code", "", search.Value{System: "http://loinc.org", Code: "1004-1", HasSystem: true})}},
		"Observation?date": {Type: "Observation", Filters: []*search.Filter{
			testDateFilter("Observation", "date", "lt", "2020")}},
		"Observation?value-quantity": {Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "value-quantity", "", search.Value{Prefix: "gt", Number: 5, Low: 4.95, High: 5.05,
				System: "http://unitsofmeasure.org", Code: "mmol/L"})}},
		"Condition?patient": {Type: "Condition", Filters: []*search.Filter{
			testFilter("Condition", "patient", "", search.Value{RefID: "pt9"})}},
		"Patient/pt3/$everything": {Compartment: pt3},
		// Full text, whose merging a load holds back (dialect.bulkFTS).
		"Observation?_content": {Type: "Observation", Filters: []*search.Filter{
			{Name: "_content", Kind: search.KindSpecial, Special: "_content", Values: []search.Value{{Raw: "Test 7"}}}}},
	}
}

// ftsAutomerge is the automerge setting of SQLite's full-text index
// (FTS5 stores it only when set: 4 when absent).
func ftsAutomerge(t testing.TB, db *DB) int {
	t.Helper()
	v := 4
	err := db.readers.QueryRowContext(ctx, "SELECT v FROM idx_fts_config WHERE k = 'automerge'").Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	return v
}

func testDateFilter(typ, code, prefix, date string) *search.Filter {
	return testFilter(typ, code, "", testDate(prefix, date))
}

// bulkSearches answers each of bulkQueries with the sorted ids it matches.
func bulkSearches(t testing.TB, st store.Store) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for name, q := range bulkQueries() {
		q.Count, q.CountGiven = 1000, true
		res, err := st.Search(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ids := []string{}
		for _, v := range res.Matches {
			ids = append(ids, v.Type+"/"+v.ID)
		}
		slices.Sort(ids)
		got[name] = ids
	}
	return got
}

// schemaOf lists the indexes of the database, with their statements, and
// on PostgreSQL its foreign keys (SQLite's are part of their tables).
func schemaOf(t testing.TB, db *DB) []string {
	t.Helper()
	q := "SELECT name || ': ' || sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
	if db.d == postgresDialect {
		q = `SELECT s FROM (SELECT indexname || ': ' || indexdef AS s FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
				WHERE contype = 'f' AND connamespace = CAST(current_schema() AS regnamespace)) AS t ORDER BY s`
	}
	rows, err := db.readers.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// openBulkStore opens a store on where: a PostgreSQL URL or an SQLite
// file.
func openBulkStore(where string) (*DB, error) {
	opts := Options{Extractor: storetest.Extractor()}
	if strings.HasPrefix(where, "postgres://") {
		return OpenPostgres(ctx, where, opts)
	}
	return OpenSQLite(ctx, where, opts)
}

func openBulkTest(t testing.TB, where string) *DB {
	t.Helper()
	db, err := openBulkStore(where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// onBulkBackends runs fn on each database, with a function giving a new
// empty one (an SQLite file, or a PostgreSQL URL).
func onBulkBackends(t *testing.T, fn func(t *testing.T, fresh func() string)) {
	t.Run("sqlite", func(t *testing.T) {
		if sqliteDialect.bulkLock == nil {
			t.Skip("no bulk loads on this system")
		}
		fn(t, func() string { return filepath.Join(t.TempDir(), "emr.db") })
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func() string { return pgtest.DSN(t) })
	})
}

// planUses reports whether the page query of bulkQueries()[name] seeks
// through index.
func planUses(t *testing.T, db *DB, name, index string) bool {
	t.Helper()
	q := bulkQueries()[name]
	p, err := planSearch(sqliteDialect, q)
	if err != nil {
		t.Fatal(err)
	}
	page, args, err := p.pageSQL(q, nil, false, modeAll, 51)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(explainPlan(t, db, page, args...), "INDEX "+index+" ")
}

// bulkOracle is what bulkQueries answer on a store of the same database
// (where) loaded without a bulk load, patients 0..n-1.
func bulkOracle(t *testing.T, where string, n int) map[string][]string {
	t.Helper()
	plain := openBulkTest(t, where)
	defer plain.Close()
	writeBulkData(t, plain, 0, n)
	want := bulkSearches(t, plain)
	for name, ids := range want {
		if len(ids) == 0 {
			t.Fatalf("%s matches nothing: the test data do not test it", name)
		}
	}
	return want
}

// A bulk load into an empty store drops the index tables' secondary
// indexes except those writes use, answers every search as a store
// without one would, and builds the same indexes again at its end.
func TestBulkLoad(t *testing.T) {
	onBulkBackends(t, func(t *testing.T, fresh func() string) {
		want := bulkOracle(t, fresh(), bulkPatients)
		db := openBulkTest(t, fresh())
		before := schemaOf(t, db)

		begun, err := db.BeginBulk(ctx)
		if err != nil || !begun {
			t.Fatalf("BeginBulk on an empty store: %v, %v; want true", begun, err)
		}
		if !db.BulkLoading() {
			t.Error("BulkLoading is false during the load")
		}
		if again, err := db.BeginBulk(ctx); again || err != nil {
			t.Errorf("a second BeginBulk: %v, %v; want false", again, err)
		}
		during := schemaOf(t, db)
		has := func(schema []string, index string) bool {
			return slices.ContainsFunc(schema, func(s string) bool { return strings.HasPrefix(s, index+":") })
		}
		for _, gone := range []string{"idx_token_code", "idx_reference_target", "idx_string_text", "idx_date_low", "idx_quantity_code",
			"resource_version_type", "resource_key_live", "resource_key_updated"} {
			if has(during, gone) {
				t.Errorf("%s is still there during the load", gone)
			}
		}
		for _, kept := range append([]string{"resource_key_id", "resource_version_instance"}, bulkKept...) {
			if !has(during, kept) {
				t.Errorf("%s was dropped", kept)
			}
		}
		if fk := "resource_current_seq_fkey"; db.d == postgresDialect && (!has(before, fk) || has(during, fk)) {
			t.Errorf("%s: before the load %v, during it %v; want true, false", fk, has(before, fk), has(during, fk))
		}

		if db.d == sqliteDialect && ftsAutomerge(t, db) != 0 {
			t.Error("full text merges its segments during the load")
		}
		writeBulkData(t, db, 0, bulkPatients/2)
		// A write that replaces index rows (clearIndex) during the load.
		writeBulkData(t, db, 0, 1)
		writeBulkData(t, db, bulkPatients/2, bulkPatients)
		if got := bulkSearches(t, db); !equalResults(t, got, want) {
			t.Error("searches during the load differ from a store loaded without one")
		}
		if db.d == sqliteDialect && planUses(t, db, "Patient?identifier", "idx_token_code") {
			t.Error("a search during the load uses idx_token_code")
		}

		if err := db.EndBulk(ctx); err != nil {
			t.Fatal(err)
		}
		if db.BulkLoading() {
			t.Error("BulkLoading is true after EndBulk")
		}
		if after := schemaOf(t, db); !slices.Equal(after, before) {
			t.Errorf("indexes after the load:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
		if got := bulkSearches(t, db); !equalResults(t, got, want) {
			t.Error("searches after the load differ from a store loaded without one")
		}
		if db.d == sqliteDialect && !planUses(t, db, "Patient?identifier", "idx_token_code") {
			t.Error("a search after the load does not use idx_token_code")
		}
		if db.d == sqliteDialect {
			if am := ftsAutomerge(t, db); am != 4 {
				t.Errorf("full text automerge %d after the load, want 4", am)
			}
			var segments int
			if err := db.readers.QueryRowContext(ctx, "SELECT count(DISTINCT segid) FROM idx_fts_idx").Scan(&segments); err != nil || segments > 1 {
				t.Errorf("full text has %d segments after the load (%v), want it merged", segments, err)
			}
		}
		var left int
		if err := db.readers.QueryRowContext(ctx, "SELECT count(*) FROM search_meta WHERE key >= ? AND key < ?", bulkKeys...).Scan(&left); err != nil || left != 0 {
			t.Errorf("%d bulk-load records left (%v)", left, err)
		}
		if begun, err := db.BeginBulk(ctx); begun || err != nil {
			t.Errorf("BeginBulk on a store holding resources: %v, %v; want false", begun, err)
		}
		if err := db.EndBulk(ctx); err != nil {
			t.Errorf("EndBulk without a load: %v", err)
		}
	})
}

func equalResults(t *testing.T, got, want map[string][]string) bool {
	t.Helper()
	ok := true
	for name, ids := range want {
		if !slices.Equal(got[name], ids) {
			t.Errorf("%s: got %v, want %v", name, got[name], ids)
			ok = false
		}
	}
	return ok
}

// Another store on the same database (another process, or server),
// opened during a bulk load, leaves the load to its owner: it builds
// nothing, begins no load of its own, and writes and searches correctly.
// Closing the owner ends its load.
func TestBulkLoadSecondStore(t *testing.T) {
	onBulkBackends(t, func(t *testing.T, fresh func() string) {
		want := bulkOracle(t, fresh(), bulkPatients)
		where := fresh()
		owner := openBulkTest(t, where)
		before := schemaOf(t, owner)
		if begun, err := owner.BeginBulk(ctx); !begun || err != nil {
			t.Fatalf("BeginBulk: %v, %v", begun, err)
		}
		writeBulkData(t, owner, 0, bulkPatients/2)

		other := openBulkTest(t, where)
		if slices.Equal(schemaOf(t, other), before) {
			t.Error("opening a second store built the indexes of a load still running")
		}
		if begun, err := other.BeginBulk(ctx); begun || err != nil {
			t.Errorf("the second store's BeginBulk: %v, %v; want false", begun, err)
		}
		writeBulkData(t, other, bulkPatients/2, bulkPatients)
		if got := bulkSearches(t, other); !equalResults(t, got, want) {
			t.Error("the second store's searches during the load are wrong")
		}
		if err := owner.Close(); err != nil {
			t.Fatal(err)
		}
		if after := schemaOf(t, other); !slices.Equal(after, before) {
			t.Errorf("indexes after the owner closed:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
		if got := bulkSearches(t, other); !equalResults(t, got, want) {
			t.Error("searches after the load are wrong")
		}
	})
}

// bulkChildEnv names the database a re-executed test binary loads in bulk
// until it is killed.
const bulkChildEnv = "EMR_BULK_CHILD"

// TestBulkLoadKill kills (SIGKILL) a process in the middle of a bulk load:
// the next Open says so in the log, builds the indexes before it returns,
// and every acknowledged write is found by searches that use them.
func TestBulkLoadKill(t *testing.T) {
	if where := os.Getenv(bulkChildEnv); where != "" {
		bulkChild(where)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	onBulkBackends(t, func(t *testing.T, fresh func() string) {
		want := bulkOracle(t, fresh(), bulkPatients)
		where := fresh()
		db := openBulkTest(t, where)
		before := schemaOf(t, db)
		db.Close()

		lines, killed := killChild(t, "TestBulkLoadKill", bulkChildEnv, where, func(lines []string) bool {
			return lines[len(lines)-1] == "written"
		})
		if !killed {
			t.Fatalf("the child ended before writing: %q", lines)
		}

		var logged bytes.Buffer
		defer slog.SetDefault(slog.Default())
		slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
		// PostgreSQL notices the dead client, ending its session and lock,
		// when it next reads from the socket: at once, on a local one.
		db, err := reopenAfterKill(where)
		if err != nil {
			t.Fatalf("reopen after SIGKILL: %v", err)
		}
		defer db.Close()
		if !strings.Contains(logged.String(), "bulk load did not finish") {
			t.Errorf("the reopen logged %q; want a line on the unfinished bulk load", logged.String())
		}
		if after := schemaOf(t, db); !slices.Equal(after, before) {
			t.Errorf("indexes after the reopen:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
		if got := bulkSearches(t, db); !equalResults(t, got, want) {
			t.Error("searches after the reopen are wrong")
		}
		if db.d == sqliteDialect {
			for name, index := range map[string]string{"Patient?identifier": "idx_token_code", "Observation?subject": "idx_reference_target"} {
				if !planUses(t, db, name, index) {
					t.Errorf("%s does not use %s after the reopen", name, index)
				}
			}
			if am := ftsAutomerge(t, db); am != 4 {
				t.Errorf("full text automerge %d after the reopen, want 4", am)
			}
			var integrity string
			if err := db.readers.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
				t.Errorf("integrity_check: %q, %v", integrity, err)
			}
		}
	})
}

// reopenAfterKill opens where once the killed child's lock is gone: at
// once on SQLite (the kernel drops the flock with the process); on
// PostgreSQL once the server has ended the dead client's session.
func reopenAfterKill(where string) (*DB, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		db, err := openBulkStore(where)
		if err != nil {
			return nil, err
		}
		var pending int
		err = db.readers.QueryRowContext(ctx, "SELECT count(*) FROM search_meta WHERE key >= ? AND key < ?", bulkKeys...).Scan(&pending)
		if err != nil || pending == 0 || time.Now().After(deadline) {
			return db, err
		}
		db.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// bulkChild begins a bulk load, writes the test data, says so and waits
// to be killed.
func bulkChild(where string) {
	db, err := openBulkStore(where)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if begun, err := db.BeginBulk(ctx); !begun || err != nil {
		fmt.Fprintln(os.Stderr, "BeginBulk:", begun, err)
		os.Exit(1)
	}
	if err := bulkData(db, 0, bulkPatients); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("written")
	time.Sleep(time.Hour)
}

// A load whose indexes were partly built before its records of them were
// deleted (buildAside built some, then the process died; or it failed on
// one) ends as if none had been: each is built once, the others are left.
func TestBulkLoadPartlyBuilt(t *testing.T) {
	onBulkBackends(t, func(t *testing.T, fresh func() string) {
		db := openBulkTest(t, fresh())
		before := schemaOf(t, db)
		if begun, err := db.BeginBulk(ctx); err != nil || !begun {
			t.Fatalf("BeginBulk: %v, %v", begun, err)
		}
		writeBulkData(t, db, 0, 5)
		defs, err := bulkIndexes(ctx, db.readers)
		if err != nil || len(defs) < 2 {
			t.Fatalf("the load's records: %v, %v", defs, err)
		}
		for _, def := range defs[:2] {
			if !strings.Contains(def.sql, " IF NOT EXISTS ") {
				t.Errorf("%s is built by %q", def.name, def.sql)
			}
			err := db.Write(ctx, func(tx store.Tx) error {
				_, err := tx.(*txn).db.wconn.ExecContext(ctx, def.sql)
				return err
			})
			if err != nil {
				t.Fatalf("building %s ahead: %v", def.name, err)
			}
		}
		if err := db.EndBulk(ctx); err != nil {
			t.Fatal(err)
		}
		if after := schemaOf(t, db); !slices.Equal(after, before) {
			t.Errorf("indexes after the load:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
	})
}

func TestIfNotExists(t *testing.T) {
	for in, want := range map[string]string{
		"CREATE INDEX a ON t (x)":                         "CREATE INDEX IF NOT EXISTS a ON t (x)",
		"CREATE UNIQUE INDEX a ON public.t USING btree":   "CREATE UNIQUE INDEX IF NOT EXISTS a ON public.t USING btree",
		"CREATE INDEX IF NOT EXISTS a ON t (x)":           "CREATE INDEX IF NOT EXISTS a ON t (x)",
		"INSERT INTO idx_fts(idx_fts) VALUES('optimize')": "INSERT INTO idx_fts(idx_fts) VALUES('optimize')",
	} {
		if got := ifNotExists(in); got != want {
			t.Errorf("ifNotExists(%q) = %q, want %q", in, got, want)
		}
	}
}

// On PostgreSQL a bulk load drops the foreign keys and adds them again at
// its end, which checks every row written meanwhile: a row that breaks
// one fails the end, whose transaction then builds nothing, and the load
// can end once it is mended.
func TestBulkLoadChecksForeignKeys(t *testing.T) {
	db := openBulkTest(t, pgtest.DSN(t))
	before := schemaOf(t, db)
	if begun, err := db.BeginBulk(ctx); err != nil || !begun {
		t.Fatalf("BeginBulk: %v, %v", begun, err)
	}
	writeBulkData(t, db, 0, 5)
	onWriter := func(stmt string) {
		t.Helper()
		err := db.Write(ctx, func(tx store.Tx) error {
			_, err := tx.(*txn).db.wconn.ExecContext(ctx, stmt)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	onWriter("UPDATE resource_current SET seq = -1 WHERE id = 'pt3'")
	err := db.EndBulk(ctx)
	if err == nil || !strings.Contains(err.Error(), "resource_current_seq_fkey") {
		t.Fatalf("EndBulk with a row breaking the foreign key: %v; want its error", err)
	}
	if !db.BulkLoading() {
		t.Error("the load ended although its end failed")
	}
	if slices.Equal(schemaOf(t, db), before) {
		t.Error("the failed end built the indexes")
	}
	onWriter("UPDATE resource_current SET seq = (SELECT max(seq) FROM resource_version WHERE id = 'pt3') WHERE id = 'pt3'")
	if err := db.EndBulk(ctx); err != nil {
		t.Fatal(err)
	}
	if after := schemaOf(t, db); !slices.Equal(after, before) {
		t.Errorf("indexes and foreign keys after the load:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}
