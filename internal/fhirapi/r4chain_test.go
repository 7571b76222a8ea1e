package fhirapi_test

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

// TestR4ChainsAndTypes checks that R4 parameter names are renamed past the
// first link of a chain, inside _has, and at system level for the types
// of _type; and that a name meaning different R5 parameters on the types
// searched is refused.
func TestR4ChainsAndTypes(t *testing.T) {
	ts := newTestServer(t)
	cond := ts.mustCreate(`{"resourceType":"Condition","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]}}`)
	enc := ts.do("POST", "/fhir/R4/Encounter", strings.Replace(r4Encounter, `"status"`, `"diagnosis":[{"condition":{"reference":"Condition/`+cond+`"}}],"status"`, 1)).resource(t).ID()
	obs := ts.do("POST", "/fhir/R4/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/`+enc+`"}}`).resource(t).ID()
	ts.do("POST", "/fhir/R4/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"y"},"subject":{"reference":"Patient/p1"}}`)
	org := ts.mustCreate(`{"resourceType":"Organization","name":"Acme Insurance"}`)
	cov := ts.do("POST", "/fhir/R4/Coverage", `{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/p1"},"payor":[{"reference":"Organization/`+org+`"}]}`).resource(t).ID()
	ts.mustCreate(`{"resourceType":"Patient","gender":"male"}`)
	ts.do("PUT", "/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1","gender":"female"}`)
	disp := ts.do("POST", "/fhir/R4/MedicationDispense", `{"resourceType":"MedicationDispense","status":"completed","medicationCodeableConcept":{"text":"m"},"subject":{"reference":"Patient/p1"},"context":{"reference":"Encounter/`+enc+`"}}`).resource(t).ID()
	stmt := ts.do("POST", "/fhir/R4/MedicationStatement", `{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"text":"m"},"subject":{"reference":"Patient/p1"},"context":{"reference":"Encounter/`+enc+`"}}`).resource(t).ID()

	ids := func(t *testing.T, query string) []string {
		t.Helper()
		got := ts.do("GET", "/fhir/R4"+query, "")
		if got.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", query, got.status, got.body)
		}
		var out []string
		entries, _ := got.resource(t)["entry"].([]any)
		for _, e := range entries {
			entry := e.(map[string]any)
			if entry["search"].(map[string]any)["mode"] == "match" {
				out = append(out, fhir.Resource(entry["resource"].(map[string]any)).ID())
			}
		}
		return out
	}
	cases := []struct {
		name, query string
		want        []string
	}{
		{"second link", "/Observation?encounter.diagnosis=Condition/" + cond, []string{obs}},
		{"second link, type named", "/Observation?encounter:Encounter.diagnosis=Condition/" + cond, []string{obs}},
		{"third link", "/Observation?encounter.diagnosis.code=http://snomed.info/sct|44054006", []string{obs}},
		{"reverse chain", "/Condition?_has:Encounter:diagnosis:_id=" + enc, []string{cond}},
		{"inside a reverse chain", "/Patient?_has:Coverage:beneficiary:payor=Organization/" + org, []string{"p1"}},
		{"chain inside a reverse chain", "/Patient?_has:Coverage:beneficiary:payor.name=Acme", []string{"p1"}},
		{"_type", "?_type=Encounter&diagnosis=Condition/" + cond, []string{enc}},
		{"_type, renamed alike", "?_type=Coverage&payor=Organization/" + org, []string{cov}},
		{"_type, types agreeing", "?_type=MedicationDispense,MedicationStatement&context=Encounter/" + enc + "&_sort=_id", sortedIDs(disp, stmt)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ids(t, c.query); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s: matches %v, want %v", c.query, got, c.want)
			}
		})
	}

	refused := []struct {
		name, query, says string
		headers           []string
	}{
		{"ambiguous across _type", "?_type=DocumentReference,Procedure&encounter=Encounter/" + enc, "encounter", nil},
		{"ambiguous across _type, lenient", "?_type=DocumentReference,Procedure&encounter=Encounter/" + enc, "encounter", []string{"Prefer: handling=lenient"}},
		{"no equivalent past the first link", "/Observation?encounter.location-period=2020", "location-period of Encounter", nil},
		{"no equivalent inside _has", "/Patient?_has:Condition:subject:asserter=Practitioner/1", "asserter of Condition", nil},
		{"_sort ambiguous across _type", "?_type=DocumentReference,Procedure&_sort=encounter", "encounter", nil},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			got := ts.do("GET", "/fhir/R4"+c.query, "", c.headers...)
			if got.status != http.StatusBadRequest || got.resource(t).Type() != "OperationOutcome" || !strings.Contains(string(got.body), c.says) {
				t.Errorf("%s: status %d: %s; want 400 saying %q", c.query, got.status, got.body, c.says)
			}
		})
	}
	// Paging links carry the R4 names at every link, and at system level.
	for _, c := range []struct{ query, want, notWant string }{
		{"/Observation?encounter.diagnosis=Condition/" + cond + "&_count=1", "encounter.diagnosis=", "diagnosis-reference"},
		{"/Patient?_has:Coverage:beneficiary:payor=Organization/" + org + "&_count=1", "payor=", "insurer"},
		{"?_type=MedicationDispense,MedicationStatement&context=Encounter/" + enc + "&_count=1", "context=", "encounter="},
	} {
		got := ts.do("GET", "/fhir/R4"+c.query, "")
		links, _ := got.resource(t)["link"].([]any)
		if got.status != http.StatusOK || len(links) == 0 {
			t.Errorf("%s: status %d: %s", c.query, got.status, got.body)
			continue
		}
		for _, l := range links {
			u, _ := url.QueryUnescape(l.(map[string]any)["url"].(string))
			if !strings.Contains(u, c.want) || strings.Contains(u, c.notWant) {
				t.Errorf("%s: link %s, want %q and not %q", c.query, u, c.want, c.notWant)
			}
		}
	}
	// Under lenient handling a link without R5 equivalent drops its
	// parameter, as a first link does.
	if got := ts.do("GET", "/fhir/R4/Observation?encounter.location-period=2020", "", "Prefer: handling=lenient"); got.status != http.StatusOK {
		t.Errorf("lenient chain: status %d: %s", got.status, got.body)
	}
}

func sortedIDs(ids ...string) []string {
	sort.Strings(ids)
	return ids
}
