package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/clinical/checks"
	"github.com/emr-project/emr/internal/clinical/dosage"
	"github.com/emr-project/emr/internal/clinical/papers"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/terminology"
)

// Prescribing: the patient's medication list, a prescription form whose
// dose, route, frequency and duration become an R5 Dosage (and its
// instructions in words, internal/clinical/dosage), the safety checks
// before it is signed (allergy, duplicate therapy, interaction:
// internal/clinical/checks), an override that needs a reason and is kept
// as a DetectedIssue beside the prescription in the same audited write,
// stop, change and renew as new versions and new requests, and the
// prescription as a PDF (internal/clinical/papers).

func (ws *Workspace) registerPrescribing(page pageFunc) {
	page("GET /patients/{id}/medications", ws.medications)
	page("POST /patients/{id}/medications", ws.prescribe)
	page("POST /patients/{id}/medications/{mid}/stop", ws.stopMedication)
	page("POST /patients/{id}/medications/reconcile", ws.reconcile)
	page("GET /patients/{id}/medications/{mid}/prescription.pdf", ws.prescriptionPDF)
}

func init() { codedKinds["medication"] = []string{terminology.RxNorm, terminology.SNOMED} }

// rxFields are the form's fields kept when it is shown again.
var rxFields = []string{"term", "system", "code", "display", "dose", "dose-unit", "route", "frequency", "duration", "as-needed", "as-needed-for",
	"quantity", "quantity-unit", "refills", "instructions", "encounter", "prior", "prior-version", "prior-action"}

type medRow struct {
	ID, Name, Instructions, Status, StatusCode, When string
	Version                                          int64
	Active                                           bool
}

type alertView struct {
	Rule, Severity, SeverityCode, Message, Detail, Data string
}

type medsData struct {
	Active, Other []medRow
	Hidden        bool
	Form          url.Values
	Problem       string
	Alerts        []alertView
	// Keep are the form's fields carried through the alert page.
	Keep [][2]string
	// Proposed is what the alerts are about: medicine and instructions.
	Proposed   string
	Done       string // the prescription just signed, for its PDF link
	DoneName   string
	Reconciled bool
	Routes     []string
	Freqs      []string
}

var (
	rxRoutes = []string{"oral", "sublingual", "topical", "inhaled", "subcutaneous", "intramuscular", "intravenous", "rectal", "vaginal", "ophthalmic", "otic", "nasal"}
	rxFreqs  = []string{"QD", "BID", "TID", "QID", "q4h", "q6h", "q8h", "q12h", "at bedtime", "in the morning", "weekly", "once", "as needed"}
)

func (ws *Workspace) medications(w http.ResponseWriter, r *http.Request) error {
	form := url.Values{}
	if e := r.URL.Query().Get("encounter"); e != "" {
		form.Set("encounter", e)
	}
	q := r.URL.Query()
	if prior := q.Get("prior"); prior != "" && (q.Get("action") == "change" || q.Get("action") == "renew") {
		// Change and renew start from the prescription they replace.
		form.Set("prior", prior)
		form.Set("prior-version", q.Get("version"))
		form.Set("prior-action", q.Get("action"))
		form.Set("term", q.Get("term"))
	}
	data := &medsData{Form: form, Reconciled: q.Get("reconciled") != ""}
	if done := q.Get("signed"); done != "" {
		data.Done = done
	}
	return ws.medsPage(w, r, http.StatusOK, data)
}

func (ws *Workspace) medsPage(w http.ResponseWriter, r *http.Request, status int, data *medsData) error {
	data.Routes, data.Freqs = rxRoutes, rxFreqs
	if data.Form == nil {
		data.Form = url.Values{}
	}
	v, shown, err := ws.readPatient(w, r, "meds.title", func(p *patientRead, v *view) error {
		if data.Hidden = p.hidden("MedicationRequest"); data.Hidden {
			return nil
		}
		found, err := p.search("MedicationRequest", url.Values{"_sort": {"-authoredon"}, "_count": {"200"}})
		if err != nil {
			return err
		}
		for _, m := range found {
			row := v.medRowOf(m)
			if row.ID == data.Done {
				data.DoneName = row.Name
			}
			if row.Active {
				data.Active = append(data.Active, row)
			} else {
				data.Other = append(data.Other, row)
			}
		}
		return nil
	})
	if err != nil || !shown {
		return err
	}
	v.Data = data
	ws.render(w, status, "medications", v)
	return nil
}

func (l *Locale) medRowOf(v *store.Version) medRow {
	m := v.Resource
	row := medRow{ID: v.ID, Version: v.VersionID, StatusCode: str(m, "status"), Name: medicationName(m)}
	row.Status = l.T("meds.status-" + row.StatusCode)
	row.Active = row.StatusCode == "active" || row.StatusCode == "on-hold"
	if text, err := dosage.TextAll(listOf(m, "dosageInstruction")); err == nil {
		row.Instructions = text
	} else {
		row.Instructions = l.T("meds.instructions-unreadable")
	}
	if a := str(m, "authoredOn"); a != "" {
		row.When = l.dateTimeText(a)
	}
	return row
}

func medicationName(m fhir.Resource) string {
	if t := conceptText(asMap(m["medication"])["concept"]); t != "" {
		return t
	}
	return str(asMap(asMap(m["medication"])["reference"]), "display")
}

// prescribe is POST /patients/{id}/medications: build the request, check
// it, and either show the alerts (with the override form) or sign it.
func (ws *Workspace) prescribe(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	r.ParseForm()
	form := url.Values{}
	for _, k := range rxFields {
		if v := strings.TrimSpace(r.PostFormValue(k)); v != "" {
			form.Set(k, v)
		}
	}
	again := func(status int, problem string) error {
		return ws.medsPage(w, r, status, &medsData{Form: form, Problem: problem})
	}
	medication, err := ws.coded(r.Context(), "medication", form)
	if err != nil {
		return err
	}
	if medication == nil {
		return again(http.StatusBadRequest, l.T("meds.error-medicine"))
	}
	dose, err := dosage.Build(dosage.Form{Dose: form.Get("dose"), DoseUnit: form.Get("dose-unit"), Route: form.Get("route"),
		Frequency: form.Get("frequency"), Duration: form.Get("duration"), AsNeeded: form.Get("as-needed") != "",
		AsNeededFor: form.Get("as-needed-for"), Instructions: form.Get("instructions")})
	if err != nil {
		return again(http.StatusBadRequest, l.T("meds.error-dosage", fhirMessage(err)))
	}
	now := ws.now().UTC()
	mr := fhir.Resource{"resourceType": "MedicationRequest", "id": store.NewID(), "status": "active", "intent": "order",
		"medication": map[string]any{"concept": medication}, "subject": map[string]any{"reference": "Patient/" + id},
		"authoredOn": now.Format(time.RFC3339), "requester": principalActor(r), "dosageInstruction": []any{dose}}
	if e := form.Get("encounter"); e != "" {
		mr["encounter"] = map[string]any{"reference": "Encounter/" + e}
	}
	if p := form.Get("prior"); p != "" {
		mr["priorPrescription"] = map[string]any{"reference": "MedicationRequest/" + p}
	}
	dispense := map[string]any{}
	if q := form.Get("quantity"); q != "" {
		n, err := strconv.ParseFloat(q, 64)
		if err != nil || n <= 0 || n > 10000 {
			return again(http.StatusBadRequest, l.T("meds.error-quantity"))
		}
		dispense["quantity"] = map[string]any{"value": n, "unit": orDefault(form.Get("quantity-unit"), form.Get("dose-unit"))}
	} else if q, err := dosage.DispenseQuantity(dose); err == nil {
		dispense["quantity"] = map[string]any{"value": q.Value, "unit": q.Unit}
		if q.Code != "" {
			dispense["quantity"].(map[string]any)["system"], dispense["quantity"].(map[string]any)["code"] = q.System, q.Code
		}
	}
	if rf := form.Get("refills"); rf != "" {
		n, err := strconv.Atoi(rf)
		if err != nil || n < 0 || n > 12 {
			return again(http.StatusBadRequest, l.T("meds.error-refills"))
		}
		dispense["numberOfRepeatsAllowed"] = n
	}
	if len(dispense) > 0 {
		mr["dispenseRequest"] = dispense
	}

	alerts, err := ws.runChecks(r, id, mr, now)
	if err != nil {
		return err
	}
	step := l.alertStepOf(alerts, r, form)
	if step.Show {
		data := &medsData{Form: form, Proposed: medicationName(mr), Problem: step.Problem, Alerts: step.Alerts, Keep: step.Keep}
		if text, err := dosage.Text(dose); err == nil {
			data.Proposed += ": " + text
		}
		// The alerts are the next step of prescribing, not a failure:
		// 200, as any page asking to confirm.
		return ws.medsPage(w, r, http.StatusOK, data)
	}

	err = ws.write(r, "create", "MedicationRequest", func(tx store.Tx) ([]access.Touched, error) {
		var touched []access.Touched
		if p := form.Get("prior"); p != "" {
			// Change and renew replace the prescription they start from.
			prior, err := ownedIn(tx, id, "MedicationRequest", p)
			if err != nil {
				return nil, err
			}
			pv, _ := strconv.ParseInt(form.Get("prior-version"), 10, 64)
			prior.Resource["status"] = "stopped"
			if form.Get("prior-action") == "renew" {
				prior.Resource["status"] = "completed"
			}
			prior.Resource["statusReason"] = map[string]any{"text": l.T("meds.replaced-by", medicationName(mr))}
			old, _, err := tx.Update(prior.Resource, max(pv, 1))
			if err != nil {
				return nil, err
			}
			touched = append(touched, touchedFor(id, old)...)
		}
		v, _, err := tx.Update(mr, 0)
		if err != nil {
			return nil, err
		}
		touched = append(touched, touchedFor(id, v)...)
		issues, err := recordOverrides(tx, r, alerts, id, form.Get("encounter"), step.Reason, now,
			func(checks.Alert) string { return "MedicationRequest/" + v.ID })
		if err != nil {
			return nil, err
		}
		touched = append(touched, issues...)
		return touched, nil
	})
	if fhir.IsKind(err, fhir.KindPreconditionFailed) {
		return again(http.StatusConflict, l.T("meds.error-changed"))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id)+"/medications?signed="+url.QueryEscape(mr.ID()), http.StatusSeeOther)
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// fhirMessage is an error's diagnostics without its kind's prefix.
func fhirMessage(err error) string {
	var fe *fhir.Error
	if errors.As(err, &fe) && len(fe.Issues) > 0 {
		var parts []string
		for _, is := range fe.Issues {
			parts = append(parts, is.Diagnostics)
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}

func (l *Locale) alertViewOf(a checks.Alert) alertView {
	msg := a.Message()
	if l.Has(a.MessageID) {
		args := make([]any, len(a.Args))
		for i, s := range a.Args {
			args[i] = s
		}
		msg = l.T(a.MessageID, args...)
	}
	return alertView{Rule: l.T("checks.rule-" + a.Rule), Severity: l.T("checks.severity-" + string(a.Severity)), SeverityCode: string(a.Severity), Message: msg,
		Detail: a.Detail, Data: strings.Join(a.Implicated, ", ")}
}

// runChecks runs the safety checks on the proposed request, reading the
// patient's data through the gate as the user may see it; the alerts it
// shows are the data it read, so the read is audited.
func (ws *Workspace) runChecks(r *http.Request, patient string, proposed fhir.Resource, now time.Time) ([]checks.Alert, error) {
	var alerts []checks.Alert
	err := ws.read(r, access.Request{Interaction: "search", Type: "AllergyIntolerance", Query: "ui:checks " + r.URL.Path}, func(st store.Store) ([]access.Touched, error) {
		src := &checks.StoreSource{Store: st, Definitions: ws.Definitions}
		var err error
		alerts, err = checks.RunAll(r.Context(), checks.Default(0), checks.Context{PatientID: patient, Proposed: proposed, Now: now, Data: src})
		if err != nil {
			return nil, err
		}
		touched := []access.Touched{{Type: "Patient", ID: patient, Patient: "Patient/" + patient}}
		for _, a := range alerts {
			for _, ref := range a.Implicated {
				if typ, rid, ok := strings.Cut(ref, "/"); ok {
					touched = append(touched, access.Touched{Type: typ, ID: rid, Patient: "Patient/" + patient})
				}
			}
		}
		return touched, nil
	})
	return alerts, err
}

// stopMedication is POST /patients/{id}/medications/{mid}/stop: the
// prescription's next version is stopped, with the reason given.
func (ws *Workspace) stopMedication(w http.ResponseWriter, r *http.Request) error {
	id, mid := r.PathValue("id"), r.PathValue("mid")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	version, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if err != nil || version < 1 || reason == "" {
		return ws.medsPage(w, r, http.StatusBadRequest, &medsData{Problem: l.T("meds.error-stop")})
	}
	err = ws.write(r, "update", "MedicationRequest", func(tx store.Tx) ([]access.Touched, error) {
		cur, err := ownedIn(tx, id, "MedicationRequest", mid)
		if err != nil {
			return nil, err
		}
		if s := str(cur.Resource, "status"); s != "active" && s != "on-hold" {
			return nil, fhir.Errorf(fhir.KindConflict, "not active")
		}
		cur.Resource["status"] = "stopped"
		cur.Resource["statusReason"] = map[string]any{"text": reason}
		v, _, err := tx.Update(cur.Resource, version)
		return touchedFor(id, v), err
	})
	if fhir.IsKind(err, fhir.KindPreconditionFailed) || fhir.IsKind(err, fhir.KindConflict) {
		return ws.medsPage(w, r, http.StatusConflict, &medsData{Problem: l.T("meds.error-changed")})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id)+"/medications", http.StatusSeeOther)
	return nil
}

// prescriptionPDF is GET …/medications/{mid}/prescription.pdf: the
// prescription to print and sign, with the patient's allergies for the
// pharmacist.
func (ws *Workspace) prescriptionPDF(w http.ResponseWriter, r *http.Request) error {
	return ws.paper(w, r, "MedicationRequest", r.PathValue("mid"), "prescription.pdf", func(p *patientRead, m, patient *store.Version, out io.Writer) error {
		line, err := papers.MedicationFrom(m.Resource)
		if err != nil {
			return err
		}
		rx := papers.Prescription{Patient: papers.PatientFrom(patient.Resource), Date: ws.now(), Medications: []papers.Medication{line},
			Prescriber: ws.prescriber(p.ctx, p.st, m.Resource)}
		if rx.Allergies, err = activeAllergies(p.ctx, ws, p.st, p.id); err != nil {
			return err
		}
		if t, ok := fhirTime(str(m.Resource, "authoredOn")); ok {
			rx.Date = t
		}
		return papers.WritePrescription(out, rx)
	})
}

// prescriber is the clinician who wrote the prescription: their
// Practitioner when the request names one the store holds, their name
// otherwise.
func (ws *Workspace) prescriber(ctx context.Context, st store.Store, m fhir.Resource) papers.Clinician {
	req := asMap(m["requester"])
	if typ, pid, ok := strings.Cut(str(req, "reference"), "/"); ok && typ == "Practitioner" {
		if p, err := st.Read(ctx, "Practitioner", pid); err == nil {
			return papers.ClinicianFrom(p.Resource)
		}
	}
	return papers.Clinician{Name: str(req, "display")}
}

// activeAllergies names the patient's active allergies for the paper.
func activeAllergies(ctx context.Context, ws *Workspace, st store.Store, patient string) ([]string, error) {
	res, err := st.Search(ctx, ws.allergyQuery(patient))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range res.Matches {
		if statusOf(v.Resource) == "active" && !hasCode(asMap(v.Resource["code"]), snomed, noKnownAllergyCodes) {
			out = append(out, conceptText(v.Resource["code"]))
		}
	}
	slices.Sort(out)
	return out, nil
}

// reconcile is POST /patients/{id}/medications/reconcile: the medicine
// list reviewed with the patient at a visit. Each active prescription is
// either continued or stopped (with the reason given); the review is an
// R5 List (code "medications", mode snapshot) of the visit naming each
// prescription with its flag, written with the stops in one audited
// write, each stop on the version the page showed.
func (ws *Workspace) reconcile(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	r.ParseForm()
	enc := r.PostFormValue("encounter")
	now := ws.now().UTC()
	list := fhir.Resource{"resourceType": "List", "id": store.NewID(), "status": "current", "mode": "snapshot",
		"title":   l.T("meds.reconciled-title"),
		"code":    map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/list-example-use-codes", "code": "medications", "display": "Medication List"}}},
		"subject": []any{map[string]any{"reference": "Patient/" + id}}, "date": now.Format(time.RFC3339), "source": principalActor(r)}
	if enc != "" {
		list["encounter"] = map[string]any{"reference": "Encounter/" + enc}
	}
	err := ws.write(r, "update", "MedicationRequest", func(tx store.Tx) ([]access.Touched, error) {
		q, err := search.Parse(ws.Definitions, "MedicationRequest", url.Values{"subject": {"Patient/" + id}, "status": {"active,on-hold"}, "_count": {"200"}}, search.ParseOptions{})
		if err != nil {
			return nil, err
		}
		active, err := tx.Search(q)
		if err != nil {
			return nil, err
		}
		var touched []access.Touched
		var entries []any
		for _, m := range active.Matches {
			decision := r.PostFormValue("rec-" + m.ID)
			version, _ := strconv.ParseInt(r.PostFormValue("ver-"+m.ID), 10, 64)
			if decision == "" || version != m.VersionID {
				// Not on the page the clinician reviewed (prescribed or
				// changed since): the review cannot speak for it.
				return nil, fhir.Errorf(fhir.KindPreconditionFailed, "the medicine list changed")
			}
			flag := "continued"
			if decision == "stop" {
				reason := strings.TrimSpace(r.PostFormValue("why-" + m.ID))
				if reason == "" {
					return nil, fhir.Errorf(fhir.KindInvalid, "%s", l.T("meds.error-stop"))
				}
				m.Resource["status"] = "stopped"
				m.Resource["statusReason"] = map[string]any{"text": reason}
				v, _, err := tx.Update(m.Resource, m.VersionID)
				if err != nil {
					return nil, err
				}
				touched = append(touched, touchedFor(id, v)...)
				flag = "stopped"
			}
			entries = append(entries, map[string]any{"item": map[string]any{"reference": "MedicationRequest/" + m.ID, "display": medicationName(m.Resource)},
				"flag": map[string]any{"text": flag}})
		}
		if len(entries) == 0 {
			list["emptyReason"] = map[string]any{"coding": []any{map[string]any{"system": emptyReasonSystem, "code": "nilknown"}}}
		} else {
			list["entry"] = entries
		}
		lv, _, err := tx.Update(list, 0)
		if err != nil {
			return nil, err
		}
		return append(touched, touchedFor(id, lv)...), nil
	})
	switch {
	case fhir.IsKind(err, fhir.KindPreconditionFailed):
		return ws.medsPage(w, r, http.StatusConflict, &medsData{Problem: l.T("meds.error-changed"), Form: url.Values{"encounter": {enc}}})
	case fhir.IsKind(err, fhir.KindInvalid):
		return ws.medsPage(w, r, http.StatusBadRequest, &medsData{Problem: l.T("meds.error-stop"), Form: url.Values{"encounter": {enc}}})
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id)+"/medications?reconciled=1&encounter="+url.QueryEscape(enc), http.StatusSeeOther)
	return nil
}
