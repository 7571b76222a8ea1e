package sqlstore

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/storetest"
)

// TestBackendsAgree holds the promise of the package doc: SQLite and
// PostgreSQL are one engine, so they answer every store operation alike. It
// loads the same data into a fresh store on each, in the same order (the
// official R5 examples, then agreePopulation), and compares what they
// answer: every search of agreeCases page by page, forwards to the end and
// back again through the Prev cursors; history at every level, with
// Since, At and paging; Read and VRead; and, last, writes at the edges of
// what a store accepts. Sequence numbers, rids, cursors and
// lastUpdated differ between the stores, so what is compared is the shape:
// which resources and versions, in which order, and which links and
// totals. Each case also says whether it should find something, be empty or
// be refused, so that two stores cannot agree by both failing.
func TestBackendsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("loading the examples into two stores and comparing takes about ten seconds")
	}
	examples := agreeExamples(t)
	ctx := context.Background()
	stores := []*agreeStore{{name: "sqlite", db: openTest(t)}, {name: "postgres", db: openPostgresICU(t)}}
	for _, s := range stores {
		t.Cleanup(func() { s.db.Close() })
	}

	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.err = s.load(ctx, examples, agreePopulation)
		}()
	}
	wg.Wait()
	for _, s := range stores {
		if s.err != nil {
			t.Fatalf("%s: load: %v", s.name, s.err)
		}
	}
	t.Logf("loaded %d examples and %d phases into both stores in %v", len(examples), len(agreePopulation), time.Since(start))
	// A live database has statistics (autovacuum analyzes a table soon
	// after it changes much). Without them PostgreSQL estimates one row
	// for every index range and plans the nested IN subqueries of a chain
	// as loops within loops: a chain of four links
	// (subject:Patient.organization.partof.partof.name) took 34 s here.
	for _, s := range stores {
		if s.db.Backend() == "postgres" {
			if _, err := s.db.readers.ExecContext(ctx, "ANALYZE"); err != nil {
				t.Fatalf("%s: analyze: %v", s.name, err)
			}
		}
	}

	t.Run("search", func(t *testing.T) { agreeSearches(t, stores) })
	t.Run("compartments", func(t *testing.T) { agreeCompartments(t, stores) })
	t.Run("history", func(t *testing.T) { agreeHistories(t, stores) })
	t.Run("read", func(t *testing.T) { agreeReads(t, stores, examples) })
	t.Run("write", func(t *testing.T) { agreeWrites(t, stores) })
}

// openPostgresICU opens a store on a fresh PostgreSQL database whose
// default collation is ICU's en-US, as a hospital's database created with
// the server's usual locale sorts, rather than pgtest's C: the schema must
// give the same order whatever the database's default.
func openPostgresICU(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	name = name[:min(len(name), 59)] + "_icu" // within PostgreSQL's 63 bytes
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"); err != nil {
		t.Logf("no ICU database (%v): PostgreSQL runs on pgtest's C collation", err)
		return openPostgresTest(t)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	u.Path = "/" + name
	db, err := OpenPostgres(ctx, u.String(), Options{Extractor: storetest.Extractor()})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	return db
}

// agreeMaxExample leaves out the official examples larger than this (the
// conformance bundles of the whole specification, up to 42 MB, the large
// StructureDefinitions, CodeSystems and Questionnaires): 86% of the
// examples are kept but a tenth of the bytes, which would otherwise make
// loading them into PostgreSQL take most of a minute.
const agreeMaxExample = 50 << 10

// agreeExamples returns the official examples that are resources with an
// id, in file order.
func agreeExamples(t *testing.T) []fhir.Resource {
	var out []fhir.Resource
	for _, ex := range sharedtest.R5Examples(t) {
		if len(ex.Body) > agreeMaxExample {
			continue
		}
		res, err := fhir.ParseResource(ex.Body)
		if err != nil || res.ID() == "" {
			continue
		}
		out = append(out, res)
	}
	return out
}

// agreeStore is one of the stores compared.
type agreeStore struct {
	name string
	db   *DB
	// at is the transaction time of each phase of the population, which
	// {phase} in a query and the history cases stand for.
	at  map[string]time.Time
	err error
}

// load writes the examples in batches, then each phase of the population
// in a transaction of its own. Phases are a few milliseconds apart, so that
// no other write shares a phase's lastUpdated in either store.
func (s *agreeStore) load(ctx context.Context, examples []fhir.Resource, phases []agreePhase) error {
	const batch = 200
	for i := 0; i < len(examples); i += batch {
		part := examples[i:min(i+batch, len(examples))]
		err := s.db.Write(ctx, func(tx store.Tx) error {
			for _, res := range part {
				if _, _, err := tx.Update(res.Clone(), 0); err != nil {
					return fmt.Errorf("%s/%s: %w", res.Type(), res.ID(), err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.at = make(map[string]time.Time)
	for _, ph := range phases {
		time.Sleep(3 * time.Millisecond)
		err := s.db.Write(ctx, func(tx store.Tx) error {
			s.at[ph.name] = tx.Now()
			for _, js := range ph.puts {
				res, err := fhir.ParseResource([]byte(js))
				if err != nil {
					return fmt.Errorf("phase %s: %w", ph.name, err)
				}
				if _, _, err := tx.Update(res, 0); err != nil {
					return fmt.Errorf("phase %s: %s/%s: %w", ph.name, res.Type(), res.ID(), err)
				}
			}
			for _, ref := range ph.deletes {
				typ, id, _ := strings.Cut(ref, "/")
				if _, err := tx.Delete(typ, id, 0); err != nil {
					return fmt.Errorf("phase %s: delete %s: %w", ph.name, ref, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	time.Sleep(3 * time.Millisecond)
	return nil
}

// expand replaces each {phase} in a query with the store's time of that
// phase, to the millisecond (the precision of lastUpdated).
func (s *agreeStore) expand(query string) string {
	for name, at := range s.at {
		query = strings.ReplaceAll(query, "{"+name+"}", at.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	return query
}

// agreeCompartments checks, in each store, that a compartment search of
// one type (which reads the type's reference rows, compartmentOfType)
// finds exactly the resources of that type that a search of every type
// in the compartment finds (which reads idx_compartment), for every
// Patient, Encounter, Practitioner, RelatedPerson and Device stored, and
// that a type with no member finds none.
func agreeCompartments(t *testing.T, stores []*agreeStore) {
	ctx := context.Background()
	all := func(db *DB, q *search.Query) []*store.Version {
		var out []*store.Version
		for page := 0; ; page++ {
			res, err := db.Search(ctx, q)
			if err != nil {
				t.Fatalf("%v: %v", q, err)
			}
			out = append(out, res.Matches...)
			if res.Next == "" || page > 100 {
				return out
			}
			q.Cursor = res.Next
		}
	}
	for _, s := range stores {
		checked := 0
		for comp := range spec.R5().Compartments {
			for _, focus := range all(s.db, &search.Query{Type: comp, Count: 1000}) {
				ref := &search.CompartmentRef{Type: comp, ID: focus.ID}
				byType := map[string][]string{}
				for _, v := range all(s.db, &search.Query{Compartment: ref, Count: 1000}) {
					byType[v.Type] = append(byType[v.Type], v.ID)
				}
				byType["Library"] = nil // no Library is in any compartment
				for typ, want := range byType {
					var got []string
					for _, v := range all(s.db, &search.Query{Type: typ, Compartment: ref, Count: 1000}) {
						got = append(got, v.ID)
					}
					slices.Sort(got)
					slices.Sort(want)
					if !slices.Equal(got, want) {
						t.Errorf("%s: %s/%s/%s: %v, want %v", s.name, comp, focus.ID, typ, got, want)
					}
					checked++
				}
			}
		}
		t.Logf("%s: %d compartment searches of one type", s.name, checked)
	}
}
