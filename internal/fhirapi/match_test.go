package fhirapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/store"
)

// withMatcher turns on $match and the duplicate check under policy.
func withMatcher(policy fhirapi.DuplicatePolicy) func(*fhirapi.Options) {
	return func(o *fhirapi.Options) {
		o.Matcher = &mpi.Matcher{Model: mpi.DefaultModel(), Keys: o.Store.(store.KeyMatcher), Definitions: spec.R5()}
		o.Duplicates = policy
	}
}

// registered are the patients the matching tests start from.
var registered = map[string]string{
	"jose": `{"resourceType":"Patient","id":"jose","name":[{"family":"García","given":["José"]}],"gender":"male","birthDate":"1980-03-04",
		"telecom":[{"system":"phone","value":"+1 (555) 201-3344"}],"address":[{"line":["12 Oak Street"],"postalCode":"02139"}]}`,
	"maria": `{"resourceType":"Patient","id":"maria","name":[{"family":"Garcia","given":["Maria"]}],"gender":"female","birthDate":"1980-07-19"}`,
	"twin1": `{"resourceType":"Patient","id":"twin1","name":[{"family":"Okafor","given":["Chidi"]}],"gender":"male","birthDate":"2001-05-05",
		"telecom":[{"system":"phone","value":"555-777-1200"}],"address":[{"line":["3 Elm Road"],"postalCode":"10001"}]}`,
	"twin2": `{"resourceType":"Patient","id":"twin2","name":[{"family":"Okafor","given":["Emeka"]}],"gender":"male","birthDate":"2001-05-05",
		"telecom":[{"system":"phone","value":"555-777-1200"}],"address":[{"line":["3 Elm Road"],"postalCode":"10001"}]}`,
}

func seedRegistered(t *testing.T, s *testServer, headers ...string) {
	t.Helper()
	for id, body := range registered {
		if r := s.do("PUT", "/fhir/Patient/"+id, body, headers...); r.status != http.StatusCreated {
			t.Fatalf("seed %s: %d %s", id, r.status, r.body)
		}
	}
}

func matchBody(patient string, extra ...string) string {
	params := []string{`{"name":"resource","resource":` + patient + `}`}
	params = append(params, extra...)
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(params, ",") + `]}`
}

// matched lists a $match answer's entries as "id grade".
func matched(t *testing.T, r result) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("$match: %d %s", r.status, r.body)
	}
	b := r.resource(t)
	if b.Type() != "Bundle" || b["type"] != "searchset" {
		t.Fatalf("$match answered %s %v, want a searchset Bundle", b.Type(), b["type"])
	}
	var out []string
	last := 2.0
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		entry := e.(map[string]any)
		res := fhir.Resource(entry["resource"].(map[string]any))
		search := entry["search"].(map[string]any)
		score, _ := strconv.ParseFloat(fmt.Sprint(search["score"]), 64)
		if search["mode"] != "match" || score <= 0 || score > 1 || score > last {
			t.Errorf("entry %s: search %v: want mode match and scores in (0,1], best first", res.ID(), search)
		}
		last = score
		ext := search["extension"].([]any)[0].(map[string]any)
		if ext["url"] != "http://hl7.org/fhir/StructureDefinition/match-grade" {
			t.Errorf("entry %s: extension %v, want match-grade", res.ID(), ext)
		}
		out = append(out, res.ID()+" "+ext["valueCode"].(string))
	}
	return out
}

func TestPatientMatch(t *testing.T) {
	s := newTestServer(t, withMatcher(fhirapi.DuplicatesWarn))
	seedRegistered(t, s)
	// A returning patient typed with a nickname-free typo, no accents and
	// the phone written another way.
	typo := `{"resourceType":"Patient","name":[{"family":"Garcia","given":["Jose"]}],"birthDate":"1980-03-04","telecom":[{"system":"phone","value":"555.201.3344"}]}`
	got := matched(t, s.do("POST", "/fhir/Patient/$match", matchBody(typo)))
	if len(got) == 0 || !strings.HasPrefix(got[0], "jose ") || strings.HasSuffix(got[0], " possible") {
		t.Fatalf("$match of José typed plainly = %v, want jose first, certain or probable", got)
	}
	for _, g := range got {
		if strings.HasPrefix(g, "maria ") && !strings.HasSuffix(g, " possible") {
			t.Errorf("Maria Garcia of another birth date graded %q", g)
		}
	}
	// A twin is not the other twin.
	emeka := `{"resourceType":"Patient","name":[{"family":"Okafor","given":["Emeka"]}],"gender":"male","birthDate":"2001-05-05","telecom":[{"system":"phone","value":"5557771200"}]}`
	got = matched(t, s.do("POST", "/fhir/Patient/$match", matchBody(emeka)))
	if len(got) == 0 || !strings.HasPrefix(got[0], "twin2 ") {
		t.Fatalf("$match of Emeka = %v, want twin2 first", got)
	}
	for _, g := range got {
		if strings.HasPrefix(g, "twin1 ") && !strings.HasSuffix(g, " possible") {
			t.Errorf("the other twin graded %q, want at most possible", g)
		}
	}
	// count and onlyCertainMatches.
	if got := matched(t, s.do("POST", "/fhir/Patient/$match", matchBody(emeka, `{"name":"count","valueInteger":1}`))); len(got) != 1 {
		t.Errorf("count 1: %v", got)
	}
	for _, g := range matched(t, s.do("POST", "/fhir/Patient/$match", matchBody(typo, `{"name":"onlyCertainMatches","valueBoolean":true}`))) {
		if !strings.HasSuffix(g, " certain") {
			t.Errorf("onlyCertainMatches answered %q", g)
		}
	}
	// Nobody like this.
	if got := matched(t, s.do("POST", "/fhir/Patient/$match", matchBody(`{"resourceType":"Patient","name":[{"family":"Zzyzx","given":["Quentin"]}],"birthDate":"1931-12-01"}`))); len(got) != 0 {
		t.Errorf("a stranger matched %v", got)
	}
}

func TestPatientMatchErrors(t *testing.T) {
	s := newTestServer(t, withMatcher(fhirapi.DuplicatesWarn))
	for _, tc := range []struct {
		name, method, body string
		status             int
		expression         string
	}{
		{"GET", "GET", "", http.StatusMethodNotAllowed, ""},
		{"no body", "POST", "", http.StatusBadRequest, ""},
		{"not Parameters", "POST", `{"resourceType":"Patient"}`, http.StatusBadRequest, ""},
		{"no resource", "POST", `{"resourceType":"Parameters","parameter":[{"name":"count","valueInteger":2}]}`, http.StatusBadRequest, "Parameters.parameter"},
		{"not a Patient", "POST", matchBody(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`), http.StatusBadRequest, "Parameters.parameter[0].resource"},
		{"bad count", "POST", matchBody(`{"resourceType":"Patient"}`, `{"name":"count","valueInteger":0}`), http.StatusBadRequest, "Parameters.parameter[1].valueInteger"},
		{"bad flag", "POST", matchBody(`{"resourceType":"Patient"}`, `{"name":"onlyCertainMatches","valueString":"yes"}`), http.StatusBadRequest, "Parameters.parameter[1].valueBoolean"},
		{"unknown parameter", "POST", matchBody(`{"resourceType":"Patient"}`, `{"name":"threshold","valueInteger":3}`), http.StatusBadRequest, "Parameters.parameter[1].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, "/fhir/Patient/$match", tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			oo := r.resource(t)
			if oo.Type() != "OperationOutcome" {
				t.Fatalf("body %s, want an OperationOutcome", r.body)
			}
			if tc.expression != "" && !strings.Contains(string(r.body), `"`+tc.expression+`"`) {
				t.Errorf("outcome %s does not point at %s", r.body, tc.expression)
			}
		})
	}
	// Without a matcher the operation is not there.
	plain := newTestServer(t)
	if r := plain.do("POST", "/fhir/Patient/$match", matchBody(`{"resourceType":"Patient"}`)); r.status != http.StatusNotImplemented && r.status != http.StatusBadRequest {
		t.Errorf("$match without a matcher: %d %s", r.status, r.body)
	}
}

// TestPatientMatchSeesOnlyVisible: a patient user matches only what it may
// see (itself), never another patient, however alike.
func TestPatientMatchSeesOnlyVisible(t *testing.T) {
	callers := map[string]*access.Principal{
		"admin": {User: "admin", Role: "admin"},
		"twin":  {User: "emeka", Role: "patient", Patient: "twin2"},
	}
	s := newAccessServer(t, nil, callers, withMatcher(fhirapi.DuplicatesWarn))
	seedRegistered(t, s, "X-Test-Caller: admin")
	chidi := `{"resourceType":"Patient","name":[{"family":"Okafor","given":["Chidi"]}],"gender":"male","birthDate":"2001-05-05","telecom":[{"system":"phone","value":"5557771200"}]}`
	if got := matched(t, s.do("POST", "/fhir/Patient/$match", matchBody(chidi), "X-Test-Caller: admin")); len(got) == 0 || !strings.HasPrefix(got[0], "twin1 ") {
		t.Fatalf("admin's $match of Chidi = %v, want twin1 first", got)
	}
	for _, g := range matched(t, s.do("POST", "/fhir/Patient/$match", matchBody(chidi), "X-Test-Caller: twin")) {
		if !strings.HasPrefix(g, "twin2 ") {
			t.Errorf("the patient twin2 was shown %q", g)
		}
	}
}

func TestDuplicateCheckAtCreate(t *testing.T) {
	again := `{"resourceType":"Patient","name":[{"family":"Garcia","given":["Jose"]}],"gender":"male","birthDate":"1980-03-04","telecom":[{"system":"phone","value":"555 201 3344"}],"address":[{"line":["12 Oak St"],"postalCode":"02139"}]}`
	stranger := `{"resourceType":"Patient","name":[{"family":"Lindqvist","given":["Astrid"]}],"gender":"female","birthDate":"1955-11-30"}`

	t.Run("warn", func(t *testing.T) {
		s := newTestServer(t, withMatcher(fhirapi.DuplicatesWarn))
		seedRegistered(t, s)
		r := s.do("POST", "/fhir/Patient", again)
		if r.status != http.StatusCreated || r.header.Get("Location") == "" {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if h := r.header.Get(fhirapi.DuplicatesHeader); !strings.HasPrefix(h, "Patient/jose; grade=") {
			t.Errorf("%s = %q, want Patient/jose first", fhirapi.DuplicatesHeader, h)
		}
		oo := r.resource(t)
		if oo.Type() != "OperationOutcome" || !strings.Contains(string(r.body), "possible duplicate of Patient/jose") || !strings.Contains(string(r.body), `"warning"`) {
			t.Errorf("body %s, want an OperationOutcome warning of Patient/jose", r.body)
		}
		// Asked for the resource: the resource, and the header.
		r = s.do("POST", "/fhir/Patient", again, "Prefer: return=representation")
		if r.status != http.StatusCreated || r.resource(t).Type() != "Patient" || r.header.Get(fhirapi.DuplicatesHeader) == "" {
			t.Errorf("create with return=representation: %d %v %s", r.status, r.header, r.body)
		}
		// Nobody alike: as before.
		r = s.do("POST", "/fhir/Patient", stranger)
		if r.status != http.StatusCreated || r.resource(t).Type() != "Patient" || r.header.Get(fhirapi.DuplicatesHeader) != "" {
			t.Errorf("create of a stranger: %d %v %s", r.status, r.header, r.body)
		}
		// A conditional create stays exact: no matcher.
		r = s.do("POST", "/fhir/Patient", again, "If-None-Exist: identifier=http://example.org/mrn|404")
		if r.status != http.StatusCreated || r.header.Get(fhirapi.DuplicatesHeader) != "" {
			t.Errorf("conditional create: %d %v %s", r.status, r.header, r.body)
		}
	})

	t.Run("refuse", func(t *testing.T) {
		s := newTestServer(t, withMatcher(fhirapi.DuplicatesRefuse))
		seedRegistered(t, s)
		r := s.do("POST", "/fhir/Patient", again)
		if r.status != http.StatusConflict || !strings.Contains(string(r.body), "Patient/jose") || !strings.Contains(string(r.body), `"duplicate"`) {
			t.Fatalf("create of a certain duplicate: %d %s, want 409 naming Patient/jose", r.status, r.body)
		}
		if got := s.do("GET", "/fhir/Patient?family=garcia&given=jose", ""); strings.Count(string(got.body), `"resourceType":"Patient"`) != 1 {
			t.Errorf("the refused create wrote something: %s", got.body)
		}
		r = s.do("POST", "/fhir/Patient", again, fhirapi.ReviewedHeader+": true")
		if r.status != http.StatusCreated {
			t.Errorf("create after review: %d %s", r.status, r.body)
		}
		// A transaction creating a certain duplicate fails as a whole.
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:1","resource":` + stranger + `,"request":{"method":"POST","url":"Patient"}},
			{"fullUrl":"urn:uuid:2","resource":` + again + `,"request":{"method":"POST","url":"Patient"}}]}`
		r = s.do("POST", "/fhir", tx)
		if r.status != http.StatusConflict || !strings.Contains(string(r.body), "Bundle.entry[1].resource") {
			t.Errorf("transaction with a duplicate: %d %s, want 409 at Bundle.entry[1].resource", r.status, r.body)
		}
		if got := s.do("GET", "/fhir/Patient?family=lindqvist", ""); strings.Contains(string(got.body), `"resourceType":"Patient"`) {
			t.Errorf("the refused transaction wrote Astrid: %s", got.body)
		}
	})

	t.Run("transaction warns per entry", func(t *testing.T) {
		s := newTestServer(t, withMatcher(fhirapi.DuplicatesWarn))
		seedRegistered(t, s)
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:1","resource":` + stranger + `,"request":{"method":"POST","url":"Patient"}},
			{"fullUrl":"urn:uuid:2","resource":` + again + `,"request":{"method":"POST","url":"Patient"}}]}`
		r := s.do("POST", "/fhir", tx)
		if r.status != http.StatusOK {
			t.Fatalf("transaction: %d %s", r.status, r.body)
		}
		entries := r.resource(t)["entry"].([]any)
		first := entries[0].(map[string]any)["response"].(map[string]any)
		second := entries[1].(map[string]any)["response"].(map[string]any)
		if first["outcome"] != nil {
			t.Errorf("Astrid's entry has an outcome: %v", first["outcome"])
		}
		if oo, _ := second["outcome"].(map[string]any); oo == nil || !strings.Contains(fmt.Sprint(oo), "Patient/jose") {
			t.Errorf("José's entry outcome = %v, want the warning of Patient/jose", second["outcome"])
		}
	})
}
