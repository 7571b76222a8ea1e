package sqlstore

import (
	"slices"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store/storetest"
)

func TestAliases(t *testing.T) {
	for _, tc := range []struct{ typ, code, want string }{
		{"Observation", "combo-code", "code component-code"},
		{"Observation", "combo-code-value-quantity", "code-value-quantity component-code-value-quantity"},
		{"Observation", "code", ""},
		{"Patient", "name", ""},
	} {
		if got := strings.Join(aliasOf(tc.typ, tc.code), " "); got != tc.want {
			t.Errorf("aliasOf(%s, %s) = %q, want %q", tc.typ, tc.code, got, tc.want)
		}
	}
}

// TestAliasSearch checks that an alias, which has no index rows of its
// own, finds what the parameters it unites hold.
func TestAliasSearch(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	obs := map[string]string{
		"o1": `{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"A"}]},
			"valueQuantity":{"value":5}}`,
		"o2": `{"resourceType":"Observation","id":"o2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"B"}]},
			"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"A"}]},"valueQuantity":{"value":7}}]}`,
		"o3": `{"resourceType":"Observation","id":"o3","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"C"}]}}`,
	}
	storetest.PutJSON(t, db, obs["o1"], obs["o2"], obs["o3"])
	codeA := search.Value{Raw: "http://loinc.org|A", System: "http://loinc.org", Code: "A", HasSystem: true}
	gt6 := search.Value{Raw: "gt6", Prefix: "gt", Number: 6, Low: 5.95, High: 6.05}
	lt6 := search.Value{Raw: "lt6", Prefix: "lt", Number: 6, Low: 5.95, High: 6.05}
	comboSort := search.SortKey{Param: spec.R5().SearchParamsFor("Observation")["combo-code"], Name: "combo-code", Descending: true}
	for _, tc := range []struct {
		name string
		q    *search.Query
		want []string
	}{
		{"combo-code", &search.Query{Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "combo-code", "", codeA)}}, []string{"o1", "o2"}},
		{"combo-code:not", &search.Query{Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "combo-code", "not", codeA)}}, []string{"o3"}},
		{"combo-value-quantity", &search.Query{Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "combo-value-quantity", "", gt6)}}, []string{"o2"}},
		{"combo-value-quantity:missing", &search.Query{Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "combo-value-quantity", "missing", search.Value{Raw: "true", Missing: true})}}, []string{"o3"}},
		{"combo-code-value-quantity gt", &search.Query{Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "combo-code-value-quantity", "", search.Value{Components: []search.Value{codeA, gt6}})}}, []string{"o2"}},
		{"combo-code-value-quantity lt", &search.Query{Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "combo-code-value-quantity", "", search.Value{Components: []search.Value{codeA, lt6}})}}, []string{"o1"}},
		{"_sort=-combo-code", &search.Query{Type: "Observation", Sort: []search.SortKey{comboSort}}, []string{"o3", "o2", "o1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := db.Search(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range r.Matches {
				got = append(got, m.ID)
			}
			if tc.q.Sort == nil {
				slices.Sort(got)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
