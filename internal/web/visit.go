package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Visits are Encounters, from check-in to finish. Each change of status
// is a new version of the Encounter (its history) and an R5
// EncounterHistory resource recording the status, the patient's own
// status (arrived, receiving care, departed) and the period as they were
// then, so the visit page lists when each step happened and who took it.
// A change names the version it was made on: two people pressing
// "finish" at once get one finish and one page saying what happened.

func (ws *Workspace) registerVisits(page pageFunc) {
	page("GET /patients/{id}/visits", ws.visits)
	page("POST /patients/{id}/visits", ws.newVisit)
	page("GET /patients/{id}/visits/{enc}", ws.visit)
	page("POST /patients/{id}/visits/{enc}/status", ws.visitStatus)
}

const (
	actCodeSystem       = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	subjectStatusSystem = "http://terminology.hl7.org/CodeSystem/encounter-subject-status"
	participationSystem = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
)

// visitStep is one change of a visit's status: from which statuses it
// may be taken, the Encounter.status and subjectStatus it sets, and
// whether it opens or closes actualPeriod.
type visitStep struct {
	from          []string // "" is a visit not yet recorded
	status        string
	subjectStatus string
	start, end    bool
}

var visitSteps = map[string]visitStep{
	"check-in": {from: []string{""}, status: "planned", subjectStatus: "arrived"},
	"start":    {from: []string{"", "planned"}, status: "in-progress", subjectStatus: "receiving-care", start: true},
	"finish":   {from: []string{"in-progress", "on-hold"}, status: "completed", subjectStatus: "departed", end: true},
	"cancel":   {from: []string{"planned"}, status: "cancelled", subjectStatus: "departed"},
}

// stepsFrom lists the steps a visit in status may take, in display order.
func stepsFrom(status string) []string {
	var out []string
	for _, name := range []string{"check-in", "start", "finish", "cancel"} {
		if slices.Contains(visitSteps[name].from, status) {
			out = append(out, name)
		}
	}
	return out
}

// visitRow is one visit as the pages show it.
type visitRow struct {
	ID, Status, StatusCode, Reason, Location, When string
	Participants                                   []string
}

func (l *Locale) visitRowOf(v *store.Version) visitRow {
	e := v.Resource
	row := visitRow{ID: v.ID, StatusCode: str(e, "status"), Status: l.T("visit.status-" + str(e, "status"))}
	var reasons []string
	for _, rs := range listOf(e, "reason") {
		for _, val := range listOf(asMap(rs), "value") {
			if t := conceptText(asMap(val)["concept"]); t != "" {
				reasons = append(reasons, t)
			}
		}
	}
	row.Reason = strings.Join(reasons, "; ")
	var places []string
	for _, loc := range listOf(e, "location") {
		if d := str(asMap(asMap(loc)["location"]), "display"); d != "" {
			places = append(places, d)
		}
	}
	row.Location = strings.Join(places, "; ")
	for _, p := range listOf(e, "participant") {
		if d := str(asMap(asMap(p)["actor"]), "display"); d != "" {
			row.Participants = append(row.Participants, d)
		}
	}
	period := asMap(e["actualPeriod"])
	switch start, end := str(period, "start"), str(period, "end"); {
	case start != "" && end != "":
		row.When = l.dateTimeText(start) + " – " + l.dateTimeText(end)
	case start != "":
		row.When = l.dateTimeText(start)
	default:
		row.When = l.DateTime(v.LastUpdated.Local())
	}
	return row
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func listOf(m map[string]any, key string) []any { l, _ := m[key].([]any); return l }

type visitsData struct {
	Rows    []visitRow
	Hidden  bool
	Reason  string
	Place   string
	Problem string
}

// visits is GET /patients/{id}/visits: the patient's visits, newest
// first, and the form that checks a patient in or starts a visit.
func (ws *Workspace) visits(w http.ResponseWriter, r *http.Request) error {
	return ws.visitsPage(w, r, http.StatusOK, &visitsData{})
}

func (ws *Workspace) visitsPage(w http.ResponseWriter, r *http.Request, status int, data *visitsData) error {
	v, shown, err := ws.readPatient(w, r, "visit.list-title", func(p *patientRead, v *view) error {
		data.Hidden = p.hidden("Encounter")
		if data.Hidden {
			return nil
		}
		found, err := p.search("Encounter", url.Values{"_sort": {"-date"}, "_count": {"50"}})
		if err != nil {
			return err
		}
		for _, e := range found {
			data.Rows = append(data.Rows, v.visitRowOf(e))
		}
		return nil
	})
	if err != nil || !shown {
		return err
	}
	v.Data = data
	ws.render(w, status, "visits", v)
	return nil
}

// newVisit is POST /patients/{id}/visits: check in (the patient has
// arrived) or start a visit at once, with its reason and place.
func (ws *Workspace) newVisit(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	step := r.PostFormValue("step")
	data := &visitsData{Reason: strings.TrimSpace(r.PostFormValue("reason")), Place: strings.TrimSpace(r.PostFormValue("location"))}
	if step != "check-in" && step != "start" {
		data.Problem = l.T("visit.error-step")
		return ws.visitsPage(w, r, http.StatusBadRequest, data)
	}
	if data.Reason == "" {
		data.Problem = l.T("visit.error-reason")
		return ws.visitsPage(w, r, http.StatusBadRequest, data)
	}
	now := ws.now().UTC()
	enc := fhir.Resource{"resourceType": "Encounter", "id": store.NewID(), "status": "",
		"class":   []any{map[string]any{"coding": []any{map[string]any{"system": actCodeSystem, "code": "AMB", "display": "ambulatory"}}}},
		"subject": map[string]any{"reference": "Patient/" + id},
		"reason":  []any{map[string]any{"value": []any{map[string]any{"concept": map[string]any{"text": data.Reason}}}}}}
	if data.Place != "" {
		enc["location"] = []any{map[string]any{"location": map[string]any{"display": data.Place}}}
	}
	var written *store.Version
	err := ws.write(r, "create", "Encounter", func(tx store.Tx) ([]access.Touched, error) {
		var err error
		written, err = takeStep(tx, enc, step, 0, principalActor(r), now)
		return touchedFor(id, written), err
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, visitPath(id, written.ID), http.StatusSeeOther)
	return nil
}

// takeStep applies step to enc (its current form), adds the user as a
// participant, and writes the Encounter (on version ifMatch, 0 for a new
// one) and its EncounterHistory.
func takeStep(tx store.Tx, enc fhir.Resource, step string, ifMatch int64, actor map[string]any, now time.Time) (*store.Version, error) {
	s, ok := visitSteps[step]
	if !ok || !slices.Contains(s.from, str(enc, "status")) {
		return nil, fhir.Errorf(fhir.KindConflict, "a visit that is %s cannot %s", orNew(str(enc, "status")), step)
	}
	stamp := now.Format(time.RFC3339)
	enc["status"] = s.status
	enc["subjectStatus"] = map[string]any{"coding": []any{map[string]any{"system": subjectStatusSystem, "code": s.subjectStatus}}}
	period := asMap(enc["actualPeriod"])
	if period == nil {
		period = map[string]any{}
	}
	if s.start {
		period["start"] = stamp
	}
	if s.end {
		if str(period, "start") == "" {
			period["start"] = stamp
		}
		period["end"] = stamp
	}
	if len(period) > 0 {
		enc["actualPeriod"] = period
	}
	if !hasParticipant(enc, actor) {
		enc["participant"] = append(listOf(enc, "participant"), map[string]any{
			"type":  []any{map[string]any{"coding": []any{map[string]any{"system": participationSystem, "code": "PART", "display": "Participation"}}}},
			"actor": actor})
	}
	v, _, err := tx.Update(enc, ifMatch)
	if err != nil {
		return nil, err
	}
	hist := fhir.Resource{"resourceType": "EncounterHistory", "id": store.NewID(),
		"encounter": map[string]any{"reference": "Encounter/" + v.ID}, "status": s.status,
		"class": listOf(enc, "class")[0], "subject": enc["subject"], "subjectStatus": enc["subjectStatus"]}
	if p, ok := enc["actualPeriod"]; ok {
		hist["actualPeriod"] = p
	}
	if locs := listOf(enc, "location"); len(locs) > 0 {
		hist["location"] = locs
	}
	if _, err := tx.Create(hist); err != nil {
		return nil, err
	}
	return v, nil
}

func orNew(status string) string {
	if status == "" {
		return "new"
	}
	return status
}

func hasParticipant(enc fhir.Resource, actor map[string]any) bool {
	for _, p := range listOf(enc, "participant") {
		a := asMap(asMap(p)["actor"])
		if (str(actor, "reference") != "" && str(a, "reference") == str(actor, "reference")) || (str(actor, "reference") == "" && str(a, "display") == str(actor, "display")) {
			return true
		}
	}
	return false
}

// principalActor is the signed-in user as a Reference: their
// Practitioner when the account names one, their name always.
func principalActor(r *http.Request) map[string]any {
	pr := access.PrincipalFrom(r.Context())
	if pr == nil {
		return map[string]any{"display": "unknown"}
	}
	ref := map[string]any{"display": pr.User}
	if pr.FHIRUser != "" {
		ref["reference"] = pr.FHIRUser
	}
	return ref
}

func visitPath(patient, enc string) string {
	return "/patients/" + url.PathEscape(patient) + "/visits/" + url.PathEscape(enc)
}

// touchedFor lists a written version for the audit record, on patient's
// record.
func touchedFor(patient string, vs ...*store.Version) []access.Touched {
	var out []access.Touched
	for _, v := range vs {
		if v == nil {
			continue
		}
		t := access.TouchedVersion(v)
		if t.Patient == "" {
			t.Patient = "Patient/" + patient
		}
		out = append(out, t)
	}
	return out
}

// mayWrite refuses a write to a patient the user may not see.
func (ws *Workspace) mayWrite(r *http.Request, patient string) error {
	ok, err := ws.visible(r.Context(), patient)
	switch {
	case err != nil:
		return err
	case !ok:
		return fhir.Errorf(fhir.KindForbidden, "the record is restricted")
	}
	return nil
}

type visitData struct {
	Visit   visitRow
	Version int64
	Steps   []string
	History []historyRow
	Notes   []noteRow
	Vitals  []vitalRow
	Forms   []formChoice
	Filled  []responseView
	// Templates are the note templates to start a note from.
	Templates []noteTemplate
	Problem   string
}

type historyRow struct{ When, Status, Detail string }

// visit is GET /patients/{id}/visits/{enc}: the visit, its steps so far,
// the steps it may take next, and its notes.
func (ws *Workspace) visit(w http.ResponseWriter, r *http.Request) error {
	return ws.visitPage(w, r, http.StatusOK, "")
}

func (ws *Workspace) visitPage(w http.ResponseWriter, r *http.Request, status int, problem string) error {
	encID := r.PathValue("enc")
	data := &visitData{Problem: problem}
	templates, err := ws.noteTemplates(r)
	if err != nil {
		return err
	}
	data.Templates = templates
	if data.Forms, err = ws.availableForms(r); err != nil {
		return err
	}
	v, shown, err := ws.readPatient(w, r, "visit.title", func(p *patientRead, v *view) error {
		enc, err := p.patientResource("Encounter", encID)
		if err != nil {
			return err
		}
		p.touch(enc)
		data.Visit, data.Version = v.visitRowOf(enc), enc.VersionID
		data.Steps = stepsFrom(str(enc.Resource, "status"))
		hist, err := p.search("EncounterHistory", url.Values{"encounter": {"Encounter/" + encID}, "_sort": {"_lastUpdated"}, "_count": {"100"}})
		if err != nil {
			return err
		}
		for _, h := range hist {
			row := historyRow{When: v.DateTime(h.LastUpdated.Local()), Status: v.T("visit.status-" + str(h.Resource, "status"))}
			if c := codeOf(h.Resource["subjectStatus"]); c != "" {
				row.Detail = v.T("visit.subject-" + c)
			}
			data.History = append(data.History, row)
		}
		obs, err := p.find("Observation", url.Values{"encounter": {"Encounter/" + encID}, "category": {"vital-signs"}, "_sort": {"-date"}, "_count": {"100"}})
		if err != nil {
			return err
		}
		var shown []int
		data.Vitals, shown = vitalRows(v.Locale, obs)
		for _, i := range shown {
			p.touch(obs[i])
		}
		responses, err := p.search("QuestionnaireResponse", url.Values{"encounter": {"Encounter/" + encID}, "_count": {"50"}})
		if err != nil {
			return err
		}
		for _, qr := range responses {
			data.Filled = append(data.Filled, v.responseOf(qr))
		}
		notes, err := p.search("Composition", url.Values{"encounter": {"Encounter/" + encID}, "_sort": {"date"}, "_count": {"100"}})
		if err != nil {
			return err
		}
		for _, n := range notes {
			data.Notes = append(data.Notes, v.noteRowOf(n))
		}
		return nil
	})
	if err != nil || !shown {
		return err
	}
	v.Data = data
	ws.render(w, status, "visit", v)
	return nil
}

// ownedIn reads typ/id in a write transaction and makes sure it is
// patient's: another patient's resource under this one's address is not
// found, and is not changed.
func ownedIn(tx store.Tx, patient, typ, id string) (*store.Version, error) {
	return owned(patient)(tx.Read(typ, id))
}

// owned checks that a version read is patient's (not found otherwise).
func owned(patient string) func(*store.Version, error) (*store.Version, error) {
	return func(v *store.Version, err error) (*store.Version, error) {
		if err != nil {
			return nil, err
		}
		if audit.PatientOf(v.Resource) != "Patient/"+patient {
			return nil, notFound
		}
		return v, nil
	}
}

// patientResource reads typ/id through the gate and makes sure it is this
// patient's: another patient's resource under this one's address is not
// found.
func (p *patientRead) patientResource(typ, id string) (*store.Version, error) {
	return owned(p.id)(p.st.Read(p.ctx, typ, id))
}

// visitStatus is POST /patients/{id}/visits/{enc}/status: take a step
// (start, finish, cancel) on the version the page showed.
func (ws *Workspace) visitStatus(w http.ResponseWriter, r *http.Request) error {
	id, encID := r.PathValue("id"), r.PathValue("enc")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	step := r.PostFormValue("step")
	version, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if _, ok := visitSteps[step]; !ok || err != nil || version < 1 {
		return ws.visitPage(w, r, http.StatusBadRequest, l.T("visit.error-step"))
	}
	now := ws.now().UTC()
	err = ws.write(r, "update", "Encounter", func(tx store.Tx) ([]access.Touched, error) {
		cur, err := ownedIn(tx, id, "Encounter", encID)
		if err != nil {
			return nil, err
		}
		v, err := takeStep(tx, cur.Resource, step, version, principalActor(r), now)
		return touchedFor(id, v), err
	})
	switch {
	case fhir.IsKind(err, fhir.KindPreconditionFailed), fhir.IsKind(err, fhir.KindConflict):
		return ws.visitPage(w, r, http.StatusConflict, l.T("visit.error-changed"))
	case err != nil:
		return err
	}
	http.Redirect(w, r, visitPath(id, encID), http.StatusSeeOther)
	return nil
}
