package mpi_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// loaded is a store holding a generated population, and who is who.
type loaded struct {
	st      *sqlstore.DB
	matcher *mpi.Matcher
	person  map[string]int // patient id → the person it is
}

func loadPopulation(t *testing.T, n int) *loaded {
	t.Helper()
	defs := spec.R5()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"),
		sqlstore.Options{Extractor: mpi.WithKeys(search.NewExtractor(defs))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l := &loaded{st: st, person: map[string]int{},
		matcher: &mpi.Matcher{Model: mpi.DefaultModel(), Keys: st, Definitions: defs}}
	var batch []mpi.Record
	flush := func() {
		err := st.Write(context.Background(), func(tx store.Tx) error {
			for _, r := range batch {
				v, err := tx.Create(r.Patient)
				if err != nil {
					return err
				}
				l.person[v.ID] = r.PersonID
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	mpi.Generate(7, n).Each(func(r mpi.Record) {
		if batch = append(batch, r); len(batch) == 200 {
			flush()
		}
	})
	flush()
	return l
}

func TestScanQueuesDuplicates(t *testing.T) {
	ctx := context.Background()
	l := loadPopulation(t, 600)
	queue := &mpi.Queue{Records: l.st}
	scanner := &mpi.Scanner{Matcher: l.matcher, Store: l.st, Queue: queue, PageSize: 100}
	stats, err := scanner.Run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Keys == 0 || stats.Pairs == 0 || stats.Proposed == 0 {
		t.Fatalf("scan: %+v, want keys walked, pairs compared and proposed", stats)
	}
	pairs, err := queue.List(ctx, mpi.PairOpen, mpi.Probable)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for _, p := range pairs {
		if l.person[p.A] == l.person[p.B] {
			same++
		} else if p.Grade == mpi.Certain {
			t.Errorf("certain pair %s is two people (evidence %v)", p.Key(), p.Evidence)
		}
	}
	// Every true duplicate pair the generator made, and how many were found.
	truth := 0
	byPerson := map[int][]string{}
	for id, person := range l.person {
		byPerson[person] = append(byPerson[person], id)
	}
	for _, ids := range byPerson {
		truth += len(ids) * (len(ids) - 1) / 2
	}
	t.Logf("600 patients: %d true duplicate pairs; %d pairs compared, queued %d (probable or better), %d of them true", truth, stats.Pairs, len(pairs), same)
	if truth == 0 || float64(same) < 0.9*float64(truth) {
		t.Errorf("found %d of %d duplicate pairs", same, truth)
	}
	if float64(same) < 0.95*float64(len(pairs)) {
		t.Errorf("precision %d/%d", same, len(pairs))
	}

	// A second scan proposes nothing new.
	again, err := scanner.Run(ctx, nil)
	if err != nil || again.Proposed != 0 || again.Known == 0 || again.Resumed {
		t.Errorf("second scan: %+v, %v; want no new pair", again, err)
	}

	// A pair called distinct is remembered: not proposed again, and not
	// resolvable twice.
	p := pairs[0]
	if _, err := queue.Resolve(ctx, p.A, p.B, mpi.PairDistinct, "registrar1", "different mothers' names", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Resolve(ctx, p.B, p.A, mpi.PairMerged, "registrar2", "", time.Now()); err == nil {
		t.Error("a resolved pair was resolved again")
	}
	if isNew, err := queue.Propose(ctx, p.B, p.A, mpi.Result{Grade: mpi.Certain}, time.Now()); isNew || err != nil {
		t.Errorf("re-proposing a distinct pair: new=%v, %v", isNew, err)
	}
	if got, _ := queue.Get(ctx, p.A, p.B); got.Status != mpi.PairDistinct || got.ResolvedBy != "registrar1" {
		t.Errorf("pair after resolution: %+v", got)
	}
}

func TestScanResumes(t *testing.T) {
	l := loadPopulation(t, 300)
	scanner := &mpi.Scanner{Matcher: l.matcher, Store: l.st, Queue: &mpi.Queue{Records: l.st}, ChunkKeys: 300, Workers: 1}
	ctx, cancel := context.WithCancel(context.Background())
	stats, err := scanner.Run(ctx, func(done, total int64) {
		if done >= 100 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted scan: %+v, %v; want cancelled", stats, err)
	}
	first := stats.Keys
	rest, err := scanner.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := l.st.KeyCount(context.Background(), "Patient", mpi.KeyParam)
	if err != nil {
		t.Fatal(err)
	}
	if !rest.Resumed || first == 0 || first+rest.Keys != whole {
		t.Errorf("resumed scan walked %d keys after %d of %d (resumed %v)", rest.Keys, first, whole, rest.Resumed)
	}
	// The interrupted and the resumed run found what one run finds.
	once := loadPopulation(t, 300)
	oneRun := &mpi.Scanner{Matcher: once.matcher, Store: once.st, Queue: &mpi.Queue{Records: once.st}}
	all, err := oneRun.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Proposed+rest.Proposed != all.Proposed {
		t.Errorf("interrupted and resumed runs queued %d+%d pairs, one run %d", stats.Proposed, rest.Proposed, all.Proposed)
	}
}

// TestEstimateFromStore: weights learnt without labels from a stored
// population point the right way, and grade as well as the defaults.
func TestEstimateFromStore(t *testing.T) {
	l := loadPopulation(t, 1500)
	scanner := &mpi.Scanner{Matcher: l.matcher, Store: l.st}
	res, pairs, err := scanner.Estimate(context.Background(), 0, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	t.Logf("%d candidate pairs, match share %.3f, %d iterations", pairs, res.Prevalence, res.Iterations)
	for _, c := range []struct {
		f     mpi.Field
		l     mpi.Level
		agree bool
	}{
		{mpi.FieldBirthDate, mpi.LevelExact, true}, {mpi.FieldBirthDate, mpi.LevelDisagree, false},
		{mpi.FieldGiven, mpi.LevelExact, true}, {mpi.FieldGiven, mpi.LevelDisagree, false},
		{mpi.FieldFamily, mpi.LevelExact, true}, {mpi.FieldPhone, mpi.LevelExact, true},
	} {
		if w := m.Weight(c.f, c.l); (w > 0) != c.agree {
			t.Errorf("%s %s weighs %.2f", c.f, c.l, w)
		}
	}
	if res.Prevalence <= 0 || res.Prevalence >= 1 {
		t.Errorf("match share %v", res.Prevalence)
	}
	// Grade every candidate pair of the population with the estimate.
	var certain, wrong int
	for id, person := range l.person {
		v, err := l.st.Read(context.Background(), "Patient", id)
		if err != nil {
			t.Fatal(err)
		}
		est := *l.matcher
		est.Model = m
		matches, err := est.Match(context.Background(), l.st, v.Resource, mpi.Query{Min: mpi.Certain, Exclude: id})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range matches {
			certain++
			if l.person[x.Version.ID] != person {
				wrong++
			}
		}
	}
	if certain == 0 || float64(wrong) > 0.001*float64(certain) {
		t.Errorf("estimated model: %d of %d certain pairs wrong", wrong, certain)
	}
}
