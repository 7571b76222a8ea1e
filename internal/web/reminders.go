package web

import (
	"net/url"
	"slices"
	"time"

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
func (ws *Workspace) reminderRows(p *patientRead, l *Locale) (rows []reminderRow, deceased bool, err error) {
	r := &reminders.Record{}
	if v := p.patient; v != nil {
		r.BirthDate = str(v.Resource, "birthDate")
		dead, _ := v.Resource["deceasedBoolean"].(bool)
		r.Deceased = dead || str(v.Resource, "deceasedDateTime") != ""
	}
	if r.Deceased {
		return nil, true, nil
	}
	hidden := map[string]bool{}
	var seen []*store.Version
	for _, q := range reminders.Queries() {
		if p.hidden(q.Type) {
			hidden[q.Type] = true
			continue
		}
		params := url.Values{}
		for k, v := range q.Params {
			params.Set(k, v)
		}
		found, err := p.find(q.Type, params)
		if err != nil {
			return nil, false, err
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
	unavailable := map[string]bool{}
	for _, rule := range reminders.Rules {
		if slices.ContainsFunc(rule.Needs(), func(t string) bool { return hidden[t] }) {
			unavailable[rule.ID] = true
		}
	}
	for _, rem := range reminders.Evaluate(r, now) {
		if unavailable[rem.Rule] {
			continue // listed below
		}
		row := reminderRow{Text: l.T("reminder." + rem.Rule), Status: l.T("reminder.status-" + string(rem.Status)), Class: "other"}
		switch rem.Status {
		case reminders.Due:
			row.Class = "due"
		case reminders.UpToDate:
			row.Class = "met"
		case reminders.Surveillance:
			row.Note = l.T("reminder.note-surveillance", rem.Note)
		}
		if rem.Positive {
			row.Note = l.T("reminder.note-positive", l.T("reminder.done."+key(rem.What)))
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
func key(what string) string {
	b := []byte(what)
	for i, c := range b {
		if c == ' ' {
			b[i] = '-'
		}
	}
	return string(b)
}
