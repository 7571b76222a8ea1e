// Package reminders says which preventive care a patient is due for, from
// what their record holds: a few screening and vaccination intervals on
// which the guidelines agree, each with its source, its codes and its
// interval, evaluated on the data a caller read (through its own access
// rules). It never says "up to date" without a record that shows it: a
// reminder whose evidence the caller cannot see reads as due. What it
// cannot work out (no birth date, a patient under a specialist's
// surveillance) it says so rather than guess.
//
// The rules (Rules) and their sources:
//   - influenza: a seasonal influenza vaccine every season (from 1 July)
//     from 6 months of age; a child under 9 who had fewer than two doses
//     before the season needs two, four weeks apart (CDC ACIP).
//   - blood-pressure: a blood pressure reading every year from 40, every
//     three years from 18 to 39 (USPSTF 2021; yearly also for those at
//     increased risk, which the rule does not know).
//   - colorectal: from 45 to 75, a colonoscopy within 10 years, a flexible
//     sigmoidoscopy or CT colonography within 5, a stool DNA test within 3
//     or a faecal immunochemical or guaiac test within 1 (USPSTF 2021). A
//     positive stool test asks for a colonoscopy. A patient with
//     colorectal cancer, polyps or inflammatory bowel disease, at any
//     time, is under surveillance, which is not worked out here.
//   - hba1c: for a patient with diabetes (in remission too), an HbA1c at
//     least every 6 months (ADA Standards of Care).
package reminders

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Code systems of the rules' codes not in datatype.
const (
	CVX   = "http://hl7.org/fhir/sid/cvx"
	ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
	CPT   = "http://www.ama-assn.org/go/cpt"
	HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
)

// Record is what the rules look at, as the caller may see it.
type Record struct {
	// BirthDate is the patient's birth date as recorded, any precision
	// ("" when not known: the age-bound rules are not worked out).
	BirthDate string
	// Deceased patients have no reminders.
	Deceased bool
	// Conditions are the patient's problems in any status: a past
	// colorectal cancer matters as much as a current one.
	Conditions []fhir.Resource
	// Immunizations, Observations and Procedures are the patient's, any
	// order (Queries names what to read).
	Immunizations, Observations, Procedures []fhir.Resource
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

// Status of a reminder.
type Status string

const (
	Due      Status = "due"        // never done, or its interval has passed
	UpToDate Status = "up-to-date" // done within its interval
	// Surveillance: the patient's history calls for a specialist's
	// follow-up, which these intervals do not cover.
	Surveillance Status = "surveillance"
	// NotKnown: the rule needs what the record does not say (the birth
	// date).
	NotKnown Status = "not-known"
)

// Reminder is one rule's verdict for a patient.
type Reminder struct {
	Rule   string // the rule's ID; "birth-date" for NotKnown age
	Status Status
	// Last is the latest record that meets the rule (zero: none): when,
	// as recorded (LastDate, any precision), what it was and "Type/id".
	Last     time.Time
	LastDate string
	What     string
	Evidence string
	// Next is when the rule is due again (zero: now). When another record
	// than Last sets it (an older colonoscopy outlasting a recent stool
	// test), NextWhat, NextDate and NextEvidence name that record.
	Next                             time.Time
	NextWhat, NextDate, NextEvidence string
	// Note says more, in English: why a reminder is due despite a recent
	// record (a positive stool test: Positive), or which history puts it
	// under surveillance (the condition's name).
	Note     string
	Positive bool
	// Stool names the stool test a note is about (positive, or a result
	// that could not be read): what, when and "Type/id".
	StoolWhat, StoolDate, StoolEvidence string
	// Unread: a stool test's result could not be read as negative.
	Unread bool
	// Condition is "Type/id" of the problem that decides the rule (the
	// history under surveillance).
	Condition string
}

// Rule is one preventive-care interval.
type Rule struct {
	ID string
	// Title names it and Basis says where it comes from, in English (the
	// chart has them in its message catalogue).
	Title, Basis string
	// Ages bounds who it concerns (0, 0: any age, birth date or not).
	MinMonths, MaxYears int
	// Problem, when set, is what the patient must have; Surveillance what
	// takes them out of the intervals.
	Problem, Surveillance *problem
	// Done lists the ways of meeting the rule, each with its interval.
	Done []Evidence
	// Interval, when set, replaces the evidence's interval by age (blood
	// pressure: yearly from 40).
	Interval func(age Age) (years, months int)
}

// Needs are the types the rule reads: a caller that cannot see one of
// them cannot work the rule out.
func (r Rule) Needs() []string {
	var out []string
	if r.Problem != nil || r.Surveillance != nil {
		out = append(out, "Condition")
	}
	for _, ev := range r.Done {
		if !slices.Contains(out, ev.Type) {
			out = append(out, ev.Type)
		}
	}
	return out
}

// ConcealedBy are the types in which a record the caller cannot see
// could make the rule due when the visible ones say it is met: a
// positive stool test among Observations, a history under surveillance
// among Conditions.
func (r Rule) ConcealedBy() []string {
	var out []string
	if r.Surveillance != nil {
		out = append(out, "Condition")
	}
	for _, ev := range r.Done {
		if ev.Stool && !slices.Contains(out, ev.Type) {
			out = append(out, ev.Type)
		}
	}
	return out
}

// Evidence is a kind of record that meets a rule for a while.
type Evidence struct {
	Key    string // names its query (Queries)
	What   string // in words, for the reminder ("colonoscopy")
	Type   string // Immunization, Observation or Procedure
	Codes  []datatype.Coding
	Years  int
	Months int
	// Text, when set, also accepts a concept with no standard coding
	// whose text or display names it (vaccines are often coded locally).
	Text *regexp.Regexp
	// Season, when set, makes the interval "since the last 1 July".
	Season bool
	// Stool marks a stool test: a positive one asks for a colonoscopy.
	Stool bool
}

// Age is a patient's age in whole years and months; Known is false when
// the birth date is not. For a birth date of a year or a month only,
// Years and Months count from its middle, OldestYears from its first day
// and YoungestYears from its last.
type Age struct {
	Years, Months              int
	OldestYears, YoungestYears int
	Known                      bool
}

// AgeAt is the age of someone born on birth (a FHIR date, any precision)
// at now.
func AgeAt(birth string, now time.Time) Age {
	mid, ok := birthDay(birth, "-07-01", "-15")
	if !ok {
		return Age{}
	}
	first, _ := birthDay(birth, "-01-01", "-01")
	last, _ := birthDay(birth, "-12-31", "-28")
	months := monthsBetween(mid, now)
	return Age{Years: months / 12, Months: months, OldestYears: monthsBetween(first, now) / 12, YoungestYears: monthsBetween(last, now) / 12, Known: true}
}

func monthsBetween(b, now time.Time) int {
	months := (now.Year()-b.Year())*12 + int(now.Month()) - int(b.Month())
	if now.Day() < b.Day() {
		months--
	}
	return max(months, 0)
}

// birthDay reads a birth date, completing a year with yearEnd and a month
// with monthEnd.
func birthDay(s, yearEnd, monthEnd string) (time.Time, bool) {
	switch len(s) {
	case 4:
		s += yearEnd
	case 7:
		s += monthEnd
	}
	if len(s) < 10 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, s[:10])
	return t, err == nil
}

func codings(system string, codes ...string) []datatype.Coding {
	out := make([]datatype.Coding, len(codes))
	for i, c := range codes {
		out[i] = datatype.Coding{System: system, Code: c}
	}
	return out
}

// cptRange is the CPT codes from first to last.
func cptRange(first, last int) []datatype.Coding {
	var out []datatype.Coding
	for c := first; c <= last; c++ {
		out = append(out, datatype.Coding{System: CPT, Code: strconv.Itoa(c)})
	}
	return out
}

// influenzaText names a seasonal influenza vaccine: the word itself (not
// "influenzae", as in Haemophilus influenzae type b).
var influenzaText = regexp.MustCompile(`(?i)\binfluenza\b`)

// notSeasonal are the vaccines that name influenza and are not the
// seasonal one: pandemic and avian strains.
var notSeasonal = regexp.MustCompile(`(?i)h1n1|h5n1|h5|pandemic|avian|novel|haemophilus|hemophilus|\bhib\b|type b`)

// Rules are the rules evaluated, in the order shown.
var Rules = []Rule{
	{
		ID: "influenza", Title: "Influenza vaccine", MinMonths: 6,
		Basis: "A seasonal influenza vaccine every season from 6 months of age; two doses four weeks apart for a child under 9 in their first seasons (CDC ACIP).",
		Done: []Evidence{{Key: "influenza", What: "influenza vaccine", Type: "Immunization", Season: true, Text: influenzaText,
			Codes: codings(CVX, "88", "111", "135", "140", "141", "144", "149", "150", "151", "153", "155", "158", "161", "166",
				"168", "171", "185", "186", "197", "205")}},
	},
	{
		ID: "blood-pressure", Title: "Blood pressure check", MinMonths: 18 * 12,
		Basis: "Screening for high blood pressure every year from 40, every three years from 18 to 39 (USPSTF 2021; yearly too for adults at increased risk).",
		Done: []Evidence{{Key: "blood-pressure", What: "blood pressure", Type: "Observation", Years: 1,
			Codes: codings(datatype.LOINC, "85354-9", "55284-4", "8480-6", "8462-4")}},
		Interval: func(a Age) (int, int) {
			if a.OldestYears >= 40 { // the shorter interval when the birth date is vague
				return 1, 0
			}
			return 3, 0
		},
	},
	{
		ID: "colorectal", Title: "Colorectal cancer screening", MinMonths: 45 * 12, MaxYears: 75,
		Basis:        "From 45 to 75: colonoscopy every 10 years, flexible sigmoidoscopy or CT colonography every 5, stool DNA every 3, or a faecal immunochemical or guaiac test every year; a positive stool test calls for a colonoscopy (USPSTF 2021).",
		Surveillance: &colorectalHistory,
		Done: []Evidence{
			{Key: "colonoscopy", What: "colonoscopy", Type: "Procedure", Years: 10, Codes: slices.Concat(
				codings(datatype.SNOMED, "73761001", "444783004", "446745002", "446521004", "25732003", "310634005", "367535003",
					"427459009", "443998000", "447021001", "8180007", "12350003", "34264006", "174184006", "174158000", "235150006",
					"235151005", "303587008"),
				cptRange(45378, 45392), codings(HCPCS, "G0105", "G0121"))},
			{Key: "sigmoidoscopy", What: "flexible sigmoidoscopy", Type: "Procedure", Years: 5, Codes: slices.Concat(
				codings(datatype.SNOMED, "44441009", "396226005", "425634007", "112870002"),
				cptRange(45330, 45350), codings(HCPCS, "G0104"))},
			{Key: "ct-colonography", What: "CT colonography", Type: "Procedure", Years: 5, Codes: codings(datatype.SNOMED, "418714002")},
			{Key: "stool-dna", What: "stool DNA test", Type: "Observation", Years: 3, Stool: true, Codes: codings(datatype.LOINC, "77353-1", "77354-9")},
			{Key: "fobt", What: "faecal occult blood test", Type: "Observation", Years: 1, Stool: true,
				Codes: codings(datatype.LOINC, "29771-3", "2335-8", "27396-1", "27401-9", "27925-7", "27926-5", "56490-6", "56491-4", "57905-2", "58453-2", "80372-6", "12503-9", "12504-7", "14563-1", "14564-9", "14565-6")},
		},
	},
	{
		ID: "hba1c", Title: "HbA1c",
		Basis:   "With diabetes, an HbA1c at least every 6 months (ADA Standards of Care).",
		Problem: &diabetes,
		Done: []Evidence{{Key: "hba1c", What: "HbA1c", Type: "Observation", Months: 6,
			Codes: codings(datatype.LOINC, "4548-4", "4549-2", "17856-6", "59261-8", "41995-2", "62388-4", "71875-9")}},
	},
}

// problem matches a condition by code: SNOMED codes exactly, ICD-10
// codes by prefix (E11 is every type 2 diabetes).
type problem struct {
	snomed []string
	icd10  []string
	// past counts conditions resolved or inactive too (a history).
	past bool
}

var (
	diabetes = problem{
		snomed: []string{"44054006", "46635009", "73211009", "313436004"},
		icd10:  []string{"E08", "E09", "E10", "E11", "E13"},
	}
	// colorectalHistory: colorectal cancer (Synthea writes 94260004),
	// a history of it, colonic polyps or adenoma, inflammatory bowel
	// disease, a family history of colorectal cancer, Lynch syndrome and
	// familial adenomatous polyposis: higher risk, other intervals.
	colorectalHistory = problem{
		snomed: []string{"363406005", "363351006", "93761005", "94260004", "109838007", "363510005",
			"68496003", "428283002", "24526004", "34000006", "64766004",
			"315058005", "72900001", "312824007"}, // Lynch syndrome, familial adenomatous polyposis, family history of colon cancer
		icd10: []string{"C18", "C19", "C20", "Z85038", "Z85048", "D12", "K50", "K51", "Z86010", "Z800", "Z1509"},
		past:  true,
	}
)

// has returns the first condition of r matching p, or nil.
func (r *Record) has(p *problem) fhir.Resource {
	for _, c := range r.Conditions {
		if !counts(c, p.past) {
			continue
		}
		for _, cd := range datatype.Codings(c["code"]) {
			switch cd.System {
			case datatype.SNOMED:
				if slices.Contains(p.snomed, cd.Code) {
					return c
				}
			case ICD10, "http://hl7.org/fhir/sid/icd-10":
				code := strings.ReplaceAll(cd.Code, ".", "")
				for _, prefix := range p.icd10 {
					if strings.HasPrefix(code, prefix) {
						return c
					}
				}
			}
		}
	}
	return nil
}

// counts reports whether a condition is one the patient has: not refuted
// or entered in error, and, unless past conditions count, not resolved
// or inactive (remission, recurrence and relapse count).
func counts(c fhir.Resource, past bool) bool {
	for _, cd := range datatype.Codings(c["verificationStatus"]) {
		if cd.Code == "refuted" || cd.Code == "entered-in-error" {
			return false
		}
	}
	if past {
		return true
	}
	for _, cd := range datatype.Codings(c["clinicalStatus"]) {
		if cd.Code == "inactive" || cd.Code == "resolved" {
			return false
		}
	}
	return true
}

// Evaluate returns the reminders of the rules that apply to r at now, in
// the order of Rules; a record without a birth date starts with a
// NotKnown reminder (Rule "birth-date"), and a deceased patient has none.
func Evaluate(r *Record, now time.Time) []Reminder {
	if r.Deceased {
		return nil
	}
	age := AgeAt(r.BirthDate, now)
	var out []Reminder
	if !age.Known {
		out = append(out, Reminder{Rule: "birth-date", Status: NotKnown})
	}
	for _, rule := range Rules {
		if rule.MinMonths > 0 && (!age.Known || age.Months < rule.MinMonths) {
			continue
		}
		if rule.MaxYears > 0 && age.Years > rule.MaxYears {
			continue
		}
		if rule.Problem != nil && r.has(rule.Problem) == nil {
			continue
		}
		if rule.Surveillance != nil {
			if c := r.has(rule.Surveillance); c != nil {
				out = append(out, Reminder{Rule: rule.ID, Status: Surveillance, Note: conditionName(c), Condition: "Condition/" + c.ID()})
				continue
			}
		}
		out = append(out, evaluate(rule, r, age, now))
	}
	return out
}

// conditionName names a condition: its text, else a coding's display,
// else its code.
func conditionName(c fhir.Resource) string {
	if t := datatype.Text(c["code"]); t != "" {
		return t
	}
	for _, cd := range datatype.Codings(c["code"]) {
		if cd.Display != "" {
			return cd.Display
		}
		if cd.Code != "" {
			return cd.Code
		}
	}
	return "a history that calls for surveillance"
}

// evaluate works one rule out.
func evaluate(rule Rule, r *Record, age Age, now time.Time) Reminder {
	rem := Reminder{Rule: rule.ID, Status: Due}
	var until time.Time // the latest "until" any record gives
	var positiveStool, unreadStool, colonoscopy found
	for _, ev := range rule.Done {
		keep := func(fhir.Resource) bool { return true }
		if ev.Stool {
			// Only a stool test read as negative counts toward the
			// interval; a positive one asks for a colonoscopy, and one
			// that cannot be read is said.
			if f, ok := latest(r, ev, now, func(o fhir.Resource) bool { return stoolResult(o) == "positive" }); ok && f.when.After(positiveStool.when) {
				positiveStool = f
			}
			if f, ok := latest(r, ev, now, func(o fhir.Resource) bool { return stoolResult(o) == "" }); ok && f.when.After(unreadStool.when) {
				unreadStool = f
			}
			keep = func(o fhir.Resource) bool { return stoolResult(o) == "negative" }
		}
		f, ok := latest(r, ev, now, keep)
		if !ok {
			continue
		}
		if ev.Key == "colonoscopy" {
			colonoscopy = f
		}
		years, months := ev.Years, ev.Months
		if rule.Interval != nil {
			years, months = rule.Interval(age)
		}
		u := f.when.AddDate(years, months, 0)
		if ev.Season {
			u = seasonStart(f.when).AddDate(1, 0, 0)
			if childAtSeason(r.BirthDate, now) && !seasonDone(r, ev, now) {
				u = time.Time{} // one dose of two this season
			}
		}
		if f.when.After(rem.Last) {
			rem.Last, rem.LastDate, rem.What, rem.Evidence = f.when, f.date, ev.What, f.ref
		}
		if u.After(until) {
			until = u
			rem.NextWhat, rem.NextDate, rem.NextEvidence = ev.What, f.date, f.ref
		}
	}
	switch {
	case !positiveStool.when.IsZero() && colonoscopy.when.Before(positiveStool.when):
		rem.Note, rem.Positive = "positive "+positiveStool.what+": colonoscopy needed", true
		rem.StoolWhat, rem.StoolDate, rem.StoolEvidence = positiveStool.what, positiveStool.date, positiveStool.ref
	case until.After(now):
		rem.Status, rem.Next = UpToDate, until
	case !unreadStool.when.IsZero() && unreadStool.when.After(rem.Last):
		rem.Note, rem.Unread = "the result of the "+unreadStool.what+" could not be read as negative: check it", true
		rem.StoolWhat, rem.StoolDate, rem.StoolEvidence = unreadStool.what, unreadStool.date, unreadStool.ref
	}
	if rem.Status == Due || rem.NextEvidence == rem.Evidence {
		rem.NextWhat, rem.NextDate, rem.NextEvidence = "", "", ""
	}
	return rem
}

// stoolResult reads a stool test: "negative", "positive", or "" when it
// cannot tell (a value without interpretation or range, an unknown code).
func stoolResult(o fhir.Resource) string {
	for _, i := range datatype.List(o["interpretation"]) {
		for _, cd := range datatype.Codings(i) {
			switch cd.Code {
			case "POS", "A", "AA", "H", "HH", "DET":
				return "positive"
			case "N", "NEG", "ND":
				return "negative"
			}
		}
	}
	for _, cd := range datatype.Codings(o["valueCodeableConcept"]) {
		switch cd.System + "|" + cd.Code {
		case datatype.SNOMED + "|10828004", datatype.SNOMED + "|260373001", datatype.LOINC + "|LA6576-8", datatype.LOINC + "|LA11882-0":
			return "positive"
		case datatype.SNOMED + "|260385009", datatype.SNOMED + "|260415000", datatype.LOINC + "|LA6577-6", datatype.LOINC + "|LA11883-8":
			return "negative"
		}
	}
	if b, ok := o["valueBoolean"].(bool); ok {
		if b {
			return "positive"
		}
		return "negative"
	}
	for _, t := range []string{datatype.Str(o, "valueString"), datatype.Text(o["valueCodeableConcept"])} {
		switch t := strings.ToLower(strings.TrimSpace(t)); {
		case t == "":
		case strings.HasPrefix(t, "negative") || strings.HasPrefix(t, "not detected") || t == "normal":
			return "negative"
		case strings.Contains(t, "positive") || strings.HasPrefix(t, "detected") || t == "abnormal":
			return "positive"
		}
	}
	if q, ok := datatype.QuantityOf(o["valueQuantity"]); ok {
		for _, rr := range datatype.List(o["referenceRange"]) {
			if high, ok := datatype.QuantityOf(datatype.Obj(rr)["high"]); ok && (high.Unit == q.Unit || (high.Code != "" && high.Code == q.Code)) {
				if q.Value <= high.Value {
					return "negative"
				}
				return "positive"
			}
		}
	}
	return ""
}

// childAtSeason reports whether the patient was under 9 when this
// influenza season began, counted from the latest day a vague birth date
// allows (ACIP's two-dose rule for children 6 months to 8 years).
func childAtSeason(birth string, now time.Time) bool {
	a := AgeAt(birth, seasonStart(now))
	return a.Known && a.YoungestYears < 9
}

// seasonStart is the 1 July that began the influenza season of t (t a
// calendar day).
func seasonStart(t time.Time) time.Time {
	y := t.Year()
	if t.Month() < time.July {
		y--
	}
	return time.Date(y, time.July, 1, 0, 0, 0, 0, time.UTC)
}

// seasonDone reports whether a child under 9 is covered this season: two
// doses this season four weeks apart, or one this season after two
// before it (ACIP), doses counted by distinct days four weeks apart (a
// dose recorded twice is one).
func seasonDone(r *Record, ev Evidence, now time.Time) bool {
	start := seasonStart(now)
	var before, this []time.Time
	for _, res := range r.Immunizations {
		if !done(res, ev) || !matches(res, ev) {
			continue
		}
		when, _, ok := dateOf(res)
		if !ok || when.After(now.AddDate(0, 0, 1)) {
			continue
		}
		if when.Before(start) {
			before = append(before, when)
		} else {
			this = append(this, when)
		}
	}
	if len(this) == 0 {
		return false
	}
	if apart(before) >= 2 {
		return true
	}
	return apart(this) >= 2
}

// apart counts the days at least four weeks after the last one counted.
func apart(days []time.Time) int {
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	n := 0
	var last time.Time
	for _, d := range days {
		if n == 0 || d.Sub(last) >= 28*24*time.Hour {
			n++
			last = d
		}
	}
	return n
}

// found is a record that meets an evidence.
type found struct {
	when time.Time // its calendar day
	date string    // as recorded, date part
	ref  string
	what string
}

// latest finds the most recent record of ev that keep accepts: done, not
// in the future (a mistyped year is not a screening), with a date.
func latest(r *Record, ev Evidence, now time.Time, keep func(fhir.Resource) bool) (found, bool) {
	var list []fhir.Resource
	switch ev.Type {
	case "Immunization":
		list = r.Immunizations
	case "Observation":
		list = r.Observations
	case "Procedure":
		list = r.Procedures
	}
	var best found
	for _, res := range list {
		if res.Type() != ev.Type || !done(res, ev) || !matches(res, ev) || !keep(res) {
			continue
		}
		when, date, ok := dateOf(res)
		if !ok || when.After(now.AddDate(0, 0, 1)) {
			continue
		}
		if when.After(best.when) {
			best = found{when: when, date: date, ref: res.Type() + "/" + res.ID(), what: ev.What}
		}
	}
	return best, !best.when.IsZero()
}

// done reports whether a record says the thing was done: completed (a
// full dose), or a final result with a value.
func done(res fhir.Resource, ev Evidence) bool {
	status := datatype.Str(res, "status")
	switch res.Type() {
	case "Immunization":
		subpotent, _ := res["isSubpotent"].(bool)
		return status == "completed" && !subpotent
	case "Procedure":
		return status == "completed"
	case "Observation":
		if status != "final" && status != "amended" && status != "corrected" {
			return false
		}
		return hasValue(res)
	}
	return false
}

// hasValue reports whether an Observation holds a result: a value[x], or
// a component with one (a blood pressure panel).
func hasValue(o map[string]any) bool {
	for k := range o {
		if strings.HasPrefix(k, "value") {
			return true
		}
	}
	for _, c := range datatype.List(o["component"]) {
		for k := range datatype.Obj(c) {
			if strings.HasPrefix(k, "value") {
				return true
			}
		}
	}
	return false
}

// standardSystems are the code systems whose codes decide alone: a
// vaccine coded in one of them is what its code says.
var standardSystems = []string{CVX, datatype.SNOMED, CPT, HCPCS, datatype.LOINC}

// matches reports whether a record's code is one of ev's.
func matches(res fhir.Resource, ev Evidence) bool {
	var concept any
	switch res.Type() {
	case "Immunization":
		concept = res["vaccineCode"]
	case "Observation", "Procedure":
		concept = res["code"]
	}
	cs := datatype.Codings(concept)
	if _, ok := datatype.AnySame(cs, ev.Codes); ok {
		return true
	}
	if ev.Text == nil || slices.ContainsFunc(cs, func(c datatype.Coding) bool { return slices.Contains(standardSystems, c.System) }) {
		return false
	}
	texts := []string{datatype.Text(concept)}
	for _, c := range cs {
		texts = append(texts, c.Display)
	}
	for _, t := range texts {
		if ev.Text.MatchString(t) && !notSeasonal.MatchString(t) {
			return true
		}
	}
	return false
}

// dateOf is the calendar day a record's thing was done — its occurrence,
// effective or performed date, or the start of its period, else when it
// was issued — as recorded (the day where it happened, not in UTC), and
// that date as written.
func dateOf(res fhir.Resource) (time.Time, string, bool) {
	var s string
	for _, k := range []string{"occurrenceDateTime", "effectiveDateTime", "effectiveInstant", "performedDateTime"} {
		if s = datatype.Str(res, k); s != "" {
			break
		}
	}
	if s == "" {
		for _, k := range []string{"occurrencePeriod", "effectivePeriod", "performedPeriod"} {
			if s = datatype.Str(datatype.Obj(res[k]), "start"); s != "" {
				break
			}
		}
	}
	if s == "" {
		s = datatype.Str(res, "issued")
	}
	if len(s) > 10 {
		s = s[:10]
	}
	day := s
	switch len(s) {
	case 4:
		day += "-01-01"
	case 7:
		day += "-01"
	}
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return time.Time{}, "", false
	}
	return t, s, true
}

// MaxConditions is how many problems Queries reads: a record with as
// many may hold more, and the rules that read problems cannot be worked
// out from it.
const MaxConditions = 1000

// Query is a search that reads what Evaluate needs: Type with Params
// (without the patient), under Key.
type Query struct {
	Key, Type string
	Params    map[string]string
}

// Queries are the searches the rules need: the patient's problems in any
// status, their immunizations (every dose: a child's count matters, and a
// vaccine may be coded locally), their latest blood pressure readings
// apart (they are many: an admission takes hundreds), and the latest
// other results and procedures of the rules' codes, newest first. Each
// search costs about a millisecond whatever it finds, so the rare kinds
// share one: MaxShared of them reach back further than any interval, but
// for a patient tested monthly for years.
func Queries() []Query {
	out := []Query{
		{Key: "conditions", Type: "Condition", Params: map[string]string{"_count": strconv.Itoa(MaxConditions)}},
		{Key: "immunizations", Type: "Immunization", Params: map[string]string{"_sort": "-date", "_count": "100"}},
	}
	byKey := map[string][]string{}
	var keys []string
	types := map[string]string{}
	for _, rule := range Rules {
		for _, ev := range rule.Done {
			if ev.Type == "Immunization" {
				continue
			}
			key := ev.Key
			if ev.Key != "blood-pressure" {
				key = strings.ToLower(ev.Type) + "s"
			}
			if _, ok := byKey[key]; !ok {
				keys = append(keys, key)
			}
			types[key] = ev.Type
			for _, c := range ev.Codes {
				byKey[key] = append(byKey[key], c.System+"|"+c.Code)
			}
		}
	}
	for _, key := range keys {
		p := map[string]string{"code": strings.Join(byKey[key], ","), "_sort": "-date", "_count": strconv.Itoa(MaxShared)}
		if key == "blood-pressure" {
			p["_count"] = "5"
		}
		if types[key] == "Observation" {
			p["status"] = "final,amended,corrected"
		} else {
			p["status"] = "completed"
		}
		out = append(out, Query{Key: key, Type: types[key], Params: p})
	}
	return out
}

// MaxShared is the page of the searches that several kinds of record
// share (Queries).
const MaxShared = 200

// RuleByID returns the rule of an ID.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
