package importer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openSQLite opens a fresh SQLite store on disk.
func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"),
		sqlstore.Options{Extractor: search.NewExtractor(spec.R5())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// backends runs fn on SQLite and, when it can be had, PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("PostgreSQL runs are skipped with -short")
		}
		st, err := sqlstore.OpenPostgres(context.Background(), pgtest.DSN(t),
			sqlstore.Options{Extractor: search.NewExtractor(spec.R5())})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

var testValidator = validate.New(spec.R5())

func options(st store.Store) Options {
	return Options{Store: st, Validator: testValidator, BatchSize: 50}
}

// r5Resources returns up to n official R5 examples that are valid and not
// Bundles, one per Type/id.
func r5Resources(t testing.TB, n int) []fhir.Resource {
	t.Helper()
	seen := map[string]bool{}
	var out []fhir.Resource
	for _, ex := range sharedtest.R5Examples(t) {
		res, err := fhir.ParseResource(ex.Body)
		if err != nil || res.Type() == "Bundle" || res.ID() == "" || seen[res.Type()+"/"+res.ID()] {
			continue
		}
		if validate.HasErrors(testValidator.Validate(res)) {
			continue
		}
		seen[res.Type()+"/"+res.ID()] = true
		out = append(out, res)
		if len(out) == n {
			break
		}
	}
	return out
}

// writeNDJSON writes one resource per line (raw lines as given).
func writeNDJSON(t testing.TB, path string, lines ...string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func lines(rs []fhir.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.JSON())
	}
	return out
}

func importOK(t *testing.T, opts Options, paths ...string) *Summary {
	t.Helper()
	sum, err := Import(context.Background(), opts, paths...)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func wantTotal(t *testing.T, sum *Summary, want Counts) {
	t.Helper()
	if got := sum.Total(); got != want {
		t.Errorf("total %+v, want %+v; problems %v", got, want, sum.Problems)
	}
}
