package main

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserVisitNote documents a visit in a real browser: start it,
// write a SOAP note that is saved as it is typed, reload the page and find
// the draft, sign it, amend it with a reason, finish the visit.
func TestBrowserVisitNote(t *testing.T) {
	skipWithoutBrowser(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	patient := `{"resourceType":"Patient","id":"p1","name":[{"family":"Okafor","given":["Chidinma"]}],"gender":"female","birthDate":"1984-03-09"}`
	if status, _, _ := call(t, "PUT", s.base+"/Patient/p1", fhirJSON, patient); status != http.StatusCreated {
		t.Fatalf("PUT Patient/p1: %d", status)
	}
	b := newBrowser(t, s)
	b.signIn("doc", addUser(t, dir, "doc", "physician"))

	b.visit("/patients/p1")
	b.follow("Visits")
	b.fill("Reason for the visit", "Tired and thirsty")
	b.fill("Where", "Room 2")
	b.press("Start the visit")
	b.see(`//dd[normalize-space(.)="In progress"]`)
	b.check("visit")

	// Vitals typed in pounds and Fahrenheit, stored converted.
	b.follow("Record vital signs")
	b.fill("Blood pressure", "128/82")
	b.fill("Weight", "154 lb")
	b.fill("Temperature", "98.6")
	b.do("choosing Fahrenheit", chromedp.SetValue(chromedp.Search(`//select[@id="temp-unit"]`), "[degF]"))
	b.check("vitals-form")
	b.press("Save the vital signs")
	vitals := b.see(`//section[@aria-labelledby="vitals-h"]`)
	for _, want := range []string{"128/82", "69.85 kg", "37 °C"} {
		if !strings.Contains(vitals, want) {
			t.Errorf("the visit's vitals lack %q:\n%s", want, vitals)
		}
	}

	// A PHQ-9: each answer picked by its question, the score shown.
	b.follow("Fill in PHQ-9")
	questions := []string{"Little interest", "Feeling down", "Trouble falling", "Feeling tired", "Poor appetite", "Feeling bad about yourself",
		"Trouble concentrating", "Moving or speaking", "Thoughts that you"}
	for i, q := range questions {
		answer := []string{"Several days", "Not at all", "More than half the days"}[i%3]
		b.do("answering "+q, chromedp.Click(chromedp.Search(`//fieldset[legend[starts-with(normalize-space(.), `+xq(q)+`)]]//label[normalize-space(.)=`+xq(answer)+`]`), chromedp.NodeVisible))
	}
	b.check("phq9")
	b.press("Save the answers")
	// 1+0+2 three times = 9: mild.
	if score := b.see(`//p[@class="score"]`); !strings.Contains(score, "9") || !strings.Contains(score, "mild") {
		t.Errorf("the PHQ-9 score reads %q, want 9, mild", score)
	}
	b.check("phq9-score")
	b.follow("Visit")

	b.press("Write a note")
	b.fill("Subjective", "Tired and thirsty for two weeks.")
	b.fill("Assessment", "Possible diabetes")
	// Saved as typed: no button pressed.
	b.see(`//*[@role="status"][starts-with(normalize-space(.), "Draft saved at")]`)
	b.check("note-editor")
	note := b.location()
	b.visit(note)
	if got := eval[string](b, `document.getElementById("s0").value`); got != "Tired and thirsty for two weeks." {
		t.Fatalf("after a reload the Subjective section holds %q", got)
	}
	if got := eval[string](b, `document.getElementById("s2").value`); got != "Possible diabetes" {
		t.Fatalf("after a reload the Assessment section holds %q", got)
	}
	b.fill("Plan", "HbA1c, review in a week")
	b.press("Sign the note")
	text := b.see(`//article[@class="notetext"]`)
	for _, want := range []string{"Tired and thirsty for two weeks.", "Possible diabetes", "HbA1c, review in a week"} {
		if !strings.Contains(text, want) {
			t.Errorf("the signed note lacks %q:\n%s", want, text)
		}
	}
	b.see(`//h2/span[normalize-space(.)="Signed"]`)
	b.check("note-signed")

	b.follow("Amend the note")
	b.do("correcting the assessment", clearField("Assessment"))
	b.fill("Assessment", "Type 2 diabetes")
	b.fill("Reason for the amendment", "HbA1c came back at 7.4%")
	b.press("Sign the amendment")
	b.see(`//p[@class="amended"][contains(., "HbA1c came back at 7.4%")]`)
	// The earlier signed version; its number depends on how many drafts
	// the typing saved.
	b.waitForPage("opening the signed original", chromedp.Click(chromedp.Search(`//a[starts-with(normalize-space(.), "version ")]`), chromedp.NodeVisible))
	b.see(`//*[@role="note"][contains(., "as it was signed")]`)
	if text := b.see(`//article[@class="notetext"]`); !strings.Contains(text, "Possible diabetes") {
		t.Errorf("the signed original is not readable:\n%s", text)
	}
	b.check("note-original")

	b.follow("Visit")
	b.press("Finish the visit")
	b.see(`//dd[normalize-space(.)="Finished"]`)
}

// clearField empties the field label names.
func clearField(label string) chromedp.Action[chromedp.Void] {
	return chromedp.Clear(chromedp.Search(field(label)))
}

// TestBrowserCodedProblem adds a problem by picking a term offered as one
// types, and an allergy typed in full, and sees both coded.
func TestBrowserCodedProblem(t *testing.T) {
	skipWithoutBrowser(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	for path, body := range map[string]string{
		"/Patient/p1": `{"resourceType":"Patient","id":"p1","name":[{"family":"Okafor","given":["Chidinma"]}],"gender":"female","birthDate":"1984-03-09"}`,
		"/CodeSystem/sct": `{"resourceType":"CodeSystem","id":"sct","url":"http://snomed.info/sct","title":"SNOMED CT","status":"active","content":"fragment",
			"concept":[{"code":"44054006","display":"Diabetes mellitus type 2"},{"code":"73211009","display":"Diabetes mellitus"}]}`,
		"/CodeSystem/rx": `{"resourceType":"CodeSystem","id":"rx","url":"http://www.nlm.nih.gov/research/umls/rxnorm","title":"RxNorm","status":"active","content":"fragment",
			"concept":[{"code":"723","display":"Amoxicillin"}]}`,
	} {
		if status, _, _ := call(t, "PUT", s.base+path, fhirJSON, body); status != http.StatusCreated {
			t.Fatalf("PUT %s: %d", path, status)
		}
	}
	b := newBrowser(t, s)
	b.signIn("doc", addUser(t, dir, "doc", "physician"))
	b.visit("/patients/p1")
	b.follow("Problems")
	b.fill("Problem or diagnosis", "diab typ")
	option := `//ul[@aria-label="Matching terms"]//button[starts-with(normalize-space(.), "Diabetes mellitus type 2")]`
	b.see(option)
	b.check("problems-options")
	b.do("picking the term", chromedp.Click(chromedp.Search(option), chromedp.NodeVisible))
	b.see(`//*[@role="status"][contains(., "Coded as Diabetes mellitus type 2")]`)
	b.fill("Since when", "2019-05-02")
	b.press("Add to the problem list")
	b.see(`//table//td[contains(., "Diabetes mellitus type 2")][contains(., "SNOMED CT 44054006")]`)
	b.check("problems")

	b.follow("Allergies")
	b.fill("Substance, drug or food", "Amoxicillin")
	b.fill("Reaction", "Hives")
	b.press("Record the allergy")
	b.see(`//table//td[contains(., "Amoxicillin")][contains(., "RxNorm 723")]`)
	if banner := b.see(`//section[starts-with(@aria-label, "Chart")]`); !strings.Contains(banner, "Amoxicillin") {
		t.Errorf("the banner does not name the allergy:\n%s", banner)
	}
	b.check("allergies")
}

// TestBrowserPrescribeAllergy prescribes, in a visit, a drug the patient
// is allergic to: the alert names the rule and the allergy, the override
// needs a reason, and the prescription prints as a PDF whose text
// (pdftotext) and first page (pdftoppm) are checked.
func TestBrowserPrescribeAllergy(t *testing.T) {
	skipWithoutBrowser(t)
	required := os.Getenv("EMR_TEST_BROWSER_REQUIRED") == "1"
	dir := t.TempDir()
	s := startServer(t, dir)
	for path, body := range map[string]string{
		"/Patient/p1": `{"resourceType":"Patient","id":"p1","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"value":"MRN-1001"}],` +
			`"name":[{"family":"Okafor","given":["Chidinma"]}],"gender":"female","birthDate":"1984-03-09"}`,
		"/CodeSystem/rx": `{"resourceType":"CodeSystem","id":"rx","url":"http://www.nlm.nih.gov/research/umls/rxnorm","title":"RxNorm","status":"active","content":"fragment",
			"concept":[{"code":"723","display":"Amoxicillin"}]}`,
		"/AllergyIntolerance/a1": `{"resourceType":"AllergyIntolerance","id":"a1","patient":{"reference":"Patient/p1"},"criticality":"high",
			"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},
			"code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"723","display":"Amoxicillin"}]}}`,
	} {
		if status, _, _ := call(t, "PUT", s.base+path, fhirJSON, body); status != http.StatusCreated {
			t.Fatalf("PUT %s: %d", path, status)
		}
	}
	b := newBrowser(t, s)
	b.signIn("doc", addUser(t, dir, "doc", "physician"))
	b.visit("/patients/p1/visits")
	b.fill("Reason for the visit", "Sore throat")
	b.press("Start the visit")
	b.follow("Prescribe")
	b.fill("Medicine", "Amoxicillin")
	b.fill("Dose", "1")
	b.fill("Dose unit", "capsule")
	b.do("choosing three times a day", chromedp.SetValue(chromedp.Search(field("How often")), "TID"))
	b.fill("For how long", "7 days")
	b.press("Check and sign the prescription")
	alert := b.see(`//section[@role="alert"]`)
	for _, want := range []string{"Allergy", "Amoxicillin matches the recorded allergy to Amoxicillin", "AllergyIntolerance/a1"} {
		if !strings.Contains(alert, want) {
			t.Errorf("the alert lacks %q:\n%s", want, alert)
		}
	}
	b.check("prescription-alert")
	b.fill("Reason to prescribe anyway", "Tolerated a full course in 2025 under observation")
	b.press("Prescribe despite the alert")
	b.see(`//*[@role="status"][contains(., "Prescription for Amoxicillin signed.")]`)
	b.check("prescription-signed")

	// Order a laboratory test for the same visit.
	b.follow("Orders")
	b.do("ticking HbA1c", chromedp.Click(chromedp.Search(`//label[starts-with(normalize-space(.), "Hemoglobin A1c")]`), chromedp.NodeVisible))
	b.fill("Reason for the tests", "Diabetes review")
	b.press("Check and sign the order")
	b.see(`//*[@role="status"][contains(., "Order signed.")]`)
	if list := b.see(`//table[@class="clinical-list"]`); !strings.Contains(list, "Hemoglobin A1c") || !strings.Contains(list, "No result yet") {
		t.Errorf("the order list:\n%s", list)
	}
	b.check("orders")
	b.follow("Medicines")

	href := eval[string](b, `document.querySelector('a[href$="prescription.pdf"]').getAttribute("href")`)
	encoded := eval[string](b, `fetch(`+strconv.Quote(href)+`).then(r => r.arrayBuffer()).then(buf => {
		let s = ""; new Uint8Array(buf).forEach(c => s += String.fromCharCode(c)); return btoa(s); })`)
	pdf, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("the prescription is not a PDF (%v): %.40q", err, pdf)
	}
	out := filepath.Join(b.artifacts, filepath.FromSlash(t.Name()))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(out, "prescription.pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if required {
			t.Fatal("pdftotext (poppler-utils) is not installed")
		}
		t.Skip("pdftotext is not installed: the PDF's text and rendering are not checked")
	}
	text, err := exec.Command("pdftotext", "-layout", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	for _, want := range []string{"OKAFOR, Chidinma", "09-Mar-1984", "MRN-1001", "Amoxicillin", "three times a day", "7 days", "21", "doc", "Signature"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the prescription's text lacks %q:\n%s", want, text)
		}
	}
	if err := exec.Command("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", file, filepath.Join(out, "rx-page")).Run(); err != nil {
		t.Fatalf("pdftoppm: %v", err)
	}
	pages, _ := filepath.Glob(filepath.Join(out, "rx-page*.png"))
	if len(pages) != 1 {
		t.Fatalf("pdftoppm rendered %v", pages)
	}
	if st, err := os.Stat(pages[0]); err != nil || st.Size() < 2000 {
		t.Errorf("the rendered page is empty: %v", err)
	}
}
