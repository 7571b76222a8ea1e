// Package reminders says which preventive care a patient is due for, from
// what their record holds: a few screening and vaccination intervals on
// which the guidelines agree, each with its source, its codes and its
// interval, evaluated on the data a caller read (through its own access
// rules). It never says "up to date" without a record that shows it: a
// reminder whose evidence the caller cannot see reads as due.
//
// The rules (Rules) and their sources:
//   - influenza: a seasonal influenza vaccine every season from 6 months of
//     age (CDC ACIP); a season starts on 1 July.
//   - blood-pressure: a blood pressure reading every year from 40, every
//     three years from 18 to 39 (USPSTF 2021, hypertension screening).
//   - colorectal: from 45 to 75, a colonoscopy within 10 years, a flexible
//     sigmoidoscopy or CT colonography within 5, a stool DNA test within 3
//     or a faecal immunochemical or guaiac test within 1 (USPSTF 2021);
//     not for a patient with colorectal cancer.
//   - hba1c: for a patient with diabetes, an HbA1c at least every 6 months
//     (ADA Standards of Care).
package reminders

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Code systems of the rules' codes not in datatype.
const (
	CVX   = "http://hl7.org/fhir/sid/cvx"
	ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
)

// Record is what the rules look at, as the caller may see it.
type Record struct {
	// BirthDate is the patient's (zero when not known: no age-bound rule
	// applies then, and Unknown says so).
	BirthDate time.Time
	// Conditions are the patient's active problems.
	Conditions []fhir.Resource
	// Immunizations, Observations and Procedures are the patient's, any
	// order; Evidence names the codes worth reading.
	Immunizations, Observations, Procedures []fhir.Resource
}

// Status of a reminder.
type Status string

const (
	Due      Status = "due"        // never done, or its interval has passed
	UpToDate Status = "up-to-date" // done within its interval
)

// Reminder is one rule's verdict for a patient.
type Reminder struct {
	Rule   string // the rule's ID
	Status Status
	// Last is when it was last done (zero: no record), Next when it is
	// due again (zero: now).
	Last, Next time.Time
	// Evidence is "Type/id" of the record of Last, "" when none.
	Evidence string
	// What names what was done last ("colonoscopy"), "" when nothing.
	What string
}

// Rule is one preventive-care interval.
type Rule struct {
	ID string
	// Title names it and Basis says where it comes from, in English (the
	// chart has them in its message catalogue).
	Title, Basis string
	// Applies reports whether the rule concerns the patient: by age at
	// now, and by their problems.
	Applies func(age Age, r *Record) bool
	// Done lists the ways of meeting the rule, each with its interval.
	Done []Evidence
	// Interval, when set, replaces the evidence's interval by age (blood
	// pressure: yearly from 40).
	Interval func(age Age) (years, months int)
}

// Evidence is a kind of record that meets a rule for a while.
type Evidence struct {
	What   string // in words, for the reminder ("colonoscopy")
	Type   string // Immunization, Observation or Procedure
	Codes  []datatype.Coding
	Years  int
	Months int
	// Text, when set, also accepts a concept whose text or display holds
	// it (lower case): vaccines are often coded locally.
	Text string
	// Season, when set, makes the interval "since the last 1 July".
	Season bool
}

// Age is a patient's age in whole years and months; Known is false when
// the birth date is not.
type Age struct {
	Years, Months int
	Known         bool
}

// AgeAt is the age of someone born on birth at now.
func AgeAt(birth, now time.Time) Age {
	if birth.IsZero() {
		return Age{}
	}
	months := (now.Year()-birth.Year())*12 + int(now.Month()) - int(birth.Month())
	if now.Day() < birth.Day() {
		months--
	}
	if months < 0 {
		months = 0
	}
	return Age{Years: months / 12, Months: months, Known: true}
}

func codings(system string, codes ...string) []datatype.Coding {
	out := make([]datatype.Coding, len(codes))
	for i, c := range codes {
		out[i] = datatype.Coding{System: system, Code: c}
	}
	return out
}

// Rules are the rules evaluated, in the order shown.
var Rules = []Rule{
	{
		ID: "influenza", Title: "Influenza vaccine",
		Basis:   "A seasonal influenza vaccine every season from 6 months of age (CDC ACIP).",
		Applies: func(a Age, _ *Record) bool { return a.Known && a.Months >= 6 },
		Done: []Evidence{{What: "influenza vaccine", Type: "Immunization", Season: true, Text: "influenza",
			Codes: codings(CVX, "88", "135", "140", "141", "144", "149", "150", "151", "153", "155", "158", "161", "166",
				"168", "171", "185", "186", "197", "205")}},
	},
	{
		ID: "blood-pressure", Title: "Blood pressure check",
		Basis:   "Screening for high blood pressure every year from 40, every three years from 18 to 39 (USPSTF 2021).",
		Applies: func(a Age, _ *Record) bool { return a.Known && a.Years >= 18 },
		Done: []Evidence{{What: "blood pressure", Type: "Observation", Years: 1,
			Codes: codings(datatype.LOINC, "85354-9", "55284-4", "8480-6", "8462-4")}},
		Interval: func(a Age) (int, int) {
			if a.Years >= 40 {
				return 1, 0
			}
			return 3, 0
		},
	},
	{
		ID: "colorectal", Title: "Colorectal cancer screening",
		Basis: "From 45 to 75: colonoscopy every 10 years, flexible sigmoidoscopy or CT colonography every 5, stool DNA every 3, or a faecal immunochemical or guaiac test every year (USPSTF 2021).",
		Applies: func(a Age, r *Record) bool {
			return a.Known && a.Years >= 45 && a.Years <= 75 && !r.has(colorectalCancer)
		},
		Done: []Evidence{
			{What: "colonoscopy", Type: "Procedure", Years: 10, Codes: codings(datatype.SNOMED, "73761001")},
			{What: "flexible sigmoidoscopy", Type: "Procedure", Years: 5, Codes: codings(datatype.SNOMED, "44441009")},
			{What: "CT colonography", Type: "Procedure", Years: 5, Codes: codings(datatype.SNOMED, "418714002")},
			{What: "stool DNA test", Type: "Observation", Years: 3, Codes: codings(datatype.LOINC, "77353-1", "77354-9")},
			{What: "faecal occult blood test", Type: "Observation", Years: 1,
				Codes: codings(datatype.LOINC, "29771-3", "2335-8", "27396-1", "27401-9", "27925-7", "27926-5", "56490-6", "56491-4", "57905-2", "58453-2", "80372-6", "12503-9", "12504-7", "14563-1", "14564-9", "14565-6")},
		},
	},
	{
		ID: "hba1c", Title: "HbA1c",
		Basis:   "With diabetes, an HbA1c at least every 6 months (ADA Standards of Care).",
		Applies: func(_ Age, r *Record) bool { return r.has(diabetes) },
		Done: []Evidence{{What: "HbA1c", Type: "Observation", Months: 6,
			Codes: codings(datatype.LOINC, "4548-4", "4549-2", "17856-6", "59261-8")}},
	},
}

// problem matches a condition by code: SNOMED codes exactly, ICD-10
// codes by prefix (E11 is every type 2 diabetes).
type problem struct {
	snomed []string
	icd10  []string
}

var (
	diabetes = problem{
		snomed: []string{"44054006", "46635009", "73211009"},
		icd10:  []string{"E10", "E11", "E13"},
	}
	colorectalCancer = problem{
		snomed: []string{"363406005", "363351006", "93761005", "109838007", "363510005"},
		icd10:  []string{"C18", "C19", "C20", "C21"},
	}
)

func (r *Record) has(p problem) bool {
	for _, c := range r.Conditions {
		if !active(c) {
			continue
		}
		for _, cd := range datatype.Codings(c["code"]) {
			switch cd.System {
			case datatype.SNOMED:
				if slices.Contains(p.snomed, cd.Code) {
					return true
				}
			case ICD10, "http://hl7.org/fhir/sid/icd-10":
				code := strings.ReplaceAll(cd.Code, ".", "")
				for _, prefix := range p.icd10 {
					if strings.HasPrefix(code, prefix) {
						return true
					}
				}
			}
		}
	}
	return false
}

// active reports whether a condition counts: not resolved, inactive,
// refuted or entered in error.
func active(c fhir.Resource) bool {
	for _, cd := range datatype.Codings(c["clinicalStatus"]) {
		if cd.Code == "inactive" || cd.Code == "resolved" || cd.Code == "remission" {
			return false
		}
	}
	for _, cd := range datatype.Codings(c["verificationStatus"]) {
		if cd.Code == "refuted" || cd.Code == "entered-in-error" {
			return false
		}
	}
	return true
}

// Evaluate returns the reminders of the rules that apply to r at now, in
// the order of Rules.
func Evaluate(r *Record, now time.Time) []Reminder {
	age := AgeAt(r.BirthDate, now)
	var out []Reminder
	for _, rule := range Rules {
		if !rule.Applies(age, r) {
			continue
		}
		rem := Reminder{Rule: rule.ID, Status: Due}
		var best time.Time // the latest "until" any evidence gives
		for _, ev := range rule.Done {
			when, ref, ok := latest(r, ev)
			if !ok {
				continue
			}
			years, months := ev.Years, ev.Months
			if rule.Interval != nil {
				years, months = rule.Interval(age)
			}
			until := when.AddDate(years, months, 0)
			if ev.Season {
				until = seasonStart(when).AddDate(1, 0, 0)
			}
			if when.After(rem.Last) {
				rem.Last, rem.Evidence, rem.What = when, ref, ev.What
			}
			if until.After(best) {
				best = until
			}
		}
		if best.After(now) {
			rem.Status, rem.Next = UpToDate, best
		}
		out = append(out, rem)
	}
	return out
}

// seasonStart is the 1 July that began the influenza season of t.
func seasonStart(t time.Time) time.Time {
	y := t.Year()
	if t.Month() < time.July {
		y--
	}
	return time.Date(y, time.July, 1, 0, 0, 0, 0, t.Location())
}

// latest finds the most recent record of ev: done (not refused, not in
// error), with a date.
func latest(r *Record, ev Evidence) (time.Time, string, bool) {
	var list []fhir.Resource
	switch ev.Type {
	case "Immunization":
		list = r.Immunizations
	case "Observation":
		list = r.Observations
	case "Procedure":
		list = r.Procedures
	}
	var best time.Time
	ref := ""
	for _, res := range list {
		if res.Type() != ev.Type || !done(res) || !matches(res, ev) {
			continue
		}
		when, ok := dateOf(res)
		if ok && when.After(best) {
			best, ref = when, res.Type()+"/"+res.ID()
		}
	}
	return best, ref, !best.IsZero()
}

// done reports whether a record says the thing was done.
func done(res fhir.Resource) bool {
	status := datatype.Str(res, "status")
	switch res.Type() {
	case "Immunization", "Procedure":
		return status == "completed"
	case "Observation":
		return status == "final" || status == "amended" || status == "corrected" || status == "preliminary"
	}
	return false
}

// matches reports whether a record's code is one of ev's.
func matches(res fhir.Resource, ev Evidence) bool {
	var concept any
	switch res.Type() {
	case "Immunization":
		concept = res["vaccineCode"]
	case "Observation":
		concept = res["code"]
	case "Procedure":
		// R5 Procedure.code is a CodeableConcept.
		concept = res["code"]
	}
	cs := datatype.Codings(concept)
	if _, ok := datatype.AnySame(cs, ev.Codes); ok {
		return true
	}
	if ev.Text == "" {
		return false
	}
	texts := []string{datatype.Text(concept)}
	for _, c := range cs {
		texts = append(texts, c.Display)
	}
	for _, t := range texts {
		if strings.Contains(strings.ToLower(t), ev.Text) {
			return true
		}
	}
	return false
}

// dateOf is when a record's thing was done: its occurrence, effective or
// performed date, or the start of its period.
func dateOf(res fhir.Resource) (time.Time, bool) {
	for _, k := range []string{"occurrenceDateTime", "effectiveDateTime", "effectiveInstant", "occurrenceString", "performedDateTime", "issued"} {
		if s := datatype.Str(res, k); s != "" {
			if t, _, err := fhir.ParseDateRange(s); err == nil {
				return t, true
			}
		}
	}
	for _, k := range []string{"effectivePeriod", "occurrencePeriod", "performedPeriod"} {
		if p := datatype.Obj(res[k]); p != nil {
			if s := datatype.Str(p, "start"); s != "" {
				if t, _, err := fhir.ParseDateRange(s); err == nil {
					return t, true
				}
			}
		}
	}
	return time.Time{}, false
}

// Queries are the searches (type and parameters, without the patient)
// that read what Evaluate needs beyond the active problems: each
// evidence type's codes, newest first.
func Queries() map[string]map[string]string {
	byType := map[string][]string{}
	for _, rule := range Rules {
		for _, ev := range rule.Done {
			if ev.Text != "" {
				continue // read by date: a local code may hold the word
			}
			for _, c := range ev.Codes {
				byType[ev.Type] = append(byType[ev.Type], c.System+"|"+c.Code)
			}
		}
	}
	out := map[string]map[string]string{}
	for typ, codes := range byType {
		sort.Strings(codes)
		out[typ] = map[string]string{"code": strings.Join(slices.Compact(codes), ","), "_sort": "-date", "_count": "200"}
	}
	out["Immunization"] = map[string]string{"_sort": "-date", "_count": "200"}
	return out
}

// RuleByID returns the rule of an ID.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Add files a resource in the record by its type; other types are left
// out.
func (r *Record) Add(res fhir.Resource) {
	switch res.Type() {
	case "Condition":
		r.Conditions = append(r.Conditions, res)
	case "Immunization":
		r.Immunizations = append(r.Immunizations, res)
	case "Observation":
		r.Observations = append(r.Observations, res)
	case "Procedure":
		r.Procedures = append(r.Procedures, res)
	}
}
