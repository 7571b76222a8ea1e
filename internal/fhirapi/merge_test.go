package fhirapi_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
)

// mergeCallers are the callers of the merge tests.
var mergeCallers = map[string]*access.Principal{
	"admin":     {User: "admin", Role: "admin"},
	"registrar": {User: "desk", Role: "registrar", FHIRUser: "Practitioner/desk"},
	"physician": {User: "doc", Role: "physician"},
	"billing":   {User: "bill", Role: "billing"},
}

// seedMerge stores a duplicate registration ps (the source) and pt (the
// target), and resources of ps that name it in every way a reference can:
// compartment elements (Observation, Encounter, Condition and
// MedicationRequest subject), an absolute reference, a contained resource,
// an element no search parameter indexes (Observation.note.author), and a
// reference parameter outside the compartment (Task.owner).
func seedMerge(t *testing.T, s *testServer) {
	t.Helper()
	for _, r := range []string{
		`{"resourceType":"Patient","id":"ps","active":true,"identifier":[{"system":"urn:mrn","value":"S-1"}],"name":[{"family":"Dup"}]}`,
		`{"resourceType":"Patient","id":"pt","active":true,"identifier":[{"system":"urn:mrn","value":"T-1"}],"name":[{"family":"Dup"}]}`,
		`{"resourceType":"Patient","id":"pu","name":[{"family":"Other"}]}`,
		`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/ps"},
			"note":[{"authorReference":{"reference":"Patient/ps"},"text":"measured at home"}]}`,
		`{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"height"},"subject":{"reference":"Patient/pt"}}`,
		`{"resourceType":"Encounter","id":"e1","status":"completed","subject":{"reference":"Patient/ps"}}`,
		`{"resourceType":"Condition","id":"c1","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
			"code":{"text":"asthma"},"subject":{"reference":"Patient/ps"}}`,
		`{"resourceType":"Condition","id":"c2","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
			"code":{"text":"eczema"},"subject":{"reference":"http://emr.test/fhir/Patient/ps"}}`,
		`{"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"order","medication":{"concept":{"text":"salbutamol"}},
			"subject":{"reference":"Patient/ps"}}`,
		`{"resourceType":"DiagnosticReport","id":"d1","status":"final","code":{"text":"panel"},"subject":{"reference":"Patient/ps"},
			"contained":[{"resourceType":"Observation","id":"r1","status":"final","code":{"text":"potassium"},"subject":{"reference":"Patient/ps"}}],
			"result":[{"reference":"#r1"}]}`,
		`{"resourceType":"Task","id":"t1","status":"requested","intent":"order","owner":{"reference":"Patient/ps"}}`,
	} {
		res, err := fhir.ParseResource([]byte(r))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.do("PUT", "/fhir/"+res.Type()+"/"+res.ID(), r, "X-Test-Caller: admin"); got.status != http.StatusCreated {
			t.Fatalf("seed %s/%s: %d %s", res.Type(), res.ID(), got.status, got.body)
		}
	}
}

func mergeBody(source, target string, extra ...string) string {
	parts := []string{
		`{"name":"source-patient","valueReference":{"reference":"Patient/` + source + `"}}`,
		`{"name":"target-patient","valueReference":{"reference":"Patient/` + target + `"}}`,
	}
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(append(parts, extra...), ",") + `]}`
}

// refsAt returns the reference strings found in res at the dotted paths
// (lists are walked), e.g. "subject", "note.authorReference",
// "contained.subject".
func refsAt(res fhir.Resource, path string) []string {
	var walk func(v any, steps []string) []string
	walk = func(v any, steps []string) []string {
		switch v := v.(type) {
		case []any:
			var out []string
			for _, e := range v {
				out = append(out, walk(e, steps)...)
			}
			return out
		case map[string]any:
			if len(steps) == 0 {
				s, _ := v["reference"].(string)
				return []string{s}
			}
			return walk(v[steps[0]], steps[1:])
		}
		return nil
	}
	return walk(map[string]any(res), strings.Split(path, "."))
}

// read returns the current version of typ/id, read as admin.
func (s *testServer) readAs(t *testing.T, caller, path string) fhir.Resource {
	t.Helper()
	r := s.do("GET", "/fhir/"+path, "", "X-Test-Caller: "+caller)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	return r.resource(t)
}

// outputOf returns the parameter name of an operation's answer: its
// resource, or its value as a resource-like map.
func outputOf(t *testing.T, params fhir.Resource, name string) map[string]any {
	t.Helper()
	list, _ := params["parameter"].([]any)
	for _, p := range list {
		m := p.(map[string]any)
		if m["name"] == name {
			if r, ok := m["resource"].(map[string]any); ok {
				return r
			}
			return m
		}
	}
	t.Fatalf("no output %q in %v", name, params)
	return nil
}

// mergedRefs are where each seeded resource names its patient.
var mergedRefs = []struct{ path, element, absolute string }{
	{"Observation/o1", "subject", ""},
	{"Observation/o1", "note.authorReference", ""},
	{"Encounter/e1", "subject", ""},
	{"Condition/c1", "subject", ""},
	{"Condition/c2", "subject", "http://emr.test/fhir/"},
	{"MedicationRequest/m1", "subject", ""},
	{"DiagnosticReport/d1", "subject", ""},
	{"DiagnosticReport/d1", "contained.subject", ""},
	{"Task/t1", "owner", ""},
}

func checkRefs(t *testing.T, s *testServer, when, patient string) {
	t.Helper()
	for _, m := range mergedRefs {
		res := s.readAs(t, "admin", m.path)
		got := refsAt(res, m.element)
		if want := []string{m.absolute + "Patient/" + patient}; !slices.Equal(got, want) {
			t.Errorf("%s: %s.%s = %v, want %v", when, m.path, m.element, got, want)
		}
	}
}

// TestPatientMerge merges a duplicate registration as the front desk
// would, previews it first, checks resource by resource that every
// reference moved (and history kept the old), the source and target
// links, the Provenance and the one AuditEvent; then edits a moved
// resource, creates a new one for the target, and unmerges.
func TestPatientMerge(t *testing.T) {
	s := newAccessServer(t, nil, mergeCallers)
	seedMerge(t, s)
	post := func(caller, op, body string) result {
		return s.do("POST", "/fhir/Patient/"+op, body, "X-Test-Caller: "+caller)
	}

	// Roles without the merge operation are refused, and nothing moves.
	for _, caller := range []string{"physician", "billing"} {
		if r := post(caller, "$merge", mergeBody("ps", "pt")); r.status != http.StatusForbidden {
			t.Errorf("%s: $merge answered %d, want 403: %s", caller, r.status, r.body)
		}
		if r := post(caller, "$unmerge", mergeBody("ps", "pt")); r.status != http.StatusForbidden {
			t.Errorf("%s: $unmerge answered %d, want 403: %s", caller, r.status, r.body)
		}
	}

	// Preview: the answer says what would happen, nothing changes.
	r := post("registrar", "$merge", mergeBody("ps", "pt", `{"name":"preview","valueBoolean":true}`))
	if r.status != http.StatusOK {
		t.Fatalf("preview: %d %s", r.status, r.body)
	}
	preview := r.resource(t)
	if diag := string(fhir.Resource(outputOf(t, preview, "outcome")).JSON()); !strings.Contains(diag, "Preview only") || !strings.Contains(diag, "in 7 resources") {
		t.Errorf("preview outcome: %s", diag)
	}
	if res := outputOf(t, preview, "result"); !hasLinkTo(res, "replaces", "Patient/ps") {
		t.Errorf("preview result has no replaces link: %v", res)
	}
	checkRefs(t, s, "after preview", "ps")
	if v := s.readAs(t, "admin", "Observation/o1").VersionID(); v != "1" {
		t.Errorf("after preview Observation/o1 is at version %s, want 1", v)
	}

	// Errors before any change.
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"same patient", mergeBody("ps", "ps"), http.StatusBadRequest},
		{"unknown source", mergeBody("nobody", "pt"), http.StatusNotFound},
		{"unknown target", mergeBody("ps", "nobody"), http.StatusNotFound},
		{"no target", `{"resourceType":"Parameters","parameter":[{"name":"source-patient","valueReference":{"reference":"Patient/ps"}}]}`, http.StatusBadRequest},
		{"result-patient without link", mergeBody("ps", "pt", `{"name":"result-patient","resource":{"resourceType":"Patient","id":"pt"}}`), http.StatusBadRequest},
		{"identifier matching nobody", `{"resourceType":"Parameters","parameter":[{"name":"source-patient-identifier","valueIdentifier":{"system":"urn:mrn","value":"X"}},
			{"name":"target-patient","valueReference":{"reference":"Patient/pt"}}]}`, http.StatusUnprocessableEntity},
	} {
		if r := post("registrar", "$merge", tc.body); r.status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, r.status, tc.status, r.body)
		}
	}

	// The merge, the source named by its identifier.
	r = post("registrar", "$merge", `{"resourceType":"Parameters","parameter":[
		{"name":"source-patient-identifier","valueIdentifier":{"system":"urn:mrn","value":"S-1"}},
		{"name":"target-patient","valueReference":{"reference":"Patient/pt"}}]}`)
	if r.status != http.StatusOK {
		t.Fatalf("merge: %d %s", r.status, r.body)
	}
	answer := r.resource(t)
	result := fhir.Resource(outputOf(t, answer, "result"))
	if !hasLinkTo(result, "replaces", "Patient/ps") || !strings.Contains(string(result.JSON()), `"S-1"`) {
		t.Errorf("result: got %s, want a replaces link to Patient/ps and the identifier S-1", result.JSON())
	}
	if outputOf(t, answer, "input")["resourceType"] != "Parameters" {
		t.Errorf("no input echoed: %s", r.body)
	}
	provRef := outputOf(t, answer, "provenance")["valueReference"].(map[string]any)["reference"].(string)

	checkRefs(t, s, "after merge", "pt")
	if got := refsAt(s.readAs(t, "admin", "Observation/o2"), "subject"); !slices.Equal(got, []string{"Patient/pt"}) || s.readAs(t, "admin", "Observation/o2").VersionID() != "1" {
		t.Errorf("the target's own Observation changed: %v", got)
	}
	// History keeps the version before the merge.
	if got := refsAt(s.readAs(t, "admin", "Observation/o1/_history/1"), "subject"); !slices.Equal(got, []string{"Patient/ps"}) {
		t.Errorf("Observation/o1 version 1 subject = %v, want Patient/ps", got)
	}
	// The source is still there, inactive, and says where the person went.
	src := s.readAs(t, "registrar", "Patient/ps")
	if src["active"] != false || !hasLinkTo(src, "replaced-by", "Patient/pt") {
		t.Errorf("source after merge: %s", src.JSON())
	}
	// The merge record.
	prov := s.readAs(t, "admin", provRef)
	provJSON := string(prov.JSON())
	for _, want := range []string{`"code":"MERGE"`, `"Patient/ps/_history/2"`, `"Patient/pt/_history/2"`, `"Observation/o1/_history/2"`, `"Task/t1/_history/2"`, `"Practitioner/desk"`} {
		if !strings.Contains(provJSON, want) {
			t.Errorf("Provenance lacks %s: %s", want, provJSON)
		}
	}
	// One AuditEvent names the patients and every resource moved.
	var mergeEvents []fhir.Resource
	for _, ev := range s.auditEvents(t) {
		if j := string(ev.JSON()); strings.Contains(j, "Observation/o1/_history/2") && strings.Contains(j, `"code":"operation"`) {
			mergeEvents = append(mergeEvents, ev)
		}
	}
	if len(mergeEvents) != 1 {
		t.Fatalf("%d AuditEvents of the merge, want 1", len(mergeEvents))
	}
	evJSON := string(mergeEvents[0].JSON())
	for _, want := range []string{`"patient":{"reference":"Patient/pt"}`, `"Patient/ps/_history/2"`, `"Encounter/e1/_history/2"`, `"Task/t1/_history/2"`, `"value":"desk"`, provRef} {
		if !strings.Contains(evJSON, want) {
			t.Errorf("merge AuditEvent lacks %s: %s", want, evJSON)
		}
	}

	// The refused attempts are audited as denied.
	denied := 0
	for _, ev := range s.auditEvents(t) {
		if j := string(ev.JSON()); strings.Contains(j, `"value":"doc"`) && strings.Contains(j, "denied: the physician role may not run $merge") {
			denied++
		}
	}
	if denied != 2 {
		t.Errorf("%d denied AuditEvents of the physician, want 2 ($merge, $unmerge)", denied)
	}

	// Merging the source again is refused, clearly.
	if r := post("registrar", "$merge", mergeBody("ps", "pu")); r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "already merged") {
		t.Errorf("second merge of the source: %d %s", r.status, r.body)
	}

	// After the merge: a moved Observation is edited, a new one written.
	o1 := s.readAs(t, "admin", "Observation/o1")
	o1["status"] = "amended"
	if r := s.do("PUT", "/fhir/Observation/o1", string(o1.JSON()), "X-Test-Caller: admin"); r.status != http.StatusOK {
		t.Fatalf("edit o1: %d %s", r.status, r.body)
	}
	newID := s.mustCreateAs("admin", `{"resourceType":"Observation","status":"final","code":{"text":"pulse"},"subject":{"reference":"Patient/pt"}}`)

	// Unmerge, by the merge's Provenance.
	unmerge := `{"resourceType":"Parameters","parameter":[{"name":"provenance","valueReference":{"reference":"` + provRef + `"}}]}`
	r = post("registrar", "$unmerge", unmerge)
	if r.status != http.StatusOK {
		t.Fatalf("unmerge: %d %s", r.status, r.body)
	}
	checkRefs(t, s, "after unmerge", "ps")
	if got := s.readAs(t, "admin", "Observation/o1"); got["status"] != "amended" {
		t.Errorf("the edit after the merge was lost: %s", got.JSON())
	}
	if got := refsAt(s.readAs(t, "admin", "Observation/"+newID), "subject"); !slices.Equal(got, []string{"Patient/pt"}) {
		t.Errorf("the Observation created after the merge moved: %v", got)
	}
	src = s.readAs(t, "admin", "Patient/ps")
	if src["active"] != true || src["link"] != nil {
		t.Errorf("source after unmerge: %s", src.JSON())
	}
	tgt := s.readAs(t, "admin", "Patient/pt")
	if tgt["link"] != nil || strings.Contains(string(tgt.JSON()), `"S-1"`) {
		t.Errorf("target after unmerge: %s", tgt.JSON())
	}
	// Undoing twice is refused, by Provenance or by the patients.
	if r := post("registrar", "$unmerge", unmerge); r.status != http.StatusConflict {
		t.Errorf("second unmerge: %d %s", r.status, r.body)
	}
	if r := post("registrar", "$unmerge", mergeBody("ps", "pt")); r.status != http.StatusConflict {
		t.Errorf("second unmerge by the patients: %d %s", r.status, r.body)
	}
	// And the source may be merged again.
	if r := post("admin", "$merge", mergeBody("ps", "pt")); r.status != http.StatusOK {
		t.Errorf("merge after unmerge: %d %s", r.status, r.body)
	}
	checkRefs(t, s, "after the second merge", "pt")
	// The R4 API has no merge.
	if r := s.do("POST", "/fhir/R4/Patient/$merge", mergeBody("ps", "pt"), "X-Test-Caller: admin"); r.status != http.StatusNotFound {
		t.Errorf("R4 $merge: %d %s", r.status, r.body)
	}
}

// TestPatientMergeConcurrent merges one source into two targets at once:
// exactly one wins, the other is refused, and every resource names the
// winner only.
func TestPatientMergeConcurrent(t *testing.T) {
	s := newAccessServer(t, nil, mergeCallers)
	seedMerge(t, s)
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, target := range []string{"pt", "pu"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = s.do("POST", "/fhir/Patient/$merge", mergeBody("ps", target), "X-Test-Caller: admin").status
		}()
	}
	wg.Wait()
	winner := ""
	switch {
	case statuses[0] == http.StatusOK && statuses[1] == http.StatusUnprocessableEntity:
		winner = "pt"
	case statuses[1] == http.StatusOK && statuses[0] == http.StatusUnprocessableEntity:
		winner = "pu"
	default:
		t.Fatalf("statuses %v, want one 200 and one 422", statuses)
	}
	checkRefs(t, s, "after the race", winner)
	for _, path := range []string{"Observation/o1", "Encounter/e1", "Task/t1"} {
		if v := s.readAs(t, "admin", path).VersionID(); v != "2" {
			t.Errorf("%s is at version %s, want 2 (moved once)", path, v)
		}
	}
}

// TestPatientMergeHiddenPatient: a patient the caller may not see (here
// hidden by the patient's Consent) answers as a missing one.
func TestPatientMergeHiddenPatient(t *testing.T) {
	s := newAccessServer(t, nil, mergeCallers)
	seedMerge(t, s)
	consent := `{"resourceType":"Consent","status":"active","subject":{"reference":"Patient/pu"},"decision":"deny"}`
	if r := s.do("POST", "/fhir/Consent", consent, "X-Test-Caller: admin"); r.status != http.StatusCreated {
		t.Fatalf("consent: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/fhir/Patient/pu", "", "X-Test-Caller: registrar"); r.status != http.StatusNotFound {
		t.Fatalf("the consent does not hide Patient/pu from the registrar: %d", r.status)
	}
	for _, body := range []string{mergeBody("ps", "pu"), mergeBody("pu", "ps")} {
		if r := s.do("POST", "/fhir/Patient/$merge", body, "X-Test-Caller: registrar"); r.status != http.StatusNotFound {
			t.Errorf("merge with a hidden patient: %d %s", r.status, r.body)
		}
	}
	checkRefs(t, s, "after refused merges", "ps")
}

func hasLinkTo(p map[string]any, typ, ref string) bool {
	links, _ := p["link"].([]any)
	for _, l := range links {
		m := l.(map[string]any)
		if m["type"] == typ && m["other"].(map[string]any)["reference"] == ref {
			return true
		}
	}
	return false
}

func (s *testServer) mustCreateAs(caller, body string) string {
	s.t.Helper()
	r := s.do("POST", "/fhir/"+typeOf(s.t, body), body, "X-Test-Caller: "+caller)
	if r.status != http.StatusCreated {
		s.t.Fatalf("create: status %d: %s", r.status, r.body)
	}
	return r.resource(s.t).ID()
}

// TestPatientMergeResultPatient: a result-patient replaces the target (it
// must keep the target's id and carry the replaces link); unmerge gives
// the target its links back and keeps the rest.
func TestPatientMergeResultPatient(t *testing.T) {
	s := newAccessServer(t, nil, mergeCallers)
	seedMerge(t, s)
	// The target has an element the registrar does not see (a mask).
	religion := `{"url":"http://hl7.org/fhir/StructureDefinition/patient-religion","valueCodeableConcept":{"text":"RELIGION-SECRET"}}`
	if r := s.do("PUT", "/fhir/Patient/pt", `{"resourceType":"Patient","id":"pt","active":true,"extension":[`+religion+`],
		"identifier":[{"system":"urn:mrn","value":"T-1"}],"name":[{"family":"Dup"}]}`, "X-Test-Caller: admin"); r.status != http.StatusOK {
		t.Fatalf("target: %d %s", r.status, r.body)
	}
	result := `{"name":"result-patient","resource":{"resourceType":"Patient","id":"pt","active":true,"name":[{"family":"Merged"}],
		"identifier":[{"system":"urn:mrn","value":"T-1"}],"link":[{"other":{"reference":"Patient/pu"},"type":"replaces"}]}}`
	if r := s.do("POST", "/fhir/Patient/$merge", mergeBody("pu", "pt", strings.Replace(result, `"id":"pt"`, `"id":"ps"`, 1)), "X-Test-Caller: admin"); r.status != http.StatusBadRequest {
		t.Errorf("result-patient with another id: %d %s", r.status, r.body)
	}
	r := s.do("POST", "/fhir/Patient/$merge", mergeBody("pu", "pt", result), "X-Test-Caller: registrar")
	if r.status != http.StatusOK {
		t.Fatalf("merge: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "RELIGION-SECRET") {
		t.Errorf("the registrar's answer shows a masked element: %s", r.body)
	}
	tgt := s.readAs(t, "admin", "Patient/pt")
	if !strings.Contains(string(tgt.JSON()), "RELIGION-SECRET") {
		t.Errorf("the result-patient erased an element the registrar does not see: %s", tgt.JSON())
	}
	if tgt["name"].([]any)[0].(map[string]any)["family"] != "Merged" || !hasLinkTo(tgt, "replaces", "Patient/pu") {
		t.Errorf("target after merge: %s", tgt.JSON())
	}
	if src := s.readAs(t, "admin", "Patient/pu"); src["active"] != false || !hasLinkTo(src, "replaced-by", "Patient/pt") {
		t.Errorf("source after merge: %s", src.JSON())
	}
	if r := s.do("POST", "/fhir/Patient/$unmerge", mergeBody("pu", "pt"), "X-Test-Caller: admin"); r.status != http.StatusOK {
		t.Fatalf("unmerge: %d %s", r.status, r.body)
	}
	tgt = s.readAs(t, "admin", "Patient/pt")
	if tgt["link"] != nil || tgt["name"].([]any)[0].(map[string]any)["family"] != "Merged" {
		t.Errorf("target after unmerge: %s", tgt.JSON())
	}
	if src := s.readAs(t, "admin", "Patient/pu"); src["active"] != nil || src["link"] != nil {
		t.Errorf("source after unmerge: %s", src.JSON())
	}
}

// TestUnmergeAfterChanges: a moved reference changed since the merge (to
// another patient) and a moved resource deleted since are left as they
// are, each with a warning; the rest moves back.
func TestUnmergeAfterChanges(t *testing.T) {
	s := newAccessServer(t, nil, mergeCallers)
	seedMerge(t, s)
	if r := s.do("POST", "/fhir/Patient/$merge", mergeBody("ps", "pt"), "X-Test-Caller: admin"); r.status != http.StatusOK {
		t.Fatalf("merge: %d %s", r.status, r.body)
	}
	e1 := s.readAs(t, "admin", "Encounter/e1")
	e1["subject"] = map[string]any{"reference": "Patient/pu"}
	if r := s.do("PUT", "/fhir/Encounter/e1", string(e1.JSON()), "X-Test-Caller: admin"); r.status != http.StatusOK {
		t.Fatalf("edit e1: %d %s", r.status, r.body)
	}
	if r := s.do("DELETE", "/fhir/Condition/c1", "", "X-Test-Caller: admin"); r.status != http.StatusNoContent {
		t.Fatalf("delete c1: %d %s", r.status, r.body)
	}
	r := s.do("POST", "/fhir/Patient/$unmerge", mergeBody("ps", "pt"), "X-Test-Caller: registrar")
	if r.status != http.StatusOK {
		t.Fatalf("unmerge: %d %s", r.status, r.body)
	}
	outcome := string(fhir.Resource(outputOf(t, r.resource(t), "outcome")).JSON())
	for _, want := range []string{"Encounter/e1: subject.reference was changed", "Condition/c1 was deleted"} {
		if !strings.Contains(outcome, want) {
			t.Errorf("outcome lacks %q: %s", want, outcome)
		}
	}
	if got := refsAt(s.readAs(t, "admin", "Encounter/e1"), "subject"); !slices.Equal(got, []string{"Patient/pu"}) {
		t.Errorf("Encounter/e1 subject = %v, want Patient/pu (changed after the merge)", got)
	}
	if r := s.do("GET", "/fhir/Condition/c1", "", "X-Test-Caller: admin"); r.status != http.StatusGone {
		t.Errorf("Condition/c1: %d, want 410", r.status)
	}
	for _, path := range []string{"Observation/o1", "Task/t1", "DiagnosticReport/d1"} {
		if got := refsAt(s.readAs(t, "admin", path), "subject"); path != "Task/t1" && !slices.Equal(got, []string{"Patient/ps"}) {
			t.Errorf("%s subject = %v, want Patient/ps", path, got)
		}
	}
	if got := refsAt(s.readAs(t, "admin", "Task/t1"), "owner"); !slices.Equal(got, []string{"Patient/ps"}) {
		t.Errorf("Task/t1 owner = %v, want Patient/ps", got)
	}
}
