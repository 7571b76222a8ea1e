package web

import (
	"net/http"
	"net/url"
	"slices"
)

func (ws *Workspace) registerChart(page pageFunc) {
	page("GET /patients/{id}", ws.chart)
	page("GET /patients/{id}/timeline", ws.timeline)
	page("GET /patients/{id}/results", ws.results)
	page("GET /patients/{id}/trend", ws.trend)
	page("GET /patients/{id}/documents", ws.documents)
	page("POST /patients/{id}/documents", ws.uploadDocument)
	page("GET /patients/{id}/documents/{doc}", ws.document)
	page("GET /patients/{id}/binary/{bin}", ws.binary)
	page("POST /patients/{id}/break-glass", ws.breakGlass)
}

// chartData is the chart summary of one patient: each section empty when
// nothing is recorded (the page says so).
type chartData struct {
	Problems      []problemRow
	Allergies     []allergyRow
	Medications   []string
	Vitals        []vitalRow
	Results       []resultRow
	ResultTable   resultTable
	Immunizations []datedRow
	Appointments  []datedRow
	CareTeam      []datedRow
	// Reminders are the preventive care the patient is due for, or done
	// within its interval (internal/clinical/reminders); Deceased when
	// there are none to give.
	Reminders []reminderRow
	Deceased  bool
	// Hidden are the sections the user's role may not see, by name.
	Hidden map[string]bool
}

// chartSections are the summary's sections and the type each shows.
var chartSections = map[string]string{"problems": "Condition", "allergies": "AllergyIntolerance", "meds": "MedicationRequest",
	"vitals": "Observation", "results": "Observation", "imms": "Immunization", "appts": "Appointment", "team": "CareTeam",
	"prevent": "Immunization"}

// chart is GET /patients/{id}: the banner and the summary, read as one
// audited interaction. A patient the user may not see shows only that the
// record is restricted, with break-glass where the user may use it.
func (ws *Workspace) chart(w http.ResponseWriter, r *http.Request) error {
	v, shown, err := ws.readPatient(w, r, "chart.title", func(p *patientRead, v *view) error {
		data := &chartData{Hidden: map[string]bool{}}
		for section, typ := range chartSections {
			data.Hidden[section] = p.hidden(typ)
		}
		v.Data = data
		v.Title = v.Banner.Name
		l := v.Locale
		allergies, err := p.find("AllergyIntolerance", url.Values{"_count": {"100"}})
		if err != nil {
			return err
		}
		data.Allergies = allergyRows(l, allergies)
		problems, err := p.search("Condition", url.Values{"clinical-status": {"active"}, "_count": {"100"}})
		if err != nil {
			return err
		}
		data.Problems = problemRows(l, problems)
		meds, err := p.search("MedicationRequest", url.Values{"status": {"active"}, "_count": {"100"}})
		if err != nil {
			return err
		}
		for _, m := range meds {
			data.Medications = append(data.Medications, l.medicationLine(m.Resource))
		}
		slices.Sort(data.Medications)
		vitals, err := p.find("Observation", url.Values{"category": {"vital-signs"}, "_sort": {"-date"}, "_count": {"200"}})
		if err != nil {
			return err
		}
		var shown []int
		data.Vitals, shown = vitalRows(l, vitals)
		for _, i := range shown {
			p.touch(vitals[i])
		}
		labs, err := p.search("Observation", url.Values{"category": {"laboratory"}, "_sort": {"-date"}, "_count": {"10"}})
		if err != nil {
			return err
		}
		for _, o := range labs {
			data.Results = append(data.Results, l.resultRowOf(o))
		}
		data.ResultTable = resultTable{V: v, Rows: data.Results}
		imms, err := p.search("Immunization", url.Values{"_sort": {"-date"}, "_count": {"50"}})
		if err != nil {
			return err
		}
		data.Immunizations = immunizationRows(l, imms)
		appts, err := p.search("Appointment", url.Values{"date": {"ge" + ws.now().Format("2006-01-02")}, "status": {"proposed,pending,booked,arrived,checked-in,waitlist"},
			"_sort": {"date"}, "_count": {"20"}})
		if err != nil {
			return err
		}
		data.Appointments = appointmentRows(l, appts)
		teams, err := p.search("CareTeam", url.Values{"status": {"active"}, "_count": {"20"}})
		if err != nil {
			return err
		}
		data.CareTeam = careTeamRows(p, teams)
		if !data.Hidden["prevent"] {
			if data.Reminders, data.Deceased, err = ws.reminderRows(p, l, v.Banner.Consent); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || !shown {
		return err
	}
	// The audited read has shown the patient: remember it.
	ws.rememberRecent(r.Context(), v.User, r.PathValue("id"))
	ws.render(w, http.StatusOK, "chart", v)
	return nil
}
