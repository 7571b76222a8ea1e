package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// tick waits until the clock has moved on by more than a millisecond, the
// finest precision of lastUpdated a store must keep, so that the next write
// gets a later timestamp than the previous one.
func tick() { time.Sleep(3 * time.Millisecond) }

func history(t *testing.T, s store.Store, q store.HistoryQuery) *store.HistoryPage {
	t.Helper()
	page, err := s.History(ctx, q)
	if err != nil {
		t.Fatalf("History(%+v): %v", q, err)
	}
	for i := 1; i < len(page.Versions); i++ {
		if page.Versions[i].Seq >= page.Versions[i-1].Seq {
			t.Fatalf("History(%+v): not newest first at entry %d", q, i)
		}
	}
	return page
}

// keys renders a page as Type/id/version strings for comparison.
func keys(vs []*store.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%s/%s/%d", v.Type, v.ID, v.VersionID)
	}
	return out
}

func key(v *store.Version) string { return keys([]*store.Version{v})[0] }

func wantPage(t *testing.T, what string, page *store.HistoryPage, want []*store.Version, more, newer bool) {
	t.Helper()
	if got, w := keys(page.Versions), keys(want); !slices.Equal(got, w) {
		t.Errorf("%s: got %v, want %v", what, got, w)
	}
	if page.More != more || page.Newer != newer {
		t.Errorf("%s: got More=%v Newer=%v, want More=%v Newer=%v", what, page.More, page.Newer, more, newer)
	}
}

func rev(vs ...*store.Version) []*store.Version {
	out := slices.Clone(vs)
	slices.Reverse(out)
	return out
}

var historyTests = []suiteTest{
	{"Empty", func(t *testing.T, s store.Store) {
		wantPage(t, "system", history(t, s, store.HistoryQuery{}), nil, false, false)
		wantPage(t, "type", history(t, s, store.HistoryQuery{Type: "Patient"}), nil, false, false)
		wantPage(t, "instance", history(t, s, store.HistoryQuery{Type: "Patient", ID: "x"}), nil, false, false)
	}},
	{"Levels", func(t *testing.T, s store.Store) {
		a1 := create(t, s, patient("A"))
		o1 := create(t, s, fhir.Resource{"resourceType": "Observation", "status": "final"})
		a2 := update(t, s, withID(patient("A2"), a1.ID))
		b1 := create(t, s, patient("B"))
		a3 := del(t, s, "Patient", a1.ID)
		a4 := update(t, s, withID(patient("A4"), a1.ID))
		page := history(t, s, store.HistoryQuery{Type: "Patient", ID: a1.ID})
		wantPage(t, "instance", page, rev(a1, a2, a3, a4), false, false)
		if !page.Versions[1].Deleted || page.Versions[1].Resource != nil {
			t.Errorf("instance history: the tombstone is %+v", page.Versions[1])
		}
		if family(t, page.Versions[3]) != "A" || family(t, page.Versions[0]) != "A4" {
			t.Errorf("instance history: wrong resource content")
		}
		wantPage(t, "type", history(t, s, store.HistoryQuery{Type: "Patient"}), rev(a1, a2, b1, a3, a4), false, false)
		wantPage(t, "other type", history(t, s, store.HistoryQuery{Type: "Observation"}), rev(o1), false, false)
		wantPage(t, "system", history(t, s, store.HistoryQuery{}), rev(a1, o1, a2, b1, a3, a4), false, false)
	}},
	{"Since", func(t *testing.T, s store.Store) {
		a1 := create(t, s, patient("A"))
		tick()
		b1 := create(t, s, patient("B"))
		a2 := update(t, s, withID(patient("A2"), a1.ID))
		tick()
		o1 := create(t, s, fhir.Resource{"resourceType": "Observation", "status": "final"})
		since := b1.LastUpdated
		if !a1.LastUpdated.Before(since) {
			t.Fatalf("clock did not advance: %v then %v", a1.LastUpdated, since)
		}
		for _, tc := range []struct {
			name string
			q    store.HistoryQuery
			want []*store.Version
		}{
			{"system", store.HistoryQuery{Since: since}, rev(b1, a2, o1)},
			{"type", store.HistoryQuery{Type: "Patient", Since: since}, rev(b1, a2)},
			{"instance", store.HistoryQuery{Type: "Patient", ID: a1.ID, Since: since}, rev(a2)},
			{"at the last write", store.HistoryQuery{Since: o1.LastUpdated}, rev(o1)},
			{"just after a write", store.HistoryQuery{Since: a2.LastUpdated.Add(time.Millisecond)}, rev(o1)},
			{"between milliseconds", store.HistoryQuery{Since: a1.LastUpdated.Add(500 * time.Microsecond)}, rev(b1, a2, o1)},
			{"future", store.HistoryQuery{Since: time.Now().Add(time.Hour)}, nil},
			{"past", store.HistoryQuery{Since: a1.LastUpdated.Add(-time.Hour)}, rev(a1, b1, a2, o1)},
		} {
			wantPage(t, tc.name, history(t, s, tc.q), tc.want, false, false)
		}
	}},
	{"At", func(t *testing.T, s store.Store) {
		a1 := create(t, s, patient("A"))
		tick()
		a2 := update(t, s, withID(patient("A2"), a1.ID))
		tick()
		b1 := create(t, s, patient("B"))
		tick()
		a3 := del(t, s, "Patient", a1.ID)
		t1, t2, t3, t4 := a1.LastUpdated, a2.LastUpdated, b1.LastUpdated, a3.LastUpdated
		ms := time.Millisecond
		for _, tc := range []struct {
			name       string
			start, end time.Time
			want       []*store.Version
		}{
			{"before anything", t1.Add(-time.Hour), t1, nil},
			{"at the first write", t1, t1.Add(ms), rev(a1)},
			{"while a1 was current", t1, t2, rev(a1)},
			// a1 was superseded exactly at t2: not current at any moment of [t2, ...).
			{"at the update", t2, t2.Add(ms), rev(a2)},
			{"after the update", t2.Add(ms), t3, rev(a2)},
			{"at b's create", t3, t3.Add(ms), rev(a2, b1)},
			{"whole range", t1, t4.Add(ms), rev(a1, a2, b1, a3)},
			{"after the delete", t4.Add(ms), t4.Add(time.Hour), rev(b1, a3)},
		} {
			page := history(t, s, store.HistoryQuery{AtStart: tc.start, AtEnd: tc.end})
			wantPage(t, tc.name, page, tc.want, false, false)
		}
		page := history(t, s, store.HistoryQuery{Type: "Patient", ID: a1.ID, AtStart: t2.Add(ms), AtEnd: t3})
		wantPage(t, "instance at", page, rev(a2), false, false)
	}},
	{"PageSize", func(t *testing.T, s store.Store) {
		write(t, s, func(tx store.Tx) error {
			for range store.DefaultPageSize + 5 {
				if _, err := tx.Create(patient("P")); err != nil {
					return err
				}
			}
			return nil
		})
		if page := history(t, s, store.HistoryQuery{}); len(page.Versions) != store.DefaultPageSize || !page.More {
			t.Errorf("default count: got %d versions More=%v, want %d and More", len(page.Versions), page.More, store.DefaultPageSize)
		}
		if page := history(t, s, store.HistoryQuery{Count: store.MaxPageSize * 10}); len(page.Versions) != store.DefaultPageSize+5 || page.More {
			t.Errorf("large count: got %d versions More=%v, want all %d", len(page.Versions), page.More, store.DefaultPageSize+5)
		}
	}},
	{"Paging", func(t *testing.T, s store.Store) {
		var all []*store.Version
		for i := range 25 {
			all = append(all, create(t, s, patient(fmt.Sprint(i))))
		}
		newest := rev(all...)
		p1 := history(t, s, store.HistoryQuery{Count: 10})
		wantPage(t, "page 1", p1, newest[:10], true, false)
		// Writes between pages must not shift the cursor.
		var later []*store.Version
		for i := range 5 {
			later = append(later, create(t, s, patient(fmt.Sprint("late", i))))
		}
		p2 := history(t, s, store.HistoryQuery{Count: 10, Before: p1.Versions[9].Seq})
		wantPage(t, "page 2", p2, newest[10:20], true, true)
		p3 := history(t, s, store.HistoryQuery{Count: 10, Before: p2.Versions[9].Seq})
		wantPage(t, "page 3", p3, newest[20:], false, true)
		p4 := history(t, s, store.HistoryQuery{Count: 10, Before: p3.Versions[4].Seq})
		wantPage(t, "past the end", p4, nil, false, true)
		// Previous links walk back up.
		back := history(t, s, store.HistoryQuery{Count: 10, After: p2.Versions[0].Seq})
		wantPage(t, "back from page 2", back, newest[:10], true, true)
		top := history(t, s, store.HistoryQuery{Count: 10, After: back.Versions[0].Seq})
		wantPage(t, "back to the top", top, rev(later...), true, false)
		none := history(t, s, store.HistoryQuery{Count: 10, After: later[4].Seq})
		wantPage(t, "above the newest", none, nil, true, false)
		// Type and instance history page the same way.
		tp := history(t, s, store.HistoryQuery{Type: "Patient", Count: 4, Before: all[10].Seq})
		wantPage(t, "type page", tp, rev(all[6:10]...), true, true)
		id := all[0].ID
		var versions []*store.Version
		versions = append(versions, all[0])
		for i := range 4 {
			versions = append(versions, update(t, s, withID(patient(fmt.Sprint("v", i)), id)))
		}
		ip := history(t, s, store.HistoryQuery{Type: "Patient", ID: id, Count: 2, Before: versions[3].Seq})
		wantPage(t, "instance page", ip, rev(versions[1:3]...), true, true)
		ip = history(t, s, store.HistoryQuery{Type: "Patient", ID: id, Count: 2, After: versions[2].Seq})
		wantPage(t, "instance previous page", ip, rev(versions[3:5]...), true, false)
	}},
	{"PagingWhileWriting", func(t *testing.T, s store.Store) {
		for i := range 120 {
			create(t, s, patient(fmt.Sprint(i)))
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.Write(ctx, func(tx store.Tx) error {
					_, err := tx.Create(patient(fmt.Sprint("concurrent", i)))
					return err
				}); err != nil {
					t.Errorf("concurrent Write: %v", err)
					return
				}
			}
		})
		var got []*store.Version
		q := store.HistoryQuery{Type: "Patient", Count: 7}
		for {
			page := history(t, s, q)
			got = append(got, page.Versions...)
			if !page.More {
				break
			}
			q.Before = page.Versions[len(page.Versions)-1].Seq
		}
		close(stop)
		wg.Wait()
		// The walk must be exactly the history as of its first page: every
		// version at or below the first seq, once, in order.
		full := history(t, s, store.HistoryQuery{Type: "Patient", Count: store.MaxPageSize, Before: got[0].Seq + 1})
		if !slices.Equal(keys(got), keys(full.Versions)) {
			t.Errorf("paged walk of %d versions differs from the %d-version history at its start", len(got), len(full.Versions))
		}
		if len(got) < 120 {
			t.Errorf("paged walk found %d versions, want at least 120", len(got))
		}
	}},
}
