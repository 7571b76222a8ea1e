package web

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/clinical/reminders"
	"github.com/emr-project/emr/internal/store"
)

// reminderRow is a line of the chart's preventive care: what, its state
// in a word, and the records that decide it.
type reminderRow struct {
	Text   string
	Class  string // due, met or other: the state's emphasis
	Status string // in words
	Note   string
	Last   string // "" when there is no record
	What   string // what was done last
	// NoRecord says "no record" where a date would be.
	NoRecord bool
	Next     string
	NextBy   string // the record setting Next when it is not the last one
}

// reminderRows reads what the reminders need — the problems in any status,
// the vaccines, the latest records of the screening codes — as part of the
// chart's audited read, counting as shown only the records shown as
// evidence. A rule that reads a type the user may not see is shown as
// not available, never as due or done. Deceased says there are none.
//
// A view that may miss part of the record — a type the role sees only in
// part, a Consent limiting the patient's record (consentLimited), more
// problems than were read — could hide what makes a reminder due (a
// positive stool test, a history under surveillance): the rules reading
// such types say they were not worked out.
func (ws *Workspace) reminderRows(p *patientRead, l *Locale, consentLimited bool) (rows []reminderRow, deceased bool, err error) {
	r := &reminders.Record{}
	if v := p.patient; v != nil {
		r.BirthDate = str(v.Resource, "birthDate")
		dead, _ := v.Resource["deceasedBoolean"].(bool)
		r.Deceased = dead || str(v.Resource, "deceasedDateTime") != ""
	}
	if r.Deceased {
		return nil, true, nil
	}
	hidden := map[string]bool{}  // the role may see none of the type
	partial := map[string]bool{} // it may see part of it, or part was read
	var seen []*store.Version
	for _, q := range reminders.Queries() {
		if p.hidden(q.Type) {
			hidden[q.Type] = true
			continue
		}
		if consentLimited || !access.Unlimited(p.ws.Gate.Limit(p.ctx, 's', []string{q.Type})) {
			partial[q.Type] = true
		}
		params := url.Values{}
		for k, v := range q.Params {
			params.Set(k, v)
		}
		// By the patient's reference rather than the compartment: the
		// planner then drives by the rarer of the codes and the patient
		// (a compartment search walks every resource of the type).
		params.Set(patientParam[q.Type], "Patient/"+p.id)
		found, err := p.findByParams(q.Type, params)
		if err != nil {
			return nil, false, err
		}
		if q.Type == "Condition" && len(found) >= reminders.MaxConditions {
			partial["Condition"] = true
		}
		for _, v := range found {
			if !slices.ContainsFunc(seen, func(s *store.Version) bool { return s.Type == v.Type && s.ID == v.ID }) {
				seen = append(seen, v)
				r.Add(v.Resource)
			}
		}
	}
	show := func(ref string) {
		for _, v := range seen {
			if v.Type+"/"+v.ID == ref {
				p.touch(v)
			}
		}
	}
	now := ws.now()
	age := reminders.AgeAt(r.BirthDate, now)
	unavailable := map[string]bool{} // the rule reads a type the role cannot
	unworked := map[string]bool{}    // it reads a type seen in part
	for _, rule := range reminders.Rules {
		if slices.ContainsFunc(rule.Needs(), func(t string) bool { return hidden[t] }) {
			unavailable[rule.ID] = true
		} else if slices.ContainsFunc(rule.ConcealedBy(), func(t string) bool { return partial[t] }) {
			unworked[rule.ID] = true
		}
	}
	for _, rem := range reminders.Evaluate(r, now) {
		if unavailable[rem.Rule] {
			continue // listed below
		}
		if unworked[rem.Rule] && rem.Status != reminders.Due {
			// Due stays due; a verdict that a hidden record could undo
			// is not given.
			rows = append(rows, reminderRow{Text: l.T("reminder." + rem.Rule), Status: l.T("reminder.status-partial"), Class: "other"})
			continue
		}
		row := reminderRow{Text: l.T("reminder." + rem.Rule), Status: l.T("reminder.status-" + string(rem.Status)), Class: "other"}
		switch rem.Status {
		case reminders.Due:
			row.Class = "due"
		case reminders.UpToDate:
			row.Class = "met"
		case reminders.Surveillance:
			row.Note = l.T("reminder.note-surveillance", rem.Note)
			show(rem.Condition)
		}
		switch {
		case rem.Positive:
			row.Note = l.T("reminder.note-positive", l.T("reminder.done."+key(rem.StoolWhat)), l.Date(rem.StoolDate))
			show(rem.StoolEvidence)
		case rem.Unread:
			row.Note = l.T("reminder.note-unread", l.T("reminder.done."+key(rem.StoolWhat)), l.Date(rem.StoolDate))
			show(rem.StoolEvidence)
		}
		if rem.Status == reminders.Due || rem.Status == reminders.UpToDate {
			if rem.LastDate != "" {
				row.Last, row.What = l.Date(rem.LastDate), l.T("reminder.done."+key(rem.What))
				show(rem.Evidence)
			} else {
				row.NoRecord = true
			}
		}
		if !rem.Next.IsZero() {
			row.Next = l.Date(rem.Next.Format(time.DateOnly))
		}
		if rem.NextEvidence != "" {
			row.NextBy = l.T("reminder.done."+key(rem.NextWhat)) + " " + l.Date(rem.NextDate)
			show(rem.NextEvidence)
		}
		rows = append(rows, row)
	}
	for _, rule := range reminders.Rules {
		if !unavailable[rule.ID] || (rule.MinMonths > 0 && (!age.Known || age.Months < rule.MinMonths)) || (rule.MaxYears > 0 && age.Years > rule.MaxYears) {
			continue
		}
		rows = append(rows, reminderRow{Text: l.T("reminder." + rule.ID), Status: l.T("chart.hidden"), Class: "other"})
	}
	return rows, false, nil
}

// key is a message key made of words.
func key(what string) string { return strings.ReplaceAll(what, " ", "-") }

// patientParam names the patient's search parameter of each type the
// reminders read.
var patientParam = map[string]string{"Condition": "patient", "Immunization": "patient", "Observation": "patient", "Procedure": "patient"}
