package bench

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// fakeEMR answers the bench's queries from generated records with a naive
// search, so the queries and their checks can be tested before the real
// search exists. broken makes every search answer an empty Bundle.
type fakeEMR struct {
	byID   map[string]fhir.Resource
	all    []fhir.Resource
	broken bool
}

func newFakeEMR(records []*Record) *fakeEMR {
	f := &fakeEMR{byID: map[string]fhir.Resource{}}
	for _, rec := range records {
		for _, res := range rec.Resources {
			f.byID[res.ID()] = res
			f.all = append(f.all, res)
		}
	}
	return f
}

func (f *fakeEMR) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	u, _ := url.Parse(path)
	parts := strings.Split(strings.TrimPrefix(u.Path, "/fhir/"), "/")
	q := u.Query()
	switch {
	case method == "POST":
		return http.StatusCreated, body, nil
	case len(parts) == 2:
		if res := f.byID[parts[1]]; res != nil {
			return http.StatusOK, res.JSON(), nil
		}
		return http.StatusNotFound, nil, nil
	case len(parts) == 3 && parts[2] == "$everything":
		return f.bundle(func(res fhir.Resource) bool {
			return res.ID() == parts[1] || refersTo(res, parts[1])
		})
	}
	typ := parts[0]
	return f.bundle(func(res fhir.Resource) bool {
		if res.Type() != typ {
			return false
		}
		if v := q.Get("patient"); v != "" && !refersTo(res, v) {
			return false
		}
		if v := q.Get("identifier"); v != "" && !strings.Contains(string(res.JSON()), `"value":"`+strings.SplitN(v, "|", 2)[1]+`"`) {
			return false
		}
		if v := q.Get("name"); v != "" && !strings.Contains(string(res.JSON()), `"family":"`+v) {
			return false
		}
		if v := q.Get("birthdate"); v != "" && res["birthDate"] != v {
			return false
		}
		if v := q.Get("code"); v != "" && !strings.Contains(string(res.JSON()), `"code":"`+strings.SplitN(v, "|", 2)[1]+`"`) {
			return false
		}
		if v := q.Get("date"); v != "" && res["effectiveDateTime"].(string) < strings.TrimPrefix(v, "ge") {
			return false
		}
		return true
	})
}

func refersTo(res fhir.Resource, patientID string) bool {
	s, _ := res["subject"].(map[string]any)
	return s != nil && s["reference"] == "Patient/"+patientID
}

func (f *fakeEMR) bundle(match func(fhir.Resource) bool) (int, []byte, error) {
	var found []fhir.Resource
	if !f.broken {
		for _, res := range f.all {
			if match(res) {
				found = append(found, res)
			}
		}
	}
	slices.SortFunc(found, func(a, b fhir.Resource) int {
		da, _ := a["effectiveDateTime"].(string)
		db, _ := b["effectiveDateTime"].(string)
		return strings.Compare(db, da)
	})
	entries := []any{}
	for _, res := range found {
		entries = append(entries, map[string]any{"resource": map[string]any(res), "search": map[string]any{"mode": "match"}})
	}
	b := fhir.Resource{"resourceType": "Bundle", "type": "searchset", "total": len(found), "entry": entries}
	return http.StatusOK, b.JSON(), nil
}

func TestQueriesAgainstFake(t *testing.T) {
	g := NewGenerator(Options{Seed: 9})
	pool := NewPool(g, 40, 40)
	fake := newFakeEMR(pool.records)
	opt := RunOptions{Iterations: 60, Concurrency: 3, Duration: time.Second}
	for _, k := range Kinds {
		if k.Page {
			continue // the workspace's pages: cmd/emr's TestBench asks the real one
		}
		if r := Measure(context.Background(), fake, pool, k, opt); r.Errors != 0 || r.Count != 60 {
			t.Errorf("%s: %d errors in %d queries: %v", k.Name, r.Errors, r.Count, r.ErrorSamples)
		}
	}
	// A search that finds nothing where the data guarantees something is
	// an error.
	fake.broken = true
	for _, k := range Kinds {
		r := Measure(context.Background(), fake, pool, k, opt)
		if wantErrors := k.Name != "read" && k.Name != "create"; wantErrors != (r.Errors == r.Count) {
			t.Errorf("%s with empty search results: %d errors in %d queries", k.Name, r.Errors, r.Count)
		}
	}
}

func TestPoolIsDeterministic(t *testing.T) {
	a := NewPool(NewGenerator(Options{Seed: 2}), 1000, 50)
	b := NewPool(NewGenerator(Options{Seed: 2}), 1000, 50)
	for _, k := range Kinds {
		for i := range 20 {
			qa, qb := k.Make(a, i), k.Make(b, i)
			if qa.Path != qb.Path || string(qa.Body) != string(qb.Body) {
				t.Fatalf("%s query %d: %s vs %s", k.Name, i, qa.Path, qb.Path)
			}
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct{ p, want int }{{50, 50}, {90, 90}, {99, 99}, {100, 100}} {
		if got := percentile(d, c.p); got != time.Duration(c.want) {
			t.Errorf("p%d: got %d, want %d", c.p, got, c.want)
		}
	}
	if got := percentile(d[:1], 99); got != 1 {
		t.Errorf("p99 of one: got %d", got)
	}
}
