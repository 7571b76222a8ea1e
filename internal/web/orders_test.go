package web

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
)

// Tests ordered from the catalogue: ServiceRequests with priority, reason
// and a Specimen; ordering one again is a duplicate that needs a reason;
// a result based on the order is listed with it; the requisition prints.
func TestOrders(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/orders")
	wantAll(t, "orders", page, http.StatusOK, "No test ordered.", "Hemoglobin A1c/Hemoglobin.total in Blood", "LOINC 4548-4", "XR Chest 2 Views")
	csrf := csrfOf(t, page.body)
	wantAll(t, "nothing ticked", b.post("/patients/jose/orders", url.Values{"csrf": {csrf}, "reason": {"Diabetes review"}}),
		http.StatusBadRequest, "Tick at least one test.")
	wantAll(t, "no reason", b.post("/patients/jose/orders", url.Values{"csrf": {csrf}, "test": {"hba1c"}}), http.StatusBadRequest, "Give the reason")
	a := b.post("/patients/jose/orders", url.Values{"csrf": {csrf}, "test": {"hba1c", "lipids"}, "priority": {"urgent"}, "reason": {"Diabetes review"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("order: %d %.2000s", a.status, a.body)
	}
	oid := a.location[strings.Index(a.location, "signed=")+len("signed="):]
	wantAll(t, "ordered", b.get(a.location), http.StatusOK, "Order signed.", "Urgent", "Blood", "Diabetes review", "No result yet")
	// An order the laboratory did not take says so, with its words (the
	// Task the order sender writes, internal/hl7v2/outbound).
	s.put(`{"resourceType": "Task", "id": "refused-1", "status": "rejected", "intent": "order",
		"focus": {"reference": "ServiceRequest/` + oid + `/_history/1"}, "for": {"reference": "Patient/jose"},
		"statusReason": {"concept": {"text": "127.0.0.1:2575 refused the order (AE): test 4548-4 is not offered"}}}`)
	wantAll(t, "refused", b.get("/patients/jose/orders"), http.StatusOK, "Not taken by the laboratory", "test 4548-4 is not offered", "call the laboratory")

	ctx := context.Background()
	res, err := s.store.Search(ctx, mustQuery(t, "ServiceRequest", url.Values{}))
	if err != nil || len(res.Matches) != 2 {
		t.Fatalf("ServiceRequests: %v %v", res, err)
	}
	specimens, _ := s.store.Search(ctx, mustQuery(t, "Specimen", url.Values{}))
	validator := validate.New(spec.R5())
	for _, v := range append(res.Matches, specimens.Matches...) {
		if is := validator.Validate(v.Resource); validate.HasErrors(is) {
			t.Errorf("%s is not valid R5: %v\n%s", v.Type, is, v.Resource.JSON())
		}
	}
	if len(specimens.Matches) != 2 {
		t.Errorf("%d Specimens, want one per laboratory test", len(specimens.Matches))
	}

	// Again: a duplicate order, which needs a reason.
	again := url.Values{"csrf": {csrf}, "test": {"hba1c"}, "reason": {"Check"}}
	alert := b.post("/patients/jose/orders", again)
	wantAll(t, "duplicate", alert, http.StatusOK, "Check before ordering", "Duplicate", "was ordered on", "Reason to order anyway")
	again["ack"] = regexpValues(alert.body, "ack")
	again.Set("override-reason", "Lab lost the first sample")
	if a := b.post("/patients/jose/orders", again); a.status != http.StatusSeeOther {
		t.Fatalf("override: %d %.2000s", a.status, a.body)
	}
	issues, _ := s.store.Search(ctx, mustQuery(t, "DetectedIssue", url.Values{}))
	if len(issues.Matches) != 1 || !strings.Contains(string(issues.Matches[0].Resource.JSON()), "Lab lost the first sample") {
		t.Errorf("DetectedIssues: %d", len(issues.Matches))
	}

	// A result based on the order is listed with it.
	s.put(`{"resourceType":"DiagnosticReport","id":"r1","status":"final","subject":{"reference":"Patient/jose"},"basedOn":[{"reference":"ServiceRequest/` + oid + `"}],
		"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}],"text":"HbA1c"}}`)
	wantAll(t, "result", b.get("/patients/jose/orders"), http.StatusOK, "HbA1c · final")

	resp, err := b.client.Get(s.srv.URL + "/patients/jose/orders/" + oid + "/requisition.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if pdf := read(t, resp); pdf.status != http.StatusOK || !strings.HasPrefix(pdf.body, "%PDF-") {
		t.Errorf("requisition: %d %.20q", pdf.status, pdf.body)
	}

	// The catalogue: administrators only; a test added is offered.
	if got := b.get("/admin/orderables"); got.status != http.StatusForbidden {
		t.Errorf("a physician edits the catalogue: %d", got.status)
	}
	admin := s.signedIn("root", "admin")
	cat := admin.get("/admin/orderables")
	ac := csrfOf(t, cat.body)
	wantAll(t, "bad loinc", admin.post("/admin/orderables", url.Values{"csrf": {ac}, "key": {"ferritin"}, "code": {"abc"}, "display": {"Ferritin"}, "category": {"lab"}}),
		http.StatusBadRequest, "A LOINC code is")
	wantAll(t, "added", admin.post("/admin/orderables", url.Values{"csrf": {ac}, "key": {"ferritin"}, "code": {"2276-4"}, "display": {"Ferritin [Mass/volume] in Serum or Plasma"},
		"category": {"lab"}, "specimen": {"Serum"}}), http.StatusOK, "saved")
	wantAll(t, "offered", b.get("/patients/jose/orders"), http.StatusOK, "Ferritin [Mass/volume]", "LOINC 2276-4", "XR Chest 2 Views")
}

// The visit summary prints what the visit recorded.
func TestVisitSummaryPDF(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/visits")
	csrf := csrfOf(t, page.body)
	visit := b.post("/patients/jose/visits", url.Values{"csrf": {csrf}, "step": {"start"}, "reason": {"Cough"}}).location
	enc := visit[strings.LastIndex(visit, "/")+1:]
	b.post(visit+"/vitals", url.Values{"csrf": {csrf}, "pulse": {"80"}})
	b.post("/patients/jose/orders", url.Values{"csrf": {csrf}, "test": {"cxr"}, "reason": {"Cough for 3 weeks"}, "encounter": {enc}})
	resp, err := b.client.Get(s.srv.URL + visit + "/summary.pdf")
	if err != nil {
		t.Fatal(err)
	}
	pdf := read(t, resp)
	if pdf.status != http.StatusOK || !strings.HasPrefix(pdf.body, "%PDF-") || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("visit summary: %d %q", pdf.status, resp.Header.Get("Content-Type"))
	}
	if _, err := exec.LookPath("pdftotext"); err == nil {
		file := filepath.Join(t.TempDir(), "summary.pdf")
		os.WriteFile(file, []byte(pdf.body), 0o644)
		text, err := exec.Command("pdftotext", "-layout", file, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"GARCÍA, José", "Cough", "XR Chest 2 Views", "80"} {
			if !strings.Contains(string(text), want) {
				t.Errorf("the visit summary lacks %q:\n%s", want, text)
			}
		}
	}
	if got := b.get("/patients/jose/visits/nope/summary.pdf"); got.status != http.StatusNotFound {
		t.Errorf("the summary of a visit that does not exist: %d", got.status)
	}
}
