package sqlstore

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// The searches of TestBackendsAgree: each case is walked page by page on
// every store, and the shapes of the answers are compared.

// agreeWant is what a case must answer (on both stores, since they must
// agree).
type agreeWant int

const (
	agSome    agreeWant = iota // at least one match
	agNone                     // no match, no error
	agRefused                  // an error of kind Invalid or NotSupported
)

// agreeCase is one search.
type agreeCase struct {
	typ   string // "" for a system-level search
	query string // a query string; {phase} stands for the phase's time
	want  agreeWant
	comp  string // "Patient/id": the search is in that compartment
}

func (c agreeCase) String() string {
	s := c.typ + "?" + c.query
	if c.comp != "" {
		s = c.comp + "/" + s
	}
	return s
}

// agreePage is the shape of one search page.
type agreePage struct {
	Matches  []string // Type/id/_history/version, in order
	Included []string // sorted: their order is not specified
	Total    int64
	Next     bool
	Prev     bool
}

// agreeAnswer is the shape of a whole search: its pages forwards from the
// first, and backwards from the last through Prev, or where it failed.
type agreeAnswer struct {
	Forward  []agreePage
	Backward []agreePage
	Err      string // "page N: kind K"
	errText  string // the message, for the log only
}

// matches counts the matches of the forward pages.
func (a *agreeAnswer) matches() int {
	n := 0
	for _, p := range a.Forward {
		n += len(p.Matches)
	}
	return n
}

// found reports whether the search found anything: a match, or a positive
// total where only the total is asked for (_summary=count, _count=0).
func (a *agreeAnswer) found() bool {
	return a.matches() > 0 || len(a.Forward) > 0 && a.Forward[0].Total > 0
}

// agreeInWriteEvery samples the cases run again through Tx.Search.
const agreeInWriteEvery = 5

// agreeMaxPages bounds a walk, in case a cursor never ends.
const agreeMaxPages = 100

func agreeVersionKey(v *store.Version) string {
	return v.Type + "/" + v.ID + "/_history/" + strconv.FormatInt(v.VersionID, 10)
}

func agreePageShape(r *store.SearchResult) agreePage {
	p := agreePage{Total: r.Total, Next: r.Next != "", Prev: r.Prev != ""}
	for _, v := range r.Matches {
		p.Matches = append(p.Matches, agreeVersionKey(v))
	}
	for _, v := range r.Included {
		p.Included = append(p.Included, agreeVersionKey(v))
	}
	slices.Sort(p.Included)
	return p
}

// agreeSearcher is Store.Search or, inside a write, Tx.Search.
type agreeSearcher func(q *search.Query) (*store.SearchResult, error)

// agreeWalk runs q and follows its Next links to the end, then its Prev links
// back to the start.
func agreeWalk(find agreeSearcher, q *search.Query) agreeAnswer {
	var ans agreeAnswer
	fail := func(err error) agreeAnswer {
		n := len(ans.Forward) + len(ans.Backward)
		ans.Err = fmt.Sprintf("page %d: kind %d", n, fhir.KindOf(err))
		ans.errText = err.Error()
		return ans
	}
	follow := func(cursor string) (*store.SearchResult, error) {
		next := *q
		next.Cursor = cursor
		return find(&next)
	}
	res, err := find(q)
	for {
		if err != nil {
			return fail(err)
		}
		ans.Forward = append(ans.Forward, agreePageShape(res))
		if res.Next == "" || len(ans.Forward) == agreeMaxPages {
			break
		}
		res, err = follow(res.Next)
	}
	for res.Prev != "" && len(ans.Backward) < agreeMaxPages {
		if res, err = follow(res.Prev); err != nil {
			return fail(err)
		}
		ans.Backward = append(ans.Backward, agreePageShape(res))
	}
	return ans
}

// agreeWalkStore walks q with Store.Search, or with Tx.Search inside a write
// when inWrite is set.
func agreeWalkStore(ctx context.Context, db *DB, q *search.Query, inWrite bool) agreeAnswer {
	if !inWrite {
		return agreeWalk(func(q *search.Query) (*store.SearchResult, error) { return db.Search(ctx, q) }, q)
	}
	var ans agreeAnswer
	if err := db.Write(ctx, func(tx store.Tx) error { ans = agreeWalk(tx.Search, q); return nil }); err != nil {
		ans.Err, ans.errText = "write failed", err.Error()
	}
	return ans
}

// parse reads a case's query for one store.
func (s *agreeStore) parse(c agreeCase, extra string) (*search.Query, error) {
	raw := s.expand(c.query)
	if extra != "" {
		raw += "&" + extra
	}
	params, err := url.ParseQuery(raw)
	if err != nil {
		return nil, err
	}
	var opts search.ParseOptions
	if c.comp != "" {
		typ, id, _ := strings.Cut(c.comp, "/")
		opts.Compartment = &search.CompartmentRef{Type: typ, ID: id}
	}
	return search.Parse(spec.R5(), c.typ, params, opts)
}

// agreeSearches runs every case on every store and compares the answers
// with the first store's. A case without _count that finds several
// resources runs again in about six pages, to compare paging too; every
// agreeInWriteEvery-th case runs again through Tx.Search, which reads on
// the writer's connection.
func agreeSearches(t *testing.T, stores []*agreeStore) {
	ctx := context.Background()
	cases := agreeCases()
	seen := make(map[string]bool)
	var searches, paged, inWrite int
	for i, c := range cases {
		if seen[c.String()] {
			t.Errorf("%v: listed twice", c)
		}
		seen[c.String()] = true
		run := func(extra string, inWrite bool) *agreeAnswer {
			label := extra // what the messages add to the case
			if inWrite {
				label = strings.TrimSpace(extra + " in Tx.Search")
			}
			var answers []agreeAnswer
			for _, s := range stores {
				q, err := s.parse(c, extra)
				if err != nil {
					t.Errorf("%v: %s: parse: %v", c, s.name, err)
					return nil
				}
				answers = append(answers, agreeWalkStore(ctx, s.db, q, inWrite))
				searches += len(answers[len(answers)-1].Forward) + len(answers[len(answers)-1].Backward)
			}
			for i, a := range answers[1:] {
				diff := cmp.Diff(answers[0], a, cmpopts.IgnoreUnexported(agreeAnswer{}))
				if why, ok := agreeKnown[c.String()]; ok {
					if diff == "" {
						t.Errorf("%v %s: listed in agreeKnown (%s), but %s and %s agree: take it out", c, label, why, stores[0].name, stores[i+1].name)
					} else {
						t.Logf("%v %s: known disagreement: %s", c, label, why)
					}
					continue
				}
				if diff != "" {
					t.Errorf("%v %s: %s and %s disagree (-%s +%s):\n%s\n%s: %s\n%s: %s", c, label, stores[0].name, stores[i+1].name,
						stores[0].name, stores[i+1].name, diff, stores[0].name, answers[0].errText, stores[i+1].name, a.errText)
				}
			}
			return &answers[0]
		}
		ans := run("", false)
		if ans == nil {
			continue
		}
		if i%agreeInWriteEvery == 0 {
			if tx := run("", true); tx != nil {
				if diff := cmp.Diff(*ans, *tx, cmpopts.IgnoreUnexported(agreeAnswer{})); diff != "" {
					t.Errorf("%v: on %s, Store.Search and Tx.Search disagree (-Store +Tx):\n%s", c, stores[0].name, diff)
				}
				inWrite++
			}
		}
		switch n := ans.matches(); {
		case agreeKnown[c.String()] != "":
			continue // the reference may be the one that is wrong
		case c.want == agRefused:
			if ans.Err == "" {
				t.Errorf("%v: answered %d matches, want a refusal", c, n)
			} else if !strings.HasSuffix(ans.Err, fmt.Sprintf("kind %d", fhir.KindInvalid)) &&
				!strings.HasSuffix(ans.Err, fmt.Sprintf("kind %d", fhir.KindNotSupported)) {
				t.Errorf("%v: refused with %s (%s), want kind Invalid or NotSupported", c, ans.Err, ans.errText)
			}
			continue
		case ans.Err != "":
			t.Errorf("%v: %s: %s", c, ans.Err, ans.errText)
			continue
		case c.want == agNone && ans.found():
			t.Errorf("%v: %d matches (total %d), want none", c, n, ans.Forward[0].Total)
		case c.want == agSome && !ans.found():
			t.Errorf("%v: no match: the case compares nothing", c)
		}
		if n := ans.matches(); n > 2 && !strings.Contains(c.query, "_count=") && !strings.Contains(c.query, "_summary=count") {
			run("_count="+strconv.Itoa((n+5)/6), false)
			paged++
		}
	}
	t.Logf("%d cases (%d also paged, %d also in a write): %d searches on each store", len(cases), paged, inWrite, searches/len(stores))
}
