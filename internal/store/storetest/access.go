package storetest

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// accessTests check search.Access: whatever a search is asked, it returns,
// counts, includes and looks through only what the rules let the caller see.
var accessTests = []suiteTest{
	{"Rules", func(t *testing.T, s store.Store) {
		putAccessPopulation(t, s)
		inP1 := &search.CompartmentRef{Type: "Patient", ID: "p1"}
		labOnly := parseQuery("Observation", url.Values{"category": {"laboratory"}}).Filters
		everything := &search.Access{Rules: []search.AccessRule{{}}}
		p1 := &search.Access{Rules: []search.AccessRule{{Compartment: inP1}}}
		obsOnly := &search.Access{Rules: []search.AccessRule{{Types: []string{"Observation"}}}}
		p1Labs := &search.Access{Rules: []search.AccessRule{
			{Types: []string{"Observation"}, Compartment: inP1, Filters: labOnly},
			{Types: []string{"Patient"}, Compartment: inP1},
		}}
		nothing := &search.Access{}
		drOne := &search.Access{Rules: []search.AccessRule{
			{CareOf: &search.CompartmentRef{Type: "Practitioner", ID: "dr1"}},
			{Types: []string{"Practitioner"}},
		}}
		for _, tc := range []struct {
			name   string
			typ    string
			params url.Values
			access *search.Access
			want   string // matches, then "+" and the included, by id
		}{
			{"no access control", "Observation", nil, nil, "o1a o1b o2"},
			{"a rule for everything", "Observation", nil, everything, "o1a o1b o2"},
			{"no rules", "Observation", nil, nothing, ""},
			{"one patient's compartment", "Observation", nil, p1, "o1a o1b"},
			{"the patient itself is in it", "Patient", nil, p1, "p1"},
			{"types", "Patient", nil, obsOnly, ""},
			{"a scope's category", "Observation", nil, p1Labs, "o1a"},
			{"system level", "", url.Values{"_type": {"Patient,Observation"}}, p1Labs, "o1a p1"},
			{"include leaves out what is not visible", "Observation", url.Values{"_include": {"Observation:subject"}}, obsOnly, "o1a o1b o2"},
			{"include keeps what is", "Observation", url.Values{"_include": {"Observation:subject"}}, p1, "o1a o1b +p1"},
			{"revinclude", "Patient", url.Values{"_revinclude": {"Observation:subject"}}, p1Labs, "p1 +o1a"},
			{"revinclude without access control", "Patient", url.Values{"_revinclude": {"Observation:subject"}, "_id": {"p1"}}, nil, "p1 +o1a +o1b"},
			{"a chain does not look through an invisible patient", "Observation", url.Values{"subject:Patient.name": {"Second"}}, obsOnly, ""},
			{"a chain through a visible one", "Observation", url.Values{"subject:Patient.name": {"First"}}, p1, "o1a o1b"},
			{"_has does not count invisible sources", "Patient", url.Values{"_has:Observation:subject:category": {"vital-signs"}}, p1Labs, ""},
			{"a practitioner's patients", "", url.Values{"_type": {"Patient,Observation,Encounter,Practitioner"}}, drOne, "dr1 dr2 e1 o1a o1b p1"},
			{"_has with visible sources", "Patient", url.Values{"_has:Observation:subject:category": {"laboratory"}}, p1Labs, "p1"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := parseQuery(tc.typ, tc.params)
				q.Access = tc.access
				q.Sort = []search.SortKey{{Name: "_id"}}
				q.Total = "accurate"
				res, err := s.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if got := idsOf(res); got != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
				if want := int64(len(res.Matches)); res.Total != want {
					t.Errorf("total %d, want %d", res.Total, want)
				}
				// Counting only and paging one by one see the same.
				q.CountGiven, q.Count = true, 0
				if res, err := s.Search(ctx, q); err != nil || res.Total != int64(len(strings.Fields(matchesOf(tc.want)))) {
					t.Errorf("_count=0: total %v, %v", res, err)
				}
				q.Count, q.Includes, q.RevIncludes = 1, nil, nil
				var paged []string
				for {
					res, err := s.Search(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range res.Matches {
						paged = append(paged, m.ID)
					}
					if res.Next == "" {
						break
					}
					q.Cursor = res.Next
				}
				if got := strings.Join(paged, " "); got != matchesOf(tc.want) {
					t.Errorf("paged one by one: %q, want %q", got, matchesOf(tc.want))
				}
			})
		}
		// A search inside a write is limited the same way.
		err := s.Write(ctx, func(tx store.Tx) error {
			q := parseQuery("Observation", nil)
			q.Access = p1Labs
			res, err := tx.Search(q)
			if err == nil && idsOf(res) != "o1a" {
				t.Errorf("tx.Search with access: %q", idsOf(res))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}},
}

func putAccessPopulation(t *testing.T, s store.Store) {
	t.Helper()
	obs := func(id, patient, category string) map[string]any {
		return map[string]any{"resourceType": "Observation", "id": id, "status": "final",
			"category": []any{map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}}}},
			"code":    map[string]any{"text": "x"},
			"subject": map[string]any{"reference": "Patient/" + patient}}
	}
	for _, r := range []map[string]any{
		{"resourceType": "Patient", "id": "p1", "name": []any{map[string]any{"family": "First"}}},
		{"resourceType": "Patient", "id": "p2", "name": []any{map[string]any{"family": "Second"}}},
		obs("o1a", "p1", "laboratory"), obs("o1b", "p1", "vital-signs"), obs("o2", "p2", "laboratory"),
		{"resourceType": "Practitioner", "id": "dr1"},
		{"resourceType": "Practitioner", "id": "dr2"},
		{"resourceType": "Encounter", "id": "e1", "status": "completed", "subject": map[string]any{"reference": "Patient/p1"},
			"participant": []any{map[string]any{"actor": map[string]any{"reference": "Practitioner/dr1"}}}},
		{"resourceType": "Encounter", "id": "e2", "status": "completed", "subject": map[string]any{"reference": "Patient/p2"},
			"participant": []any{map[string]any{"actor": map[string]any{"reference": "Practitioner/dr2"}}}},
	} {
		update(t, s, fhir.Resource(r))
	}
}

func idsOf(res *store.SearchResult) string {
	var ids []string
	for _, m := range res.Matches {
		ids = append(ids, m.ID)
	}
	var inc []string
	for _, v := range res.Included {
		inc = append(inc, "+"+v.ID)
	}
	slices.Sort(inc)
	return strings.Join(append(ids, inc...), " ")
}

func matchesOf(want string) string {
	var out []string
	for _, f := range strings.Fields(want) {
		if !strings.HasPrefix(f, "+") {
			out = append(out, f)
		}
	}
	return strings.Join(out, " ")
}

// consentTests check Access.Consent: patients' Consents hide resources
// from the actors they name, permits below denies open them again, and
// changing or deleting a Consent takes effect at once.
var consentTests = []suiteTest{
	{"Consents", func(t *testing.T, s store.Store) {
		obs := func(id, patient, extra string) fhir.Resource {
			r, err := fhir.ParseResource([]byte(`{"resourceType":"Observation","id":"` + id + `","status":"final",` + extra +
				`"subject":{"reference":"Patient/` + patient + `"}}`))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		const psy = `"meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},"code":{"text":"mood"},`
		const hiv = `"code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]},`
		const lab = `"code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},`
		for _, r := range []fhir.Resource{
			{"resourceType": "Patient", "id": "p1"}, {"resourceType": "Patient", "id": "p2"},
			obs("p1psy", "p1", psy), obs("p1lab", "p1", lab), obs("p1hiv", "p1", hiv),
			obs("p2lab", "p2", lab), obs("p2hiv", "p2", hiv),
		} {
			update(t, s, r)
		}
		consent := func(id, body string) fhir.Resource {
			r, err := fhir.ParseResource([]byte(`{"resourceType":"Consent","id":"` + id + `",` + body + `}`))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		// p1 lets everyone see everything but their mental health records,
		// which dr2 may not see.
		update(t, s, consent("c1", `"status":"active","subject":{"reference":"Patient/p1"},"decision":"permit",
			"provision":[{"actor":[{"reference":{"reference":"Practitioner/dr2"}}],
			"securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]}]`))
		// p2 opts out: only dr1 may see their record, and not their HIV result.
		update(t, s, consent("c2", `"status":"active","subject":{"reference":"Patient/p2"},"decision":"deny",
			"provision":[{"actor":[{"reference":{"reference":"Practitioner/dr1"}}],
			"provision":[{"code":[{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]}]}]}]`))
		// An ended consent and a draft change nothing.
		update(t, s, consent("c3", `"status":"active","subject":{"reference":"Patient/p1"},"decision":"deny","period":{"end":"2001-01-01"}`))
		update(t, s, consent("c4", `"status":"draft","subject":{"reference":"Patient/p1"},"decision":"deny"`))

		now := time.Now().UnixMilli()
		as := func(actor string, exempt ...string) *search.Access {
			c := &search.ConsentCheck{Now: now, Exempt: exempt}
			if actor != "" {
				c.Actors = []string{actor}
			}
			return &search.Access{Rules: []search.AccessRule{{}}, Consent: c}
		}
		observations := func(acc *search.Access) string {
			t.Helper()
			q := parseQuery("Observation", url.Values{"_sort": {"_id"}})
			q.Access, q.Total = acc, "accurate"
			res, err := s.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != int64(len(res.Matches)) {
				t.Errorf("total %d for %d matches", res.Total, len(res.Matches))
			}
			return idsOf(res)
		}
		for _, tc := range []struct {
			name   string
			access *search.Access
			want   string
		}{
			{"no consent check", nil, "p1hiv p1lab p1psy p2hiv p2lab"},
			{"dr1", as("Practitioner/dr1"), "p1hiv p1lab p1psy p2lab"},
			{"dr2", as("Practitioner/dr2"), "p1hiv p1lab"},
			{"someone else", as("Practitioner/dr3"), "p1hiv p1lab p1psy"},
			{"a service", as(""), "p1hiv p1lab p1psy"},
			{"break-glass for p2", as("Practitioner/dr3", "p2"), "p1hiv p1lab p1psy p2hiv p2lab"},
		} {
			if got := observations(tc.access); got != tc.want {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
		}
		// The patient resource itself is covered too.
		q := parseQuery("Patient", url.Values{"_sort": {"_id"}})
		q.Access = as("Practitioner/dr3")
		if res, err := s.Search(ctx, q); err != nil || idsOf(res) != "p1" {
			t.Errorf("patients for dr3: %v %v", res, err)
		}
		// Withdrawing and deleting consents take effect at once.
		update(t, s, consent("c1", `"status":"inactive","subject":{"reference":"Patient/p1"},"decision":"permit"`))
		if got := observations(as("Practitioner/dr2")); got != "p1hiv p1lab p1psy" {
			t.Errorf("dr2 after c1 is withdrawn: %q", got)
		}
		del(t, s, "Consent", "c2")
		if got := observations(as("Practitioner/dr3")); got != "p1hiv p1lab p1psy p2hiv p2lab" {
			t.Errorf("dr3 after c2 is deleted: %q", got)
		}
	}},
}
