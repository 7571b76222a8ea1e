package storetest

import (
	"slices"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

var searchTests = []suiteTest{
	{"Cases", func(t *testing.T, s store.Store) {
		loadFixture(t, s)
		for _, tc := range searchCases() {
			t.Run(tc.name, func(t *testing.T) {
				r := runSearch(t, s, tc.q)
				if got := ids(r.Matches); !equalIDs(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
	}},
	{"Paging", func(t *testing.T, s store.Store) {
		loadFixture(t, s)
		q := sorted(query("Patient"), "family")
		q.Count = 2
		p1 := runSearch(t, s, q)
		if got := ids(p1.Matches); !equalIDs(got, []string{"p3", "p1"}) || p1.Next == "" || p1.Prev != "" {
			t.Fatalf("page 1: got %v next %q prev %q, want [p3 p1], a next and no prev", got, p1.Next, p1.Prev)
		}
		if p1.Total != -1 {
			t.Errorf("page 1: total %d, want -1 (not asked, not the last page)", p1.Total)
		}
		q.Cursor = p1.Next
		p2 := runSearch(t, s, q)
		if got := ids(p2.Matches); !equalIDs(got, []string{"p2", "p4"}) || p2.Next != "" || p2.Prev == "" {
			t.Fatalf("page 2: got %v next %q prev %q, want [p2 p4], no next and a prev", got, p2.Next, p2.Prev)
		}
		if p2.Total != 4 {
			t.Errorf("last page: total %d, want 4", p2.Total)
		}
		q.Cursor = p2.Prev
		back := runSearch(t, s, q)
		if got := ids(back.Matches); !equalIDs(got, []string{"p3", "p1"}) || back.Prev != "" || back.Next == "" {
			t.Fatalf("previous page: got %v next %q prev %q, want [p3 p1], a next and no prev", got, back.Next, back.Prev)
		}
		q.Cursor = back.Next
		if got := ids(runSearch(t, s, q).Matches); !equalIDs(got, []string{"p2", "p4"}) {
			t.Errorf("next of previous: got %v, want [p2 p4]", got)
		}
		// Page by one through resources with and without the sort value,
		// forwards and back.
		for _, keys := range [][]string{{"gender", "-birthdate"}, {"-gender"}, {"birthdate"}} {
			all := ids(runSearch(t, s, sorted(query("Patient"), keys...)).Matches)
			one := sorted(query("Patient"), keys...)
			one.Count = 1
			var fwd []string
			var last *store.SearchResult
			for i := 0; i < 10; i++ {
				last = runSearch(t, s, one)
				fwd = append(fwd, ids(last.Matches)...)
				if last.Next == "" {
					break
				}
				one.Cursor = last.Next
			}
			if !equalIDs(fwd, all) {
				t.Errorf("sort %v: paging forwards by one got %v, want %v", keys, fwd, all)
			}
			var bwd []string
			for i := 0; i < 10 && last.Prev != ""; i++ {
				one.Cursor = last.Prev
				last = runSearch(t, s, one)
				bwd = append(ids(last.Matches), bwd...)
			}
			if want := all[:len(all)-1]; !equalIDs(bwd, want) {
				t.Errorf("sort %v: paging backwards by one got %v, want %v", keys, bwd, want)
			}
		}
		// A cursor is only good for the search that issued it.
		q.Cursor = "garbage!"
		_, err := s.Search(ctx, q)
		wantKind(t, "bad cursor", err, fhir.KindInvalid)
		other := sorted(query("Patient"), "-family")
		other.Cursor = p1.Next
		_, err = s.Search(ctx, other)
		wantKind(t, "cursor of another ordering", err, fhir.KindInvalid)
	}},
	{"PagingWhileWriting", func(t *testing.T, s store.Store) {
		loadFixture(t, s)
		for _, sortKey := range []string{"", "_id", "-birthdate"} {
			q := query("Patient")
			if sortKey != "" {
				q = sorted(q, sortKey)
			}
			q.Count = 2
			all := ids(runSearch(t, s, &search.Query{Type: "Patient", Sort: q.Sort}).Matches)
			p1 := runSearch(t, s, q)
			seen := ids(p1.Matches)
			// Delete a resource on the next page and add ones that sort
			// before and after the cursor.
			rest := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return slices.Contains(seen, id) })
			gone := rest[0]
			del(t, s, "Patient", gone)
			update(t, s, res(`{"resourceType":"Patient","id":"p0","birthDate":"2000","name":[{"family":"Aaron"}]}`))
			update(t, s, res(`{"resourceType":"Patient","id":"p9","birthDate":"1900","name":[{"family":"Zed"}]}`))
			q.Cursor = p1.Next
			var got []string
			for q.Cursor != "" {
				page := runSearch(t, s, q)
				got = append(got, ids(page.Matches)...)
				q.Cursor = page.Next
			}
			var want []string
			for _, id := range rest[1:] {
				want = append(want, id)
			}
			if sortKey != "-birthdate" { // p9 sorts last by rid and by _id
				want = append(want, "p9")
			} else {
				want = append(want, "p9")
			}
			if slices.Contains(got, "p0") {
				want = append([]string{"p0"}, want...)
			}
			got = slices.DeleteFunc(got, func(id string) bool { return id == "p0" })
			want = slices.DeleteFunc(want, func(id string) bool { return id == "p0" })
			if !equalIDs(got, want) {
				t.Errorf("sort %q: after page 1 %v got %v, want %v (no duplicates, no gaps)", sortKey, seen, got, want)
			}
			// Restore for the next ordering.
			del(t, s, "Patient", "p0")
			del(t, s, "Patient", "p9")
			for _, js := range fixture {
				if r := res(js); r.ID() == gone {
					update(t, s, r)
				}
			}
		}
	}},
	{"Total", func(t *testing.T, s store.Store) {
		loadFixture(t, s)
		q := query("Observation", flt("Observation", "code", "", code("1234")))
		q.Count, q.Total = 1, "accurate"
		if r := runSearch(t, s, q); r.Total != 3 || len(r.Matches) != 1 {
			t.Errorf("accurate: got total %d and %d matches, want 3 and 1", r.Total, len(r.Matches))
		}
		q.Total = "estimate"
		if r := runSearch(t, s, q); r.Total != 3 && r.Total != -1 {
			t.Errorf("estimate: got total %d, want 3 or -1", r.Total)
		}
		q.Total = "none"
		if r := runSearch(t, s, q); r.Total != -1 {
			t.Errorf("none: got total %d, want -1", r.Total)
		}
		q.Total, q.Count, q.CountGiven = "", 0, true
		if r := runSearch(t, s, q); r.Total != 3 || len(r.Matches) != 0 || r.Next != "" {
			t.Errorf("_count=0: got total %d, %d matches, next %q; want 3, none, none", r.Total, len(r.Matches), r.Next)
		}
		q.CountGiven, q.Summary = false, "count"
		if r := runSearch(t, s, q); r.Total != 3 || len(r.Matches) != 0 {
			t.Errorf("_summary=count: got total %d and %d matches, want 3 and none", r.Total, len(r.Matches))
		}
		q.Summary = ""
		if r := runSearch(t, s, q); r.Total != 3 || len(r.Matches) != 3 {
			t.Errorf("one page: got total %d and %d matches, want 3 and 3", r.Total, len(r.Matches))
		}
	}},
	{"Includes", func(t *testing.T, s store.Store) {
		loadFixture(t, s)
		check := func(name string, q *search.Query, matches, included []string) {
			t.Helper()
			r := runSearch(t, s, q)
			got := ids(r.Included)
			slices.Sort(got)
			slices.Sort(included)
			if !equalIDs(ids(r.Matches), matches) || !equalIDs(got, included) {
				t.Errorf("%s: got matches %v included %v, want %v and %v", name, ids(r.Matches), got, matches, included)
			}
		}
		q := query("Observation", flt("Observation", "_id", "", code("obs1")))
		q.Includes = []search.Include{{SourceType: "Observation", Param: "subject"}}
		check("_include", q, []string{"obs1"}, []string{"p1"})
		q.Includes = []search.Include{{SourceType: "Observation", Param: "*", TargetType: "Practitioner"}}
		check("_include * with target type", q, []string{"obs1"}, []string{"dr1"})
		q.Includes = []search.Include{{SourceType: "Observation", Param: "subject"}, {SourceType: "Patient", Param: "organization", Iterate: true}}
		check("_include:iterate", q, []string{"obs1"}, []string{"p1", "o1"})
		q.Includes = []search.Include{{SourceType: "Observation", Param: "subject"}, {SourceType: "Patient", Param: "organization"}}
		check("_include without iterate stays on matches", q, []string{"obs1"}, []string{"p1"})
		pq := query("Patient", flt("Patient", "_id", "", code("p1"), code("p2")))
		pq.RevIncludes = []search.Include{{SourceType: "Observation", Param: "subject"}}
		check("_revinclude", pq, []string{"p1", "p2"}, []string{"obs1", "obs2", "obs3"})
		pq.RevIncludes = []search.Include{{SourceType: "Patient", Param: "link"}}
		check("_revinclude of the same type, not a match twice", pq, []string{"p1", "p2"}, []string{"p3"})
		del(t, s, "Patient", "p1")
		q.Includes = []search.Include{{SourceType: "Observation", Param: "subject"}}
		check("deleted resources are not included", q, []string{"obs1"}, nil)
	}},
	{"UpdateAndDelete", func(t *testing.T, s store.Store) {
		loadFixture(t, s)
		del(t, s, "Condition", "c2")
		if got := ids(runSearch(t, s, query("Condition", flt("Condition", "code", "", code("38341003")))).Matches); len(got) != 0 {
			t.Errorf("deleted resource found: %v", got)
		}
		if got := ids(runSearch(t, s, query("Condition")).Matches); !equalIDs(got, []string{"c1"}) {
			t.Errorf("all conditions: got %v, want [c1]", got)
		}
		update(t, s, res(`{"resourceType":"Patient","id":"p4","name":[{"family":"Adams"}]}`))
		if got := ids(runSearch(t, s, query("Patient", flt("Patient", "name", "", str("smithson")))).Matches); len(got) != 0 {
			t.Errorf("old value still found: %v", got)
		}
		if got := ids(runSearch(t, s, query("Patient", flt("Patient", "name", "", str("adams")))).Matches); !equalIDs(got, []string{"p4"}) {
			t.Errorf("new value: got %v, want [p4]", got)
		}
		update(t, s, res(fixture[len(fixture)-1]))
		c2 := res(fixture[11])
		update(t, s, c2)
		if got := ids(runSearch(t, s, query("Condition", flt("Condition", "code", "", code("38341003")))).Matches); !equalIDs(got, []string{"c2"}) {
			t.Errorf("recreated resource: got %v, want [c2]", got)
		}
	}},
	{"TxSearch", func(t *testing.T, s store.Store) {
		loadFixture(t, s)
		write(t, s, func(tx store.Tx) error {
			if _, _, err := tx.Update(res(`{"resourceType":"Patient","id":"new","name":[{"family":"Smythe"}]}`), 0); err != nil {
				return err
			}
			r, err := tx.Search(query("Patient", flt("Patient", "name", "", str("smy"))))
			if err != nil {
				return err
			}
			if got := ids(r.Matches); !equalIDs(got, []string{"new"}) {
				t.Errorf("Tx.Search: got %v, want its own write [new]", got)
			}
			return nil
		})
	}},
	{"Refusals", func(t *testing.T, s store.Store) {
		loadFixture(t, s)
		_, err := s.Search(ctx, query("Observation", flt("Observation", "code", "in", search.Value{Code: "http://example.org/ValueSet/unknown"})))
		wantKind(t, ":in with a value set that cannot be expanded", err, fhir.KindNotSupported)
		_, err = s.Search(ctx, query("Observation", flt("Observation", "code", "above", code("1234"))))
		wantKind(t, "token :above", err, fhir.KindNotSupported)
	}},
}
