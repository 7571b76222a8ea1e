package fhirapi_test

import (
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
)

// searchOracle runs searches over the stored official examples and checks
// each result set against an answer computed independently, by scanning
// the examples' JSON in Go: every page is followed, so paging is checked
// on a corpus of thousands too.
func searchOracle(t *testing.T, s *testServer, stored []fhir.Resource) {
	byType := map[string][]fhir.Resource{}
	for _, r := range stored {
		byType[r.Type()] = append(byType[r.Type()], r)
	}
	codings := func(v any) []map[string]any {
		var out []map[string]any
		if cc, ok := v.(map[string]any); ok {
			for _, c := range asList(cc["coding"]) {
				out = append(out, c.(map[string]any))
			}
		}
		return out
	}
	ref := func(v any) string {
		m, _ := v.(map[string]any)
		s, _ := m["reference"].(string)
		return s
	}
	cases := []struct {
		query string
		typ   string
		match func(fhir.Resource) bool
	}{
		{"gender=male", "Patient", func(r fhir.Resource) bool { return r["gender"] == "male" }},
		{"gender:not=male", "Patient", func(r fhir.Resource) bool { return r["gender"] != "male" }},
		{"birthdate=ge1970-01-01", "Patient", func(r fhir.Resource) bool {
			b, ok := r["birthDate"].(string)
			return ok && len(b) == 10 && b >= "1970-01-01"
		}},
		{"family=cha", "Patient", func(r fhir.Resource) bool {
			for _, n := range asList(r["name"]) {
				if f, _ := n.(map[string]any)["family"].(string); strings.HasPrefix(search.Normalize(f), "cha") {
					return true
				}
			}
			return false
		}},
		{"code=http://loinc.org|29463-7", "Observation", func(r fhir.Resource) bool {
			for _, c := range codings(r["code"]) {
				if c["system"] == "http://loinc.org" && c["code"] == "29463-7" {
					return true
				}
			}
			return false
		}},
		{"subject=Patient/example", "Observation", func(r fhir.Resource) bool { return ref(r["subject"]) == "Patient/example" }},
		{"status=final,amended", "Observation", func(r fhir.Resource) bool { return r["status"] == "final" || r["status"] == "amended" }},
		{"clinical-status=active", "Condition", func(r fhir.Resource) bool {
			for _, c := range codings(r["clinicalStatus"]) {
				if c["code"] == "active" {
					return true
				}
			}
			return false
		}},
		{"_id=example", "Observation", func(r fhir.Resource) bool { return r.ID() == "example" }},
		{"", "Observation", func(fhir.Resource) bool { return true }},
	}
	for _, c := range cases {
		t.Run(c.typ+"?"+c.query, func(t *testing.T) {
			var want []string
			for _, r := range byType[c.typ] {
				if c.match(r) {
					want = append(want, r.ID())
				}
			}
			var got []string
			next := "/fhir/" + c.typ + "?_count=37"
			if c.query != "" {
				next += "&" + c.query
			}
			for pages := 0; next != ""; pages++ {
				if pages > 1000 {
					t.Fatal("paging does not end")
				}
				ids, b := s.searchIDs(t, next)
				got = append(got, ids...)
				next = ""
				for _, l := range asList(b["link"]) {
					if link := l.(map[string]any); link["relation"] == "next" {
						u, _ := url.Parse(link["url"].(string))
						next = u.Path + "?" + u.RawQuery
					}
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s?%s: got %d %v\nwant %d %v", c.typ, c.query, len(got), got, len(want), want)
			}
			if len(want) == 0 {
				t.Errorf("%s?%s: the oracle expects nothing; the case tests nothing", c.typ, c.query)
			}
		})
	}
}
