package web

import (
	"net/url"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/reminders"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// reminderRow is a line of the chart's preventive care: what, whether it
// is due, and when it was last done or is next due.
type reminderRow struct {
	Text   string
	Due    bool
	Status string // in words
	Last   string // "" when there is no record
	What   string // what was done last
	Next   string
}

// reminderRows reads what the reminders need — the vaccines, the
// observations and procedures of their codes — as part of the chart's
// audited read, and evaluates them on the active problems already read.
// What the user may not see counts as not done: a reminder may say due
// when it was met, never up to date when it was not.
func (ws *Workspace) reminderRows(p *patientRead, l *Locale, problems []*store.Version) ([]reminderRow, error) {
	r := &reminders.Record{Conditions: resourcesOfVersions(problems)}
	var seen []*store.Version
	if v := p.patient; v != nil {
		if b, _, err := fhir.ParseDateRange(str(v.Resource, "birthDate")); err == nil {
			r.BirthDate = b
		}
	}
	for typ, params := range reminders.Queries() {
		if p.hidden(typ) {
			continue
		}
		q := url.Values{}
		for k, v := range params {
			q.Set(k, v)
		}
		found, err := p.find(typ, q)
		if err != nil {
			return nil, err
		}
		seen = append(seen, found...)
		list := resourcesOfVersions(found)
		switch typ {
		case "Immunization":
			r.Immunizations = list
		case "Observation":
			r.Observations = list
		case "Procedure":
			r.Procedures = list
		}
	}
	var rows []reminderRow
	for _, rem := range reminders.Evaluate(r, ws.now()) {
		row := reminderRow{Text: l.T("reminder." + rem.Rule), Due: rem.Status == reminders.Due}
		row.Status = l.T("reminder.status-" + string(rem.Status))
		if !rem.Last.IsZero() {
			row.Last, row.What = l.Date(rem.Last.Format(time.DateOnly)), l.T("reminder.done."+strings.ReplaceAll(rem.What, " ", "-"))
			// The record shown as evidence is shown.
			for _, v := range seen {
				if v.Type+"/"+v.ID == rem.Evidence {
					p.touch(v)
				}
			}
		}
		if !rem.Next.IsZero() {
			row.Next = l.Date(rem.Next.Format(time.DateOnly))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func resourcesOfVersions(vs []*store.Version) []fhir.Resource {
	out := make([]fhir.Resource, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Resource)
	}
	return out
}
