package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/terminology"
)

// The problem list (Conditions) and the allergy list
// (AllergyIntolerances), each with coded entry: the term typed is
// searched in the code systems the server holds (internal/terminology;
// static/coded.js offers the matches as one types), a term picked or
// typed exactly as a concept's display is coded, anything else is kept as
// text and shown as uncoded. A change of status (resolved, inactive,
// entered in error, refuted) is a new version on the version the page
// showed, never a deletion.

func (ws *Workspace) registerProblems(page pageFunc) {
	page("GET /patients/{id}/problems", ws.problems)
	page("POST /patients/{id}/problems", ws.addProblem)
	page("POST /patients/{id}/problems/{cid}", ws.problemStatus)
	page("GET /patients/{id}/allergies", ws.allergies)
	page("POST /patients/{id}/allergies", ws.addAllergy)
	page("POST /patients/{id}/allergies/{aid}", ws.allergyStatus)
	page("GET /terminology", ws.lookup)
}

const (
	conditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	conditionVer      = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	conditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category"
	allergyClinical   = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	allergyVer        = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	allergyType       = "http://hl7.org/fhir/allergy-intolerance-type"
	participantType   = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
)

// codedKinds are the coded fields: the code systems each searches.
var codedKinds = map[string][]string{
	"problem": {terminology.SNOMED, terminology.ICD10, terminology.ICD10CM},
	"allergy": {terminology.SNOMED, terminology.RxNorm},
}

// listEntry is one problem or allergy as the list shows it.
type listEntry struct {
	ID, Text, Coding, Status, StatusCode, When, Detail string
	Version                                            int64
	Uncoded, High                                      bool
	Steps                                              []string
}

type clinicalListData struct {
	Kind    string // "problem" or "allergy"
	Active  []listEntry
	Other   []listEntry
	Hidden  bool
	Problem string
	Form    url.Values
	// NoAllergy offers to record "no known allergies" (none active).
	NoAllergy bool
}

func (ws *Workspace) problems(w http.ResponseWriter, r *http.Request) error {
	return ws.listPage(w, r, "problem", http.StatusOK, "", nil)
}

func (ws *Workspace) allergies(w http.ResponseWriter, r *http.Request) error {
	return ws.listPage(w, r, "allergy", http.StatusOK, "", nil)
}

// listPage shows the problem or allergy list: active entries first, the
// rest (resolved, inactive, in error) after, each with the steps it may
// take; and the form to add one.
func (ws *Workspace) listPage(w http.ResponseWriter, r *http.Request, kind string, status int, problem string, form url.Values) error {
	typ, titleKey := "Condition", "problems.title"
	if kind == "allergy" {
		typ, titleKey = "AllergyIntolerance", "allergies.title"
	}
	data := &clinicalListData{Kind: kind, Problem: problem, Form: form}
	if data.Form == nil {
		data.Form = url.Values{}
	}
	v, shown, err := ws.readPatient(w, r, titleKey, func(p *patientRead, v *view) error {
		if data.Hidden = p.hidden(typ); data.Hidden {
			return nil
		}
		found, err := p.search(typ, url.Values{"_count": {"200"}})
		if err != nil {
			return err
		}
		data.NoAllergy = kind == "allergy"
		for _, res := range found {
			e := v.listEntryOf(kind, res)
			if e.StatusCode == "active" || e.StatusCode == "recurrence" || e.StatusCode == "relapse" {
				data.Active = append(data.Active, e)
				data.NoAllergy = false
			} else {
				data.Other = append(data.Other, e)
			}
		}
		byText := func(a, b listEntry) int { return strings.Compare(a.Text, b.Text) }
		slices.SortStableFunc(data.Active, byText)
		slices.SortStableFunc(data.Other, byText)
		return nil
	})
	if err != nil || !shown {
		return err
	}
	v.Data = data
	ws.render(w, status, "clinical-list", v)
	return nil
}

// statusOf is an entry's state in one word: the verification status when
// it withdraws the entry (entered in error, refuted), the clinical status
// otherwise.
func statusOf(res fhir.Resource) string {
	if vs := codeOf(res["verificationStatus"]); vs == "entered-in-error" || vs == "refuted" {
		return vs
	}
	if cs := codeOf(res["clinicalStatus"]); cs != "" {
		return cs
	}
	return "active"
}

// listSteps are the statuses an entry may be given, by kind and current
// status.
func listSteps(kind, status string) []string {
	var all []string
	switch kind {
	case "problem":
		all = []string{"active", "resolved", "inactive", "entered-in-error"}
	default:
		all = []string{"active", "resolved", "inactive", "refuted", "entered-in-error"}
	}
	if status == "entered-in-error" {
		return nil // withdrawn for good: a mistaken entry is not brought back
	}
	return slices.DeleteFunc(all, func(s string) bool { return s == status })
}

func (l *Locale) listEntryOf(kind string, v *store.Version) listEntry {
	res := v.Resource
	e := listEntry{ID: v.ID, Version: v.VersionID, Text: conceptText(res["code"]), StatusCode: statusOf(res)}
	e.Status = l.T("list.status-" + e.StatusCode)
	if e.Text == "" {
		e.Text = l.T("value.unknown")
	}
	code, _ := res["code"].(map[string]any)
	for _, c := range listOf(code, "coding") {
		cm := asMap(c)
		if str(cm, "code") != "" {
			e.Coding = systemName(str(cm, "system")) + " " + str(cm, "code")
			break
		}
	}
	e.Uncoded = e.Coding == ""
	switch kind {
	case "problem":
		if on := str(res, "onsetDateTime"); on != "" {
			e.When = l.Date(on)
		}
		if ab := str(res, "abatementDateTime"); ab != "" {
			e.Detail = l.T("problems.until", l.Date(ab))
		}
	default:
		e.When = l.Date(str(res, "recordedDate"))
		row := allergyRows(l, []*store.Version{{Resource: withStatus(res)}})
		if len(row) > 0 {
			e.Detail = row[0].Reactions
			e.High = row[0].High
			if row[0].Criticality != "" {
				e.Detail = strings.Trim(e.Detail+" · "+l.T("allergy.criticality")+" "+row[0].Criticality, " ·")
			}
		}
	}
	e.Steps = listSteps(kind, e.StatusCode)
	return e
}

// withStatus is res as an active entry, so allergyRows describes it
// whatever its status (the list says the status itself).
func withStatus(res fhir.Resource) fhir.Resource {
	c := make(fhir.Resource, len(res))
	for k, v := range res {
		c[k] = v
	}
	delete(c, "clinicalStatus")
	delete(c, "verificationStatus")
	return c
}

func systemName(system string) string {
	switch system {
	case terminology.SNOMED:
		return "SNOMED CT"
	case terminology.ICD10:
		return "ICD-10"
	case terminology.ICD10CM:
		return "ICD-10-CM"
	case terminology.RxNorm:
		return "RxNorm"
	}
	return system
}

// coded turns the form's term into a CodeableConcept: the concept picked
// from the suggestions (system, code and display posted, checked against
// the code systems held), or the one whose display the term is, or the
// term as text only.
func (ws *Workspace) coded(ctx context.Context, kind string, form url.Values) (map[string]any, error) {
	term := strings.TrimSpace(form.Get("term"))
	if term == "" {
		return nil, nil
	}
	systems := codedKinds[kind]
	concept := map[string]any{"text": term}
	if ws.Terminology == nil {
		return concept, nil
	}
	if sys, code := form.Get("system"), form.Get("code"); sys != "" && code != "" && slices.Contains(systems, sys) {
		found, err := ws.Terminology.Search(ctx, code, []string{sys}, 5)
		if err != nil {
			return nil, err
		}
		for _, c := range found {
			if c.Code == code && (strings.EqualFold(c.Display, term) || form.Get("display") == c.Display) {
				concept["coding"] = []any{map[string]any{"system": c.System, "code": c.Code, "display": c.Display}}
				concept["text"] = c.Display
				return concept, nil
			}
		}
	}
	c, ok, err := ws.Terminology.Exact(ctx, term, systems)
	if err != nil {
		return nil, err
	}
	if ok {
		concept["coding"] = []any{map[string]any{"system": c.System, "code": c.Code, "display": c.Display}}
		concept["text"] = c.Display
	}
	return concept, nil
}

func codeable(system, code string) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": system, "code": code}}}
}

func authorParticipant(r *http.Request) []any {
	return []any{map[string]any{"function": codeable(participantType, "author"), "actor": principalActor(r)}}
}

// addProblem is POST /patients/{id}/problems.
func (ws *Workspace) addProblem(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	r.ParseForm()
	code, err := ws.coded(r.Context(), "problem", r.PostForm)
	if err != nil {
		return err
	}
	if code == nil {
		return ws.listPage(w, r, "problem", http.StatusBadRequest, l.T("problems.error-term"), r.PostForm)
	}
	now := ws.now().UTC()
	c := fhir.Resource{"resourceType": "Condition", "id": store.NewID(),
		"clinicalStatus":     codeable(conditionClinical, "active"),
		"verificationStatus": codeable(conditionVer, "confirmed"),
		"category":           []any{codeable(conditionCategory, "problem-list-item")},
		"code":               code, "subject": map[string]any{"reference": "Patient/" + id},
		"recordedDate": now.Format(time.RFC3339), "participant": authorParticipant(r)}
	if on := strings.TrimSpace(r.PostFormValue("onset")); on != "" {
		day := parseWrittenDate(on)
		if day == "" {
			return ws.listPage(w, r, "problem", http.StatusBadRequest, l.T("problems.error-onset"), r.PostForm)
		}
		c["onsetDateTime"] = day
	}
	if err := ws.listWrite(r, "create", "Condition", id, func(tx store.Tx) (*store.Version, error) {
		v, _, err := tx.Update(c, 0)
		return v, err
	}); err != nil {
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id)+"/problems", http.StatusSeeOther)
	return nil
}

// addAllergy is POST /patients/{id}/allergies: an allergy or
// intolerance, or (nka=1) that the patient has no known allergies.
func (ws *Workspace) addAllergy(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	r.ParseForm()
	nka := r.PostFormValue("nka") == "1"
	var code map[string]any
	if nka {
		code = map[string]any{"coding": []any{map[string]any{"system": snomed, "code": "716186003", "display": "No known allergy"}}, "text": "No known allergy"}
	} else {
		var err error
		if code, err = ws.coded(r.Context(), "allergy", r.PostForm); err != nil {
			return err
		}
		if code == nil {
			return ws.listPage(w, r, "allergy", http.StatusBadRequest, l.T("allergies.error-term"), r.PostForm)
		}
	}
	now := ws.now().UTC()
	a := fhir.Resource{"resourceType": "AllergyIntolerance", "id": store.NewID(),
		"clinicalStatus":     codeable(allergyClinical, "active"),
		"verificationStatus": codeable(allergyVer, "confirmed"),
		"code":               code, "patient": map[string]any{"reference": "Patient/" + id},
		"recordedDate": now.Format(time.RFC3339), "participant": authorParticipant(r)}
	if !nka {
		kind := r.PostFormValue("type")
		if kind != "allergy" && kind != "intolerance" {
			kind = "allergy"
		}
		a["type"] = codeable(allergyType, kind)
		if cat := r.PostFormValue("category"); slices.Contains([]string{"food", "medication", "environment", "biologic"}, cat) {
			a["category"] = []any{cat}
		}
		switch crit := r.PostFormValue("criticality"); crit {
		case "low", "high", "unable-to-assess":
			a["criticality"] = crit
		}
		if re := strings.TrimSpace(r.PostFormValue("reaction")); re != "" {
			reaction := map[string]any{"manifestation": []any{map[string]any{"concept": map[string]any{"text": re}}}}
			if sev := r.PostFormValue("severity"); slices.Contains([]string{"mild", "moderate", "severe"}, sev) {
				reaction["severity"] = sev
			}
			a["reaction"] = []any{reaction}
		}
	}
	err := ws.listWrite(r, "create", "AllergyIntolerance", id, func(tx store.Tx) (*store.Version, error) {
		// A real allergy refutes a standing "no known allergies"; and
		// "no known allergies" is refused while an allergy is active.
		current, err := tx.Search(ws.allergyQuery(id))
		if err != nil {
			return nil, err
		}
		for _, v := range current.Matches {
			res := v.Resource
			if statusOf(res) != "active" {
				continue
			}
			isNKA := hasCode(asMap(res["code"]), snomed, noKnownAllergyCodes)
			switch {
			case nka && !isNKA:
				return nil, fhir.Errorf(fhir.KindConflict, "%s", l.T("allergies.error-nka"))
			case !nka && isNKA:
				res["verificationStatus"] = codeable(allergyVer, "refuted")
				res["clinicalStatus"] = codeable(allergyClinical, "inactive")
				if _, _, err := tx.Update(res, v.VersionID); err != nil {
					return nil, err
				}
			}
		}
		v, _, err := tx.Update(a, 0)
		return v, err
	})
	if fhir.IsKind(err, fhir.KindConflict) {
		return ws.listPage(w, r, "allergy", http.StatusConflict, l.T("allergies.error-nka"), r.PostForm)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id)+"/allergies", http.StatusSeeOther)
	return nil
}

func (ws *Workspace) allergyQuery(patient string) *search.Query {
	q, _ := search.Parse(ws.Definitions, "AllergyIntolerance", url.Values{"patient": {"Patient/" + patient}, "_count": {"200"}}, search.ParseOptions{})
	return q
}

// listWrite is the audited write of one problem or allergy of patient.
func (ws *Workspace) listWrite(r *http.Request, interaction, typ, patient string, fn func(tx store.Tx) (*store.Version, error)) error {
	return ws.write(r, interaction, typ, func(tx store.Tx) ([]access.Touched, error) {
		v, err := fn(tx)
		return touchedFor(patient, v), err
	})
}

func (ws *Workspace) problemStatus(w http.ResponseWriter, r *http.Request) error {
	return ws.changeStatus(w, r, "problem", "Condition", r.PathValue("cid"))
}

func (ws *Workspace) allergyStatus(w http.ResponseWriter, r *http.Request) error {
	return ws.changeStatus(w, r, "allergy", "AllergyIntolerance", r.PathValue("aid"))
}

// changeStatus gives a problem or allergy a new status, as its next
// version on the one the page showed.
func (ws *Workspace) changeStatus(w http.ResponseWriter, r *http.Request, kind, typ, resID string) error {
	id := r.PathValue("id")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	to := r.PostFormValue("status")
	version, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if err != nil || version < 1 {
		return ws.listPage(w, r, kind, http.StatusBadRequest, l.T("list.error-status"), nil)
	}
	today := ws.now().UTC().Format("2006-01-02")
	err = ws.listWrite(r, "update", typ, id, func(tx store.Tx) (*store.Version, error) {
		cur, err := ownedIn(tx, id, typ, resID)
		if err != nil {
			return nil, err
		}
		res := cur.Resource
		if !slices.Contains(listSteps(kind, statusOf(res)), to) {
			return nil, fhir.Errorf(fhir.KindInvalid, "%s", l.T("list.error-status"))
		}
		setStatus(kind, res, to, today)
		v, _, err := tx.Update(res, version)
		return v, err
	})
	switch {
	case fhir.IsKind(err, fhir.KindPreconditionFailed):
		return ws.listPage(w, r, kind, http.StatusConflict, l.T("list.error-changed"), nil)
	case fhir.IsKind(err, fhir.KindInvalid):
		return ws.listPage(w, r, kind, http.StatusBadRequest, l.T("list.error-status"), nil)
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id)+"/"+map[string]string{"problem": "problems", "allergy": "allergies"}[kind], http.StatusSeeOther)
	return nil
}

// setStatus applies a new status to a Condition or AllergyIntolerance:
// an entry entered in error is inactive (a Condition must have a clinical
// status in R5) or has none (an AllergyIntolerance, as R4's ait-2 asks);
// a resolved problem is abated today.
func setStatus(kind string, res fhir.Resource, to, today string) {
	clinical, ver := conditionClinical, conditionVer
	if kind == "allergy" {
		clinical, ver = allergyClinical, allergyVer
	}
	switch to {
	case "entered-in-error":
		res["verificationStatus"] = codeable(ver, "entered-in-error")
		if kind == "problem" {
			// R5 requires a Condition's clinical status; an entry in
			// error is no active problem.
			res["clinicalStatus"] = codeable(clinical, "inactive")
		} else {
			delete(res, "clinicalStatus") // R4's ait-2, kept for R4 readers
		}
	case "refuted":
		res["verificationStatus"] = codeable(ver, "refuted")
		res["clinicalStatus"] = codeable(clinical, "inactive")
	default:
		res["clinicalStatus"] = codeable(clinical, to)
		if vs := codeOf(res["verificationStatus"]); vs == "refuted" || vs == "" {
			res["verificationStatus"] = codeable(ver, "confirmed")
		}
		if kind == "problem" {
			if to == "resolved" {
				res["abatementDateTime"] = today
			} else {
				delete(res, "abatementDateTime")
			}
		}
	}
}

// lookup is GET /terminology?kind=problem&q=…: the concepts matching q as
// a list of buttons to pick from (static/coded.js puts it under the
// field). Code systems are not patient data: nothing is audited.
func (ws *Workspace) lookup(w http.ResponseWriter, r *http.Request) error {
	v := ws.view(r, "terminology.title")
	q := r.URL.Query()
	systems, ok := codedKinds[q.Get("kind")]
	if !ok {
		return fhir.Errorf(fhir.KindInvalid, "kind must be problem or allergy")
	}
	var found []terminology.Concept
	if ws.Terminology != nil && len(strings.TrimSpace(q.Get("q"))) >= 2 {
		var err error
		if found, err = ws.Terminology.Search(r.Context(), q.Get("q"), systems, 12); err != nil {
			return err
		}
	}
	type option struct{ System, Code, Display, Label string }
	var opts []option
	for _, c := range found {
		opts = append(opts, option{c.System, c.Code, c.Display, systemName(c.System) + " " + c.Code})
	}
	v.Data = opts
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return uiTemplates.ExecuteTemplate(w, "coded-options", v)
}
