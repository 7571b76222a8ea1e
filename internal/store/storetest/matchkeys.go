package storetest

import (
	"strings"
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

var keyBlockTests = []suiteTest{
	{"KeyBlocks", func(t *testing.T, s store.Store) {
		km := keyMatcher(t, s)
		ids := map[string][]string{}
		for i, given := range [][]any{{"Ann", "Bea"}, {"Bea"}, {"Ann"}, {"Cy"}, {"Bea"}} {
			v := create(t, s, fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"given": given}}})
			for _, g := range given {
				key := strings.ToLower(g.(string))
				ids[key] = append(ids[key], v.ID)
			}
			if i == 4 {
				del(t, s, "Patient", v.ID)
				ids["bea"] = ids["bea"][:len(ids["bea"])-1]
			}
		}
		got := map[string][]string{}
		var order []string
		err := km.KeyBlocks(ctx, "Patient", MatchKeyParam, "", func(code string, ids []string) error {
			order = append(order, code)
			got[code] = append([]string(nil), ids...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"ann", "bea", "cy"}, order); diff != "" {
			t.Errorf("codes (-want +got):\n%s", diff)
		}
		for code, want := range ids {
			if !sameSet(got[code], want) {
				t.Errorf("block %s = %v, want %v", code, got[code], want)
			}
		}
		// Resuming after a code.
		var rest []string
		km.KeyBlocks(ctx, "Patient", MatchKeyParam, "ann", func(code string, _ []string) error {
			rest = append(rest, code)
			return nil
		})
		if diff := cmp.Diff([]string{"bea", "cy"}, rest); diff != "" {
			t.Errorf("after ann (-want +got):\n%s", diff)
		}
	}},
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x]--; seen[x] < 0 {
			return false
		}
	}
	return true
}
