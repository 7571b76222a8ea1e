package fhirapi_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
)

const r4Encounter = `{"resourceType":"Encounter","status":"finished",
 "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
 "period":{"start":"2020-01-01T10:00:00Z","end":"2020-01-01T11:00:00Z"}}`

// TestR4CRUD walks one resource through create, read, update, history and
// delete on /fhir/R4, checking the R4 form, the headers and the R5 form the
// store holds.
func TestR4CRUD(t *testing.T) {
	ts := newTestServer(t)
	created := ts.do("POST", "/fhir/R4/Encounter", r4Encounter)
	if created.status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", created.status, created.body)
	}
	loc := created.header.Get("Location")
	if !strings.HasPrefix(loc, "http://emr.test/fhir/R4/Encounter/") {
		t.Errorf("Location %q, want it below the R4 base", loc)
	}
	if got := created.header.Get("ETag"); got != `W/"1"` {
		t.Errorf("ETag %q, want W/\"1\"", got)
	}
	if got := created.header.Get("Content-Type"); !strings.Contains(got, "fhirVersion=4.0") {
		t.Errorf("Content-Type %q, want fhirVersion=4.0", got)
	}
	id := created.resource(t).ID()

	r4 := ts.do("GET", "/fhir/R4/Encounter/"+id, "")
	if r4.status != http.StatusOK || r4.header.Get("Last-Modified") == "" {
		t.Fatalf("R4 read: status %d, Last-Modified %q: %s", r4.status, r4.header.Get("Last-Modified"), r4.body)
	}
	enc := r4.resource(t)
	if _, ok := enc["period"]; !ok {
		t.Errorf("R4 read has no period: %s", r4.body)
	}
	if _, ok := enc["class"].(map[string]any); !ok {
		t.Errorf("R4 read: class is not a Coding: %s", r4.body)
	}
	r5 := ts.do("GET", "/fhir/Encounter/"+id, "").resource(t)
	if _, ok := r5["actualPeriod"]; !ok {
		t.Errorf("R5 read has no actualPeriod: %v", r5)
	}

	update := strings.Replace(r4Encounter, `"status":"finished"`, `"id":"`+id+`","status":"cancelled"`, 1)
	if got := ts.do("PUT", "/fhir/R4/Encounter/"+id, update, "If-Match: W/\"1\""); got.status != http.StatusOK || got.header.Get("ETag") != `W/"2"` {
		t.Fatalf("update: status %d, ETag %q: %s", got.status, got.header.Get("ETag"), got.body)
	}
	hist := ts.do("GET", "/fhir/R4/Encounter/"+id+"/_history", "")
	bundle := hist.resource(t)
	entries, _ := bundle["entry"].([]any)
	if hist.status != http.StatusOK || bundle["type"] != "history" || len(entries) != 2 {
		t.Fatalf("history: status %d, %d entries: %s", hist.status, len(entries), hist.body)
	}
	for _, e := range entries {
		entry := e.(map[string]any)
		if full, _ := entry["fullUrl"].(string); !strings.HasPrefix(full, "http://emr.test/fhir/R4/Encounter/") {
			t.Errorf("history fullUrl %q, want the R4 base", full)
		}
		if _, ok := entry["resource"].(map[string]any)["period"]; !ok {
			t.Errorf("history entry is not in R4: %v", entry["resource"])
		}
	}
	if got := ts.do("GET", "/fhir/R4/Encounter/"+id+"/_history/1", "").resource(t)["status"]; got != "finished" {
		t.Errorf("vread 1: status %v, want finished", got)
	}
	if got := ts.do("DELETE", "/fhir/R4/Encounter/"+id, ""); got.status != http.StatusNoContent && got.status != http.StatusOK {
		t.Fatalf("delete: status %d: %s", got.status, got.body)
	}
	if got := ts.do("GET", "/fhir/R4/Encounter/"+id, ""); got.status != http.StatusGone {
		t.Errorf("read after delete: status %d, want 410", got.status)
	}
}

// TestR4Errors checks that what the R4 face cannot serve is answered with
// a 4xx and an OperationOutcome saying why.
func TestR4Errors(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		says                     string
	}{
		{"type without conversion", "GET", "/fhir/R4/Substance/1", "", nil, http.StatusNotFound, "no R4 conversion"},
		{"create type without conversion", "POST", "/fhir/R4/Substance", `{"resourceType":"Substance"}`, nil, http.StatusNotFound, "no R4 conversion"},
		{"body type without conversion", "POST", "/fhir/R4", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Substance"},"request":{"method":"POST","url":"Substance"}}]}`, nil, http.StatusUnprocessableEntity, "Bundle.entry[0]"},
		{"malformed element", "POST", "/fhir/R4/Encounter", `{"resourceType":"Encounter","status":"finished","class":"AMB"}`, nil, http.StatusBadRequest, "Encounter.class"},
		{"R4 parameter without R5 equivalent", "GET", "/fhir/R4/CarePlan?activity-code=123", "", nil, http.StatusBadRequest, "activity-code"},
		{"R4 element kept as an extension", "GET", "/fhir/R4/MedicationAdministration?context=Encounter/1", "", nil, http.StatusBadRequest, "context"},
		{"other fhirVersion accepted", "GET", "/fhir/R4/metadata", "", []string{"Accept: application/fhir+json; fhirVersion=5.0"}, http.StatusNotAcceptable, "fhirVersion=4.0"},
		{"other fhirVersion sent", "POST", "/fhir/R4/Encounter", r4Encounter, []string{"Content-Type: application/fhir+json; fhirVersion=3.0"}, http.StatusUnsupportedMediaType, "fhirVersion 3.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ts.do(c.method, c.path, c.body, c.headers...)
			if got.status != c.status {
				t.Errorf("status %d, want %d: %s", got.status, c.status, got.body)
			}
			oo := got.resource(t)
			if oo.Type() != "OperationOutcome" || !strings.Contains(string(got.body), c.says) {
				t.Errorf("got %s, want an OperationOutcome saying %q", got.body, c.says)
			}
			if ct := got.header.Get("Content-Type"); !strings.Contains(ct, "fhirVersion=4.0") {
				t.Errorf("Content-Type %q, want fhirVersion=4.0", ct)
			}
		})
	}
	lenient := ts.do("GET", "/fhir/R4/CarePlan?activity-code=123", "", "Prefer: handling=lenient")
	if lenient.status != http.StatusOK {
		t.Errorf("lenient search with an R4-only parameter: status %d, want 200: %s", lenient.status, lenient.body)
	}
}

func TestR4Metadata(t *testing.T) {
	ts := newTestServer(t)
	got := ts.do("GET", "/fhir/R4/metadata", "")
	cs := got.resource(t)
	if got.status != http.StatusOK || cs["fhirVersion"] != "4.0.1" {
		t.Fatalf("status %d, fhirVersion %v, want 200 and 4.0.1", got.status, cs["fhirVersion"])
	}
	types := map[string]map[string]bool{}
	for _, r := range cs["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		res := r.(map[string]any)
		params := map[string]bool{}
		for _, p := range res["searchParam"].([]any) {
			params[p.(map[string]any)["name"].(string)] = true
		}
		types[res["type"].(string)] = params
	}
	for _, typ := range []string{"Patient", "Encounter", "Observation", "MedicationRequest", "ExplanationOfBenefit"} {
		if types[typ] == nil {
			t.Errorf("%s missing from the R4 CapabilityStatement", typ)
		}
	}
	for _, typ := range []string{"Substance", "CapabilityStatement", "ActorDefinition"} {
		if types[typ] != nil {
			t.Errorf("%s listed, but has no R4 conversion", typ)
		}
	}
	if !types["Encounter"]["diagnosis"] || types["Encounter"]["diagnosis-reference"] {
		t.Errorf("Encounter search parameters should use the R4 name diagnosis: %v", types["Encounter"])
	}
}

// TestR4OnDefaultBase checks that fhirVersion=4.0 in the media types selects
// R4 on /fhir.
func TestR4OnDefaultBase(t *testing.T) {
	ts := newTestServer(t)
	created := ts.do("POST", "/fhir/Encounter", r4Encounter, "Content-Type: application/fhir+json; fhirVersion=4.0")
	if created.status != http.StatusCreated {
		t.Fatalf("R4 create on /fhir: status %d: %s", created.status, created.body)
	}
	if loc := created.header.Get("Location"); !strings.HasPrefix(loc, "http://emr.test/fhir/Encounter/") {
		t.Errorf("Location %q, want the base the client used", loc)
	}
	id := created.resource(t).ID()
	r4 := ts.do("GET", "/fhir/Encounter/"+id, "", "Accept: application/fhir+json; fhirVersion=4.0")
	if _, ok := r4.resource(t)["period"]; !ok || !strings.Contains(r4.header.Get("Content-Type"), "fhirVersion=4.0") {
		t.Errorf("Accept fhirVersion=4.0: Content-Type %q, body %s; want R4", r4.header.Get("Content-Type"), r4.body)
	}
	r5 := ts.do("GET", "/fhir/Encounter/"+id, "")
	if _, ok := r5.resource(t)["actualPeriod"]; !ok {
		t.Errorf("plain read on /fhir is not R5: %s", r5.body)
	}
	if cs := ts.do("GET", "/fhir/metadata", "", "Accept: application/fhir+json; fhirVersion=4.0").resource(t); cs["fhirVersion"] != "4.0.1" {
		t.Errorf("metadata with fhirVersion=4.0: fhirVersion %v, want 4.0.1", cs["fhirVersion"])
	}
}

// TestR4SyntheaRoundTrip writes Synthea R4 patient Bundles as transactions
// to /fhir/R4, reads every resource back through /fhir/R4 and compares it
// with the input element by element (apart from id and meta, which the
// server assigns, and references, which now name the created resources),
// then searches with R4 parameters: every Bundle on SQLite; on PostgreSQL
// the three smallest, unless EMR_R4_BUNDLES=all.
func TestR4SyntheaRoundTrip(t *testing.T) {
	dir := sharedtest.Path(t, "testdata", "synthea-r4")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	sort.Slice(files, func(i, j int) bool { return fileSize(files[i]) < fileSize(files[j]) })
	if onPostgres && os.Getenv("EMR_R4_BUNDLES") != "all" && len(files) > 3 {
		files = files[:3]
	}
	ts := newTestServer(t)
	var total, equal int
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		input, err := fhir.ParseResource(body)
		if err != nil {
			t.Fatal(err)
		}
		got := ts.do("POST", "/fhir/R4", string(body), "Content-Type: application/fhir+json; fhirVersion=4.0")
		if got.status != http.StatusOK {
			t.Fatalf("%s: transaction: status %d: %s", filepath.Base(file), got.status, got.body)
		}
		answer := got.resource(t)
		if answer["type"] != "transaction-response" {
			t.Fatalf("%s: answer type %v", filepath.Base(file), answer["type"])
		}
		inEntries := input["entry"].([]any)
		outEntries := answer["entry"].([]any)
		// urn:uuid fullUrls became Type/id.
		local := map[string]string{}
		for i, e := range outEntries {
			loc, _ := e.(map[string]any)["response"].(map[string]any)["location"].(string)
			loc = strings.TrimPrefix(loc, "http://emr.test/fhir/R4/")
			if i := strings.Index(loc, "/_history"); i >= 0 {
				loc = loc[:i]
			}
			local[inEntries[i].(map[string]any)["fullUrl"].(string)] = loc
		}
		byType := map[string][]fhir.Resource{}
		for _, e := range inEntries {
			want := fhir.Resource(fhir.CloneValue(e.(map[string]any)["resource"]).(map[string]any))
			loc := local[e.(map[string]any)["fullUrl"].(string)]
			total++
			read := ts.do("GET", "/fhir/R4/"+loc, "")
			if read.status != http.StatusOK {
				t.Errorf("%s: read %s: status %d: %s", filepath.Base(file), loc, read.status, read.body)
				continue
			}
			back := read.resource(t)
			byType[want.Type()] = append(byType[want.Type()], back)
			want = fhir.Resource(rewriteRefs(map[string]any(want), local).(map[string]any))
			for _, r := range []fhir.Resource{want, back} {
				delete(r, "id")
				delete(r, "meta")
			}
			if diff := cmp.Diff(map[string]any(want), map[string]any(back)); diff != "" {
				t.Errorf("%s: %s differs after the round trip through /fhir/R4 (-input +read):\n%s", filepath.Base(file), loc, diff)
				continue
			}
			equal++
		}
		r4Searches(t, ts, local, byType, inEntries)
	}
	t.Logf("%d bundles: %d of %d resources read back through /fhir/R4 equal to the input", len(files), equal, total)
}

// r4Searches checks searches by R4 parameters against what was written.
func r4Searches(t *testing.T, ts *testServer, local map[string]string, byType map[string][]fhir.Resource, entries []any) {
	t.Helper()
	var patient string
	for _, e := range entries {
		if e.(map[string]any)["resource"].(map[string]any)["resourceType"] == "Patient" {
			patient = local[e.(map[string]any)["fullUrl"].(string)]
		}
	}
	count := func(query string) int {
		got := ts.do("GET", "/fhir/R4/"+query, "")
		if got.status != http.StatusOK {
			t.Errorf("search %s: status %d: %s", query, got.status, got.body)
			return -1
		}
		b := got.resource(t)
		n := 0
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			entry := e.(map[string]any)
			if entry["search"].(map[string]any)["mode"] == "match" {
				n++
				if full, _ := entry["fullUrl"].(string); !strings.HasPrefix(full, "http://emr.test/fhir/R4/") {
					t.Errorf("search %s: fullUrl %q, want the R4 base", query, full)
				}
			}
		}
		return n
	}
	for _, typ := range []string{"Encounter", "MedicationRequest", "Procedure", "Immunization", "Claim"} {
		if got, want := count(typ+"?patient="+patient+"&_count=1000"), len(byType[typ]); got != want {
			t.Errorf("%s?patient=%s: %d matches, want %d", typ, patient, got, want)
		}
	}
	if obs := byType["Observation"]; len(obs) > 0 {
		coding := obs[0]["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)
		code := coding["system"].(string) + "|" + coding["code"].(string)
		want := 0
		for _, o := range obs {
			for _, c := range o["code"].(map[string]any)["coding"].([]any) {
				if c.(map[string]any)["code"] == coding["code"] && c.(map[string]any)["system"] == coding["system"] {
					want++
					break
				}
			}
		}
		if got := count("Observation?subject=" + patient + "&code=" + url.QueryEscape(code) + "&_count=1000"); got != want {
			t.Errorf("Observation?code=%s: %d matches, want %d", code, got, want)
		}
	}
	if encs := byType["Encounter"]; len(encs) > 0 {
		period := encs[0]["period"].(map[string]any)
		if got := count("Encounter?patient=" + patient + "&date=" + url.QueryEscape("ge"+period["start"].(string))); got < 1 {
			t.Errorf("Encounter?date=ge%s: no match", period["start"])
		}
	}
}

// rewriteRefs replaces the transaction's urn:uuid references by the ids
// the server gave.
func rewriteRefs(v any, local map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "reference" {
				if to, ok := local[s]; ok {
					v[k] = to
				}
				continue
			}
			v[k] = rewriteRefs(x, local)
		}
	case []any:
		for i, x := range v {
			v[i] = rewriteRefs(x, local)
		}
	}
	return v
}

func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// TestR4SearchNames checks the R4 parameter names that R5 renamed, in
// parameters, _sort, _include and a transaction's request URLs, and that
// paging links come back with the R4 names.
func TestR4SearchNames(t *testing.T) {
	ts := newTestServer(t)
	cond := ts.mustCreate(`{"resourceType":"Condition","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`)
	enc := strings.Replace(r4Encounter, `"status"`, `"diagnosis":[{"condition":{"reference":"Condition/`+cond+`"}}],"status"`, 1)
	for range 2 {
		if got := ts.do("POST", "/fhir/R4/Encounter", enc); got.status != http.StatusCreated {
			t.Fatalf("create: %d %s", got.status, got.body)
		}
	}
	matches := func(b fhir.Resource, mode string) int {
		n := 0
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			if e.(map[string]any)["search"].(map[string]any)["mode"] == mode {
				n++
			}
		}
		return n
	}
	for _, q := range []string{
		"Encounter?diagnosis=Condition/" + cond,
		"Encounter?diagnosis-reference=Condition/" + cond, // the R5 name works too
		"Encounter?diagnosis:Condition=" + cond,
		"Encounter?diagnosis=Condition/" + cond + "&_sort=-date&_include=Encounter:diagnosis",
	} {
		got := ts.do("GET", "/fhir/R4/"+q, "")
		if got.status != http.StatusOK {
			t.Errorf("%s: status %d: %s", q, got.status, got.body)
			continue
		}
		if n := matches(got.resource(t), "match"); n != 2 {
			t.Errorf("%s: %d matches, want 2", q, n)
		}
		if strings.Contains(q, "_include") && matches(got.resource(t), "include") != 1 {
			t.Errorf("%s: want the Condition included: %s", q, got.body)
		}
	}
	paged := ts.do("GET", "/fhir/R4/Encounter?diagnosis=Condition/"+cond+"&_count=1", "").resource(t)
	for _, l := range paged["link"].([]any) {
		u := l.(map[string]any)["url"].(string)
		if strings.Contains(u, "diagnosis-reference") || !strings.HasPrefix(u, "http://emr.test/fhir/R4/") {
			t.Errorf("link %s: want the R4 base and parameter name", u)
		}
	}
	// If-None-Exist with the R4 name: two matches, so no create.
	if got := ts.do("POST", "/fhir/R4/Encounter", enc, "If-None-Exist: diagnosis=Condition/"+cond); got.status != http.StatusPreconditionFailed {
		t.Errorf("conditional create by diagnosis: status %d, want 412: %s", got.status, got.body)
	}
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Encounter?diagnosis=Condition/` + cond + `"}}]}`
	got := ts.do("POST", "/fhir/R4", batch)
	if got.status != http.StatusOK {
		t.Fatalf("batch: %d %s", got.status, got.body)
	}
	inner := got.resource(t)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	if n := matches(fhir.Resource(inner), "match"); n != 2 {
		t.Errorf("batch search by diagnosis: %d matches, want 2: %s", n, got.body)
	}
}

// TestR4LeavesOutWhatHasNoR4Form checks that a history holding a type
// without conversion answers in R4 without it, saying so, and that HEAD
// announces the length of the R4 body.
func TestR4LeavesOutWhatHasNoR4Form(t *testing.T) {
	ts := newTestServer(t)
	ts.mustCreate(`{"resourceType":"Substance","instance":false,"code":{"concept":{"text":"water"}}}`)
	ts.mustCreate(`{"resourceType":"Patient","gender":"other"}`)
	got := ts.do("GET", "/fhir/R4/_history", "")
	if got.status != http.StatusOK {
		t.Fatalf("system history: status %d: %s", got.status, got.body)
	}
	var types []string
	for _, e := range got.resource(t)["entry"].([]any) {
		types = append(types, e.(map[string]any)["resource"].(map[string]any)["resourceType"].(string))
	}
	if !cmp.Equal(types, []string{"Patient", "OperationOutcome"}) {
		t.Errorf("history entries %v, want the Patient and an OperationOutcome for the Substance: %s", types, got.body)
	}
	get := ts.do("GET", "/fhir/R4/metadata", "")
	head := ts.do("HEAD", "/fhir/R4/metadata", "")
	if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Content-Length") != get.header.Get("Content-Length") {
		t.Errorf("HEAD: status %d, Content-Length %q (GET %q), %d body bytes", head.status, head.header.Get("Content-Length"), get.header.Get("Content-Length"), len(head.body))
	}
}

// TestR4Renames writes an R4 resource through /fhir/R4 and finds it by
// each renamed R4 parameter: the R5 parameter must search the element the
// converter moved the R4 one to.
func TestR4Renames(t *testing.T) {
	ts := newTestServer(t)
	const subject = `"subject":{"reference":"Patient/p1"}`
	cases := []struct {
		body, query string
	}{
		{`{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/p1"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},"reaction":[{"manifestation":[{"coding":[{"system":"http://snomed.info/sct","code":"247472004"}]}]}]}`,
			"AllergyIntolerance?manifestation=http://snomed.info/sct|247472004"},
		{`{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/p1"},"payor":[{"reference":"Organization/o1"}]}`,
			"Coverage?payor=Organization/o1"},
		{`{"resourceType":"DocumentReference","status":"current",` + subject + `,"content":[{"attachment":{"contentType":"text/plain"},"format":{"system":"urn:ietf:rfc:3986","code":"urn:fmt"}}],"context":{"encounter":[{"reference":"Encounter/e1"}],"event":[{"coding":[{"system":"http://example.org","code":"ev"}]}]}}`,
			"DocumentReference?encounter=Encounter/e1"},
		{`{"resourceType":"DocumentReference","status":"current",` + subject + `,"content":[{"attachment":{"contentType":"text/plain"}}],"context":{"event":[{"coding":[{"system":"http://example.org","code":"ev"}]}]}}`,
			"DocumentReference?event=http://example.org|ev"},
		{`{"resourceType":"EpisodeOfCare","status":"active","patient":{"reference":"Patient/p1"},"diagnosis":[{"condition":{"reference":"Condition/c1"}}]}`,
			"EpisodeOfCare?condition=Condition/c1"},
		{`{"resourceType":"ImagingStudy","status":"available",` + subject + `,"basedOn":[{"reference":"ServiceRequest/s1"}],"series":[{"uid":"1.2.3","modality":{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"DX"},"bodySite":{"system":"http://snomed.info/sct","code":"51185008"}}]}`,
			"ImagingStudy?basedon=ServiceRequest/s1&bodysite=http://snomed.info/sct|51185008"},
		{`{"resourceType":"MedicationAdministration","status":"completed",` + subject + `,"medicationCodeableConcept":{"text":"m"},"effectiveDateTime":"2020-02-03","reasonCode":[{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]}]}`,
			"MedicationAdministration?effective-time=2020-02-03&reason-given=http://snomed.info/sct|44054006"},
		{`{"resourceType":"MedicationStatement","status":"active",` + subject + `,"medicationCodeableConcept":{"text":"m"},"context":{"reference":"Encounter/e1"}}`,
			"MedicationStatement?context=Encounter/e1"},
		{`{"resourceType":"ServiceRequest","status":"active","intent":"order",` + subject + `,"code":{"coding":[{"system":"http://snomed.info/sct","code":"363679005"}]}}`,
			"ServiceRequest?code=http://snomed.info/sct|363679005"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			typ, _, _ := strings.Cut(c.query, "?")
			if got := ts.do("POST", "/fhir/R4/"+typ, c.body); got.status != http.StatusCreated {
				t.Fatalf("create: status %d: %s", got.status, got.body)
			}
			got := ts.do("GET", "/fhir/R4/"+c.query, "")
			if got.status != http.StatusOK {
				t.Fatalf("search: status %d: %s", got.status, got.body)
			}
			if n, _ := got.resource(t)["total"].(float64); n < 1 {
				entries, _ := got.resource(t)["entry"].([]any)
				if len(entries) == 0 {
					t.Errorf("no match: %s", got.body)
				}
			}
		})
	}
}

// TestR4Elements checks that _elements takes R4 element names.
func TestR4Elements(t *testing.T) {
	ts := newTestServer(t)
	id := ts.do("POST", "/fhir/R4/Encounter", r4Encounter).resource(t).ID()
	read := ts.do("GET", "/fhir/R4/Encounter/"+id+"?_elements=period", "")
	got := read.resource(t)
	if read.status != http.StatusOK || got["period"] == nil || got["class"] != nil || got["status"] != nil {
		t.Errorf("read with _elements=period: status %d: %s", read.status, read.body)
	}
	search := ts.do("GET", "/fhir/R4/Encounter?_elements=Encounter.class&_count=1", "")
	b := search.resource(t)
	enc := b["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	if search.status != http.StatusOK || enc["class"] == nil || enc["period"] != nil {
		t.Errorf("search with _elements=Encounter.class: status %d: %s", search.status, search.body)
	}
	for _, l := range b["link"].([]any) {
		if u := l.(map[string]any)["url"].(string); !strings.Contains(u, "_elements=Encounter.class") {
			t.Errorf("link %s lost _elements", u)
		}
	}
	if got := ts.do("GET", "/fhir/R4/Encounter?_elements=class&_summary=true", ""); got.status != http.StatusBadRequest {
		t.Errorf("_elements with _summary: status %d, want 400", got.status)
	}
}

// TestR4BulkNDJSONRoundTrip puts the resources of the Synthea bulk export
// (R4 NDJSON, with their ids) one by one through /fhir/R4 as
// update-as-create, reads each back and compares it with the input apart
// from meta: every line on SQLite; on PostgreSQL the first 20 of each
// file, unless EMR_R4_BUNDLES=all.
func TestR4BulkNDJSONRoundTrip(t *testing.T) {
	all := !onPostgres || os.Getenv("EMR_R4_BUNDLES") == "all"
	ts := newTestServer(t)
	var total, equal int
	perFile := map[string]int{}
	for _, ex := range sharedtest.SyntheaR4(t) {
		file, _, ok := strings.Cut(ex.File, ":")
		if !ok || !strings.HasSuffix(file, ".ndjson") {
			continue // a Bundle entry: TestR4SyntheaRoundTrip's
		}
		if perFile[file]++; !all && perFile[file] > 20 {
			continue
		}
		want, err := fhir.ParseResource(ex.Body)
		if err != nil {
			t.Fatalf("%s: %v", ex.File, err)
		}
		path := "/fhir/R4/" + want.Type() + "/" + want.ID()
		total++
		if got := ts.do("PUT", path, string(ex.Body)); got.status != http.StatusCreated && got.status != http.StatusOK {
			t.Errorf("%s: PUT %s: status %d: %s", ex.File, path, got.status, got.body)
			continue
		}
		read := ts.do("GET", path, "")
		if read.status != http.StatusOK {
			t.Errorf("%s: read %s: status %d: %s", ex.File, path, read.status, read.body)
			continue
		}
		back := read.resource(t)
		delete(want, "meta")
		delete(back, "meta")
		if diff := cmp.Diff(map[string]any(want), map[string]any(back)); diff != "" {
			t.Errorf("%s: %s differs after the round trip (-input +read):\n%s", ex.File, path, diff)
			continue
		}
		equal++
	}
	t.Logf("%d of %d NDJSON resources read back through /fhir/R4 equal to the input", equal, total)
}
