package web

// Edge cases of the critical results list and its escalation, found by
// reviews of the escalation.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/clinical/critical"
	"github.com/emr-project/emr/internal/store"
)

func reviewOf(id, obs, authoredOn, extra string) string {
	return `{"resourceType": "Task", "id": "` + id + `", "status": "requested", "intent": "order", "priority": "stat",
	  "code": {"coding": [{"system": "` + critical.TaskSystem + `", "code": "` + critical.TaskCode + `"}]},
	  "focus": {"reference": "Observation/` + obs + `/_history/1"}, "for": {"reference": "Patient/jose"}, "authoredOn": "` + authoredOn + `"` + extra + `}`
}

func critObs(id, name string) string {
	return `{"resourceType": "Observation", "id": "` + id + `", "status": "final", "subject": {"reference": "Patient/jose"},
	  "code": {"text": "` + name + `"}, "valueQuantity": {"value": 6.9, "unit": "mmol/L"},
	  "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "HH"}]}]}`
}

// Acknowledging an escalated review with a note keeps the escalation's
// note.
func TestAcknowledgeKeepsEscalationNote(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", `,
	  "businessStatus": {"coding": [{"system": "`+critical.BusinessStatusSystem+`", "code": "`+critical.OverdueCode+`"}]},
	  "note": [{"authorString": "`+critical.EscalationAgent+`", "text": "Not acknowledged within 30 minutes. Passed to Medicine on call."}]`))
	b := s.practitioner("dr1")
	page := b.get("/results/critical")
	a := b.post("/results/critical/r1", url.Values{"csrf": {csrfOf(t, page.body)}, "version": {"1"}, "note": {"Called the patient"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d", a.status)
	}
	v, _ := s.store.Read(context.Background(), "Task", "r1")
	if j := string(v.Resource.JSON()); !strings.Contains(j, "Not acknowledged within") {
		t.Errorf("the escalation's note is gone from the acknowledged review: %s", j)
	}
}

// The list is in the order of the instants asked for, an authoredOn with
// an offset (as an API client may write) included.
func TestCriticalOrderWithOffsets(t *testing.T) {
	s := newWorkspaceSite(t)
	// 03:00Z written with an offset, and 05:00Z.
	s.put(jose, critObs("k1", "Potassium"), critObs("n1", "Sodium"),
		reviewOf("r1", "k1", "2026-11-22T08:00:00+05:00", ""), reviewOf("r2", "n1", "2026-11-22T05:00:00Z", ""))
	b := s.practitioner("dr1")
	body := b.get("/results/critical").body
	if strings.Index(body, "Potassium") > strings.Index(body, "Sodium") {
		t.Errorf("the review waiting longest (03:00Z) is not first")
	}
}

// Passed to the on-call CareTeam the docs suggest: a member's own list
// ("those passed to me") holds it.
func TestCriticalMineCareTeam(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, `{"resourceType": "CareTeam", "id": "oncall", "status": "active", "name": "Medicine on call",
	  "participant": [{"member": {"reference": "Practitioner/dr3"}}]}`, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", `,
	  "owner": {"reference": "Practitioner/other"},
	  "businessStatus": {"coding": [{"system": "`+critical.BusinessStatusSystem+`", "code": "`+critical.OverdueCode+`"}]},
	  "requestedPerformer": [{"reference": {"reference": "CareTeam/oncall", "display": "Medicine on call"}}]`))
	b := s.practitioner("dr3")
	if body := b.get("/results/critical?mine=1").body; !strings.Contains(body, "Potassium") {
		t.Errorf("an overdue review passed to dr3's on-call team is not in dr3's own list")
	}
}

const overdueExtra = `, "businessStatus": {"coding": [{"system": "` + critical.BusinessStatusSystem + `", "code": "` + critical.OverdueCode + `"}]}`

// Someone else acknowledged the review, then it was reopened (FHIR API):
// an acknowledgment from a page shown before both is refused.
func TestCriticalAckAfterReopenRefused(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", ""))
	a := s.practitioner("dra")
	pageA := a.get("/results/critical")
	b := s.practitioner("drb")
	pageB := b.get("/results/critical")
	if r := b.post("/results/critical/r1", url.Values{"csrf": {csrfOf(t, pageB.body)}, "version": {"1"}, "note": {"B called"}}); r.status != http.StatusSeeOther {
		t.Fatalf("B: %d", r.status)
	}
	// reopened by someone (status back to requested, reason in a note)
	v, _ := s.store.Read(context.Background(), "Task", "r1")
	v.Resource["status"] = "requested"
	v.Resource["note"] = append(v.Resource["note"].([]any), map[string]any{"text": "REOPENED: B called the wrong patient"})
	s.put(string(v.Resource.JSON()))
	r := a.post("/results/critical/r1", url.Values{"csrf": {csrfOf(t, pageA.body)}, "version": {"1"}})
	if r.status != http.StatusConflict {
		v, _ := s.store.Read(context.Background(), "Task", "r1")
		t.Errorf("a stale page's acknowledgment (shown at v1, before B's acknowledgment and the reopening) was taken: %d; task v%d %s", r.status, v.VersionID, v.Resource.JSON())
	}
}

// Put on hold and passed to someone else after the page was shown: the
// stale page's acknowledgment is refused, whatever version it names.
func TestCriticalAckAfterHoldRefused(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", ""))
	a := s.practitioner("dra")
	page := a.get("/results/critical")
	v, _ := s.store.Read(context.Background(), "Task", "r1")
	v.Resource["status"] = "on-hold"
	v.Resource["owner"] = map[string]any{"reference": "Practitioner/someone-else"}
	s.put(string(v.Resource.JSON()))
	r := a.post("/results/critical/r1", url.Values{"csrf": {csrfOf(t, page.body)}, "version": {"999"}})
	if r.status != http.StatusConflict {
		t.Errorf("version 999 with the right focus, after an unrelated change (on hold, owner changed): %d", r.status)
	}
}

// A patient user is told nothing of other patients' overdue results.
func TestCriticalHiddenCountNotForPatients(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, rahim, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", overdueExtra))
	if _, err := s.accounts.Add(context.Background(), "pat", "patient", auth.AddOptions{Password: pw, FHIRUser: "Patient/rahim", Patient: "rahim"}); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	if a := b.signIn("pat", pw, ""); a.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", a.status)
	}
	page := b.get("/results/critical")
	t.Logf("status %d", page.status)
	if strings.Contains(page.body, "more critical result") {
		t.Errorf("a patient user is told of other patients' overdue critical results: %d", page.status)
	}
}

// A Consent that withholds Observations (not Tasks) from dr2: the overdue
// review is counted among those waiting where dr2 cannot look.
func TestCriticalHiddenCountsHiddenResults(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", overdueExtra),
		`{"resourceType":"Consent","id":"c1","status":"active","subject":{"reference":"Patient/jose"},"decision":"permit",
		 "provision":[{"actor":[{"reference":{"reference":"Practitioner/dr2"}}],"resourceType":[{"system":"http://hl7.org/fhir/fhir-types","code":"Observation"}]}]}`)
	b := s.practitioner("dr2")
	page := b.get("/results/critical")
	if !strings.Contains(page.body, "more critical result") && !strings.Contains(page.body, "Potassium") {
		t.Errorf("an overdue review whose result a Consent withholds is neither listed nor counted (status %d): %s", page.status, excerpt(page.body))
	}
}

// A nurse (Task rs) and a lab user (Task rus) still get the page.
func TestCriticalPageOtherRoles(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", overdueExtra))
	for _, role := range []string{"nurse", "lab", "pharmacist", "auditor"} {
		b := s.signedIn("u-"+role, role)
		p := b.get("/results/critical")
		t.Logf("%s: %d hidden=%v", role, p.status, strings.Contains(p.body, "more critical result"))
	}
}

// A practitioner on patients' CareTeams: viewing "mine" records no
// access to those patients (only teams of no one patient are looked up).
func TestCriticalMineAuditsNoCareTeamPatients(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, rahim, `{"resourceType": "CareTeam", "id": "ct-rahim", "status": "active", "subject": {"reference": "Patient/rahim"},
	  "participant": [{"member": {"reference": "Practitioner/dr5"}}]}`)
	b := s.practitioner("dr5")
	before := s.audited("rahim")
	b.get("/results/critical?mine=1")
	if after := s.audited("rahim"); after != before {
		t.Errorf("viewing the own critical list (empty) recorded %d access(es) to Patient/rahim, whose CareTeam was only looked up", after-before)
	}
}

func excerpt(s string) string {
	if i := strings.Index(s, "<h1>"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 600 {
		s = s[:600]
	}
	return s
}

// A practitioner on more than 100 patients' CareTeams (a hospitalist on
// every inpatient's team) still finds the on-call team's reviews in "mine".
func TestCriticalMineOnCallAmongManyTeams(t *testing.T) {
	s := newWorkspaceSite(t)
	var res []string
	res = append(res, jose, critObs("k1", "Potassium"))
	for i := 0; i < 100; i++ {
		res = append(res, fmt.Sprintf(`{"resourceType": "CareTeam", "id": "ct-%d", "status": "active", "subject": {"reference": "Patient/jose"},
	  "participant": [{"member": {"reference": "Practitioner/dr6"}}]}`, i))
	}
	res = append(res, `{"resourceType": "CareTeam", "id": "oncall", "status": "active", "name": "Medicine on call",
	  "participant": [{"member": {"reference": "Practitioner/dr6"}}]}`,
		reviewOf("r1", "k1", "2026-11-22T08:00:00Z", overdueExtra+`, "owner": {"reference": "Practitioner/other"},
	  "requestedPerformer": [{"reference": {"reference": "CareTeam/oncall", "display": "Medicine on call"}}]`))
	s.put(res...)
	b := s.practitioner("dr6")
	if body := b.get("/results/critical?mine=1").body; !strings.Contains(body, "Potassium") {
		t.Errorf("the on-call team's overdue review is missing from dr6's own list (101st CareTeam)")
	}
}

// Page shown at v1; B acknowledged (v2); someone reopened it by restoring
// v1's content (v3, an "undo" PUT of the earlier version); the escalation
// ran (v4). A's stale acknowledgment of v1 is refused: every step since
// v1 is looked at, not only the ends.
func TestCriticalAckAfterAckAndRevertRefused(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", ""))
	a := s.practitioner("dra")
	pageA := a.get("/results/critical")
	v1, _ := s.store.Read(context.Background(), "Task", "r1")
	orig := string(v1.Resource.JSON())
	b := s.practitioner("drb")
	pageB := b.get("/results/critical")
	if r := b.post("/results/critical/r1", url.Values{"csrf": {csrfOf(t, pageB.body)}, "version": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("B: %d", r.status)
	}
	s.put(orig) // reopened: v1's content back
	// escalated
	s.put(escalatedJSON(t, s, "r1"))
	r := a.post("/results/critical/r1", url.Values{"csrf": {csrfOf(t, pageA.body)}, "version": {"1"}})
	if r.status != http.StatusConflict {
		t.Errorf("stale v1 acknowledgment taken after B's acknowledgment and a reopening (v2 completed): %d", r.status)
	}
}

// More than store.MaxPageSize overdue reviews, all visible: the page says
// none is hidden.
func TestCriticalHiddenCountOverPageSize(t *testing.T) {
	s := newWorkspaceSite(t)
	res := []string{jose}
	for i := 0; i < store.MaxPageSize+5; i++ {
		res = append(res, critObs(fmt.Sprintf("k%d", i), "Potassium"), reviewOf(fmt.Sprintf("r%d", i), fmt.Sprintf("k%d", i), "2026-11-22T08:00:00Z", overdueExtra))
	}
	s.put(res...)
	b := s.practitioner("dr1")
	page := b.get("/results/critical")
	if strings.Contains(page.body, "more critical result") {
		i := strings.Index(page.body, "more critical result")
		t.Errorf("all %d overdue reviews are visible to dr1, yet: %q", store.MaxPageSize+5, page.body[max(0, i-80):i+60])
	}
}

// The result of an overdue review was deleted: it is not hidden from the
// user (it is gone for everyone).
func TestCriticalHiddenCountDeletedResult(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, critObs("k1", "Potassium"), strings.Replace(reviewOf("r1", "k1", "2026-11-22T08:00:00Z", overdueExtra), "/_history/1", "", 1))
	if err := s.store.Write(context.Background(), func(tx store.Tx) error { _, err := tx.Delete("Observation", "k1", 0); return err }); err != nil {
		t.Fatal(err)
	}
	b := s.practitioner("dr1")
	page := b.get("/results/critical")
	t.Logf("listed: %v; hidden message: %v", strings.Contains(page.body, "Potassium"), strings.Contains(page.body, "more critical result"))
	if strings.Contains(page.body, "more critical result") {
		t.Errorf("a review whose result was deleted is told as one of a patient whose record dr1 may not see")
	}
}

// The on-call team is a CareTeam whose subject is a Group (a ward's
// patients), not one patient: a member's own list holds what was passed to it.
func TestCriticalMineCareTeamOfGroup(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, `{"resourceType":"Group","id":"ward5","type":"person","membership":"definitional"}`,
		`{"resourceType": "CareTeam", "id": "oncall", "status": "active", "name": "Ward 5 on call", "subject": {"reference": "Group/ward5"},
	  "participant": [{"member": {"reference": "Practitioner/dr3"}}]}`, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", `,
	  "owner": {"reference": "Practitioner/other"},
	  "businessStatus": {"coding": [{"system": "`+critical.BusinessStatusSystem+`", "code": "`+critical.OverdueCode+`"}]},
	  "requestedPerformer": [{"reference": {"reference": "CareTeam/oncall", "display": "Ward 5 on call"}}]`))
	b := s.practitioner("dr3")
	if body := b.get("/results/critical?mine=1").body; !strings.Contains(body, "Potassium") {
		t.Errorf("an overdue review passed to dr3's ward team (subject Group, no one patient) is not in dr3's own list")
	}
}

// Malformed or impossible versions are refused.
func TestCriticalAckBadVersions(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, critObs("k1", "Potassium"), reviewOf("r1", "k1", "2026-11-22T08:00:00Z", ""), reviewOf("r2", "k1", "2026-11-22T08:00:00Z", ""))
	s.put(escalatedJSON(t, s, "r1"))
	a := s.practitioner("dra")
	page := a.get("/results/critical")
	for _, ver := range []string{"", "0", "-1", "3", "abc", "1.0", "99999999999999999999"} {
		r := a.post("/results/critical/r1", url.Values{"csrf": {csrfOf(t, page.body)}, "version": {ver}})
		if r.status != http.StatusConflict {
			t.Errorf("version %q: %d", ver, r.status)
		}
	}
}

// escalatedJSON is review id as an escalation leaves it: marked overdue,
// with the escalation's note.
func escalatedJSON(t *testing.T, s *workspaceSite, id string) string {
	t.Helper()
	v, err := s.store.Read(context.Background(), "Task", id)
	if err != nil {
		t.Fatal(err)
	}
	v.Resource["businessStatus"] = map[string]any{"coding": []any{map[string]any{"system": critical.BusinessStatusSystem, "code": critical.OverdueCode}}}
	v.Resource["note"] = append(asList(v.Resource["note"]), map[string]any{"authorString": critical.EscalationAgent, "text": "Not acknowledged within 30 minutes."})
	return string(v.Resource.JSON())
}
