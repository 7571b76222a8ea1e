package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// matchKeyTests check store.KeyMatcher on the MatchKeyParam tokens of
// SuiteExtractor (a Patient's given names), for backends that have it.
var matchKeyTests = []suiteTest{
	{"RankedByShared", func(t *testing.T, s store.Store) {
		km := keyMatcher(t, s)
		given := func(names ...string) fhir.Resource {
			g := make([]any, len(names))
			for i, n := range names {
				g[i] = n
			}
			return fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "X", "given": g}}}
		}
		ann := create(t, s, given("Ann", "Bea", "Cy")).ID
		bea := create(t, s, given("Bea", "Cy")).ID
		cy := create(t, s, given("Cy")).ID
		gone := create(t, s, given("Ann", "Bea", "Cy")).ID
		del(t, s, "Patient", gone)
		renamed := create(t, s, given("Ann", "Bea")).ID
		update(t, s, fhir.Resource{"resourceType": "Patient", "id": renamed, "name": []any{map[string]any{"given": []any{"Dee"}}}})
		create(t, s, given("Eve"))

		got, err := km.MatchKeys(ctx, "Patient", MatchKeyParam, []string{"ann", "bea", "cy"}, 10, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.KeyMatch{{ID: ann, Shared: 3}, {ID: bea, Shared: 2}, {ID: cy, Shared: 1}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MatchKeys (-want +got):\n%s", diff)
		}
		if got, _ := km.MatchKeys(ctx, "Patient", MatchKeyParam, []string{"ann", "bea", "cy"}, 10, 2); len(got) != 2 || got[0].ID != ann {
			t.Errorf("limit 2: %v, want the best two", got)
		}
		// Another type, another parameter, an unknown code: nothing.
		for _, q := range []struct{ typ, param, code string }{{"Practitioner", MatchKeyParam, "ann"}, {"Patient", "family", "ann"}, {"Patient", MatchKeyParam, "zed"}} {
			if got, err := km.MatchKeys(ctx, q.typ, q.param, []string{q.code}, 10, 10); err != nil || len(got) != 0 {
				t.Errorf("MatchKeys(%v) = %v, %v; want none", q, got, err)
			}
		}
	}},
	{"PerCodeBound", func(t *testing.T, s store.Store) {
		km := keyMatcher(t, s)
		for range 30 {
			create(t, s, fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"given": []any{"Common"}}}})
		}
		rare := create(t, s, fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"given": []any{"Rare"}}}}).ID
		got, err := km.MatchKeys(ctx, "Patient", MatchKeyParam, []string{"common", "rare"}, 5, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 6 {
			t.Fatalf("got %d matches, want 5 of the common code and the rare one: %v", len(got), got)
		}
		found := false
		for _, m := range got {
			found = found || m.ID == rare
		}
		if !found {
			t.Errorf("the rare code's patient is missing: a common code crowded it out: %v", got)
		}
	}},
}

func keyMatcher(t *testing.T, s store.Store) store.KeyMatcher {
	km, ok := s.(store.KeyMatcher)
	if !ok {
		t.Skip("the store has no KeyMatcher")
	}
	return km
}
