package reminders

import (
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

func res(t *testing.T, s string) fhir.Resource {
	t.Helper()
	r, err := fhir.ParseResource([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// verdicts renders Evaluate's answer as "rule status last next" lines.
func verdicts(rs []Reminder) string {
	var out []string
	for _, r := range rs {
		line := r.Rule + " " + string(r.Status)
		if !r.Last.IsZero() {
			line += " last " + r.LastDate + " " + r.What + " " + r.Evidence
		}
		if !r.Next.IsZero() {
			line += " next " + r.Next.Format("2006-01-02")
		}
		if r.Note != "" {
			line += " note " + r.Note
		}
		if r.NextEvidence != "" {
			line += " (by " + r.NextWhat + " " + r.NextDate + " " + r.NextEvidence + ")"
		}
		out = append(out, line)
	}
	return strings.Join(out, "; ")
}

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	born := func(y, m, d int) string {
		return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}
	flu := func(id, date, status string) fhir.Resource {
		return res(t, `{"resourceType":"Immunization","id":"`+id+`","status":"`+status+`","occurrenceDateTime":"`+date+`",
			"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]},"patient":{"reference":"Patient/p"}}`)
	}
	obs := func(id, loinc, date string) fhir.Resource {
		return res(t, `{"resourceType":"Observation","id":"`+id+`","status":"final","effectiveDateTime":"`+date+`",
			"code":{"coding":[{"system":"http://loinc.org","code":"`+loinc+`"}]},"valueQuantity":{"value":1}}`)
	}
	fit := func(id, date, value string) fhir.Resource {
		return res(t, `{"resourceType":"Observation","id":"`+id+`","status":"final","effectiveDateTime":"`+date+`",
			"code":{"coding":[{"system":"http://loinc.org","code":"29771-3"}]}`+value+`}`)
	}
	imm := func(id, date, code, text, extra string) fhir.Resource {
		return res(t, `{"resourceType":"Immunization","id":"`+id+`","status":"completed","occurrenceDateTime":"`+date+`",
			"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"`+code+`","display":"`+text+`"}]},"patient":{"reference":"Patient/p"}`+extra+`}`)
	}
	proc := func(id, snomed, date string) fhir.Resource {
		return res(t, `{"resourceType":"Procedure","id":"`+id+`","status":"completed","occurrenceDateTime":"`+date+`",
			"code":{"coding":[{"system":"http://snomed.info/sct","code":"`+snomed+`"}]},"subject":{"reference":"Patient/p"}}`)
	}
	cond := func(system, code, status string) fhir.Resource {
		return res(t, `{"resourceType":"Condition","clinicalStatus":{"coding":[{"code":"`+status+`"}]},
			"code":{"coding":[{"system":"`+system+`","code":"`+code+`"}]},"subject":{"reference":"Patient/p"}}`)
	}
	for _, tc := range []struct {
		name string
		r    Record
		want string
	}{
		{"no birth date: no age-bound rule, and that is said", Record{}, "birth-date not-known"},
		{"deceased: none", Record{BirthDate: born(1950, 1, 1), Deceased: true}, ""},
		{"an infant of 5 months: nothing yet", Record{BirthDate: born(2026, 6, 1)}, ""},
		{"an infant of 6 months: influenza", Record{BirthDate: born(2026, 5, 24)}, "influenza due"},
		{"a young adult, nothing recorded", Record{BirthDate: born(2000, 1, 1)}, "influenza due; blood-pressure due"},
		{"this season's vaccine and a reading 2 years ago at 30", Record{BirthDate: born(1996, 1, 1),
			Immunizations: []fhir.Resource{flu("f1", "2026-09-15", "completed"), flu("f0", "2025-10-01", "completed")},
			Observations:  []fhir.Resource{obs("bp", "85354-9", "2024-12-01")}},
			"influenza up-to-date last 2026-09-15 influenza vaccine Immunization/f1 next 2027-07-01; blood-pressure up-to-date last 2024-12-01 blood pressure Observation/bp next 2027-12-01"},
		{"last season's vaccine, a not-done one this season, a reading 2 years ago at 50", Record{BirthDate: born(1976, 1, 1),
			Immunizations: []fhir.Resource{flu("f0", "2026-03-01", "completed"), flu("fx", "2026-10-01", "not-done")},
			Observations:  []fhir.Resource{obs("bp", "8480-6", "2024-12-01")}},
			"influenza due last 2026-03-01 influenza vaccine Immunization/f0; blood-pressure due last 2024-12-01 blood pressure Observation/bp; colorectal due"},
		{"a vaccine coded locally, named", Record{BirthDate: born(1990, 1, 1), Immunizations: []fhir.Resource{res(t, `{"resourceType":"Immunization","id":"l1",
			"status":"completed","occurrenceDateTime":"2026-10-02","vaccineCode":{"text":"Influenza (local stock)"},"patient":{"reference":"Patient/p"}}`)}},
			"influenza up-to-date last 2026-10-02 influenza vaccine Immunization/l1 next 2027-07-01; blood-pressure due"},
		{"colonoscopy 8 years ago at 60", Record{BirthDate: born(1966, 3, 1),
			Procedures: []fhir.Resource{proc("c1", "73761001", "2018-06-01")}},
			"influenza due; blood-pressure due; colorectal up-to-date last 2018-06-01 colonoscopy Procedure/c1 next 2028-06-01"},
		{"a FIT 13 months ago and a colonoscopy 12 years ago", Record{BirthDate: born(1966, 3, 1),
			Procedures:   []fhir.Resource{proc("c1", "73761001", "2014-06-01")},
			Observations: []fhir.Resource{fit("fit", "2025-10-01", `,"valueCodeableConcept":{"text":"Negative"}`)}},
			"influenza due; blood-pressure due; colorectal due last 2025-10-01 faecal occult blood test Observation/fit"},
		{"colorectal cancer: surveillance, not screening", Record{BirthDate: born(1966, 3, 1), Conditions: []fhir.Resource{cond(ICD10, "C18.9", "active")}},
			"influenza due; blood-pressure due; colorectal surveillance note C18.9"},
		{"colorectal cancer resolved years ago, a FIT this year: still surveillance", Record{BirthDate: born(1966, 3, 1),
			Conditions:   []fhir.Resource{cond("http://snomed.info/sct", "94260004", "resolved")},
			Observations: []fhir.Resource{fit("fit", "2026-05-01", `,"valueCodeableConcept":{"text":"Negative"}`)}},
			"influenza due; blood-pressure due; colorectal surveillance note 94260004"},
		{"colon polyps: surveillance", Record{BirthDate: born(1966, 3, 1), Conditions: []fhir.Resource{cond("http://snomed.info/sct", "68496003", "active")}},
			"influenza due; blood-pressure due; colorectal surveillance note 68496003"},
		{"a positive FIT asks for a colonoscopy", Record{BirthDate: born(1966, 3, 1),
			Observations: []fhir.Resource{fit("fit", "2026-05-01", `,"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"10828004"}]}`)}},
			"influenza due; blood-pressure due; colorectal due note positive faecal occult blood test: colonoscopy needed"},
		{"a positive FIT, then a negative one: still a colonoscopy", Record{BirthDate: born(1966, 3, 1),
			Observations: []fhir.Resource{fit("fit1", "2026-03-01", `,"interpretation":[{"coding":[{"code":"POS"}]}],"valueString":"x"`),
				fit("fit2", "2026-06-01", `,"interpretation":[{"coding":[{"code":"NEG"}]}],"valueString":"x"`)}},
			"influenza due; blood-pressure due; colorectal due last 2026-06-01 faecal occult blood test Observation/fit2 note positive faecal occult blood test: colonoscopy needed"},
		{"a FIT in ng/mL without a range cannot be read", Record{BirthDate: born(1966, 3, 1),
			Observations: []fhir.Resource{fit("fit", "2026-10-01", `,"valueQuantity":{"value":499,"unit":"ng/mL"}`)}},
			"influenza due; blood-pressure due; colorectal due note the result of the faecal occult blood test could not be read as negative: check it"},
		{"a FIT under its range's high is negative", Record{BirthDate: born(1966, 3, 1),
			Observations: []fhir.Resource{fit("fit", "2026-10-01", `,"valueQuantity":{"value":20,"unit":"ng/mL"},"referenceRange":[{"high":{"value":100,"unit":"ng/mL"}}]`)}},
			"influenza due; blood-pressure due; colorectal up-to-date last 2026-10-01 faecal occult blood test Observation/fit next 2027-10-01"},
		{"Hib misspelt is not influenza", Record{BirthDate: born(2024, 1, 1), Immunizations: []fhir.Resource{
			res(t, `{"resourceType":"Immunization","id":"h","status":"completed","occurrenceDateTime":"2026-09-01","vaccineCode":{"text":"Haemophilus influenza type b"},"patient":{"reference":"Patient/p"}}`)}},
			"influenza due"},
		{"a child who turned 9 this season, first dose: one of two", Record{BirthDate: born(2017, 10, 1), Immunizations: []fhir.Resource{
			imm("f1", "2026-10-15", "140", "flu", "")}}, "influenza due last 2026-10-15 influenza vaccine Immunization/f1; blood-pressure due"[:len("influenza due last 2026-10-15 influenza vaccine Immunization/f1")]},
		{"one earlier dose recorded twice is one", Record{BirthDate: born(2020, 9, 1), Immunizations: []fhir.Resource{
			imm("a", "2021-10-01", "140", "flu", ""), imm("a2", "2021-10-01", "140", "flu", ""), imm("c", "2026-10-01", "140", "flu", "")}},
			"influenza due last 2026-10-01 influenza vaccine Immunization/c"},
		{"a family history of colon cancer: surveillance", Record{BirthDate: born(1966, 3, 1), Conditions: []fhir.Resource{cond(ICD10, "Z80.0", "active")}},
			"influenza due; blood-pressure due; colorectal surveillance note Z80.0"},
		{"a history of a brain tumour is not a colon history", Record{BirthDate: born(1966, 3, 1), Conditions: []fhir.Resource{cond(ICD10, "Z86.011", "active")}},
			"influenza due; blood-pressure due; colorectal due"},
		{"born 1986 (year only), a reading 2 years ago: 40 at the earliest, yearly", Record{BirthDate: "1986",
			Observations: []fhir.Resource{obs("bp", "85354-9", "2024-12-01")}},
			"influenza due; blood-pressure due last 2024-12-01 blood pressure Observation/bp"},
		{"a positive FIT, then a colonoscopy", Record{BirthDate: born(1966, 3, 1),
			Observations: []fhir.Resource{fit("fit", "2026-05-01", `,"interpretation":[{"coding":[{"code":"POS"}]}],"valueString":"see comment"`)},
			Procedures:   []fhir.Resource{proc("c1", "73761001", "2026-06-10")}},
			"influenza due; blood-pressure due; colorectal up-to-date last 2026-06-10 colonoscopy Procedure/c1 next 2036-06-10"},
		{"a FIT without a value does not count", Record{BirthDate: born(1966, 3, 1), Observations: []fhir.Resource{fit("fit", "2026-05-01", `,"dataAbsentReason":{"text":"haemolysed"}`)}},
			"influenza due; blood-pressure due; colorectal due"},
		{"a future date does not count", Record{BirthDate: born(1966, 3, 1), Procedures: []fhir.Resource{proc("c1", "73761001", "2062-09-01")}},
			"influenza due; blood-pressure due; colorectal due"},
		{"a colonoscopy outlasts a recent FIT", Record{BirthDate: born(1966, 3, 1),
			Procedures:   []fhir.Resource{proc("c1", "73761001", "2020-06-01")},
			Observations: []fhir.Resource{fit("fit", "2026-05-01", `,"valueCodeableConcept":{"text":"Negative"}`)}},
			"influenza due; blood-pressure due; colorectal up-to-date last 2026-05-01 faecal occult blood test Observation/fit next 2030-06-01 (by colonoscopy 2020-06-01 Procedure/c1)"},
		{"Hib is not influenza", Record{BirthDate: born(2024, 1, 1), Immunizations: []fhir.Resource{
			imm("hib", "2026-09-01", "49", "Haemophilus influenzae type b vaccine", "")}}, "influenza due"},
		{"H1N1 is not seasonal influenza", Record{BirthDate: born(1990, 1, 1), Immunizations: []fhir.Resource{
			res(t, `{"resourceType":"Immunization","id":"p","status":"completed","occurrenceDateTime":"2026-09-01","vaccineCode":{"text":"Novel influenza-H1N1-09"},"patient":{"reference":"Patient/p"}}`)}},
			"influenza due; blood-pressure due"},
		{"a subpotent dose does not count", Record{BirthDate: born(1990, 1, 1), Immunizations: []fhir.Resource{
			imm("f", "2026-09-01", "140", "flu", `,"isSubpotent":true`)}}, "influenza due; blood-pressure due"},
		{"a child's first season: one dose of two", Record{BirthDate: born(2025, 9, 1), Immunizations: []fhir.Resource{
			imm("f1", "2026-10-01", "140", "flu", "")}}, "influenza due last 2026-10-01 influenza vaccine Immunization/f1"},
		{"a child's first season: two doses four weeks apart", Record{BirthDate: born(2025, 9, 1), Immunizations: []fhir.Resource{
			imm("f1", "2026-09-01", "140", "flu", ""), imm("f2", "2026-10-01", "140", "flu", "")}},
			"influenza up-to-date last 2026-10-01 influenza vaccine Immunization/f2 next 2027-07-01"},
		{"a child with two doses in earlier seasons: one this season", Record{BirthDate: born(2020, 9, 1), Immunizations: []fhir.Resource{
			imm("a", "2021-10-01", "140", "flu", ""), imm("b", "2021-11-01", "140", "flu", ""), imm("c", "2026-10-01", "140", "flu", "")}},
			"influenza up-to-date last 2026-10-01 influenza vaccine Immunization/c next 2027-07-01"},
		{"a dose on 30 June where it was given is last season's", Record{BirthDate: born(1990, 1, 1), Immunizations: []fhir.Resource{
			imm("f", "2026-06-30T20:00:00-05:00", "140", "flu", "")}}, "influenza due last 2026-06-30 influenza vaccine Immunization/f; blood-pressure due"},
		{"a year-only birth date: 75 until mid-year", Record{BirthDate: "1951"}, "influenza due; blood-pressure due; colorectal due"},
		{"diabetes in remission still counts", Record{BirthDate: born(1990, 1, 1), Conditions: []fhir.Resource{cond(ICD10, "E11.9", "remission")}},
			"influenza due; blood-pressure due; hba1c due"},
		{"76: no colorectal screening", Record{BirthDate: born(1950, 1, 1)}, "influenza due; blood-pressure due"},
		{"diabetes, HbA1c 4 months ago", Record{BirthDate: born(1980, 1, 1), Conditions: []fhir.Resource{cond("http://snomed.info/sct", "44054006", "active")},
			Observations: []fhir.Resource{obs("a1c", "4548-4", "2026-07-20")}},
			"influenza due; blood-pressure due; colorectal due; hba1c up-to-date last 2026-07-20 HbA1c Observation/a1c next 2027-01-20"},
		{"diabetes resolved: no HbA1c reminder", Record{BirthDate: born(1980, 1, 1), Conditions: []fhir.Resource{cond(ICD10, "E11.9", "resolved")}},
			"influenza due; blood-pressure due; colorectal due"},
		{"diabetes by ICD-10, HbA1c 7 months ago", Record{BirthDate: born(1980, 1, 1), Conditions: []fhir.Resource{cond(ICD10, "E11.65", "active")},
			Observations: []fhir.Resource{obs("a1c", "4548-4", "2026-04-20")}},
			"influenza due; blood-pressure due; colorectal due; hba1c due last 2026-04-20 HbA1c Observation/a1c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verdicts(Evaluate(&tc.r, now)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestAgeAt(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse("2006-01-02", s); return t }
	if a := AgeAt("1951", d("2026-06-30")); a.Years != 74 {
		t.Errorf("a year-only birth date counts from mid-year: %+v", a)
	}
	for _, tc := range []struct {
		birth, now    string
		years, months int
	}{
		{"2000-03-15", "2026-03-14", 25, 311},
		{"2000-03-15", "2026-03-15", 26, 312},
		{"2026-05-24", "2026-11-24", 0, 6},
		{"2026-05-25", "2026-11-24", 0, 5},
	} {
		if a := AgeAt(tc.birth, d(tc.now)); a.Years != tc.years || a.Months != tc.months || !a.Known {
			t.Errorf("AgeAt(%s, %s) = %+v", tc.birth, tc.now, a)
		}
	}
}

func TestQueries(t *testing.T) {
	byKey := map[string]Query{}
	for _, q := range Queries() {
		byKey[q.Key] = q
	}
	if len(Queries()) != 5 {
		t.Errorf("%d searches: each costs about a millisecond on the chart", len(Queries()))
	}
	for key, want := range map[string]string{
		"blood-pressure": "Observation _count=5 _sort=-date status=final,amended,corrected code~http://loinc.org|85354-9",
		"observations":   "Observation _count=200 _sort=-date status=final,amended,corrected code~http://loinc.org|4548-4",
		"procedures":     "Procedure _count=200 _sort=-date status=completed code~http://snomed.info/sct|73761001",
		"immunizations":  "Immunization _count=100 _sort=-date",
		"conditions":     "Condition _count=1000",
	} {
		q, ok := byKey[key]
		if !ok {
			t.Errorf("no query %s", key)
			continue
		}
		got := q.Type
		for _, k := range []string{"_count", "_sort", "status"} {
			if v := q.Params[k]; v != "" {
				got += " " + k + "=" + v
			}
		}
		wantParts := strings.SplitN(want, " code~", 2)
		if got != wantParts[0] || (len(wantParts) == 2 && !strings.Contains(q.Params["code"], wantParts[1])) || (len(wantParts) == 1 && q.Params["code"] != "") {
			t.Errorf("%s: %s %v, want %s", key, got, q.Params["code"], want)
		}
	}
}
