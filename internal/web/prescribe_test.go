package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/store"
)

const amoxAllergy = `{"resourceType":"AllergyIntolerance","id":"amox-allergy","patient":{"reference":"Patient/jose"},"criticality":"high",
	"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},
	"code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"723","display":"Amoxicillin"}]}}`

// A prescription of a drug the patient is allergic to is stopped with the
// rule and the data that fired it; it is signed only with a reason, kept
// as a DetectedIssue beside it; a second one is a duplicate; stop, renew
// and the printed prescription work on what was signed.
func TestPrescribeWithChecks(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, rxFragment, amoxAllergy)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/medications")
	wantAll(t, "medications", page, http.StatusOK, "Prescribe", `data-kind="medication"`, `<option value="BID">Twice a day</option>`)
	csrf := csrfOf(t, page.body)
	rx := url.Values{"csrf": {csrf}, "term": {"Amoxicillin"}, "dose": {"1"}, "dose-unit": {"capsule"}, "route": {"oral"},
		"frequency": {"TID"}, "duration": {"7 days"}}
	alert := b.post("/patients/jose/medications", rx)
	wantAll(t, "allergy alert", alert, http.StatusOK, "Check before prescribing", "Allergy", "Amoxicillin matches the recorded allergy to Amoxicillin",
		"AllergyIntolerance/amox-allergy", "Reason to prescribe anyway", `name="ack"`)
	ack := regexpValues(alert.body, "ack")
	if len(ack) != 1 {
		t.Fatalf("acknowledgements on the alert page: %v", ack)
	}
	// Acknowledged without a reason: refused.
	rx["ack"] = ack
	wantAll(t, "no reason", b.post("/patients/jose/medications", rx), http.StatusOK, "Give the reason to prescribe despite the alert")
	rx.Set("override-reason", "Desensitised in 2024; tolerated since")
	a := b.post("/patients/jose/medications", rx)
	if a.status != http.StatusSeeOther || !strings.Contains(a.location, "signed=") {
		t.Fatalf("override: %d %s %.3000s", a.status, a.location, a.body)
	}
	mid := a.location[strings.Index(a.location, "signed=")+len("signed="):]
	done := b.get(a.location)
	wantAll(t, "signed", done, http.StatusOK, "Prescription for Amoxicillin signed.", "Take 1 capsule by mouth three times a day for 7 days",
		"/medications/"+mid+"/prescription.pdf")

	ctx := context.Background()
	mr, err := s.store.Read(ctx, "MedicationRequest", mid)
	if err != nil {
		t.Fatal(err)
	}
	disp := asMap(asMap(mr.Resource["dispenseRequest"])["quantity"])
	if fmt.Sprint(disp["value"]) != "21" || disp["unit"] != "capsules" {
		t.Errorf("quantity to dispense: %v", disp)
	}
	issues, err := s.store.Search(ctx, mustQuery(t, "DetectedIssue", url.Values{"_count": {"10"}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(issues.Matches) != 1 {
		t.Fatalf("%d DetectedIssues, want 1", len(issues.Matches))
	}
	di := issues.Matches[0].Resource
	if !strings.Contains(string(di.JSON()), "Desensitised in 2024") || !strings.Contains(string(di.JSON()), "MedicationRequest/"+mid) ||
		!strings.Contains(string(di.JSON()), "AllergyIntolerance/amox-allergy") {
		t.Errorf("the DetectedIssue does not record the override: %s", di.JSON())
	}
	validator := validate.New(spec.R5())
	for _, v := range []*store.Version{mr, issues.Matches[0]} {
		if is := validator.Validate(v.Resource); validate.HasErrors(is) {
			t.Errorf("%s is not valid R5: %v\n%s", v.Type, is, v.Resource.JSON())
		}
	}
	// The override is in the audit log with the prescription.
	page2, err := s.store.SearchAudit(ctx, store.AuditQuery{Count: 20, Terms: [][]audit.Term{{{Name: audit.ParamPatient, Value: "Patient/jose"}}}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rec := range page2.Records {
		if strings.Contains(string(rec.Event), "DetectedIssue/") && strings.Contains(string(rec.Event), "MedicationRequest/"+mid) {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit record names the prescription and its DetectedIssue")
	}

	// Prescribing it again: a duplicate (and the allergy again).
	again := url.Values{"csrf": {csrf}, "term": {"Amoxicillin"}, "dose": {"1"}, "dose-unit": {"capsule"}, "route": {"oral"}, "frequency": {"TID"}}
	wantAll(t, "duplicate", b.post("/patients/jose/medications", again), http.StatusOK, "Duplicate", "Amoxicillin is already prescribed")

	// The printed prescription.
	resp, err := b.client.Get(s.srv.URL + "/patients/jose/medications/" + mid + "/prescription.pdf")
	if err != nil {
		t.Fatal(err)
	}
	pdf := read(t, resp)
	if pdf.status != http.StatusOK || !strings.HasPrefix(pdf.body, "%PDF-") || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("prescription PDF: %d %q %.20q", pdf.status, resp.Header.Get("Content-Type"), pdf.body)
	}

	// Renew: a new request replacing the old, which is completed; no
	// duplicate with the one it replaces (the allergy still fires).
	renew := url.Values{"csrf": {csrf}, "term": {"Amoxicillin"}, "dose": {"1"}, "dose-unit": {"capsule"}, "route": {"oral"}, "frequency": {"TID"},
		"duration": {"7 days"}, "prior": {mid}, "prior-version": {"1"}, "prior-action": {"renew"}}
	alert = b.post("/patients/jose/medications", renew)
	if strings.Contains(alert.body, "already prescribed") {
		t.Errorf("a renewal is a duplicate of the prescription it renews")
	}
	renew["ack"] = regexpValues(alert.body, "ack")
	renew.Set("override-reason", "Still tolerated")
	if a := b.post("/patients/jose/medications", renew); a.status != http.StatusSeeOther {
		t.Fatalf("renew: %d %.2000s", a.status, a.body)
	}
	if old, _ := s.store.Read(ctx, "MedicationRequest", mid); str(old.Resource, "status") != "completed" || old.VersionID != 2 {
		t.Errorf("the renewed prescription: version %d status %s", old.VersionID, str(old.Resource, "status"))
	}
	// Stop needs a reason.
	res, _ := s.store.Search(ctx, mustQuery(t, "MedicationRequest", url.Values{"status": {"active"}}))
	if len(res.Matches) != 1 {
		t.Fatalf("%d active prescriptions after the renewal, want 1", len(res.Matches))
	}
	cur := res.Matches[0]
	wantAll(t, "stop without reason", b.post("/patients/jose/medications/"+cur.ID+"/stop", url.Values{"csrf": {csrf}, "version": {"1"}}),
		http.StatusBadRequest, "Give the reason the medicine is stopped.")
	if a := b.post("/patients/jose/medications/"+cur.ID+"/stop", url.Values{"csrf": {csrf}, "version": {"1"}, "reason": {"Course finished"}}); a.status != http.StatusSeeOther {
		t.Fatalf("stop: %d", a.status)
	}
	wantAll(t, "after stop", b.get("/patients/jose/medications"), http.StatusOK, "Stopped and past medicines", "No active medication recorded.")
}

// regexpValues returns the values of the hidden inputs named name.
func regexpValues(body, name string) []string {
	var out []string
	marker := `name="` + name + `" value="`
	for rest := body; ; {
		i := strings.Index(rest, marker)
		if i < 0 {
			return out
		}
		rest = rest[i+len(marker):]
		out = append(out, html.UnescapeString(rest[:strings.Index(rest, `"`)]))
	}
}

// The medicine review at a visit: each active prescription continued or
// stopped with a reason, recorded as a List of the visit; a list that
// changed since the page was shown is not reviewed blind.
func TestMedicineReconciliation(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(joseRecord...)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/visits")
	csrf := csrfOf(t, page.body)
	visit := b.post("/patients/jose/visits", url.Values{"csrf": {csrf}, "step": {"start"}, "reason": {"Review"}}).location
	enc := visit[strings.LastIndex(visit, "/")+1:]
	meds := b.get("/patients/jose/medications?encounter=" + enc)
	wantAll(t, "review", meds, http.StatusOK, "Medicine review at this visit", `name="rec-amox"`, `name="rec-alen"`, `name="rec-hx"`)
	form := url.Values{"csrf": {csrf}, "encounter": {enc}, "rec-amox": {"stop"}, "why-amox": {"Course finished"}, "rec-alen": {"continue"}, "rec-hx": {"continue"},
		"ver-amox": {"1"}, "ver-alen": {"1"}, "ver-hx": {"1"}}
	stale := url.Values{}
	for k, v := range form {
		stale[k] = v
	}
	stale.Del("rec-hx")
	wantAll(t, "incomplete", b.post("/patients/jose/medications/reconcile", stale), http.StatusConflict, "changed elsewhere")
	if a := b.post("/patients/jose/medications/reconcile", form); a.status != http.StatusSeeOther {
		t.Fatalf("reconcile: %d %.2000s", a.status, a.body)
	}
	ctx := context.Background()
	amox, _ := s.store.Read(ctx, "MedicationRequest", "amox")
	if str(amox.Resource, "status") != "stopped" {
		t.Errorf("amoxicillin after the review: %s", amox.Resource.JSON())
	}
	lists, err := s.store.Search(ctx, mustQuery(t, "List", url.Values{"encounter": {"Encounter/" + enc}}))
	if err != nil || len(lists.Matches) != 1 {
		t.Fatalf("Lists: %v %v", lists, err)
	}
	l := lists.Matches[0].Resource
	if len(listOf(l, "entry")) != 3 || !strings.Contains(string(l.JSON()), `"stopped"`) {
		t.Errorf("the review: %s", l.JSON())
	}
	if is := validate.New(spec.R5()).Validate(l); validate.HasErrors(is) {
		t.Errorf("List is not valid R5: %v", is)
	}
}
