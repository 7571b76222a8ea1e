package fhirapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// seedMasked stores, as admin, a patient with a religion extension and a
// race extension, a Condition with a note, an Encounter with a reason and
// a DocumentReference with its text inline.
func seedMasked(t *testing.T, s *testServer) {
	t.Helper()
	for _, r := range []string{
		`{"resourceType":"Patient","id":"p1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">NARRATIVE-P1</div>"},
		  "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-religion","valueCodeableConcept":{"text":"RELIGION-SECRET"}},
		    {"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race","extension":[{"url":"text","valueString":"RACE-KEPT"}]}],
		  "name":[{"family":"One"}],"photo":[{"contentType":"image/png","data":"UEhPVE8="}]}`,
		`{"resourceType":"Condition","id":"c1","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
		  "code":{"text":"cough"},"subject":{"reference":"Patient/p1"},"note":[{"text":"NOTE-SECRET"}]}`,
		`{"resourceType":"Encounter","id":"e1","status":"completed","subject":{"reference":"Patient/p1"},
		  "reason":[{"value":[{"concept":{"text":"REASON-SECRET"}}]}]}`,
		`{"resourceType":"DocumentReference","id":"d1","status":"current","subject":{"reference":"Patient/p1"},
		  "content":[{"attachment":{"contentType":"text/plain","data":"Tk9URS1EQVRB","title":"TITLE-KEPT"}}]}`,
	} {
		res := typeOf(t, r)
		id := strings.Split(strings.Split(r, `"id":"`)[1], `"`)[0]
		if got := s.do("PUT", "/fhir/"+res+"/"+id, r, "X-Test-Caller: admin"); got.status != http.StatusCreated {
			t.Fatalf("seed %s/%s: %d %s", res, id, got.status, got.body)
		}
	}
}

// TestMaskByRole follows billing and registrar users through every path
// that answers resources: what their roles mask never appears, a masked
// resource says it is REDACTED, and the store keeps everything.
func TestMaskByRole(t *testing.T) {
	s := newAccessServer(t, nil, map[string]*access.Principal{
		"admin":     {User: "admin", Role: "admin"},
		"billing":   {User: "bill", Role: "billing"},
		"registrar": {User: "reg", Role: "registrar"},
		"physician": {User: "doc", Role: "physician"},
	})
	seedMasked(t, s)
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Condition/c1"}},
		{"request":{"method":"GET","url":"Patient/p1"}}]}`
	transaction := `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"Condition?_id=c1"}}]}`
	for _, tc := range []struct {
		caller, method, path, body string
		hidden, shown              []string
	}{
		{caller: "billing", path: "/fhir/Condition/c1", hidden: []string{"NOTE-SECRET"}, shown: []string{"cough", "REDACTED"}},
		{caller: "billing", path: "/fhir/Condition/c1/_history/1", hidden: []string{"NOTE-SECRET"}, shown: []string{"REDACTED"}},
		{caller: "billing", path: "/fhir/Condition/c1/_history", hidden: []string{"NOTE-SECRET"}, shown: []string{"REDACTED"}},
		{caller: "billing", path: "/fhir/Condition?_include=Condition:subject", hidden: []string{"NOTE-SECRET", "RELIGION-SECRET", "NARRATIVE-P1", "UEhPVE8="},
			shown: []string{"cough", "RACE-KEPT", `"mode":"include"`}},
		{caller: "billing", path: "/fhir/Patient?_revinclude=Condition:patient", hidden: []string{"NOTE-SECRET", "RELIGION-SECRET"}, shown: []string{"RACE-KEPT", "cough"}},
		{caller: "billing", path: "/fhir/Patient/p1/$everything", hidden: []string{"NOTE-SECRET", "RELIGION-SECRET", "NARRATIVE-P1"}, shown: []string{"cough", "REASON-SECRET"}},
		{caller: "billing", path: "/fhir/Patient/p1/Condition", hidden: []string{"NOTE-SECRET"}, shown: []string{"cough"}},
		{caller: "billing", method: "POST", path: "/fhir/", body: batch, hidden: []string{"NOTE-SECRET", "RELIGION-SECRET"}, shown: []string{"cough", "RACE-KEPT"}},
		{caller: "billing", method: "POST", path: "/fhir/", body: transaction, hidden: []string{"NOTE-SECRET"}, shown: []string{"cough"}},
		{caller: "billing", path: "/fhir/R4/Condition/c1", hidden: []string{"NOTE-SECRET"}, shown: []string{"cough", "REDACTED"}},
		{caller: "registrar", path: "/fhir/Encounter/e1", hidden: []string{"REASON-SECRET"}, shown: []string{"REDACTED"}},
		{caller: "registrar", path: "/fhir/Patient/p1", hidden: []string{"RELIGION-SECRET"}, shown: []string{"RACE-KEPT", "NARRATIVE-P1", "UEhPVE8="}},
		{caller: "registrar", path: "/fhir/Encounter?_include=Encounter:subject", hidden: []string{"REASON-SECRET", "RELIGION-SECRET"}, shown: []string{"RACE-KEPT"}},
		{caller: "physician", path: "/fhir/Patient/p1/$everything", shown: []string{"NOTE-SECRET", "RELIGION-SECRET", "REASON-SECRET", "Tk9URS1EQVRB"}, hidden: []string{"REDACTED"}},
		{caller: "admin", path: "/fhir/DocumentReference/d1", shown: []string{"Tk9URS1EQVRB"}, hidden: []string{"REDACTED"}},
	} {
		method := tc.method
		if method == "" {
			method = "GET"
		}
		r := s.do(method, tc.path, tc.body, "X-Test-Caller: "+tc.caller)
		if r.status != http.StatusOK {
			t.Errorf("%s %s %s: status %d: %s", tc.caller, method, tc.path, r.status, r.body)
			continue
		}
		for _, h := range tc.hidden {
			if strings.Contains(string(r.body), h) {
				t.Errorf("%s %s %s: the answer holds %s", tc.caller, method, tc.path, h)
			}
		}
		for _, w := range tc.shown {
			if !strings.Contains(string(r.body), w) {
				t.Errorf("%s %s %s: the answer lacks %s: %s", tc.caller, method, tc.path, w, r.body)
			}
		}
	}

	// Searches that would match or sort on a masked element are refused:
	// their matches would tell what it holds.
	for _, tc := range []struct {
		caller, path string
		status       int
	}{
		{"billing", "/fhir/Condition?_text=cough", http.StatusForbidden},
		{"billing", "/fhir/Condition?_content=NOTE", http.StatusForbidden},
		{"billing", "/fhir/Encounter?subject:Patient._text=x", http.StatusForbidden},
		{"billing", "/fhir/Condition?code:text=cough", http.StatusOK},
		{"registrar", "/fhir/Encounter?reason-code=x", http.StatusForbidden},
		{"registrar", "/fhir/Encounter?_sort=-date&subject=Patient/p1", http.StatusOK},
		{"registrar", "/fhir/Patient?_text=NARRATIVE", http.StatusOK},
		{"physician", "/fhir/Condition?_text=cough", http.StatusOK},
	} {
		if r := s.do("GET", tc.path, "", "X-Test-Caller: "+tc.caller); r.status != tc.status {
			t.Errorf("%s %s: %d, want %d: %s", tc.caller, tc.path, r.status, tc.status, r.body)
		}
	}

	// Billing may not read DocumentReference at all; a role file giving it
	// read keeps the note's data masked (the default billing masks).
	if r := s.do("GET", "/fhir/DocumentReference/d1", "", "X-Test-Caller: billing"); r.status != http.StatusForbidden {
		t.Errorf("billing reads a DocumentReference: %d, want 403", r.status)
	}

	// A registrar writing back the Patient it was shown does not erase the
	// religion extension it could not see.
	shown := s.do("GET", "/fhir/Patient/p1", "", "X-Test-Caller: registrar")
	body := strings.Replace(string(shown.body), `"family":"One"`, `"family":"Uno"`, 1)
	if r := s.do("PUT", "/fhir/Patient/p1", body, "X-Test-Caller: registrar"); r.status != http.StatusOK {
		t.Fatalf("registrar update: %d %s", r.status, r.body)
	} else if strings.Contains(string(r.body), "RELIGION-SECRET") {
		t.Errorf("the update's answer shows the masked extension: %s", r.body)
	}
	stored := s.do("GET", "/fhir/Patient/p1", "", "X-Test-Caller: admin")
	for _, want := range []string{"RELIGION-SECRET", "Uno", "RACE-KEPT"} {
		if !strings.Contains(string(stored.body), want) {
			t.Errorf("after the registrar's update the stored Patient lacks %s: %s", want, stored.body)
		}
	}
	if strings.Contains(string(stored.body), "REDACTED") {
		t.Errorf("the REDACTED label the registrar sent back was stored: %s", stored.body)
	}
	// The store holds the note; admins see it, unlabelled.
	if r := s.do("GET", "/fhir/Condition/c1", "", "X-Test-Caller: admin"); !strings.Contains(string(r.body), "NOTE-SECRET") || strings.Contains(string(r.body), "REDACTED") {
		t.Errorf("admin read of Condition/c1: %s", r.body)
	}
}

// TestMaskRolesFile: masks in a deployment's roles file are checked
// against the R5 definitions.
func TestMaskRolesFile(t *testing.T) {
	defs := spec.R5()
	for _, tc := range []struct {
		file string
		ok   bool
	}{
		{`{"roles":[{"name":"x","permissions":[{"types":["Patient"],"perms":"rs"}],"masks":[{"paths":["Patient.name.given","Observation.value[x]","*.text"]}]}]}`, true},
		{`{"roles":[{"name":"x","permissions":[{"types":["Patient"],"perms":"rs"}],"masks":[{"paths":["Patient.nickname"]}]}]}`, false},
		{`{"roles":[{"name":"x","permissions":[{"types":["Patient"],"perms":"rs"}],"masks":[{"paths":["Nothing.text"]}]}]}`, false},
		{`{"roles":[{"name":"x","permissions":[{"types":["Patient"],"perms":"rs"}],"masks":[{"paths":["Patient.name"],"urls":["http://x"]}]}]}`, false},
		{`{"roles":[{"name":"x","permissions":[{"types":["Patient"],"perms":"rs"}],"masks":[{"paths":["Patient"]}]}]}`, false},
	} {
		_, err := access.LoadRoles(defs, []byte(tc.file))
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok %v", tc.file, err, tc.ok)
		}
	}
}
