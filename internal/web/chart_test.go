package web

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/store"
)

// A patient with a little of everything the summary shows, written as
// the store holds Synthea's data once converted to R5.
var joseRecord = []string{jose, peanut,
	`{"resourceType":"AllergyIntolerance","id":"pen","patient":{"reference":"Patient/jose"},"criticality":"low",
		"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},
		"code":{"text":"Penicillin"},"reaction":[{"manifestation":[{"concept":{"text":"Hives"}}]}]}`,
	`{"resourceType":"Condition","id":"dm","subject":{"reference":"Patient/jose"},"onsetDateTime":"2019-05-02T10:00:00Z",
		"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006","display":"Diabetes mellitus type 2"}]}}`,
	`{"resourceType":"MedicationRequest","id":"amox","status":"active","intent":"order","subject":{"reference":"Patient/jose"},
		"medication":{"concept":{"text":"amoxicillin 500 mg capsule"}},
		"dosageInstruction":[{"route":{"text":"by mouth"},"timing":{"repeat":{"frequency":3,"period":1,"periodUnit":"d","boundsDuration":{"value":7,"unit":"days","code":"d"}}},
			"doseAndRate":[{"doseQuantity":{"value":1,"unit":"capsule"}}],"patientInstruction":"Take with food"}]}`,
	`{"resourceType":"MedicationRequest","id":"alen","status":"active","intent":"order","subject":{"reference":"Patient/jose"},
		"medication":{"concept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"904419","display":"Alendronic acid 10 MG Oral Tablet"}]}},
		"dosageInstruction":[{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":1}}]}]}`,
	`{"resourceType":"MedicationRequest","id":"hx","status":"active","intent":"order","subject":{"reference":"Patient/jose"},
		"medication":{"concept":{"text":"hydroxyzine 25 mg tablet"}},"dosageInstruction":[{"text":"one at night if itching"}]}`,
	`{"resourceType":"Observation","id":"bp1","status":"final","subject":{"reference":"Patient/jose"},"effectiveDateTime":"2026-10-01T09:30:00Z",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel"}]},
		"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":142,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
			{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":91,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
	`{"resourceType":"Observation","id":"bp0","status":"final","subject":{"reference":"Patient/jose"},"effectiveDateTime":"2021-03-01T09:30:00Z",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel"}]},
		"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":128,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
			{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":82,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
	`{"resourceType":"Observation","id":"temp","status":"final","subject":{"reference":"Patient/jose"},"effectiveDateTime":"2026-10-01T09:30:00Z",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"8310-5","display":"Body temperature"}]},
		"valueQuantity":{"value":37.20,"unit":"Cel","system":"http://unitsofmeasure.org","code":"Cel"}}`,
	`{"resourceType":"Observation","id":"bmi","status":"final","subject":{"reference":"Patient/jose"},"effectiveDateTime":"2026-10-01T09:30:00Z",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"39156-5","display":"BMI"}]},
		"valueQuantity":{"value":31.0465,"unit":"kg/m2","system":"http://unitsofmeasure.org","code":"kg/m2"}}`,
	labResult("a1c-1", "2024-01-10T08:00:00Z", "4548-4", "Hemoglobin A1c", "6.1", "%", "4", "5.6", ""),
	labResult("a1c-2", "2026-09-12T08:00:00Z", "4548-4", "Hemoglobin A1c", "7.4", "%", "4", "5.6", ""),
	labResult("k", "2026-09-12T08:00:00Z", "2823-3", "Potassium", "3.1", "mmol/L", "3.5", "5.1", "L"),
	labResult("na", "2026-09-12T08:00:00Z", "2951-2", "Sodium", "139", "mmol/L", "136", "145", ""),
	`{"resourceType":"DiagnosticReport","id":"bmp","status":"final","subject":{"reference":"Patient/jose"},"effectiveDateTime":"2026-09-12T08:00:00Z",
		"code":{"coding":[{"system":"http://loinc.org","code":"51990-0","display":"Basic metabolic panel"}]},
		"result":[{"reference":"Observation/k"},{"reference":"Observation/na"}]}`,
	`{"resourceType":"Immunization","id":"flu","status":"completed","patient":{"reference":"Patient/jose"},"occurrenceDateTime":"2025-10-20",
		"vaccineCode":{"text":"Influenza, seasonal"}}`,
	`{"resourceType":"Appointment","id":"next","status":"booked","start":"2026-12-03T14:05:00Z","end":"2026-12-03T14:20:00Z","description":"Diabetes review",
		"participant":[{"actor":{"reference":"Patient/jose"},"status":"accepted"},{"actor":{"reference":"Practitioner/dr-roy","display":"Dr Anita Roy"},"status":"accepted"}]}`,
	`{"resourceType":"CareTeam","id":"team","status":"active","subject":{"reference":"Patient/jose"},"name":"Diabetes team",
		"participant":[{"role":{"text":"Diabetes nurse"},"member":{"reference":"Practitioner/n1","display":"Sister Rina Das"}}]}`,
	`{"resourceType":"Flag","id":"falls","status":"active","subject":{"reference":"Patient/jose"},"code":{"text":"Risk of falls"}}`,
	`{"resourceType":"Encounter","id":"e1","status":"completed","subject":{"reference":"Patient/jose"},"actualPeriod":{"start":"2026-10-01T09:00:00Z","end":"2026-10-01T09:40:00Z"},
		"type":[{"text":"Diabetes clinic visit"}]}`,
	`{"resourceType":"Encounter","id":"e0","status":"completed","subject":{"reference":"Patient/jose"},"actualPeriod":{"start":"2021-03-01T09:00:00Z","end":"2021-03-01T09:30:00Z"},
		"type":[{"text":"General check-up"}]}`,
}

// labResult is a laboratory Observation with a reference range and,
// when interp is set, an interpretation.
func labResult(id, when, code, name, value, unit, low, high, interp string) string {
	s := `{"resourceType":"Observation","id":"` + id + `","status":"final","subject":{"reference":"Patient/jose"},"effectiveDateTime":"` + when + `",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"` + code + `","display":"` + name + `"}]},
		"valueQuantity":{"value":` + value + `,"unit":"` + unit + `","system":"http://unitsofmeasure.org","code":"` + unit + `"},
		"referenceRange":[{"low":{"value":` + low + `,"unit":"` + unit + `"},"high":{"value":` + high + `,"unit":"` + unit + `"}}]`
	if interp != "" {
		s += `,"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"` + interp + `"}]}]`
	}
	return s + "}"
}

// wantAll fails for each of wants missing from the page.
func wantAll(t *testing.T, what string, a answer, status int, wants ...string) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: status %d, want %d\n%.3000s", what, a.status, status, a.body)
		return
	}
	for _, w := range wants {
		if !strings.Contains(a.body, w) {
			t.Errorf("%s: no %q in\n%.6000s", what, w, a.body)
		}
	}
}

func TestChartSummary(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(joseRecord...)
	b := s.signedIn("dr1", "physician")
	a := b.get("/patients/jose")
	wantAll(t, "summary", a, http.StatusOK,
		"Diabetes mellitus type 2", "02-May-2019", // problem with its onset
		"Penicillin", "Hives", "HIGH", // allergies: reaction, criticality in words
		"amoxicillin 500 mg capsule — 1 capsule by mouth three times a day for 7 days. Take with food", // the medication line's order
		"hydrOXYzine 25 mg tablet — one at night if itching",                                           // Tall Man; the text when nothing is structured
		"Alendronic acid 10 mg Oral Tablet — 1 tablet once a day",                                      // RxNorm capitals; a unitless dose counts the form
		"142/91 mmHg", "37.2 °C", "31.05 kg/m²", // vitals: BP from components, readable units, no noise
		"Potassium", `class="rflag low" title="low">L`, "3.5–5.1 mmol/L", // recent results with flags and ranges
		"Influenza, seasonal", "20-Oct-2025",
		"03-Dec-2026 14:05", "Diabetes review", "Dr Anita Roy",
		"Sister Rina Das", "Diabetes nurse",
		"Risk of falls", // an alert in the banner
		// Preventive care: a word for each state, the last record and the next date.
		"Preventive care", "HbA1c (diabetes, every 6 months)</span> <strong class=\"met\">Up to date</strong> <span class=\"k\">last</span> 12-Sep-2026 (HbA1c) <span class=\"k\">next due</span> 12-Mar-2027",
		"Blood pressure check</span> <strong class=\"met\">Up to date</strong> <span class=\"k\">last</span> 01-Oct-2026 (blood pressure) <span class=\"k\">next due</span> 01-Oct-2027",
		"Influenza vaccine (every season)</span> <strong class=\"due\">Due</strong> <span class=\"k\">last</span> 20-Oct-2025 (influenza vaccine)",
		"Colorectal cancer screening</span> <strong class=\"due\">Due</strong> · no record",
		`/patients/jose/trend?code=bp`, `/patients/jose/trend?code=http%3a%2f%2floinc.org%7c2823-3`,
	)
	if i, j := strings.Index(a.body, "Penicillin"), strings.Index(a.body, "Peanut"); i < 0 || j < 0 {
		t.Error("allergies missing")
	}
	// In Bengali the words and digits change, never the order.
	b.get("/language?lang=bn&next=/")
	wantAll(t, "Bengali summary", b.get("/patients/jose"), http.StatusOK,
		"সক্রিয় সমস্যা", "০২-মে-২০১৯", "১ capsule by mouth দিনে তিনবার ৭ দিন ধরে", "১৪২/৯১ mmHg", "সর্বশেষ শারীরিক লক্ষণ",
		"প্রতিরোধমূলক যত্ন", "কোলোরেক্টাল ক্যান্সার স্ক্রিনিং")
	b.get("/language?lang=en&next=/")

	// A patient with nothing recorded: each section says so.
	s.put(`{"resourceType":"Patient","id":"empty","name":[{"family":"Khan","given":["Nadia"]}],"gender":"female","birthDate":"1990-01-01"}`)
	wantAll(t, "empty summary", b.get("/patients/empty"), http.StatusOK,
		"No active problem recorded.", "No active medication recorded.", "No vital signs recorded.", "No results recorded.",
		"No immunization recorded.", "No upcoming appointment.", "No care team recorded.", "Allergies not recorded",
		"Influenza vaccine (every season)</span> <strong class=\"due\">Due</strong> · no record")
}

func TestResultsAndTrends(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(joseRecord...)
	b := s.signedIn("dr1", "physician")
	before := s.audited("jose")
	wantAll(t, "results", b.get("/patients/jose/results"), http.StatusOK,
		"Basic metabolic panel", "Potassium", "3.1 mmol/L", ">L<", "Sodium", "136–145 mmol/L",
		"Results without a panel", "Hemoglobin A1c", "7.4 %", ">H<", // computed from the range
	)
	trend := b.get("/patients/jose/trend?code=" + url.QueryEscape("http://loinc.org|4548-4"))
	wantAll(t, "HbA1c trend", trend, http.StatusOK,
		`<svg class="trend"`, `class="band"`, "Reference range 4–5.6 %", `<table class="trend-table"`,
		"<title>Hemoglobin A1c: 12-Sep-2026 08:00 7.4 % H</title>", "10-Jan-2024 08:00")
	if n := strings.Count(trend.body, "<circle"); n != 2 {
		t.Errorf("HbA1c trend: %d points, want 2", n)
	}
	// Time to scale: the first and last points are at the ends of the
	// axis, and ticks mark the time between.
	if !strings.Contains(trend.body, `cx="56.0"`) || !strings.Contains(trend.body, `cx="624.0"`) || strings.Count(trend.body, `class="grid"`) < 3 {
		t.Errorf("HbA1c trend's time axis:\n%.3000s", trend.body)
	}
	bp := b.get("/patients/jose/trend?code=bp")
	wantAll(t, "BP trend", bp, http.StatusOK, "Systolic", "Diastolic", `class="series s0"`, `class="series s1"`, "142 mmHg", "91 mmHg")
	if n := strings.Count(bp.body, "<circle"); n != 4 {
		t.Errorf("BP trend: %d points, want 4", n)
	}
	wantAll(t, "no values", b.get("/patients/jose/trend?code=egfr"), http.StatusOK, "No value recorded for this test.")
	if a := b.get("/patients/jose/trend"); a.status != http.StatusBadRequest {
		t.Errorf("trend without a code: %d", a.status)
	}
	if after := s.audited("jose"); after < before+4 {
		t.Errorf("results and trend pages: %d audit records, want at least 4 more than %d", after, before)
	}
}

func TestTimeline(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(joseRecord...)
	s.put(`{"resourceType":"DocumentReference","id":"letter","status":"current","subject":{"reference":"Patient/jose"},"date":"2024-06-01T10:00:00Z",
		"type":{"text":"Referral letter"},"content":[{"attachment":{"contentType":"application/pdf","title":"Letter from Dr Sen"}}]}`)
	b := s.signedIn("dr1", "physician")
	a := b.get("/patients/jose/timeline")
	wantAll(t, "timeline", a, http.StatusOK, "Diabetes clinic visit", "Letter from Dr Sen", "General check-up")
	if i, j, k := strings.Index(a.body, "Diabetes clinic visit"), strings.Index(a.body, "Letter from Dr Sen"), strings.Index(a.body, "General check-up"); !(i < j && j < k) {
		t.Errorf("timeline not newest first: %d %d %d", i, j, k)
	}
	a = b.get("/patients/jose/timeline?kind=encounter&from=01-Jan-2022")
	wantAll(t, "filtered timeline", a, http.StatusOK, "Diabetes clinic visit")
	if strings.Contains(a.body, "Letter from Dr Sen") || strings.Contains(a.body, "General check-up") {
		t.Errorf("the filter let through other kinds or dates:\n%.4000s", a.body)
	}
	wantAll(t, "not a date", b.get("/patients/jose/timeline?from=03/13/2022"), http.StatusOK, "This is not a date", `value="03/13/2022"`)
}

// upload posts a file to the documents form as a browser would.
func (b *browser) upload(path, csrf, filename string, content []byte) answer {
	b.s.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", csrf)
	mw.WriteField("type", "57133-1")
	mw.WriteField("title", "Referral from Dr Sen")
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write(content)
	mw.Close()
	resp, err := b.client.Post(b.s.srv.URL+path, mw.FormDataContentType(), &body)
	if err != nil {
		b.s.t.Fatal(err)
	}
	return read(b.s.t, resp)
}

func TestDocuments(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/documents")
	wantAll(t, "documents", page, http.StatusOK, "No document recorded.", `enctype="multipart/form-data"`)
	csrf := csrfOf(t, page.body)
	pdf := []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
	a := b.upload("/patients/jose/documents", csrf, "letter.pdf", pdf)
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/patients/jose/documents/") {
		t.Fatalf("upload a PDF: %d %s %.2000s", a.status, a.location, a.body)
	}
	before := s.audited("jose")
	view := b.get(a.location)
	wantAll(t, "document", view, http.StatusOK, "Referral from Dr Sen", "Referral letter", "dr1", `<iframe class="docview" src="/patients/jose/binary/`)
	bin := regexp.MustCompile(`src="(/patients/jose/binary/[^"]+)"`).FindStringSubmatch(view.body)[1]
	resp, err := b.client.Get(s.srv.URL + bin)
	if err != nil {
		t.Fatal(err)
	}
	got := read(t, resp)
	h := resp.Header
	if got.status != http.StatusOK || got.body != string(pdf) || h.Get("Content-Type") != "application/pdf" || h.Get("Content-Disposition") != "inline" ||
		h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("binary: %d %v %q", got.status, h, got.body)
	}
	if a := b.get(bin + "?download=1"); a.status != http.StatusOK || a.body != string(pdf) {
		t.Errorf("download: %d", a.status)
	}
	if after := s.audited("jose"); after < before+2 {
		t.Errorf("viewing the document and its bytes: %d audit records, want at least %d", after, before+2)
	}
	// The stored attachment says what FHIR asks: type, size, SHA-1, and
	// both resources are valid R5.
	wantAll(t, "list", b.get("/patients/jose/documents"), http.StatusOK, "Referral from Dr Sen", "1 kB")
	docID := strings.TrimPrefix(a.location, "/patients/jose/documents/")
	doc, err := s.store.Read(context.Background(), "DocumentReference", docID)
	if err != nil {
		t.Fatal(err)
	}
	att := attachmentOf(doc.Resource)
	sum := sha1.Sum(pdf)
	if att["contentType"] != "application/pdf" || att["size"] != strconv.Itoa(len(pdf)) || att["hash"] != base64.StdEncoding.EncodeToString(sum[:]) ||
		audit.PatientOf(doc.Resource) != "Patient/jose" || str(doc.Resource, "date") == "" {
		t.Errorf("stored DocumentReference: %s", doc.Resource.JSON())
	}
	binary, err := s.store.Read(context.Background(), "Binary", strings.TrimPrefix(str(att, "url"), "Binary/"))
	if err != nil {
		t.Fatal(err)
	}
	validator := validate.New(spec.R5())
	for _, v := range []*store.Version{doc, binary} {
		if issues := validator.Validate(v.Resource); validate.HasErrors(issues) {
			t.Errorf("%s is not valid R5: %v", v.Type, issues)
		}
	}

	// Refused: an executable renamed .pdf, a file over 10 MB, no file.
	exe := append([]byte("MZ\x90\x00\x03"), make([]byte, 100)...)
	wantAll(t, "exe as pdf", b.upload("/patients/jose/documents", csrf, "scan.pdf", exe), http.StatusUnsupportedMediaType,
		"“scan.pdf” is not a PDF, PNG or JPEG file", `value="Referral from Dr Sen"`)
	big := append([]byte("%PDF-1.4\n"), make([]byte, maxDocument)...)
	wantAll(t, "too large", b.upload("/patients/jose/documents", csrf, "big.pdf", big), http.StatusRequestEntityTooLarge, "larger than 10 MB")
	huge := append([]byte("%PDF-1.4\n"), make([]byte, maxBody)...)
	wantAll(t, "far too large", b.upload("/patients/jose/documents", csrf, "huge.pdf", huge), http.StatusRequestEntityTooLarge, "larger than 10 MB")
	// Another patient's binary is not served under this one.
	s.put(rahim)
	if a := b.get(strings.Replace(bin, "/jose/", "/rahim/", 1)); a.status != http.StatusNotFound {
		t.Errorf("José's document under Rahim: %d", a.status)
	}
}

func TestBreakGlassIntoRestrictedChart(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(joseRecord...)
	s.put(optOut)
	b := s.practitioner("dr2")
	a := b.get("/patients/jose")
	wantAll(t, "restricted", a, http.StatusForbidden, "Access to this record is restricted", `action="/patients/jose/break-glass"`, `<option value="unconscious">Patient unconscious`)
	if strings.Contains(a.body, "GARCÍA") || strings.Contains(a.body, "Penicillin") {
		t.Errorf("the restricted page shows the patient:\n%.3000s", a.body)
	}
	for _, path := range []string{"/patients/jose/results", "/patients/jose/documents", "/patients/jose/timeline"} {
		if a := b.get(path); a.status != http.StatusForbidden || strings.Contains(a.body, "Potassium") {
			t.Errorf("%s while restricted: %d", path, a.status)
		}
	}
	csrf := csrfOf(t, a.body)
	// A reason too short is refused, keeping what was typed.
	wantAll(t, "short reason", b.post("/patients/jose/break-glass", url.Values{"csrf": {csrf}, "reason": {"other"}, "note": {"help"}}),
		http.StatusBadRequest, "at least 10 characters", ">help</textarea>")
	a = b.post("/patients/jose/break-glass", url.Values{"csrf": {csrf}, "reason": {"unconscious"}, "note": {"brought in unconscious after a fall"}})
	if a.status != http.StatusSeeOther || a.location != "/patients/jose" {
		t.Fatalf("break-glass: %d %s %.2000s", a.status, a.location, a.body)
	}
	recs, err := s.store.ListRecords(context.Background(), "emergency", "dr2")
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].Value), "Patient unconscious or unable to consent: brought in unconscious after a fall") {
		t.Errorf("the grant's record: %v %v", err, recs)
	}
	wantAll(t, "chart under break-glass", b.get("/patients/jose"), http.StatusOK,
		"GARCÍA, José Luis (Mr)", "Penicillin", `class="flag emergency"`, "Emergency access (break-glass) until", "Consent limits access")

	// The patient role never sees the form: it cannot break the glass.
	if _, err := s.accounts.Add(context.Background(), "rahim", "patient", auth.AddOptions{Password: pw, Patient: "rahim"}); err != nil {
		t.Fatal(err)
	}
	s.put(rahim)
	p := s.browser()
	p.signIn("rahim", pw, "")
	a = p.get("/patients/jose")
	wantAll(t, "patient role", a, http.StatusForbidden, "Access to this record is restricted")
	if strings.Contains(a.body, "break-glass") {
		t.Errorf("a patient is offered break-glass:\n%.2000s", a.body)
	}
}

// TestRestrictedViewAudited: a chart the user may not see is refused, and
// the refusal is recorded under the patient, so that "who tried to see my
// record" finds it as "who saw my record" does.
func TestRestrictedViewAudited(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, optOut)
	b := s.practitioner("dr2")
	for _, path := range []string{"/patients/jose", "/patients/jose/results"} {
		before := s.audited("jose")
		if a := b.get(path); a.status != http.StatusForbidden {
			t.Fatalf("%s: %d, want 403", path, a.status)
		}
		page, err := s.store.SearchAudit(context.Background(), store.AuditQuery{Terms: [][]audit.Term{{{Name: audit.ParamPatient, Value: "Patient/jose"}}}, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		if after := s.audited("jose"); after != before+1 || len(page.Records) != 1 {
			t.Fatalf("%s: %d audit records of Patient/jose before, %d after; want one more", path, before, after)
		}
		var ev struct {
			Patient struct{ Reference string }
			Outcome struct {
				Code   struct{ Code string }
				Detail []struct{ Text string }
			}
			Entity []struct {
				What struct{ Reference string }
			}
		}
		if err := json.Unmarshal(page.Records[0].Event, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Patient.Reference != "Patient/jose" || ev.Outcome.Code.Code != "4" || len(ev.Entity) == 0 || ev.Entity[0].What.Reference != "Patient/jose" ||
			len(ev.Outcome.Detail) == 0 || !strings.HasPrefix(ev.Outcome.Detail[0].Text, "denied") {
			t.Errorf("%s: the refusal is recorded as %s", path, page.Records[0].Event)
		}
	}
}

func TestEveryChartPageAudited(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(joseRecord...)
	b := s.signedIn("dr1", "physician")
	for _, path := range []string{"/patients/jose", "/patients/jose/timeline", "/patients/jose/results",
		"/patients/jose/trend?code=bp", "/patients/jose/documents"} {
		before := s.audited("jose")
		if a := b.get(path); a.status != http.StatusOK {
			t.Errorf("%s: %d", path, a.status)
		}
		if after := s.audited("jose"); after <= before {
			t.Errorf("%s left no audit record", path)
		}
	}
}

// TestPrintStylesheet: printed, a chart page keeps the banner and drops
// the navigation and the forms.
func TestPrintStylesheet(t *testing.T) {
	css, err := staticFS.ReadFile("static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	var print strings.Builder
	for _, block := range strings.Split(string(css), "@media print {")[1:] {
		print.WriteString(block[:strings.Index(block, "\n}")])
	}
	for _, want := range []string{".pnav", ".pager", ".upload", ".breakglass", ".top"} {
		if !regexp.MustCompile(`(?m)^\s*[^{]*` + regexp.QuoteMeta(want) + `[^{]*\{[^}]*display: none`).MatchString(print.String()) {
			t.Errorf("print stylesheet keeps %s", want)
		}
	}
	if strings.Contains(print.String(), ".banner {") && strings.Contains(print.String(), ".banner { display: none") {
		t.Error("print stylesheet drops the banner")
	}
	// Sticky on screen, the banner must be static in print: Chromium
	// repeats a fixed element on every printed page, over the content.
	if !regexp.MustCompile(`(?m)^\s*\.banner \{[^}]*position: static`).MatchString(print.String()) {
		t.Error("print stylesheet leaves the banner sticky")
	}
}

// TestChartForLimitedRoles: a section the role may not see says so; it
// never reads as "nothing recorded".
func TestChartForLimitedRoles(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(joseRecord...)
	b := s.signedIn("reg1", "registrar")
	a := b.get("/patients/jose")
	wantAll(t, "registrar's chart", a, http.StatusOK, "GARCÍA, José Luis (Mr)", "Not available to your role", "03-Dec-2026 14:05")
	for _, wrong := range []string{"Allergies not recorded", "No active problem recorded.", "No active medication recorded.", "Penicillin", "Potassium"} {
		if strings.Contains(a.body, wrong) {
			t.Errorf("registrar's chart says %q", wrong)
		}
	}
	wantAll(t, "registrar's results", b.get("/patients/jose/results"), http.StatusOK, "Not available to your role")
	wantAll(t, "registrar's timeline", b.get("/patients/jose/timeline"), http.StatusOK, "Diabetes clinic visit", "not available to your role: Documents, Notes")
}

// TestChartPreventiveCare: what the reminders cannot work out is said;
// only the record shown as evidence counts as shown.
func TestChartPreventiveCare(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(joseRecord...)
	s.put(`{"resourceType":"Procedure","id":"colo-old","status":"completed","subject":{"reference":"Patient/jose"},"occurrenceDateTime":"2012-04-02",
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"73761001","display":"Colonoscopy"}]}}`,
		`{"resourceType":"Procedure","id":"colo-new","status":"completed","subject":{"reference":"Patient/jose"},"occurrenceDateTime":"2024-04-02",
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"73761001","display":"Colonoscopy"}]}}`,
		`{"resourceType":"Patient","id":"gone","name":[{"family":"Das"}],"gender":"female","birthDate":"1950-01-01","deceasedDateTime":"2020-01-01"}`,
		`{"resourceType":"Patient","id":"nodob","name":[{"family":"Roy"}],"gender":"female"}`,
		`{"resourceType":"Patient","id":"crc","name":[{"family":"Sen"}],"gender":"male","birthDate":"1960-01-01"}`,
		`{"resourceType":"Condition","id":"crc1","subject":{"reference":"Patient/crc"},
			"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"resolved"}]},
			"code":{"coding":[{"system":"http://snomed.info/sct","code":"94260004","display":"Secondary malignant neoplasm of colon"}]}}`)
	b := s.signedIn("dr1", "physician")
	before := s.audited("jose")
	wantAll(t, "jose", b.get("/patients/jose"), http.StatusOK,
		`Colorectal cancer screening</span> <strong class="met">Up to date</strong> <span class="k">last</span> 02-Apr-2024 (colonoscopy) <span class="k">next due</span> 02-Apr-2034`)
	page, err := s.store.SearchAudit(context.Background(), store.AuditQuery{Terms: [][]audit.Term{{{Name: audit.ParamPatient, Value: "Patient/jose"}}}, Count: 100})
	if err != nil || len(page.Records) <= before {
		t.Fatal(err)
	}
	read := string(page.Records[0].Event)
	if !strings.Contains(read, "Procedure/colo-new") || strings.Contains(read, "Procedure/colo-old") {
		t.Errorf("the chart's audit record should name the colonoscopy shown, and only it: %s", read)
	}
	wantAll(t, "deceased", b.get("/patients/gone"), http.StatusOK, "None: the patient has died")
	wantAll(t, "no birth date", b.get("/patients/nodob"), http.StatusOK,
		`Date of birth</span> <strong class="other">Not known: the reminders that depend on age are not worked out</strong>`)
	wantAll(t, "history of colorectal cancer", b.get("/patients/crc"), http.StatusOK,
		`Colorectal cancer screening</span> <strong class="other">Surveillance</strong> · follows a specialist&#39;s plan, not these intervals (Secondary malignant neoplasm of colon)`)
	if a := b.get("/patients/gone"); strings.Contains(a.body, "Influenza vaccine") {
		t.Error("a deceased patient is reminded of a vaccine")
	}
	// A Consent limits the record: a hidden positive stool test could undo
	// "up to date", so it is not said.
	s.put(`{"resourceType":"Patient","id":"cons","name":[{"family":"Ali"}],"gender":"male","birthDate":"1960-01-01"}`,
		`{"resourceType":"Procedure","id":"colo-c","status":"completed","subject":{"reference":"Patient/cons"},"occurrenceDateTime":"2024-04-02",
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"73761001"}]}}`,
		`{"resourceType":"Consent","id":"c-cons","status":"active","subject":{"reference":"Patient/cons"},"decision":"permit",
			"provision":[{"actor":[{"reference":{"reference":"Practitioner/someone-else"}}]}]}`)
	wantAll(t, "consent", b.get("/patients/cons"), http.StatusOK,
		`Colorectal cancer screening</span> <strong class="other">Not worked out: part of the record is hidden from you</strong>`)
}
