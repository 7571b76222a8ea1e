package deid_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/deid"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newDeid(t testing.TB, key []byte) *deid.Deidentifier {
	t.Helper()
	d, err := deid.New(spec.R5(), key)
	if err != nil {
		t.Fatal(err)
	}
	d.Now = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	return d
}

func mustParse(t testing.TB, s string) fhir.Resource {
	t.Helper()
	res, err := fhir.ParseResource([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPatient checks each kind of element of a Patient.
func TestPatient(t *testing.T) {
	d := newDeid(t, testKey)
	src := `{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","source":"http://src/1","profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
	 "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane Roe</div>"},
	 "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName","valueString":"Maiden"},
	   {"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"city":"Springfield","state":"MA","country":"US"}}],
	 "identifier":[{"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-12-3456","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"SS"}]}}],
	 "name":[{"family":"Roe","given":["Jane"]}],"telecom":[{"system":"phone","value":"555-867-5309"}],
	 "gender":"female","birthDate":"1970-06-15","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1970-06-15T08:30:00-05:00"}]},
	 "address":[{"line":["12 Elm Street"],"city":"Springfield","district":"Hampden","postalCode":"01103","state":"MA","country":"US",
	   "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/geolocation","extension":[{"url":"latitude","valueDecimal":42.1}]}]},
	   {"postalCode":"03601","state":"NH"},{"postalCode":"SW1A 1AA","country":"GB"}],
	 "photo":[{"contentType":"image/png","data":"UEhPVE8="}],
	 "contact":[{"name":{"family":"Roe"},"telecom":[{"value":"555-000-1111"}],"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"N"}],"text":"mother"}]}],
	 "maritalStatus":{"text":"FREE-TEXT-CONCEPT"},
	 "generalPractitioner":[{"reference":"Practitioner/dr1","display":"Dr Who"}],
	 "managingOrganization":{"reference":"https://other.example/fhir/Organization/9"},
	 "unknownElement":"secret"}`
	out, err := d.Resource(mustParse(t, src), "p1")
	if err != nil {
		t.Fatal(err)
	}
	got := string(out.JSON())
	for _, gone := range []string{"Jane", "Roe", "999-12-3456", "555-867-5309", "555-000-1111", "Elm", "Springfield", "Hampden",
		"01103", "1970-06-15", "FREE-TEXT-CONCEPT", "maritalStatus", "UEhPVE8=", "Maiden", "Dr Who", "other.example", "secret", "latitude", "SW1A", `"p1"`, "dr1", "http://src/1", "08:30"} {
		if strings.Contains(got, gone) {
			t.Errorf("%s survives: %s", gone, got)
		}
	}
	for _, kept := range []string{`"birthDate":"1970"`, `"postalCode":"011"`, `"postalCode":"000"`, `"state":"NH"`, `"gender":"female"`,
		`"code":"SS"`, `"text":"mother"`, "us-core-patient", "PSEUDED", `"Practitioner/` + d.Pseudonym("Practitioner", "dr1") + `"`,
		`"id":"` + d.Pseudonym("Patient", "p1") + `"`, "patient-birthPlace"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%s missing: %s", kept, got)
		}
	}
}

// TestDates: one patient's dates move together, by an offset of 1 to 180
// days, keeping their precision, time and zone; a patient over 89 has no
// birth year.
func TestDates(t *testing.T) {
	d := newDeid(t, testKey)
	shift := d.ShiftDays("p1")
	if shift == 0 || shift < -deid.MaxShiftDays || shift > deid.MaxShiftDays {
		t.Fatalf("shift %d", shift)
	}
	enc := mustParse(t, `{"resourceType":"Encounter","id":"e1","status":"completed","subject":{"reference":"Patient/p1"},
		"actualPeriod":{"start":"2020-01-31T23:10:00.123+02:00","end":"2020-02-01T01:00:00+02:00"},"plannedStartDate":"2020-01"}`)
	out, _ := d.Resource(enc, "p1")
	period := out["actualPeriod"].(map[string]any)
	want := time.Date(2020, 1, 31, 0, 0, 0, 0, time.UTC).AddDate(0, 0, shift).Format("2006-01-02") + "T23:10:00.123+02:00"
	if period["start"] != want {
		t.Errorf("start %v, want %s", period["start"], want)
	}
	start, _ := time.Parse(time.RFC3339, strings.Replace(period["start"].(string), ".123", "", 1))
	end, _ := time.Parse(time.RFC3339, period["end"].(string))
	if got := end.Sub(start); got != 110*time.Minute {
		t.Errorf("interval %v, want 1h50m", got)
	}
	if s, _ := out["plannedStartDate"].(string); len(s) != 7 {
		t.Errorf("plannedStartDate %v keeps no month precision", out["plannedStartDate"])
	}
	old := mustParse(t, `{"resourceType":"Patient","id":"p9","birthDate":"1930-01-02"}`)
	out, _ = d.Resource(old, "p9")
	if _, ok := out["birthDate"]; ok || !strings.Contains(string(out.JSON()), "90 or older") {
		t.Errorf("a patient of 96: %s", out.JSON())
	}
	dead := mustParse(t, `{"resourceType":"Patient","id":"p8","birthDate":"1930-01-02","deceasedDateTime":"2000-05-05"}`)
	out, _ = d.Resource(dead, "p8")
	if out["birthDate"] != "1930" {
		t.Errorf("a patient who died at 70: %s", out.JSON())
	}
	cond := mustParse(t, `{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p9"},"onsetAge":{"value":93,"unit":"years","system":"http://unitsofmeasure.org","code":"a"}}`)
	out, _ = d.Resource(cond, "p9")
	if got := string(out.JSON()); !strings.Contains(got, `"comparator":">="`) || !strings.Contains(got, `"value":90`) {
		t.Errorf("onsetAge 93: %s", got)
	}
}

// TestKeys: pseudonyms are stable under one key and differ under another.
func TestKeys(t *testing.T) {
	a, b := newDeid(t, testKey), newDeid(t, bytes.Repeat([]byte{7}, 32))
	if a.Pseudonym("Patient", "p1") != newDeid(t, testKey).Pseudonym("Patient", "p1") {
		t.Error("pseudonym not stable")
	}
	if a.Pseudonym("Patient", "p1") == b.Pseudonym("Patient", "p1") {
		t.Error("same pseudonym under two keys")
	}
	if a.Pseudonym("Patient", "p1") == a.Pseudonym("Patient", "p2") {
		t.Error("two patients, one pseudonym")
	}
	if !fhir.ValidID(a.Pseudonym("Patient", "p1")) {
		t.Error("pseudonym is not a valid id")
	}
}
