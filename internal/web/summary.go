package web

import (
	"net/url"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/store"
)

// The sections of the chart summary, each built from what the page read.

type problemRow struct{ Text, Onset string }

// datedRow is a line of a summary section: what, when, and a detail.
type datedRow struct{ Text, When, Detail string }

type allergyRow struct {
	Substance   string
	Reactions   string // the manifestations, "" when none recorded
	Criticality string // in words
	High        bool
}

func problemRows(l *Locale, problems []*store.Version) []problemRow {
	rows := make([]problemRow, 0, len(problems))
	for _, v := range problems {
		c := v.Resource
		onset := str(c, "onsetDateTime")
		if onset == "" {
			if p, _ := c["onsetPeriod"].(map[string]any); p != nil {
				onset = str(p, "start")
			}
		}
		row := problemRow{Text: conceptText(c["code"]), Onset: l.T("value.unknown")}
		if onset != "" {
			row.Onset = l.Date(onset)
		} else if s := str(c, "onsetString"); s != "" {
			row.Onset = s
		}
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Text < rows[j].Text })
	return rows
}

// allergyRows are the active allergies with their reactions and
// criticality; the "no known allergy" records are the banner's.
func allergyRows(l *Locale, allergies []*store.Version) []allergyRow {
	var rows []allergyRow
	for _, v := range allergies {
		a := v.Resource
		if status := codeOf(a["clinicalStatus"]); status != "" && status != "active" {
			continue
		}
		if vs := codeOf(a["verificationStatus"]); vs == "entered-in-error" || vs == "refuted" {
			continue
		}
		if c, _ := a["code"].(map[string]any); c != nil && hasCode(c, snomed, noKnownAllergyCodes) {
			continue
		}
		row := allergyRow{Substance: conceptText(a["code"])}
		var manifestations []string
		reactions, _ := a["reaction"].([]any)
		for _, x := range reactions {
			re, _ := x.(map[string]any)
			ms, _ := re["manifestation"].([]any)
			for _, m := range ms {
				if t := conceptText(m); t != "" && !contains(manifestations, t) {
					manifestations = append(manifestations, t)
				}
			}
		}
		row.Reactions = strings.Join(manifestations, ", ")
		switch c := str(a, "criticality"); c {
		case "low", "high", "unable-to-assess":
			row.Criticality = l.T("allergy.criticality-" + c)
			row.High = c == "high"
		default:
			row.Criticality = l.T("value.unknown")
		}
		rows = append(rows, row)
	}
	return rows
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// vital is one of the vital signs the summary shows, by LOINC code, in
// the order shown.
type vital struct {
	key   string   // the catalog key of its name, vital.<key>
	codes []string // LOINC codes of the observation
}

var vitalSigns = []vital{
	{"bp", []string{"85354-9", "55284-4"}},
	{"pulse", []string{"8867-4"}},
	{"rr", []string{"9279-1"}},
	{"temp", []string{"8310-5", "8331-1"}},
	{"spo2", []string{"59408-5", "2708-6"}},
	{"weight", []string{"29463-7"}},
	{"height", []string{"8302-2"}},
	{"bmi", []string{"39156-5"}},
}

const loinc = "http://loinc.org"

type vitalRow struct {
	Name, Value, When string
	// Trend is the trend page's code parameter.
	Trend string
}

// vitalRows takes the latest of each vital sign from observations, newest
// first; shown are the indexes of the observations used.
func vitalRows(l *Locale, observations []*store.Version) (rows []vitalRow, shown []int) {
	for _, vs := range vitalSigns {
		for i, o := range observations {
			c, _ := o.Resource["code"].(map[string]any)
			if !hasCode(c, loinc, setOf(vs.codes...)) {
				continue
			}
			value := l.observationValue(o.Resource)
			if value == "" {
				continue
			}
			trend := loinc + "|" + vs.codes[0]
			if vs.key == "bp" {
				trend = "bp"
			}
			rows = append(rows, vitalRow{Name: l.T("vital." + vs.key), Value: value, When: l.dateTimeText(effectiveOf(o.Resource)), Trend: trend})
			shown = append(shown, i)
			break
		}
	}
	return rows, shown
}

func setOf(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// observationValue is an observation's value as read: a quantity with
// its unit, blood pressure as systolic/diastolic from the panel's
// components, a coded or text value.
func (l *Locale) observationValue(o map[string]any) string {
	if q, ok := o["valueQuantity"]; ok {
		return l.quantityText(q)
	}
	if sys, dia := componentQuantity(o, "8480-6"), componentQuantity(o, "8462-4"); sys != nil && dia != nil {
		s, ok1 := numberText(sys["value"])
		d, ok2 := numberText(dia["value"])
		if ok1 && ok2 {
			return l.Decimal(s) + "/" + l.Decimal(d) + " " + unitOf(sys)
		}
	}
	if c, ok := o["valueCodeableConcept"]; ok {
		return conceptText(c)
	}
	if s := str(o, "valueString"); s != "" {
		return s
	}
	return ""
}

// componentQuantity is the valueQuantity of o's component coded code
// (LOINC), or nil.
func componentQuantity(o map[string]any, code string) map[string]any {
	comps, _ := o["component"].([]any)
	for _, x := range comps {
		c, _ := x.(map[string]any)
		cc, _ := c["code"].(map[string]any)
		if hasCode(cc, loinc, map[string]bool{code: true}) {
			q, _ := c["valueQuantity"].(map[string]any)
			return q
		}
	}
	return nil
}

// immunizationRows lists each vaccine once, newest first, with the
// date of its latest dose and the earlier ones (imms come newest first).
func immunizationRows(l *Locale, imms []*store.Version) []datedRow {
	var rows []datedRow
	index := map[string]int{}
	for _, v := range imms {
		im := v.Resource
		status := str(im, "status")
		if status == "entered-in-error" {
			continue
		}
		vaccine := conceptText(im["vaccineCode"])
		when := l.Date(effectiveOf(im))
		if status == "not-done" {
			when += " (" + l.T("immunization.not-done") + ")"
		}
		i, seen := index[vaccine]
		if !seen {
			index[vaccine] = len(rows)
			rows = append(rows, datedRow{Text: vaccine, When: when})
			continue
		}
		if rows[i].Detail != "" {
			rows[i].Detail += ", "
		}
		rows[i].Detail += when
	}
	return rows
}

func appointmentRows(l *Locale, appts []*store.Version) []datedRow {
	rows := make([]datedRow, 0, len(appts))
	for _, v := range appts {
		a := v.Resource
		what := str(a, "description")
		if what == "" {
			if types, _ := a["serviceType"].([]any); len(types) > 0 {
				what = conceptText(types[0])
			}
		}
		if what == "" {
			what = conceptText(a["appointmentType"])
		}
		if what == "" {
			what = l.T("appointment.untitled")
		}
		var with []string
		parts, _ := a["participant"].([]any)
		for _, x := range parts {
			pa, _ := x.(map[string]any)
			if ref, _ := pa["actor"].(map[string]any); ref != nil && !strings.HasPrefix(str(ref, "reference"), "Patient/") {
				if d := str(ref, "display"); d != "" {
					with = append(with, d)
				}
			}
		}
		rows = append(rows, datedRow{Text: what, When: l.dateTimeText(str(a, "start")), Detail: strings.Join(with, ", ")})
	}
	return rows
}

// careTeamRows lists the members of the active care teams with their
// roles; a member without a display name is read (and counted as shown).
func careTeamRows(p *patientRead, teams []*store.Version) []datedRow {
	var rows []datedRow
	for _, v := range teams {
		t := v.Resource
		parts, _ := t["participant"].([]any)
		for _, x := range parts {
			pa, _ := x.(map[string]any)
			member, _ := pa["member"].(map[string]any)
			name := str(member, "display")
			if name == "" {
				name = p.nameOf(str(member, "reference"))
			}
			if name == "" {
				continue
			}
			role := ""
			if roles, _ := pa["role"].(map[string]any); roles != nil {
				role = conceptText(roles)
			} else if list, _ := pa["role"].([]any); len(list) > 0 {
				role = conceptText(list[0])
			}
			rows = append(rows, datedRow{Text: name, Detail: role, When: str(t, "name")})
		}
	}
	return rows
}

// nameOf reads the name of a referenced practitioner, organisation or
// related person ("" when it cannot be read).
func (p *patientRead) nameOf(ref string) string {
	typ, id, ok := strings.Cut(ref, "/")
	if !ok {
		return ""
	}
	switch typ {
	case "Practitioner", "RelatedPerson", "Organization", "PractitionerRole", "Patient":
	default:
		return ""
	}
	v, err := p.st.Read(p.ctx, typ, id)
	if err != nil {
		return ""
	}
	p.touch(v)
	if typ == "Organization" {
		return str(v.Resource, "name")
	}
	return DisplayName(v.Resource)
}

// trendLink is the trend page of a code parameter.
func trendLink(patient, code string) string {
	return "/patients/" + url.PathEscape(patient) + "/trend?code=" + url.QueryEscape(code)
}
