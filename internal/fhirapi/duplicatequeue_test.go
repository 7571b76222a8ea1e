package fhirapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/mpi"
)

func TestDuplicateQueue(t *testing.T) {
	var queue *mpi.Queue
	s := newAccessServer(t, nil, mergeCallers, withMatcher(fhirapi.DuplicatesWarn), func(o *fhirapi.Options) {
		queue = &mpi.Queue{Records: o.Store}
		o.Queue = queue
	})
	seedRegistered(t, s, "X-Test-Caller: admin")
	ctx := context.Background()
	propose := func(a, b string, g mpi.Grade, score float64) {
		t.Helper()
		if _, err := queue.Propose(ctx, a, b, mpi.Result{Grade: g, Score: score}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	propose("twin1", "twin2", mpi.Probable, 12)
	propose("jose", "maria", mpi.Possible, 3)
	list := func(caller, query string) result {
		return s.do("GET", "/fhir/Patient/$duplicates"+query, "", "X-Test-Caller: "+caller)
	}
	resolve := func(caller, a, b, resolution string) result {
		body := `{"resourceType":"Parameters","parameter":[
			{"name":"patient","valueReference":{"reference":"Patient/` + a + `"}},
			{"name":"patient","valueReference":{"reference":"Patient/` + b + `"}},
			{"name":"resolution","valueCode":"` + resolution + `"},{"name":"note","valueString":"checked the chart"}]}`
		return s.do("POST", "/fhir/Patient/$resolve-duplicate", body, "X-Test-Caller: "+caller)
	}

	if r := list("physician", ""); r.status != http.StatusForbidden {
		t.Errorf("physician lists the queue: %d %s", r.status, r.body)
	}
	r := list("registrar", "")
	if r.status != http.StatusOK || strings.Count(string(r.body), `"name":"pair"`) != 1 || !strings.Contains(string(r.body), "Patient/twin1") {
		t.Fatalf("registrar lists open probable pairs: %d %s", r.status, r.body)
	}
	if r := list("registrar", "?grade=possible"); strings.Count(string(r.body), `"name":"pair"`) != 2 {
		t.Errorf("grade=possible: %s", r.body)
	}
	for _, q := range []string{"?status=closed", "?grade=maybe", "?sort=score"} {
		if r := list("registrar", q); r.status != http.StatusBadRequest {
			t.Errorf("list%s: %d, want 400", q, r.status)
		}
	}

	// The twins are two people: remembered, and no longer open.
	if r := resolve("physician", "twin1", "twin2", "distinct"); r.status != http.StatusForbidden {
		t.Errorf("physician resolves: %d", r.status)
	}
	if r := resolve("registrar", "twin2", "twin1", "merged"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("merged without a merge: %d %s", r.status, r.body)
	}
	if r := resolve("registrar", "twin2", "twin1", "distinct"); r.status != http.StatusOK || !strings.Contains(string(r.body), `"valueString":"desk"`) {
		t.Fatalf("resolve distinct: %d %s", r.status, r.body)
	}
	if r := resolve("registrar", "twin1", "twin2", "distinct"); r.status != http.StatusConflict {
		t.Errorf("resolving twice: %d %s", r.status, r.body)
	}
	if r := list("registrar", ""); strings.Contains(string(r.body), `"name":"pair"`) {
		t.Errorf("a resolved pair is still open: %s", r.body)
	}
	if r := list("registrar", "?status=distinct"); !strings.Contains(string(r.body), "checked the chart") {
		t.Errorf("the distinct pair: %s", r.body)
	}
	if isNew, _ := queue.Propose(ctx, "twin1", "twin2", mpi.Result{Grade: mpi.Certain}, time.Now()); isNew {
		t.Error("a pair resolved as distinct was proposed again")
	}

	// A $merge of a queued pair resolves it.
	if r := s.do("POST", "/fhir/Patient/$merge", mergeBody("maria", "jose"), "X-Test-Caller: registrar"); r.status != http.StatusOK {
		t.Fatalf("merge: %d %s", r.status, r.body)
	}
	if p, err := queue.Get(ctx, "jose", "maria"); err != nil || p.Status != mpi.PairMerged || p.ResolvedBy != "desk" {
		t.Errorf("the merged pair: %+v, %v", p, err)
	}
}
