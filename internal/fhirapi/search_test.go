package fhirapi_test

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

// searchIDs runs a search and returns the ids of its matches in order.
func (s *testServer) searchIDs(t *testing.T, path string, headers ...string) ([]string, fhir.Resource) {
	t.Helper()
	r := s.do("GET", path, "", headers...)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, r.status, r.body)
	}
	b := r.resource(t)
	if b["type"] != "searchset" {
		t.Fatalf("GET %s: Bundle.type %v", path, b["type"])
	}
	var ids []string
	for _, e := range asList(b["entry"]) {
		entry := e.(map[string]any)
		if entry["search"].(map[string]any)["mode"] == "match" {
			ids = append(ids, entry["resource"].(map[string]any)["id"].(string))
		}
	}
	return ids, b
}

// searchFixture stores a small, known population.
func searchFixture(t *testing.T, s *testServer) {
	t.Helper()
	for _, body := range []string{
		`{"resourceType":"Organization","id":"org1","name":"Good Health Clinic"}`,
		`{"resourceType":"Patient","id":"p1","name":[{"family":"Müller","given":["Anna"]}],"gender":"female","birthDate":"1980-05-17","identifier":[{"system":"urn:mrn","value":"M1"}],"managingOrganization":{"reference":"Organization/org1"}}`,
		`{"resourceType":"Patient","id":"p2","name":[{"family":"Mueller","given":["Bernd"]}],"gender":"male","birthDate":"1975-01-02","identifier":[{"system":"urn:mrn","value":"M2"}]}`,
		`{"resourceType":"Patient","id":"p3","name":[{"family":"José","given":["Luis"]}],"gender":"male","birthDate":"1980-11-30","identifier":[{"system":"urn:mrn","value":"M3"}]}`,
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-10","valueQuantity":{"value":70,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`,
		`{"resourceType":"Observation","id":"o2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-03-10","valueQuantity":{"value":72,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`,
		`{"resourceType":"Observation","id":"o3","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p2"},"effectiveDateTime":"2024-02-01","valueQuantity":{"value":80,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`,
	} {
		res, err := fhir.ParseResource([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if r := s.do("PUT", "/fhir/"+res.Type()+"/"+res.ID(), body); r.status != http.StatusCreated {
			t.Fatalf("fixture %s: %d %s", res.ID(), r.status, r.body)
		}
	}
}

func TestSearchThroughTheAPI(t *testing.T) {
	s := newTestServer(t)
	searchFixture(t, s)
	cases := []struct {
		path string
		want []string // sorted unless the query sorts
	}{
		{"/fhir/Patient?name=muller", []string{"p1"}},
		{"/fhir/Patient?name=MÜL", []string{"p1"}},
		{"/fhir/Patient?family=jose", []string{"p3"}},
		{"/fhir/Patient?name:exact=Müller", []string{"p1"}},
		{"/fhir/Patient?name:contains=ell", []string{"p2"}},
		{"/fhir/Patient?gender=male", []string{"p2", "p3"}},
		{"/fhir/Patient?gender:not=male", []string{"p1"}},
		{"/fhir/Patient?birthdate=1980", []string{"p1", "p3"}},
		{"/fhir/Patient?birthdate=ge1980-06-01", []string{"p3"}},
		{"/fhir/Patient?identifier=urn:mrn|M2", []string{"p2"}},
		{"/fhir/Patient?identifier=M2,M3", []string{"p2", "p3"}},
		{"/fhir/Patient?gender=male&birthdate=lt1980", []string{"p2"}},
		{"/fhir/Patient?organization=Organization/org1", []string{"p1"}},
		{"/fhir/Patient?organization.name=good", []string{"p1"}},
		{"/fhir/Patient?_id=p1,p3", []string{"p1", "p3"}},
		{"/fhir/Patient?_has:Observation:subject:code=8867-4", []string{"p2"}},
		{"/fhir/Observation?subject=Patient/p1&_sort=-date", []string{"o2", "o1"}},
		{"/fhir/Observation?patient=p1&date=ge2024-02-01", []string{"o2"}},
		{"/fhir/Observation?code=http://loinc.org|29463-7&value-quantity=gt71|http://unitsofmeasure.org|kg", []string{"o2"}},
		{"/fhir/Observation?subject:Patient.gender=male", []string{"o3"}},
		{"/fhir/Patient/p1/Observation?_sort=date", []string{"o1", "o2"}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			got, _ := s.searchIDs(t, c.path)
			if !strings.Contains(c.path, "_sort") {
				sort.Strings(got)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestSearchBundleFeatures(t *testing.T) {
	s := newTestServer(t)
	searchFixture(t, s)
	// _total and _summary=count
	_, b := s.searchIDs(t, "/fhir/Patient?_total=accurate&_count=1")
	if b["total"] != float64(3) && b["total"] != int64(3) && fmtNumber(b["total"]) != "3" {
		t.Errorf("total %v, want 3", b["total"])
	}
	_, b = s.searchIDs(t, "/fhir/Patient?_summary=count")
	if fmtNumber(b["total"]) != "3" || b["entry"] != nil {
		t.Errorf("_summary=count: total %v, entries %v", b["total"], b["entry"])
	}
	// _include and _revinclude
	r := s.do("GET", "/fhir/Patient?_id=p1&_include=Patient:organization&_revinclude=Observation:subject", "")
	modes := map[string]string{}
	for _, e := range asList(r.resource(t)["entry"]) {
		entry := e.(map[string]any)
		res := entry["resource"].(map[string]any)
		modes[res["resourceType"].(string)+"/"+res["id"].(string)] = entry["search"].(map[string]any)["mode"].(string)
	}
	want := map[string]string{"Patient/p1": "match", "Organization/org1": "include", "Observation/o1": "include", "Observation/o2": "include"}
	for k, v := range want {
		if modes[k] != v {
			t.Errorf("%s: mode %q, want %q (all: %v)", k, modes[k], v, modes)
		}
	}
	// POST _search gives the same as GET.
	post := s.do("POST", "/fhir/Patient/_search", "gender=male", "Content-Type: application/x-www-form-urlencoded")
	if post.status != http.StatusOK {
		t.Fatalf("POST _search: %d %s", post.status, post.body)
	}
	if n := len(asList(post.resource(t)["entry"])); n != 2 {
		t.Errorf("POST _search: %d entries, want 2", n)
	}
	// Strict refuses an unknown parameter; lenient ignores it and says so.
	if r := s.do("GET", "/fhir/Patient?colour=blue", ""); r.status != http.StatusBadRequest {
		t.Errorf("strict: %d, want 400", r.status)
	}
	ids, b := s.searchIDs(t, "/fhir/Patient?colour=blue&gender=female", "Prefer: handling=lenient")
	if len(ids) != 1 {
		t.Errorf("lenient: %v", ids)
	}
	for _, l := range asList(b["link"]) {
		if link := l.(map[string]any); link["relation"] == "self" && strings.Contains(link["url"].(string), "colour") {
			t.Errorf("self link keeps the ignored parameter: %v", link["url"])
		}
	}
	// System search with _type.
	ids, _ = s.searchIDs(t, "/fhir?_type=Organization,Patient&_id=org1,p2")
	sort.Strings(ids)
	if strings.Join(ids, ",") != "org1,p2" {
		t.Errorf("system search: %v", ids)
	}
}

func fmtNumber(v any) string {
	switch n := v.(type) {
	case nil:
		return ""
	default:
		return strings.TrimSuffix(strings.TrimSuffix(fmtAny(n), ".0"), ".00")
	}
}

func fmtAny(v any) string { return string(fhir.AppendJSON(nil, v)) }

// TestSearchPagingWhileWriting follows next links while resources are
// created between pages: every resource present at the start is seen once.
func TestSearchPagingWhileWriting(t *testing.T) {
	s := newTestServer(t)
	want := map[string]bool{}
	for i := 0; i < 11; i++ {
		want[s.mustCreate(patientJSON)] = true
	}
	seen := map[string]int{}
	next := "/fhir/Patient?_count=4"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		ids, b := s.searchIDs(t, next)
		for _, id := range ids {
			seen[id]++
		}
		s.mustCreate(patientJSON)
		next = ""
		for _, l := range asList(b["link"]) {
			if link := l.(map[string]any); link["relation"] == "next" {
				u, _ := url.Parse(link["url"].(string))
				next = u.Path + "?" + u.RawQuery
			}
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s seen %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s seen %d times", id, n)
		}
	}
}

func TestConditionalInteractions(t *testing.T) {
	s := newTestServer(t)
	searchFixture(t, s)
	newPatient := `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"M9"}]}`
	// If-None-Exist: none → 201, one → 200 without a write, several → 412.
	if r := s.do("POST", "/fhir/Patient", newPatient, "If-None-Exist: identifier=urn:mrn|M9"); r.status != http.StatusCreated {
		t.Fatalf("conditional create, no match: %d %s", r.status, r.body)
	}
	r := s.do("POST", "/fhir/Patient", newPatient, "If-None-Exist: identifier=urn:mrn|M9")
	if r.status != http.StatusOK {
		t.Fatalf("conditional create, one match: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/fhir/Patient", newPatient, "If-None-Exist: gender=male"); r.status != http.StatusPreconditionFailed {
		t.Errorf("conditional create, two matches: %d", r.status)
	}
	if ids, _ := s.searchIDs(t, "/fhir/Patient?identifier=M9"); len(ids) != 1 {
		t.Errorf("conditional create wrote twice: %v", ids)
	}
	// Conditional update: one match updated, several 412, none creates.
	if r := s.do("PUT", "/fhir/Patient?identifier=urn:mrn|M2", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"M2"}],"gender":"other"}`); r.status != http.StatusOK || r.resource(t).ID() != "p2" {
		t.Errorf("conditional update: %d %s", r.status, r.body)
	}
	if r := s.do("PUT", "/fhir/Patient?birthdate=1980", `{"resourceType":"Patient"}`); r.status != http.StatusPreconditionFailed {
		t.Errorf("conditional update, several: %d", r.status)
	}
	if r := s.do("PUT", "/fhir/Patient?identifier=urn:mrn|NEW", `{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"NEW"}]}`); r.status != http.StatusCreated {
		t.Errorf("conditional update, none: %d %s", r.status, r.body)
	}
	// Conditional patch: exactly one match, else 404 or 412.
	jp := `[{"op":"add","path":"/active","value":true}]`
	if r := s.do("PATCH", "/fhir/Patient?identifier=urn:mrn|M3", jp, "Content-Type: application/json-patch+json"); r.status != http.StatusOK || r.resource(t).ID() != "p3" {
		t.Errorf("conditional patch: %d %s", r.status, r.body)
	}
	if r := s.do("PATCH", "/fhir/Patient?identifier=urn:mrn|NONE", jp, "Content-Type: application/json-patch+json"); r.status != http.StatusNotFound {
		t.Errorf("conditional patch, none: %d", r.status)
	}
	if r := s.do("PATCH", "/fhir/Patient?birthdate=1980", jp, "Content-Type: application/json-patch+json"); r.status != http.StatusPreconditionFailed {
		t.Errorf("conditional patch, several: %d", r.status)
	}
	// Conditional delete of several.
	if r := s.do("DELETE", "/fhir/Observation?subject=Patient/p1", ""); r.status != http.StatusNoContent {
		t.Errorf("conditional delete: %d %s", r.status, r.body)
	}
	if ids, _ := s.searchIDs(t, "/fhir/Observation?subject=Patient/p1"); len(ids) != 0 {
		t.Errorf("left after conditional delete: %v", ids)
	}
	// Conditional reference in a transaction.
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=urn:mrn|M3"}},"request":{"method":"POST","url":"Observation"}}]}`
	if r := s.do("POST", "/fhir", tx); r.status != http.StatusOK {
		t.Fatalf("conditional reference: %d %s", r.status, r.body)
	}
	if ids, _ := s.searchIDs(t, "/fhir/Observation?subject=Patient/p3"); len(ids) != 1 {
		t.Errorf("conditional reference not resolved to p3: %v", ids)
	}
	// A search entry runs last and sees the transaction's own writes.
	withSearch := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"request":{"method":"GET","url":"Patient?identifier=urn:mrn|TX1"}},
	 {"resource":{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"TX1"}]},"request":{"method":"POST","url":"Patient"}}]}`
	r = s.do("POST", "/fhir", withSearch)
	if r.status != http.StatusOK {
		t.Fatalf("transaction with a search entry: %d %s", r.status, r.body)
	}
	found := r.resource(t)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	if found["type"] != "searchset" || len(asList(found["entry"])) != 1 {
		t.Errorf("search entry did not see the POST of the same transaction: %v", found)
	}
	ambiguous := strings.Replace(tx, "identifier=urn:mrn|M3", "birthdate=1980", 1)
	if r := s.do("POST", "/fhir", ambiguous); r.status != http.StatusPreconditionFailed {
		t.Errorf("ambiguous conditional reference: %d", r.status)
	}
}

func TestPatientEverything(t *testing.T) {
	s := newTestServer(t)
	searchFixture(t, s)
	ids, b := s.searchIDs(t, "/fhir/Patient/p1/$everything")
	sort.Strings(ids)
	if strings.Join(ids, ",") != "o1,o2,p1" {
		t.Errorf("$everything: %v", ids)
	}
	// p1's managing organization is outside the compartment: included.
	var included []string
	for _, e := range asList(b["entry"]) {
		entry := e.(map[string]any)
		if entry["search"].(map[string]any)["mode"] == "include" {
			res := entry["resource"].(map[string]any)
			included = append(included, res["resourceType"].(string)+"/"+res["id"].(string))
		}
	}
	if strings.Join(included, ",") != "Organization/org1" {
		t.Errorf("$everything includes %v, want Organization/org1", included)
	}
	ids, _ = s.searchIDs(t, "/fhir/Patient/p1/$everything?_type=Observation")
	if len(ids) != 2 {
		t.Errorf("$everything _type: %v", ids)
	}
	ids, _ = s.searchIDs(t, "/fhir/Patient/p1/$everything?_since=2100-01-01")
	if len(ids) != 0 {
		t.Errorf("$everything _since: %v", ids)
	}
	if r := s.do("GET", "/fhir/Patient/nobody/$everything", ""); r.status != http.StatusNotFound {
		t.Errorf("$everything unknown patient: %d", r.status)
	}
	if r := s.do("GET", "/fhir/Patient/p1/$everything?foo=1", ""); r.status != http.StatusBadRequest {
		t.Errorf("$everything unknown parameter: %d", r.status)
	}
}

// TestForeignReferenceIsNotLocal checks that a reference to another
// server's Patient/p1 is not found as our Patient/p1 — a different person —
// while a reference to our own base URL is.
func TestForeignReferenceIsNotLocal(t *testing.T) {
	s := newTestServer(t)
	searchFixture(t, s)
	s.do("PUT", "/fhir/Observation/foreign", `{"resourceType":"Observation","id":"foreign","status":"final","code":{"text":"x"},"subject":{"reference":"http://other.example/fhir/Patient/p1"}}`)
	ids, _ := s.searchIDs(t, "/fhir/Observation?subject=Patient/p1")
	sort.Strings(ids)
	if strings.Join(ids, ",") != "o1,o2" {
		t.Errorf("subject=Patient/p1: %v, want o1,o2 only", ids)
	}
	ids, _ = s.searchIDs(t, "/fhir/Observation?subject="+url.QueryEscape("http://other.example/fhir/Patient/p1"))
	if strings.Join(ids, ",") != "foreign" {
		t.Errorf("by the foreign URL: %v", ids)
	}
	ids, _ = s.searchIDs(t, "/fhir/Observation?subject="+url.QueryEscape("http://emr.test/fhir/Patient/p1"))
	sort.Strings(ids)
	if strings.Join(ids, ",") != "o1,o2" {
		t.Errorf("by our own base URL: %v, want o1,o2", ids)
	}
}
