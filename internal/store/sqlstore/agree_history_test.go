package sqlstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// History, Read and VRead in TestBackendsAgree.

// agreeHistPage is the shape of one history page.
type agreeHistPage struct {
	Versions    []string // Type/id/_history/version, "(deleted)" for a tombstone
	More, Newer bool
}

// agreeHistory is the shape of a history: its pages forwards to the
// oldest, then backwards through After to the newest.
type agreeHistory struct {
	Forward, Backward []agreeHistPage
	Err               string
}

func agreeHistShape(p *store.HistoryPage) agreeHistPage {
	h := agreeHistPage{More: p.More, Newer: p.Newer}
	for _, v := range p.Versions {
		k := agreeVersionKey(v)
		if v.Deleted {
			k += " (deleted)"
		}
		h.Versions = append(h.Versions, k)
	}
	return h
}

func agreeWalkHistory(ctx context.Context, db *DB, q store.HistoryQuery, back bool) agreeHistory {
	var h agreeHistory
	p, err := db.History(ctx, q)
	for {
		if err != nil {
			h.Err = fmt.Sprintf("page %d: kind %d", len(h.Forward), fhir.KindOf(err))
			return h
		}
		h.Forward = append(h.Forward, agreeHistShape(p))
		if !p.More || len(p.Versions) == 0 || len(h.Forward) == agreeMaxPages {
			break
		}
		next := q
		next.Before = p.Versions[len(p.Versions)-1].Seq
		p, err = db.History(ctx, next)
	}
	for back && p.Newer && len(p.Versions) > 0 && len(h.Backward) < agreeMaxPages {
		prev := q
		prev.After = p.Versions[0].Seq
		if p, err = db.History(ctx, prev); err != nil {
			h.Err = fmt.Sprintf("backward page %d: kind %d", len(h.Backward), fhir.KindOf(err))
			return h
		}
		h.Backward = append(h.Backward, agreeHistShape(p))
	}
	return h
}

// agreeHistCase is a history query; its times name phases of the
// population, each store's own.
type agreeHistCase struct {
	name              string
	q                 store.HistoryQuery
	since             string // phase
	atStart, atEnd    string // phase; atEnd "+1ms" after it when the name ends so
	wantErr, wantNone bool
	forwardOnly       bool // not back again: for the history of everything
}

func agreeHistories(t *testing.T, stores []*agreeStore) {
	ctx := context.Background()
	cases := []agreeHistCase{
		{name: "system", q: store.HistoryQuery{Count: 1000}, forwardOnly: true},
		{name: "system since clinical", q: store.HistoryQuery{Count: 9}, since: "clinical"},
		{name: "system since changes", q: store.HistoryQuery{Count: 2}, since: "changes"},
		{name: "system at changes", q: store.HistoryQuery{Count: 1000}, atStart: "changes", atEnd: "changes+1ms", forwardOnly: true},
		{name: "type Observation at people..changes", q: store.HistoryQuery{Type: "Observation", Count: 30}, atStart: "people", atEnd: "changes"},
		{name: "type Patient", q: store.HistoryQuery{Type: "Patient", Count: 7}},
		{name: "type Patient since people", q: store.HistoryQuery{Type: "Patient", Count: 4}, since: "people"},
		{name: "type Observation since changes", q: store.HistoryQuery{Type: "Observation", Count: 1}, since: "changes"},
		{name: "type Patient at clinical", q: store.HistoryQuery{Type: "Patient", Count: 5}, atStart: "clinical", atEnd: "clinical+1ms"},
		{name: "type List", q: store.HistoryQuery{Type: "List", Count: 3}},
		{name: "type with none", q: store.HistoryQuery{Type: "EnrollmentResponse", Count: 3}, since: "people", wantNone: true},
		{name: "instance updated twice", q: store.HistoryQuery{Type: "Patient", ID: "ag-p15", Count: 1}},
		{name: "instance revived", q: store.HistoryQuery{Type: "Patient", ID: "ag-p14", Count: 2}},
		{name: "instance deleted", q: store.HistoryQuery{Type: "Patient", ID: "ag-p13"}},
		{name: "instance since changes", q: store.HistoryQuery{Type: "Patient", ID: "ag-p15"}, since: "changes"},
		{name: "instance at clinical", q: store.HistoryQuery{Type: "Patient", ID: "ag-p15"}, atStart: "clinical", atEnd: "clinical+1ms"},
		{name: "instance at revived", q: store.HistoryQuery{Type: "Patient", ID: "ag-p14"}, atStart: "revived", atEnd: "revived+1ms"},
		{name: "instance of an example", q: store.HistoryQuery{Type: "Patient", ID: "example"}},
		{name: "instance unknown", q: store.HistoryQuery{Type: "Patient", ID: "ag-nobody"}, wantNone: true},
		{name: "instance without type", q: store.HistoryQuery{ID: "ag-p1"}, wantErr: true},
	}
	for _, c := range cases {
		var answers []agreeHistory
		for _, s := range stores {
			q := c.q
			at := func(phase string) time.Time {
				name, plus := strings.CutSuffix(phase, "+1ms")
				t := s.at[name]
				if plus {
					t = t.Add(time.Millisecond)
				}
				return t
			}
			if c.since != "" {
				q.Since = at(c.since)
			}
			if c.atStart != "" {
				q.AtStart, q.AtEnd = at(c.atStart), at(c.atEnd)
			}
			answers = append(answers, agreeWalkHistory(ctx, s.db, q, !c.forwardOnly))
		}
		for i, a := range answers[1:] {
			if diff := cmp.Diff(answers[0], a); diff != "" {
				t.Errorf("history %s: %s and %s disagree (-%s +%s):\n%s", c.name, stores[0].name, stores[i+1].name, stores[0].name, stores[i+1].name, diff)
			}
		}
		ref := answers[0]
		empty := len(ref.Forward) == 0 || len(ref.Forward[0].Versions) == 0
		switch {
		case c.wantErr != (ref.Err != ""):
			t.Errorf("history %s: error %q, want error %v", c.name, ref.Err, c.wantErr)
		case !c.wantErr && c.wantNone != empty:
			t.Errorf("history %s: empty %v, want empty %v", c.name, empty, c.wantNone)
		}
	}
}

// agreeReadEvery samples the examples read back: reading and parsing all
// of them twice would take longer than every search together.
const agreeReadEvery = 7

// agreeReads compares Read of every resource and VRead of every version of
// the population (and one past the last), and Read of a sample of the
// examples, which must also come back as they were loaded.
func agreeReads(t *testing.T, stores []*agreeStore, examples []fhir.Resource) {
	ctx := context.Background()
	type answer struct {
		Err     string
		Version int64
		Deleted bool
		JSON    string // meta.lastUpdated left out
	}
	shape := func(v *store.Version, err error) answer {
		var a answer
		if err != nil {
			a.Err = fmt.Sprintf("kind %d", fhir.KindOf(err))
		}
		if v != nil {
			a.Version, a.Deleted = v.VersionID, v.Deleted
			if v.Resource != nil {
				res := v.Resource.Clone()
				delete(res.Meta(), "lastUpdated") // versionId is compared
				a.JSON = string(res.JSON())
			}
		}
		return a
	}
	compare := func(what string, answers []answer) {
		for i, a := range answers[1:] {
			if diff := cmp.Diff(answers[0], a); diff != "" {
				t.Errorf("%s: %s and %s disagree (-%s +%s):\n%s", what, stores[0].name, stores[i+1].name, stores[0].name, stores[i+1].name, diff)
			}
		}
	}
	var refs []string
	for _, ph := range agreePopulation {
		for _, js := range ph.puts {
			res, err := fhir.ParseResource([]byte(js))
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, res.Type()+"/"+res.ID())
		}
	}
	refs = append(refs, "Patient/ag-nobody", "Patient/example")
	slices.Sort(refs)
	refs = slices.Compact(refs)
	for _, ref := range refs {
		typ, id, _ := strings.Cut(ref, "/")
		var reads []answer
		for _, s := range stores {
			reads = append(reads, shape(s.db.Read(ctx, typ, id)))
		}
		compare("read "+ref, reads)
		for vid := int64(1); vid <= reads[0].Version+1; vid++ {
			var vreads []answer
			for _, s := range stores {
				vreads = append(vreads, shape(s.db.VRead(ctx, typ, id, vid)))
			}
			compare(fmt.Sprintf("vread %s/_history/%d", ref, vid), vreads)
		}
	}
	// An example whose id comes again later in the corpus was updated by it.
	last := make(map[string]fhir.Resource)
	for _, ex := range examples {
		last[ex.Type()+"/"+ex.ID()] = ex
	}
	for i, ex := range examples {
		ref := ex.Type() + "/" + ex.ID()
		if last[ref] == nil || i%agreeReadEvery != 0 {
			continue // already read, or not in the sample
		}
		var reads []answer
		for _, s := range stores {
			reads = append(reads, shape(s.db.Read(ctx, ex.Type(), ex.ID())))
		}
		compare("read example "+ref, reads)
		// Stored as given, but for meta.versionId and meta.lastUpdated.
		var got fhir.Resource
		if reads[0].JSON != "" {
			got, _ = fhir.ParseResource([]byte(reads[0].JSON))
		}
		if reads[0].Err != "" || got == nil || !bytes.Equal(agreeWithoutServerMeta(last[ref]).JSON(), agreeWithoutServerMeta(got).JSON()) {
			t.Errorf("read example %s: got %s %.200s, want it as loaded", ref, reads[0].Err, reads[0].JSON)
		}
		last[ref] = nil
	}
}

// agreeWithoutServerMeta is a copy of res without what the store sets:
// meta.versionId and meta.lastUpdated (and meta, when that leaves it empty).
func agreeWithoutServerMeta(res fhir.Resource) fhir.Resource {
	res = res.Clone()
	if m, ok := res["meta"].(map[string]any); ok {
		delete(m, "versionId")
		delete(m, "lastUpdated")
		if len(m) == 0 {
			delete(res, "meta")
		}
	}
	return res
}
