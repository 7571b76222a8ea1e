package search

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/emr-project/emr/internal/fhir"
)

const patientJSON = `{
  "resourceType": "Patient", "id": "p1",
  "meta": {"versionId": "3", "lastUpdated": "2024-05-06T07:08:09.123Z",
    "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient|6.1.0"],
    "tag": [{"system": "http://example.org/tags", "code": "vip", "display": "Very Important"}],
    "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]},
  "identifier": [{"use": "usual", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}], "text": "Medical Record"},
    "system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
  "active": true,
  "name": [{"use": "official", "family": "Müller", "given": ["Peter", "James"], "prefix": ["Dr."]},
    {"use": "usual", "text": "Jim Müller"}],
  "telecom": [{"system": "phone", "value": "(03) 5555 6473", "use": "work"}, {"system": "email", "value": "jim@example.org"}],
  "gender": "male",
  "birthDate": "1974-12",
  "deceasedBoolean": false,
  "address": [{"use": "home", "line": ["534 Erewhon St"], "city": "PleasantVille", "district": "Rainbow", "state": "Vic", "postalCode": "3999", "country": "AU",
    "period": {"start": "1974-12-25"}}],
  "generalPractitioner": [{"reference": "Practitioner/pr1"}],
  "managingOrganization": {"reference": "http://other.example/fhir/Organization/o1/_history/2", "display": "ACME"},
  "link": [{"other": {"identifier": {"system": "http://example.org/mrn", "value": "999"}}, "type": "seealso"}]
}`

const observationJSON = `{
  "resourceType": "Observation", "id": "blood-pressure",
  "meta": {"lastUpdated": "2024-05-06T07:08:09Z"},
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}], "text": "Blood pressure"},
  "subject": {"reference": "Patient/p1"},
  "encounter": {"reference": "urn:uuid:9b1d7c6e-0000-4000-8000-000000000001"},
  "effectiveDateTime": "2024-05-06T07:00:00+02:00",
  "performer": [{"reference": "Practitioner/pr1"}],
  "valueQuantity": {"value": 72.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
  "component": [
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic blood pressure"}]},
     "valueQuantity": {"value": 107, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic blood pressure"}]},
     "valueQuantity": {"value": 60, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
  ]
}`

func mustParse(t testing.TB, s string) fhir.Resource {
	t.Helper()
	r, err := fhir.ParseResource([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// entriesOf extracts res and keeps the entries of one parameter.
func entriesOf(t *testing.T, res fhir.Resource, param string) []Entry {
	t.Helper()
	all, err := testExtractor(t).Extract(res)
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for _, e := range all {
		if e.Param == param {
			out = append(out, e)
		}
	}
	return out
}

func ms(t *testing.T, s string) int64 {
	t.Helper()
	lo, _, err := DateRange(s)
	if err != nil {
		t.Fatal(err)
	}
	return lo
}

type extractCase struct {
	param string
	want  []Entry
}

func runExtractCases(t *testing.T, res fhir.Resource, cases []extractCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(res.Type()+"."+c.param, func(t *testing.T) {
			got := entriesOf(t, res, c.param)
			// Groups are numbered across all composites of the resource:
			// compare them by order of appearance.
			renumber := map[int]int{0: 0}
			for i, e := range got {
				if _, ok := renumber[e.Group]; !ok {
					renumber[e.Group] = len(renumber)
				}
				got[i].Group = renumber[e.Group]
			}
			for i := range c.want {
				c.want[i].Param = c.param
			}
			less := func(a, b Entry) bool {
				return a.Group < b.Group || a.Group == b.Group && a.Component < b.Component ||
					a.Group == b.Group && a.Component == b.Component && (a.Code+a.Text+a.RefURL+a.RefID+a.Display) < (b.Code+b.Text+b.RefURL+b.RefID+b.Display)
			}
			if diff := cmp.Diff(c.want, got, cmpopts.SortSlices(less), cmpopts.EquateApprox(0, 1e-9), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func str1(text, exact string) Entry { return Entry{Kind: KindString, Text: text, Exact: exact} }

func TestExtractPatient(t *testing.T) {
	res := mustParse(t, patientJSON)
	day := func(s string) (int64, int64) { lo, hi, _ := DateRange(s); return lo, hi }
	bLo, bHi := day("1974-12")
	luLo, luHi := day("2024-05-06T07:08:09.123Z")
	runExtractCases(t, res, []extractCase{
		{"family", []Entry{str1("muller", "Müller")}},
		{"given", []Entry{str1("peter", "Peter"), str1("james", "James")}},
		{"name", []Entry{str1("muller", "Müller"), str1("peter", "Peter"), str1("james", "James"), str1("dr.", "Dr."),
			str1("jim muller", "Jim Müller")}},
		{"address-city", []Entry{str1("pleasantville", "PleasantVille")}},
		{"address", []Entry{str1("534 erewhon st", "534 Erewhon St"), str1("pleasantville", "PleasantVille"),
			str1("rainbow", "Rainbow"), str1("vic", "Vic"), str1("3999", "3999"), str1("au", "AU")}},
		{"birthdate", []Entry{{Kind: KindDate, DateLow: bLo, DateHigh: bHi}}},
		{"gender", []Entry{{Kind: KindToken, Code: "male"}}},
		{"active", []Entry{{Kind: KindToken, Code: "true"}}},
		{"deceased", []Entry{{Kind: KindToken, Code: "false"}}},
		{"identifier", []Entry{{Kind: KindToken, System: "urn:oid:1.2.36.146.595.217.0.1", Code: "12345", Display: "medical record",
			TypeSystem: "http://terminology.hl7.org/CodeSystem/v2-0203", TypeCode: "MR"}}},
		{"telecom", []Entry{{Kind: KindToken, Code: "(03) 5555 6473"}, {Kind: KindToken, Code: "jim@example.org"}}},
		{"phone", []Entry{{Kind: KindToken, Code: "(03) 5555 6473"}}},
		{"email", []Entry{{Kind: KindToken, Code: "jim@example.org"}}},
		{"general-practitioner", []Entry{{Kind: KindReference, RefType: "Practitioner", RefID: "pr1"}}},
		// Another server's resource is matched by its URL only, never as a local Organization/o1.
		{"organization", []Entry{{Kind: KindReference, RefURL: "http://other.example/fhir/Organization/o1/_history/2"}}},
		{"link", []Entry{{Kind: KindReference, System: "http://example.org/mrn", Code: "999"}}},
		{"_id", []Entry{{Kind: KindToken, Code: "p1"}}},
		{"_lastUpdated", []Entry{{Kind: KindDate, DateLow: luLo, DateHigh: luHi}}},
		{"_tag", []Entry{{Kind: KindToken, System: "http://example.org/tags", Code: "vip", Display: "very important"}}},
		{"_security", []Entry{{Kind: KindToken, System: "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", Code: "R"}}},
		{"_profile", []Entry{{Kind: KindReference, RefURL: "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient", RefVersion: "6.1.0"}}},
	})
}

func TestExtractObservation(t *testing.T) {
	res := mustParse(t, observationJSON)
	effLo, effHi, _ := DateRange("2024-05-06T07:00:00+02:00")
	loinc := "http://loinc.org"
	ucum := "http://unitsofmeasure.org"
	runExtractCases(t, res, []extractCase{
		{"code", []Entry{{Kind: KindToken, System: loinc, Code: "85354-9", Display: "blood pressure panel"},
			{Kind: KindToken, Display: "blood pressure"}}},
		{"category", []Entry{{Kind: KindToken, System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Display: "vital signs"}}},
		{"status", []Entry{{Kind: KindToken, Code: "final"}}},
		{"date", []Entry{{Kind: KindDate, DateLow: effLo, DateHigh: effHi}}},
		{"subject", []Entry{{Kind: KindReference, RefType: "Patient", RefID: "p1"}}},
		{"patient", []Entry{{Kind: KindReference, RefType: "Patient", RefID: "p1"}}},
		{"encounter", []Entry{{Kind: KindReference, RefURL: "urn:uuid:9b1d7c6e-0000-4000-8000-000000000001"}}},
		{"value-quantity", []Entry{{Kind: KindQuantity, Low: 72.495, High: 72.505, System: ucum, Code: "kg"},
			{Kind: KindQuantity, Low: 72495, High: 72505, System: ucum, Code: "g", Canonical: true}}},
		{"component-code-value-quantity", []Entry{
			{Kind: KindToken, Group: 1, Component: 0, System: loinc, Code: "8480-6", Display: "systolic blood pressure"},
			{Kind: KindQuantity, Group: 1, Component: 1, Low: 106.5, High: 107.5, System: ucum, Code: "mm[Hg]"},
			{Kind: KindQuantity, Group: 1, Component: 1, Low: 106.5, High: 107.5, System: ucum, Code: "mm[Hg]", Canonical: true},
			{Kind: KindToken, Group: 2, Component: 0, System: loinc, Code: "8462-4", Display: "diastolic blood pressure"},
			{Kind: KindQuantity, Group: 2, Component: 1, Low: 59.5, High: 60.5, System: ucum, Code: "mm[Hg]"},
			{Kind: KindQuantity, Group: 2, Component: 1, Low: 59.5, High: 60.5, System: ucum, Code: "mm[Hg]", Canonical: true},
		}},
	})
	// The groups of all composites together are unique within the resource.
	all, _ := testExtractor(t).Extract(res)
	owner := map[int]string{}
	for _, e := range all {
		if e.Group == 0 {
			continue
		}
		if p, ok := owner[e.Group]; ok && p != e.Param {
			t.Errorf("group %d shared by %s and %s", e.Group, p, e.Param)
		}
		owner[e.Group] = e.Param
	}
}

func TestExtractOthers(t *testing.T) {
	period := func(s, e string) Entry {
		en := Entry{Kind: KindDate, DateLow: MinDate, DateHigh: MaxDate}
		if s != "" {
			en.DateLow, _, _ = DateRange(s)
		}
		if e != "" {
			_, en.DateHigh, _ = DateRange(e)
		}
		return en
	}
	t.Run("Encounter", func(t *testing.T) {
		res := mustParse(t, `{"resourceType": "Encounter", "id": "e1", "status": "in-progress",
			"subject": {"reference": "Patient/p1"}, "actualPeriod": {"start": "2024-01-02T10:00:00Z"}}`)
		runExtractCases(t, res, []extractCase{
			{"date", []Entry{period("2024-01-02T10:00:00Z", "")}},
			{"patient", []Entry{{Kind: KindReference, RefType: "Patient", RefID: "p1"}}},
		})
	})
	t.Run("MedicationRequest", func(t *testing.T) {
		res := mustParse(t, `{"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
			"medication": {"reference": {"reference": "Medication/med1"}}, "subject": {"reference": "Patient/p1"},
			"authoredOn": "2024-02-03"}`)
		runExtractCases(t, res, []extractCase{
			{"medication", []Entry{{Kind: KindReference, RefType: "Medication", RefID: "med1"}}},
			{"code", nil},
			{"authoredon", []Entry{period("2024-02-03", "2024-02-03")}},
		})
		res = mustParse(t, `{"resourceType": "MedicationRequest", "id": "m2", "status": "active", "intent": "order",
			"medication": {"concept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "582620"}]}},
			"subject": {"reference": "Patient/p1"}}`)
		runExtractCases(t, res, []extractCase{
			{"medication", nil},
			{"code", []Entry{{Kind: KindToken, System: "http://www.nlm.nih.gov/research/umls/rxnorm", Code: "582620"}}},
		})
	})
	t.Run("Condition", func(t *testing.T) {
		res := mustParse(t, `{"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
			"onsetPeriod": {"start": "2020-03", "end": "2020-04-15"}, "recordedDate": "2020-05-01T00:00:00Z"}`)
		runExtractCases(t, res, []extractCase{
			{"onset-date", []Entry{period("2020-03", "2020-04-15")}},
			{"recorded-date", []Entry{period("2020-05-01T00:00:00Z", "2020-05-01T00:00:00Z")}},
		})
		res = mustParse(t, `{"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"},
			"onsetAge": {"value": 52, "unit": "yr", "system": "http://unitsofmeasure.org", "code": "a"}}`)
		runExtractCases(t, res, []extractCase{
			{"onset-age", []Entry{{Kind: KindQuantity, Low: 51.5, High: 52.5, System: "http://unitsofmeasure.org", Code: "a"},
				{Kind: KindQuantity, Low: 51.5 * 31557600, High: 52.5 * 31557600, System: "http://unitsofmeasure.org", Code: "s", Canonical: true}}},
			{"onset-date", nil},
		})
	})
	t.Run("Timing", func(t *testing.T) {
		res := mustParse(t, `{"resourceType": "MedicationRequest", "id": "m3", "status": "active", "intent": "order",
			"subject": {"reference": "Patient/p1"}, "medication": {"concept": {"text": "aspirin"}},
			"dosageInstruction": [{"timing": {"event": ["2024-01-05", "2024-01-01"]}}]}`)
		runExtractCases(t, res, []extractCase{
			{"combo-date", []Entry{period("2024-01-05", "2024-01-05"), period("2024-01-01", "2024-01-01")}},
			{"code", []Entry{{Kind: KindToken, Display: "aspirin"}}},
		})
		res = mustParse(t, `{"resourceType": "ServiceRequest", "id": "s1", "status": "active", "intent": "order",
			"subject": {"reference": "Patient/p1"},
			"occurrenceTiming": {"event": ["2024-01-05", "2024-01-01"], "repeat": {"boundsPeriod": {"start": "2023-12-30", "end": "2024-01-03"}}}}`)
		runExtractCases(t, res, []extractCase{
			{"occurrence", []Entry{period("2023-12-30", "2024-01-05")}},
		})
	})
	t.Run("concept text", func(t *testing.T) {
		// The text goes on the coding whose display reads the same, or
		// the one without a display, or its own entry.
		for _, c := range []struct {
			code string
			want []Entry
		}{
			{`{"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"}], "text": "body  height"}`,
				[]Entry{{Kind: KindToken, System: "http://loinc.org", Code: "8302-2", Display: "body height"}}},
			{`{"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"}, {"system": "urn:x", "code": "h"}], "text": "Stature"}`,
				[]Entry{{Kind: KindToken, System: "http://loinc.org", Code: "8302-2", Display: "body height"},
					{Kind: KindToken, System: "urn:x", Code: "h", Display: "stature"}}},
			{`{"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"}], "text": "Stature"}`,
				[]Entry{{Kind: KindToken, System: "http://loinc.org", Code: "8302-2", Display: "body height"},
					{Kind: KindToken, Display: "stature"}}},
		} {
			res := mustParse(t, `{"resourceType": "Observation", "id": "o9", "status": "final", "code": `+c.code+`}`)
			runExtractCases(t, res, []extractCase{{"code", c.want}})
		}
	})
	t.Run("absent element", func(t *testing.T) {
		// The deceased expression is false, not empty, without deceased[x]:
		// the part must be evaluated although its first element is absent.
		res := mustParse(t, `{"resourceType": "Patient", "id": "p2"}`)
		runExtractCases(t, res, []extractCase{
			{"deceased", []Entry{{Kind: KindToken, Code: "false"}}},
			{"_id", []Entry{{Kind: KindToken, Code: "p2"}}},
			{"name", nil},
		})
	})
	t.Run("Money and Range", func(t *testing.T) {
		res := mustParse(t, `{"resourceType": "Invoice", "id": "i1", "status": "issued",
			"totalGross": {"value": 48.00, "currency": "EUR"}}`)
		runExtractCases(t, res, []extractCase{
			{"totalgross", []Entry{{Kind: KindQuantity, Low: 47.995, High: 48.005, System: "urn:iso:std:iso:4217", Code: "EUR"}}},
		})
		res = mustParse(t, `{"resourceType": "ValueSet", "id": "v2", "status": "active",
			"useContext": [{"code": {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type", "code": "age"},
			  "valueRange": {"low": {"value": 18, "system": "http://unitsofmeasure.org", "code": "a"}}}]}`)
		runExtractCases(t, res, []extractCase{
			{"context-quantity", []Entry{{Kind: KindQuantity, Low: 17.5, High: maxNumber, System: "http://unitsofmeasure.org", Code: "a"},
				{Kind: KindQuantity, Low: 17.5 * 31557600, High: maxNumber, System: "http://unitsofmeasure.org", Code: "s", Canonical: true}}},
		})
	})
	t.Run("contained and references", func(t *testing.T) {
		res := mustParse(t, `{"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"},
			"contained": [{"resourceType": "Patient", "id": "pat"}],
			"subject": {"reference": "#pat"},
			"performer": [{"reference": "https://example.org/fhir/Practitioner/7"}, {"reference": "Organization/o1/_history/3"},
			  {"reference": "urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d"}, {"identifier": {"system": "urn:sys", "value": "v"}}]}`)
		runExtractCases(t, res, []extractCase{
			{"subject", nil},
			{"patient", nil},
			{"performer", []Entry{
				{Kind: KindReference, RefURL: "https://example.org/fhir/Practitioner/7"},
				{Kind: KindReference, RefType: "Organization", RefID: "o1", RefVersion: "3"},
				{Kind: KindReference, RefURL: "urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d"},
				{Kind: KindReference, System: "urn:sys", Code: "v"},
			}},
		})
	})
	t.Run("uri and number", func(t *testing.T) {
		res := mustParse(t, `{"resourceType": "ValueSet", "id": "v1", "status": "active", "url": "http://example.org/vs|1.0"}`)
		runExtractCases(t, res, []extractCase{{"url", []Entry{{Kind: KindURI, Exact: "http://example.org/vs|1.0"}}}})
		res = mustParse(t, `{"resourceType": "RiskAssessment", "id": "r1", "status": "final", "subject": {"reference": "Patient/p1"},
			"prediction": [{"probabilityDecimal": 0.25}]}`)
		runExtractCases(t, res, []extractCase{{"probability", []Entry{{Kind: KindNumber, Low: 0.245, High: 0.255}}}})
	})
}

func TestExtractUnknownType(t *testing.T) {
	if _, err := testExtractor(t).Extract(fhir.Resource{"resourceType": "Nonsense"}); err == nil {
		t.Error("got no error for an unknown resource type")
	}
}

func TestPartsFor(t *testing.T) {
	x := testExtractor(t)
	cases := []struct {
		expr, typ string
		want      []string
	}{
		{"Patient.name | Practitioner.name", "Practitioner", []string{"Practitioner.name"}},
		{"Patient.name | Practitioner.name", "Account", nil},
		{"(Observation.value as Quantity) | (Observation.value as SampledData)", "Observation",
			[]string{"(Observation.value as Quantity)", "(Observation.value as SampledData)"}},
		{"AllergyIntolerance.code | AllergyIntolerance.reaction.substance | Condition.code", "AllergyIntolerance",
			[]string{"AllergyIntolerance.code", "AllergyIntolerance.reaction.substance"}},
		{"Resource.meta.lastUpdated", "Patient", []string{"Resource.meta.lastUpdated"}},
		{"Patient.name.where(use = 'a|b') | Person.name", "Person", []string{"Person.name"}},
		{"Patient.name.where(use = 'a|b') | Person.name", "Patient", []string{"Patient.name.where(use = 'a|b')"}},
		{"name | Patient.name", "Patient", []string{"name", "Patient.name"}},
		{"name | Patient.name", "Person", []string{"name"}},
		{"(Patient.a | Person.b).c | Person.d", "Person", []string{"(Patient.a | Person.b).c", "Person.d"}},
		{"Observation.effective | (start | requestedPeriod.start).first()", "Observation", []string{"Observation.effective"}},
		{"Observation.effective | (start | requestedPeriod.start).first()", "Appointment", []string{"(start | requestedPeriod.start).first()"}},
		{"Patient.a | value | true", "Observation", []string{"value", "true"}},
		{"Patient.a | %resource.x | today()", "Observation", []string{"%resource.x", "today()"}},
		// Lower precedence than '|': splitting would change the meaning.
		{"Patient.a | Patient.b = 'x'", "Patient", []string{"Patient.a | Patient.b = 'x'"}},
		{"Patient.a | Patient.b and Patient.c", "Patient", []string{"Patient.a | Patient.b and Patient.c"}},
		{"Patient.a | Patient.b.contains('x')", "Patient", []string{"Patient.a", "Patient.b.contains('x')"}},
	}
	for _, c := range cases {
		if got := x.partsFor(c.expr, c.typ); !cmp.Equal(got, c.want, cmpopts.EquateEmpty()) {
			t.Errorf("partsFor(%q, %s) = %q, want %q", c.expr, c.typ, got, c.want)
		}
	}
}

func TestEmptyWhenAbsent(t *testing.T) {
	cases := map[string]bool{
		"Patient.name":                                                   true,
		"(Observation.value as Quantity)":                                true,
		"Observation.value.ofType(Quantity)":                             true,
		"Observation.subject.where(resolve() is Patient)":                true,
		"Observation.component.where(code.exists() and value = 1).value": true,
		"Patient.extension('http://x|y').value":                          true,
		"Patient.deceased.exists() and Patient.deceased != false":        false,
		"Patient.deceased.exists()":                                      false,
		"Patient.name.count()":                                           false,
		"Patient.name.given & 'x'":                                       false,
		"Patient.a is string":                                            false,
		"iif(Patient.a, 1, 2)":                                           false,
		"Patient.a[0]":                                                   false,
	}
	for src, want := range cases {
		if got := emptyWhenAbsent(src); got != want {
			t.Errorf("emptyWhenAbsent(%q) = %v, want %v", src, got, want)
		}
	}
}

func TestVersion(t *testing.T) {
	v := testExtractor(t).Version()
	if v == "" || v != definitionsHash(testExtractor(t).defs) {
		t.Errorf("Version() = %q, not stable", v)
	}
}

// TestExtractConcurrent runs extractions in parallel (go test -race): the
// Extractor's caches and counters are shared.
func TestExtractConcurrent(t *testing.T) {
	x := NewExtractor(testExtractor(t).defs)
	docs := []string{patientJSON, observationJSON}
	want := make([]int, len(docs))
	for i, d := range docs {
		entries, _ := x.Extract(mustParse(t, d))
		want[i] = len(entries)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				d := (g + i) % len(docs)
				entries, err := x.Extract(mustParse(t, docs[d]))
				if err != nil || len(entries) != want[d] {
					t.Errorf("got %d entries, %v; want %d", len(entries), err, want[d])
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestFold(t *testing.T) {
	for _, s := range []string{"", "abc", "a b", " a", "a ", "a  b", "A", "a\tb", "é", "x.y-z 12", "a\u00a0b", "ß", "\x85"} {
		if got, want := fold(s), Normalize(s); got != want {
			t.Errorf("fold(%q) = %q, Normalize gives %q", s, got, want)
		}
	}
}
