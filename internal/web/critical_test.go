package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/clinical/critical"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
)

// The critical results page lists the open reviews with the patient and
// the result, and acknowledging one records who, when and what was done,
// once.
func TestCriticalResults(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, `{"resourceType": "Observation", "id": "k1", "status": "final", "subject": {"reference": "Patient/jose"},
	  "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}], "text": "Potassium"},
	  "effectiveDateTime": "2026-11-24T07:30:00Z",
	  "valueQuantity": {"value": 6.9, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
	  "referenceRange": [{"low": {"value": 3.5, "unit": "mmol/L"}, "high": {"value": 5.1, "unit": "mmol/L"}}],
	  "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "HH"}]}]}`,
		`{"resourceType": "Task", "id": "review-1", "status": "requested", "intent": "order", "priority": "stat",
	  "code": {"coding": [{"system": "`+critical.TaskSystem+`", "code": "`+critical.TaskCode+`"}]},
	  "focus": {"reference": "Observation/k1/_history/1"}, "for": {"reference": "Patient/jose"},
	  "authoredOn": "2026-11-24T08:00:00Z", "owner": {"display": "Dr Alice Able"}}`)
	b := s.signedIn("dr1", "physician")
	page := b.get("/results/critical")
	wantAll(t, "critical results", page, http.StatusOK, "Critical results to acknowledge", "GARCÍA, José Luis", "04-Mar-1980",
		"Potassium", "6.9 mmol/L", "HH", "Dr Alice Able", "Acknowledge Potassium for GARCÍA, José Luis")
	csrf := csrfOf(t, page.body)

	a := b.post("/results/critical/review-1", url.Values{"csrf": {csrf}, "version": {"1"}, "note": {"Called the patient: to the emergency department"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d %.2000s", a.status, a.body)
	}
	wantAll(t, "acknowledged", b.get(a.location), http.StatusOK, "Acknowledged", "No critical result waits")
	v, err := s.store.Read(context.Background(), "Task", "review-1")
	if err != nil {
		t.Fatal(err)
	}
	task := string(v.Resource.JSON())
	for _, want := range []string{`"status":"completed"`, `"performer":[{"actor":`, "dr1", "Called the patient", `"executionPeriod":{"end":`} {
		if !strings.Contains(task, want) {
			t.Errorf("the acknowledged review lacks %s: %s", want, task)
		}
	}
	if issues := validate.New(spec.R5()).Validate(v.Resource); validate.HasErrors(issues) {
		t.Errorf("the acknowledged review is not valid R5: %v", issues)
	}
	// Not a review (a Task of another kind): not found, nothing written.
	s.put(`{"resourceType": "Task", "id": "other-1", "status": "requested", "intent": "order", "for": {"reference": "Patient/jose"},
	  "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]}}`)
	if a := b.post("/results/critical/other-1", url.Values{"csrf": {csrf}, "version": {"1"}}); a.status != http.StatusNotFound {
		t.Errorf("acknowledging a Task that is no review: %d", a.status)
	}
	// Again, from a page shown before: it was done; nothing is written.
	wantAll(t, "twice", b.post("/results/critical/review-1", url.Values{"csrf": {csrf}, "version": {"1"}}), http.StatusConflict, "meanwhile")
	if v2, _ := s.store.Read(context.Background(), "Task", "review-1"); v2.VersionID != v.VersionID {
		t.Errorf("acknowledged twice: version %d", v2.VersionID)
	}
}

// A patient's consent that keeps their record from a clinician keeps
// their critical results from that clinician's list too: the search
// applies it, and acknowledging is refused.
func TestCriticalResultsRespectConsent(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, `{"resourceType": "Observation", "id": "k1", "status": "final", "subject": {"reference": "Patient/jose"},
	  "code": {"text": "Potassium"}, "valueQuantity": {"value": 6.9, "unit": "mmol/L"},
	  "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "HH"}]}]}`,
		`{"resourceType": "Task", "id": "review-1", "status": "requested", "intent": "order", "priority": "stat",
	  "code": {"coding": [{"system": "`+critical.TaskSystem+`", "code": "`+critical.TaskCode+`"}]},
	  "focus": {"reference": "Observation/k1/_history/1"}, "for": {"reference": "Patient/jose"}, "authoredOn": "2026-11-24T08:00:00Z"}`,
		optOut)
	b := s.practitioner("dr2")
	page := b.get("/results/critical")
	wantAll(t, "restricted", page, http.StatusOK, "No critical result waits")
	if strings.Contains(page.body, "GARC") || strings.Contains(page.body, "Potassium") {
		t.Errorf("the list shows a patient whose consent keeps them from this clinician")
	}
	if strings.Contains(page.body, "more critical result") {
		t.Errorf("a review not yet overdue is told of as hidden")
	}
	// Overdue: the clinician is told that one waits where they cannot
	// look, and nothing of whose it is.
	v, _ := s.store.Read(context.Background(), "Task", "review-1")
	v.Resource["businessStatus"] = map[string]any{"coding": []any{map[string]any{"system": critical.BusinessStatusSystem, "code": critical.OverdueCode}}}
	s.put(string(v.Resource.JSON()))
	page = b.get("/results/critical")
	wantAll(t, "hidden overdue", page, http.StatusOK, "1 more critical result is overdue where you may not look")
	if strings.Contains(page.body, "GARC") || strings.Contains(page.body, "Potassium") {
		t.Errorf("the list shows a patient whose consent keeps them from this clinician")
	}
	if a := b.post("/results/critical/review-1", url.Values{"csrf": {csrfOf(t, page.body)}, "version": {"2"}}); a.status < 400 {
		t.Errorf("acknowledging a hidden review: %d", a.status)
	}
	if v, _ := s.store.Read(context.Background(), "Task", "review-1"); v.Resource["status"] != "requested" || v.VersionID != 2 {
		t.Errorf("the hidden review was changed: %v", v.Resource["status"])
	}
}

// A practitioner may list only the reviews of the tests they ordered.
func TestCriticalResultsMine(t *testing.T) {
	s := newWorkspaceSite(t)
	review := func(id, obs, owner string) string {
		return `{"resourceType": "Task", "id": "` + id + `", "status": "requested", "intent": "order", "priority": "stat",
	  "code": {"coding": [{"system": "` + critical.TaskSystem + `", "code": "` + critical.TaskCode + `"}]},
	  "focus": {"reference": "Observation/` + obs + `/_history/1"}, "for": {"reference": "Patient/jose"}, "authoredOn": "2026-11-24T08:00:00Z",
	  "owner": {"reference": "` + owner + `"}}`
	}
	result := func(id, name string) string {
		return `{"resourceType": "Observation", "id": "` + id + `", "status": "final", "subject": {"reference": "Patient/jose"},
	  "code": {"text": "` + name + `"}, "valueQuantity": {"value": 6.9, "unit": "mmol/L"},
	  "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "HH"}]}]}`
	}
	// Another's review nobody acknowledged in time, passed to dr3.
	passed := strings.Replace(review("r3", "c1", "Practitioner/other"), `"authoredOn": "2026-11-24T08:00:00Z"`, `"authoredOn": "2026-11-24T07:00:00Z",
	  "businessStatus": {"coding": [{"system": "`+critical.BusinessStatusSystem+`", "code": "`+critical.OverdueCode+`"}]},
	  "requestedPerformer": [{"reference": {"reference": "Practitioner/dr3", "display": "Dr Covering"}}]`, 1)
	s.put(jose, result("k1", "Potassium"), result("n1", "Sodium"), result("c1", "Calcium"), review("r1", "k1", "Practitioner/dr3"),
		review("r2", "n1", "Practitioner/other"), passed)
	b := s.practitioner("dr3")
	wantAll(t, "all", b.get("/results/critical"), http.StatusOK, "Potassium", "Sodium", "Calcium", "Only the tests I ordered")
	mine := b.get("/results/critical?mine=1")
	wantAll(t, "mine", mine, http.StatusOK, "Potassium", "Calcium", "OVERDUE: not acknowledged in time", "passed to Dr Covering", "All critical results I may see")
	if strings.Contains(mine.body, "Sodium") {
		t.Errorf("the list of mine shows another's review")
	}
	// The longest waiting first: the overdue one.
	if strings.Index(mine.body, "Calcium") > strings.Index(mine.body, "Potassium") {
		t.Errorf("the overdue review is not first")
	}
	if n := strings.Count(mine.body, "OVERDUE: not acknowledged"); n != 1 {
		t.Errorf("%d reviews shown overdue, want 1", n)
	}
	// Every page's menu counts what dr3 answers for: r1, theirs, and r3,
	// passed to them, overdue.
	wantAll(t, "badge", b.get("/"), http.StatusOK, `href="/results/critical?mine=1">Critical results <strong class="badge">(2 for you, 1 OVERDUE)</strong>`)
}

// Escalation between showing the list and acknowledging does not bounce
// the acknowledgment, which keeps the escalation's note; a corrected
// result meanwhile does bounce it. Reviews passed to a team the
// practitioner is on are theirs; the list is in the order the reviews
// were asked for, whatever zone a client wrote.
func TestCriticalResultsEscalated(t *testing.T) {
	s := newWorkspaceSite(t)
	review := func(id, obs, authored, extra string) string {
		return `{"resourceType": "Task", "id": "` + id + `", "status": "requested", "intent": "order", "priority": "stat",
	  "code": {"coding": [{"system": "` + critical.TaskSystem + `", "code": "` + critical.TaskCode + `"}]},
	  "focus": {"reference": "Observation/` + obs + `/_history/1"}, "for": {"reference": "Patient/jose"}, "authoredOn": "` + authored + `",
	  "owner": {"reference": "Practitioner/other"}` + extra + `}`
	}
	result := func(id, name string) string {
		return `{"resourceType": "Observation", "id": "` + id + `", "status": "final", "subject": {"reference": "Patient/jose"},
	  "code": {"text": "` + name + `"}, "valueQuantity": {"value": 6.9, "unit": "mmol/L"},
	  "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "HH"}]}]}`
	}
	escalated := `, "businessStatus": {"coding": [{"system": "` + critical.BusinessStatusSystem + `", "code": "` + critical.OverdueCode + `"}]},
	  "requestedPerformer": [{"reference": {"reference": "CareTeam/oncall", "display": "Medicine on call"}}],
	  "note": [{"authorString": "` + critical.EscalationAgent + `", "text": "Not acknowledged within 30 minutes."}]`
	s.put(jose, result("k1", "Potassium"), result("n1", "Sodium"), result("c1", "Calcium"),
		`{"resourceType": "CareTeam", "id": "oncall", "status": "active", "name": "Medicine on call", "participant": [{"member": {"reference": "Practitioner/dr4"}}]}`,
		// 08:00 in +05:00 is 03:00Z: asked for before 05:00Z.
		review("r1", "k1", "2026-11-24T05:00:00Z", ""), review("r2", "n1", "2026-11-24T08:00:00+05:00", ""),
		review("r3", "c1", "2026-11-24T09:00:00Z", ""))
	b := s.practitioner("dr4")
	page := b.get("/results/critical")
	if i, j := strings.Index(page.body, "Sodium"), strings.Index(page.body, "Potassium"); i < 0 || j < 0 || i > j {
		t.Errorf("the review asked for at 03:00Z is not listed before the one at 05:00Z")
	}
	csrf := csrfOf(t, page.body)
	// Escalated meanwhile (version 2), then acknowledged from the page.
	s.put(review("r1", "k1", "2026-11-24T05:00:00Z", escalated), review("r3", "c1", "2026-11-24T09:00:00Z", escalated))
	mine := b.get("/results/critical?mine=1")
	wantAll(t, "mine", mine, http.StatusOK, "Potassium", "Calcium", "passed to Medicine on call")
	if strings.Contains(mine.body, "Sodium") {
		t.Errorf("the list of mine shows a review neither theirs nor passed to them")
	}
	a := b.post("/results/critical/r1", url.Values{"csrf": {csrf}, "version": {"1"}, "note": {"Treated"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("acknowledging an escalated review: %d %.1500s", a.status, a.body)
	}
	v, _ := s.store.Read(context.Background(), "Task", "r1")
	if j := string(v.Resource.JSON()); v.Resource["status"] != "completed" || !strings.Contains(j, "Not acknowledged within") || !strings.Contains(j, "Treated") {
		t.Errorf("the acknowledged review: %s", j)
	}
	// The result corrected meanwhile: the review asks about another
	// version now, and the acknowledgment of the old one bounces.
	s.put(strings.Replace(review("r3", "c1", "2026-11-24T09:00:00Z", escalated), "c1/_history/1", "c1/_history/2", 1))
	wantAll(t, "corrected", b.post("/results/critical/r3", url.Values{"csrf": {csrf}, "version": {"1"}}),
		http.StatusConflict, "meanwhile")
	// Acknowledged by someone else, then reopened: the page shown before
	// both does not complete it again.
	s.put(review("r2", "n1", "2026-11-24T08:00:00+05:00", `, "note": [{"text": "Called the patient"}]`))
	s.put(strings.Replace(review("r2", "n1", "2026-11-24T08:00:00+05:00", `, "note": [{"text": "Called the patient"}, {"text": "REOPENED: the wrong patient was called"}]`), `"status": "requested"`, `"status": "in-progress"`, 1))
	wantAll(t, "reopened", b.post("/results/critical/r2", url.Values{"csrf": {csrf}, "version": {"1"}}), http.StatusConflict, "meanwhile")
}
