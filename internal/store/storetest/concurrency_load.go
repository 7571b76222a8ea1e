package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

var loadTests = []suiteTest{
	{"MixedLoadNoDeadlock", func(t *testing.T, s store.Store) {
		// A deadlock or a lost wake-up shows as this deadline passing, not
		// as a hung test; the deadline is far beyond what the load needs.
		lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		const workers, opsPerWorker = 12, 30
		m := &mixer{s: s, ledger: newLedger()}
		for i := range 6 {
			m.pool = append(m.pool, fmt.Sprint("mix-", i))
		}
		write(t, s, func(tx store.Tx) error {
			for _, id := range m.pool {
				v, _, err := tx.Update(withID(patient("start"), id), 0)
				if err != nil {
					return err
				}
				m.ledger.add(v)
			}
			return nil
		})
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				for i := range opsPerWorker {
					op := mixedOps[rng.IntN(len(mixedOps))]
					if err := op.run(lctx, m, rng); err != nil {
						t.Errorf("worker %d, op %d (%s): %v", w, i, op.name, err)
						if lctx.Err() != nil {
							return
						}
					}
				}
			})
		}
		wg.Wait()
		if err := lctx.Err(); err != nil {
			t.Fatalf("the load did not finish within its deadline (deadlock?): %v", err)
		}
		m.ledger.check(t, s)
	}},
	{"HistorySeqOrdered", func(t *testing.T, s store.Store) {
		// Concurrent transactions of two or three versions each, some of
		// them failing (a backend's sequence may then skip numbers), over
		// two types and a few shared resources.
		const writers, rounds = 8, 20
		var (
			mu    sync.Mutex
			acked = map[string]*store.Version{} // Type/id/version -> as Write reported it
			wg    sync.WaitGroup
		)
		for w := range writers {
			wg.Go(func() {
				for i := range rounds {
					doomed := i%5 == 4
					var got []*store.Version
					err := s.Write(ctx, func(tx store.Tx) error {
						got = nil
						p, err := tx.Create(patient(fmt.Sprint("h", w, "-", i)))
						if err != nil {
							return err
						}
						shared, _, err := tx.Update(withID(patient("shared"), fmt.Sprint("hist-", (w+i)%4)), 0)
						if err != nil {
							return err
						}
						got = append(got, p, shared)
						if i%2 == 0 {
							o, err := tx.Create(fhir.Resource{"resourceType": "Observation", "status": "final"})
							if err != nil {
								return err
							}
							got = append(got, o)
						}
						if doomed {
							return errTest
						}
						return nil
					})
					switch {
					case doomed && !errors.Is(err, errTest):
						t.Errorf("failing write: got %v, want its fn's error", err)
					case !doomed && err != nil:
						t.Errorf("Write: %v", err)
					case !doomed:
						mu.Lock()
						for _, v := range got {
							acked[key(v)] = v
						}
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		for _, typ := range []string{"", "Patient"} {
			walk := walkHistory(t, s, store.HistoryQuery{Type: typ, Count: 7})
			want := 0
			for _, v := range acked {
				if typ == "" || v.Type == typ {
					want++
				}
			}
			seen := map[string]bool{}
			for i, v := range walk {
				k := key(v)
				ack := acked[k]
				switch {
				case seen[k]:
					t.Errorf("history %q: %s appears twice", typ, k)
				case ack == nil:
					t.Errorf("history %q: %s was never acknowledged", typ, k)
				case typ != "" && v.Type != typ:
					t.Errorf("history %q: %s is of another type", typ, k)
				case v.Seq != ack.Seq || !v.LastUpdated.Equal(ack.LastUpdated):
					t.Errorf("history %q: %s has seq %d at %v, but its Write reported seq %d at %v",
						typ, k, v.Seq, v.LastUpdated, ack.Seq, ack.LastUpdated)
				}
				seen[k] = true
				if i == 0 {
					continue
				}
				prev := walk[i-1]
				if v.Seq >= prev.Seq || v.LastUpdated.After(prev.LastUpdated) {
					t.Errorf("history %q, entry %d: %s (seq %d at %v) follows %s (seq %d at %v); want seq decreasing and lastUpdated not increasing",
						typ, i, k, v.Seq, v.LastUpdated, key(prev), prev.Seq, prev.LastUpdated)
				}
			}
			if len(seen) != want {
				t.Errorf("history %q: %d distinct versions, want every one of the %d acknowledged", typ, len(seen), want)
			}
		}
	}},
}

// walkHistory pages through q with Before cursors and returns every
// version, checking the More and Newer flags on the way.
func walkHistory(t *testing.T, s store.Store, q store.HistoryQuery) []*store.Version {
	t.Helper()
	var all []*store.Version
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("history %+v: still paging after %d pages", q, pages)
		}
		page := history(t, s, q)
		if page.Newer != (pages > 0) {
			t.Errorf("history page %d: Newer = %v, want %v", pages, page.Newer, pages > 0)
		}
		all = append(all, page.Versions...)
		if !page.More {
			return all
		}
		if len(page.Versions) == 0 {
			t.Fatalf("history page %d: More set on an empty page", pages)
		}
		q.Before = page.Versions[len(page.Versions)-1].Seq
	}
}

// A mixer runs the operations of MixedLoadNoDeadlock on a pool of
// patients with fixed ids and records what it writes.
type mixer struct {
	s      store.Store
	pool   []string
	ledger *ledger
}

// conditionalIDs are the identifiers the conditional creates race for.
var conditionalIDs = []string{"MIX-0", "MIX-1", "MIX-2"}

type mixedOp struct {
	name string
	// run returns an error only for an outcome the contract does not allow.
	run func(ctx context.Context, m *mixer, rng *rand.Rand) error
}

var mixedOps = []mixedOp{
	{"create", func(ctx context.Context, m *mixer, _ *rand.Rand) error {
		return m.write(ctx, func(tx store.Tx, keep func(*store.Version)) error {
			v, err := tx.Create(patient("new"))
			keep(v)
			return err
		})
	}},
	{"update", func(ctx context.Context, m *mixer, rng *rand.Rand) error {
		id := m.pick(rng)
		return m.write(ctx, func(tx store.Tx, keep func(*store.Version)) error {
			v, _, err := tx.Update(withID(patient("updated"), id), 0)
			keep(v)
			return err
		})
	}},
	{"update If-Match", func(ctx context.Context, m *mixer, rng *rand.Rand) error {
		id := m.pick(rng)
		cur, err := m.readCurrent(ctx, id)
		if err != nil {
			return err
		}
		return preconditionAllowed(m.write(ctx, func(tx store.Tx, keep func(*store.Version)) error {
			v, _, err := tx.Update(withID(patient("matched"), id), cur.VersionID)
			keep(v)
			return err
		}))
	}},
	{"delete", func(ctx context.Context, m *mixer, rng *rand.Rand) error {
		id := m.pick(rng)
		return m.write(ctx, func(tx store.Tx, keep func(*store.Version)) error {
			v, err := tx.Delete("Patient", id, 0)
			keep(v)
			return err
		})
	}},
	{"delete If-Match", func(ctx context.Context, m *mixer, rng *rand.Rand) error {
		id := m.pick(rng)
		cur, err := m.readCurrent(ctx, id)
		if err != nil {
			return err
		}
		return preconditionAllowed(m.write(ctx, func(tx store.Tx, keep func(*store.Version)) error {
			v, err := tx.Delete("Patient", id, cur.VersionID)
			keep(v)
			return err
		}))
	}},
	{"conditional create", func(ctx context.Context, m *mixer, rng *rand.Rand) error {
		value := conditionalIDs[rng.IntN(len(conditionalIDs))]
		var created bool
		err := m.write(ctx, func(tx store.Tx, keep func(*store.Version)) error {
			created = false
			r, err := tx.Search(byMRN(value))
			if err != nil || len(r.Matches) > 0 {
				return err
			}
			v, err := tx.Create(patientWithMRN(value))
			keep(v)
			created = err == nil
			return err
		})
		if err == nil && created {
			m.ledger.conditional(value)
		}
		return err
	}},
	{"two updates", func(ctx context.Context, m *mixer, rng *rand.Rand) error {
		// In random order, so that some pairs take the same two
		// resources in opposite orders.
		first, second := m.pick(rng), m.pick(rng)
		for second == first {
			second = m.pick(rng)
		}
		return m.write(ctx, func(tx store.Tx, keep func(*store.Version)) error {
			for _, id := range []string{first, second} {
				v, _, err := tx.Update(withID(patient("pair"), id), 0)
				keep(v)
				if err != nil {
					return err
				}
			}
			return nil
		})
	}},
	{"update and delete, failing", func(ctx context.Context, m *mixer, rng *rand.Rand) error {
		first, second := m.pick(rng), m.pick(rng)
		err := m.write(ctx, func(tx store.Tx, keep func(*store.Version)) error {
			if _, _, err := tx.Update(withID(patient("doomed"), first), 0); err != nil {
				return err
			}
			if _, err := tx.Delete("Patient", second, 0); err != nil {
				return err
			}
			return errTest
		})
		if !errors.Is(err, errTest) {
			return fmt.Errorf("got %v, want the fn's error", err)
		}
		return nil
	}},
	{"read", func(ctx context.Context, m *mixer, rng *rand.Rand) error {
		_, err := m.readCurrent(ctx, m.pick(rng))
		return err
	}},
	{"search", func(ctx context.Context, m *mixer, rng *rand.Rand) error {
		r, err := m.s.Search(ctx, parseQuery("Patient", url.Values{"_id": {strings.Join(m.pool, ",")}}))
		if err != nil {
			return err
		}
		for _, v := range r.Matches {
			if v.Deleted || !slices.Contains(m.pool, v.ID) {
				return fmt.Errorf("search of the pool matched %s (deleted=%v)", key(v), v.Deleted)
			}
		}
		value := conditionalIDs[rng.IntN(len(conditionalIDs))]
		if r, err = m.s.Search(ctx, byMRN(value)); err == nil && len(r.Matches) > 1 {
			err = fmt.Errorf("%d patients with identifier %s: %v", len(r.Matches), value, ids(r.Matches))
		}
		return err
	}},
}

func (m *mixer) pick(rng *rand.Rand) string { return m.pool[rng.IntN(len(m.pool))] }

// write runs fn in a Write and, when it commits, records the versions fn
// kept.
func (m *mixer) write(ctx context.Context, fn func(tx store.Tx, keep func(*store.Version)) error) error {
	var kept []*store.Version
	err := m.s.Write(ctx, func(tx store.Tx) error {
		kept = nil
		return fn(tx, func(v *store.Version) {
			if v != nil {
				kept = append(kept, v)
			}
		})
	})
	if err == nil {
		m.ledger.add(kept...)
	}
	return err
}

// readCurrent reads a pool patient, which exists but may be deleted: the
// tombstone is its current version then.
func (m *mixer) readCurrent(ctx context.Context, id string) (*store.Version, error) {
	v, err := m.s.Read(ctx, "Patient", id)
	if fhir.KindOf(err) == fhir.KindGone && v != nil && v.Deleted {
		err = nil
	}
	if err == nil && (v == nil || v.VersionID < 1) {
		err = fmt.Errorf("read of %s: got %+v", id, v)
	}
	return v, err
}

// preconditionAllowed lets the failure of an If-Match through.
func preconditionAllowed(err error) error {
	if fhir.KindOf(err) == fhir.KindPreconditionFailed {
		return nil
	}
	return err
}

// A ledger records every version a Write acknowledged, and the
// conditional creates that created.
type ledger struct {
	mu       sync.Mutex
	versions map[[2]string][]int64 // {type, id} -> version ids
	creates  map[string]int        // identifier -> conditional creates that created
}

func newLedger() *ledger {
	return &ledger{versions: map[[2]string][]int64{}, creates: map[string]int{}}
}

func (l *ledger) add(vs ...*store.Version) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range vs {
		k := [2]string{v.Type, v.ID}
		l.versions[k] = append(l.versions[k], v.VersionID)
	}
}

func (l *ledger) conditional(value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.creates[value]++
}

// check compares the store with the ledger: every resource's acknowledged
// versions are 1…n, each once; n is its current version and its history
// has exactly those versions; the store holds no other version; each
// conditional identifier was created at most once and matches that many
// patients.
func (l *ledger) check(t *testing.T, s store.Store) {
	t.Helper()
	total := 0
	for k, versions := range l.versions {
		typ, id := k[0], k[1]
		slices.Sort(versions)
		n := int64(len(versions))
		total += len(versions)
		for i, v := range versions {
			if v != int64(i+1) {
				t.Errorf("%s/%s: acknowledged versions %v, want 1…%d each once", typ, id, versions, n)
				break
			}
		}
		cur, err := s.Read(ctx, typ, id)
		if fhir.KindOf(err) == fhir.KindGone {
			err = nil
		}
		if err != nil || cur == nil || cur.VersionID != n {
			t.Errorf("%s/%s: current version %+v, %v; want version %d (1 + the acknowledged updates and deletes)", typ, id, cur, err, n)
		}
		page := history(t, s, store.HistoryQuery{Type: typ, ID: id, Count: store.MaxPageSize})
		var got []int64
		for _, v := range page.Versions {
			got = append(got, v.VersionID)
		}
		slices.Reverse(got)
		if !slices.Equal(got, versions) {
			t.Errorf("%s/%s: history has versions %v, want %v", typ, id, got, versions)
		}
	}
	if all := walkHistory(t, s, store.HistoryQuery{Count: store.MaxPageSize}); len(all) != total {
		t.Errorf("system history: %d versions, want the %d acknowledged", len(all), total)
	}
	for _, value := range conditionalIDs {
		n := l.creates[value]
		if n > 1 {
			t.Errorf("identifier %s: %d conditional creates created, want at most 1", value, n)
		}
		if r := runSearch(t, s, byMRN(value)); len(r.Matches) != n {
			t.Errorf("identifier %s: %d patients, want %d", value, len(r.Matches), n)
		}
	}
}
