package papers

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/clinical/dosage"
	"github.com/emr-project/emr/internal/fhir"
)

var visitDate = time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)

func fixture(t testing.TB, s string) fhir.Resource {
	t.Helper()
	r, err := fhir.ParseResource([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const patientJSON = `{"resourceType":"Patient","id":"p1",
 "identifier":[{"system":"urn:oid:1.2.3","value":"NHS-999"},{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"value":"MRN-00042"}],
 "name":[{"use":"usual","given":["Chi"]},{"use":"official","family":"Okafor","given":["Chidinma","Ngozi"],"prefix":["Mrs"]}],
 "gender":"female","birthDate":"1984-03-09",
 "address":[{"line":["12 Harbour Road"],"city":"Lagos","postalCode":"100001"}]}`

const practitionerJSON = `{"resourceType":"Practitioner","id":"d1",
 "identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893"}],
 "name":[{"family":"Obi","given":["Ada"],"prefix":["Dr"]}],
 "qualification":[{"code":{"text":"MBBS"}}],"telecom":[{"system":"phone","value":"+234 1 555 0100"}]}`

func prescription(t testing.TB) Prescription {
	d, err := dosage.Build(dosage.Form{Dose: "1", DoseUnit: "capsule", Route: "oral", Frequency: "TID", Duration: "7 days"})
	if err != nil {
		t.Fatal(err)
	}
	mr := fhir.Resource{"resourceType": "MedicationRequest", "status": "active",
		"medication":        map[string]any{"concept": map[string]any{"text": "amoxicillin 500 mg capsule"}},
		"dosageInstruction": []any{d},
		"dispenseRequest":   map[string]any{"quantity": map[string]any{"value": 21, "unit": "capsules"}, "numberOfRepeatsAllowed": 0},
		"note":              []any{map[string]any{"text": "Finish the course."}}}
	m, err := MedicationFrom(mr)
	if err != nil {
		t.Fatal(err)
	}
	return Prescription{Patient: PatientFrom(fixture(t, patientJSON)), Prescriber: ClinicianFrom(fixture(t, practitionerJSON)),
		Date: visitDate, Medications: []Medication{m}, Allergies: []string{"penicillin (overridden: tolerated before)"}}
}

func TestFromResources(t *testing.T) {
	p := PatientFrom(fixture(t, patientJSON))
	if p.Name != "OKAFOR, Chidinma Ngozi (Mrs)" || p.BirthDate != "09-Mar-1984" || p.Sex != "female" {
		t.Errorf("patient: got %+v", p)
	}
	if len(p.Identifiers) != 2 || p.Identifiers[0] != (Identifier{"MRN", "MRN-00042"}) {
		t.Errorf("identifiers: got %v, want the MRN first", p.Identifiers)
	}
	if p.Address != "12 Harbour Road, Lagos, 100001" {
		t.Errorf("address: got %q", p.Address)
	}
	c := ClinicianFrom(fixture(t, practitionerJSON))
	if c.Name != "Dr Ada Obi" || c.Qualification != "MBBS" || c.Identifier != (Identifier{"NPI", "1234567893"}) || c.Phone == "" {
		t.Errorf("clinician: got %+v", c)
	}
	m := prescription(t).Medications[0]
	if m.Instructions != "Take 1 capsule by mouth three times a day for 7 days." || m.Quantity != "21 capsules" || m.Note != "Finish the course." {
		t.Errorf("medication: got %+v", m)
	}
	sr := fixture(t, `{"resourceType":"ServiceRequest","status":"active","intent":"order","priority":"urgent",
	 "code":{"concept":{"coding":[{"system":"http://loinc.org","code":"58410-2","display":"CBC panel - Blood by Automated count"}],"text":"Full blood count"}},
	 "reason":[{"concept":{"text":"Fatigue"}},{"reference":{"reference":"Condition/c1","display":"Anaemia"}}],
	 "specimen":[{"reference":"Specimen/s1","display":"Venous blood, EDTA"}],"note":[{"text":"Fasting not needed"}]}`)
	tst := OrderFrom(sr)
	want := Order{Name: "Full blood count", Code: "LOINC 58410-2", Priority: "urgent", Reason: "Fatigue; Anaemia", Specimen: "Venous blood, EDTA", Note: "Fasting not needed"}
	if tst != want {
		t.Errorf("test: got %+v, want %+v", tst, want)
	}
	obs := fixture(t, `{"resourceType":"Observation","code":{"text":"Blood pressure"},"component":[
	 {"code":{"text":"Systolic"},"valueQuantity":{"value":128,"unit":"mmHg"}},{"code":{"text":"Diastolic"},"valueQuantity":{"value":82,"unit":"mmHg"}}]}`)
	if r := ReadingFrom(obs); r != (Reading{"Blood pressure", "128/82 mmHg"}) {
		t.Errorf("reading: got %+v", r)
	}
	// Empty and odd resources give empty fields, never a panic.
	for _, r := range []fhir.Resource{{"resourceType": "Patient"}, {"resourceType": "Patient", "name": "x", "identifier": []any{1, "a"}, "birthDate": 5}} {
		PatientFrom(r)
		ClinicianFrom(r)
		OrderFrom(r)
		ReadingFrom(r)
		if _, err := MedicationFrom(r); err != nil {
			t.Errorf("MedicationFrom of an odd resource: %v", err)
		}
	}
	bad := fhir.Resource{"resourceType": "MedicationRequest", "dosageInstruction": []any{map[string]any{"doseAndRate": []any{map[string]any{"doseQuantity": map[string]any{"value": -1}}}}}}
	if _, err := MedicationFrom(bad); err == nil {
		t.Error("an unreadable dosage must be an error, not a printed guess")
	}
}

// pdfText extracts the text of a PDF with pdftotext, or returns "" and
// false when it is not installed.
func pdfText(t *testing.T, pdf []byte) (string, bool) {
	path, err := exec.LookPath("pdftotext")
	if err != nil {
		return "", false
	}
	file := filepath.Join(t.TempDir(), "paper.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "-layout", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), " "), true
}

// rawText is the fallback without pdftotext: the uncompressed content
// streams hold each printed line as a PDF string "(…)Tj" in
// Windows-1252, read here as Latin-1 (the same for the letters tested).
func rawText(pdf []byte) string {
	var b strings.Builder
	runes := make([]rune, len(pdf))
	for i, c := range pdf {
		runes[i] = rune(c)
	}
	s := string(runes)
	for {
		i := strings.Index(s, "(")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], ")Tj")
		if j < 0 {
			break
		}
		b.WriteString(strings.NewReplacer(`\(`, "(", `\)`, ")", `\\`, `\`).Replace(s[i+1:i+j]) + " ")
		s = s[i+j:]
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func checkPaper(t *testing.T, name string, write func(o options) ([]byte, error), want []string) {
	t.Helper()
	compressed, err := write(options{compress: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(compressed, []byte("%PDF-1.")) || !bytes.Contains(compressed, []byte("%%EOF")) {
		t.Fatalf("%s is not a PDF", name)
	}
	text, ok := pdfText(t, compressed)
	if !ok {
		t.Logf("pdftotext is not installed (poppler-utils): checking the uncompressed content streams instead")
		plain, err := write(options{compress: false})
		if err != nil {
			t.Fatal(err)
		}
		text = rawText(plain)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q; text:\n%s", name, w, text)
		}
	}
	again, _ := write(options{compress: true})
	if !bytes.Equal(compressed, again) {
		t.Errorf("%s: the same input gave different bytes", name)
	}
}

func TestPrescription(t *testing.T) {
	rx := prescription(t)
	checkPaper(t, "prescription", func(o options) ([]byte, error) {
		var b bytes.Buffer
		err := writePrescription(&b, rx, o)
		return b.Bytes(), err
	}, []string{"Prescription", "OKAFOR, Chidinma Ngozi (Mrs)", "09-Mar-1984", "MRN-00042", "Dr Ada Obi", "1234567893",
		"amoxicillin 500 mg capsule", "Take 1 capsule by mouth three times a day for 7 days.", "Quantity: 21 capsules", "Refills: 0",
		"Signature", "Date 23-Nov-2026", "penicillin"})
}

func TestRequisition(t *testing.T) {
	r := Requisition{Patient: PatientFrom(fixture(t, patientJSON)), Orderer: ClinicianFrom(fixture(t, practitionerJSON)), Date: visitDate,
		Tests: []Order{{Name: "Full blood count", Code: "LOINC 58410-2", Priority: "urgent", Reason: "Fatigue", Specimen: "Venous blood, EDTA"},
			{Name: "Chest X-ray", Reason: "Cough for 3 weeks"}},
		Clinical: "Tired for a month; on amoxicillin."}
	checkPaper(t, "requisition", func(o options) ([]byte, error) {
		var b bytes.Buffer
		err := writeRequisition(&b, r, o)
		return b.Bytes(), err
	}, []string{"Order requisition", "OKAFOR, Chidinma Ngozi (Mrs)", "MRN-00042", "Full blood count - LOINC 58410-2", "urgent",
		"Venous blood, EDTA", "Chest X-ray", "routine", "Cough for 3 weeks", "Signature"})
}

func TestVisitSummary(t *testing.T) {
	rx := prescription(t)
	v := VisitSummary{Patient: rx.Patient, Clinician: rx.Prescriber, Date: visitDate, Reason: "Sore throat and fever",
		Vitals:    []Reading{{"Blood pressure", "128/82 mmHg"}, {"Temperature", "38.2 °C"}},
		Diagnoses: []string{"Acute tonsillitis"}, Medications: rx.Medications, Tests: []Order{{Name: "Throat swab", Priority: "routine"}},
		Instructions: "Drink plenty of fluids.", FollowUp: "Come back in 1 week if not better."}
	checkPaper(t, "visit summary", func(o options) ([]byte, error) {
		var b bytes.Buffer
		err := writeVisitSummary(&b, v, o)
		return b.Bytes(), err
	}, []string{"Visit summary", "OKAFOR, Chidinma Ngozi (Mrs)", "Acute tonsillitis", "38.2 °C", "Take 1 capsule by mouth",
		"Throat swab", "Come back in 1 week", "Signature"})
}

func TestUnicode(t *testing.T) {
	rx := prescription(t)
	rx.Patient.Name = "ŁUKASIEWICZ, Zoë Şebnem — রহিম 😀"
	rx.Medications[0].Instructions = "Take 1 tablet ≤ 3 times a day\x00\ttoday"
	rx.Prescriber.Name = "Dr Ōta Jiří"
	checkPaper(t, "unicode prescription", func(o options) ([]byte, error) {
		var b bytes.Buffer
		err := writePrescription(&b, rx, o)
		return b.Bytes(), err
	}, []string{"LUKASIEWICZ, Zoë Sebnem", "Take 1 tablet <= 3 times a day", "Dr Ota Jirí", "could not be printed"})
}

func TestLatinText(t *testing.T) {
	tests := []struct {
		in, want string
		lost     bool
	}{
		{"Chidinma Okafor", "Chidinma Okafor", false},
		{"Zoë Müller-Straße €5 – ok", "Zoë Müller-Straße €5 – ok", false},
		{"Łódź Dvořák Ţepeş Ğ", "Lódz Dvorák Tepes G", false},
		{"≤ 3 → 4", "<= 3 -> 4", false},
		{"রহিম", "????", true},
		{"李", "?", true},
		{"a\nb\x00c", "a b c", false},
		{"", "", false},
		{"\xff", "?", true},
	}
	for _, tt := range tests {
		got, lost := latinText(tt.in)
		if got != tt.want || lost != tt.lost {
			t.Errorf("latinText(%q): got %q %v, want %q %v", tt.in, got, lost, tt.want, tt.lost)
		}
	}
}

func TestIncomplete(t *testing.T) {
	rx := prescription(t)
	for name, change := range map[string]func(*Prescription){
		"no name":       func(p *Prescription) { p.Patient.Name = " " },
		"no second id":  func(p *Prescription) { p.Patient.BirthDate, p.Patient.Identifiers = "", nil },
		"no prescriber": func(p *Prescription) { p.Prescriber.Name = "" },
		"no medication": func(p *Prescription) { p.Medications = nil },
	} {
		t.Run(name, func(t *testing.T) {
			bad := rx
			change(&bad)
			if err := WritePrescription(&bytes.Buffer{}, bad); !fhir.IsKind(err, fhir.KindInvalid) {
				t.Errorf("got %v, want an invalid error", err)
			}
		})
	}
	if err := WriteRequisition(&bytes.Buffer{}, Requisition{Patient: rx.Patient, Orderer: rx.Prescriber}); !fhir.IsKind(err, fhir.KindInvalid) {
		t.Errorf("requisition without tests: got %v", err)
	}
	if err := WriteVisitSummary(&bytes.Buffer{}, VisitSummary{Patient: rx.Patient}); !fhir.IsKind(err, fhir.KindInvalid) {
		t.Errorf("summary without clinician: got %v", err)
	}
}

func FuzzLatinText(f *testing.F) {
	for _, s := range []string{"Zoë", "রহিম", "\xff\xfe", "Łódź ≤", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := latinText(s)
		for _, r := range out {
			if !printable(r) {
				t.Fatalf("latinText(%q) left %q", s, r)
			}
		}
	})
}
