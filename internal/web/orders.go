package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/clinical/checks"
	"github.com/emr-project/emr/internal/clinical/papers"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Orders: laboratory and imaging tests as R5 ServiceRequests, chosen from
// an orderable catalogue an administrator keeps (LOINC-coded tests and
// panels, with the specimen each needs), with priority, reason and the
// specimen to collect (a Specimen the request names). The same checks as
// prescriptions run before signing (a test ordered again within the
// window and not completed is a duplicate); an override needs a reason
// and is kept as a DetectedIssue. An order's status is followed to its
// result: the DiagnosticReports based on it are listed with it. The
// requisition prints as a PDF.

func (ws *Workspace) registerOrders(page pageFunc) {
	page("GET /patients/{id}/orders", ws.orders)
	page("POST /patients/{id}/orders", ws.placeOrder)
	page("GET /patients/{id}/orders/{oid}/requisition.pdf", ws.requisitionPDF)
	page("GET /patients/{id}/visits/{enc}/summary.pdf", ws.visitSummaryPDF)
	page("GET /admin/orderables", ws.orderablesPage)
	page("POST /admin/orderables", ws.saveOrderable)
}

const (
	orderableKind = "orderable"
	labCategory   = "108252007" // SNOMED CT Laboratory procedure
	imgCategory   = "363679005" // SNOMED CT Imaging
)

// orderable is one entry of the catalogue.
type orderable struct {
	Key      string `json:"key"`
	Code     string `json:"code"` // LOINC
	Display  string `json:"display"`
	Category string `json:"category"` // lab or imaging
	Specimen string `json:"specimen,omitempty"`
}

// defaultOrderables are offered until an administrator saves the
// catalogue: common tests with their LOINC codes.
var defaultOrderables = []orderable{
	{"cbc", "58410-2", "CBC panel - Blood by Automated count", "lab", "Blood"},
	{"bmp", "51990-0", "Basic metabolic panel - Blood", "lab", "Blood"},
	{"cmp", "24323-8", "Comprehensive metabolic panel - Serum or Plasma", "lab", "Serum"},
	{"hba1c", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "lab", "Blood"},
	{"lipids", "57698-3", "Lipid panel with direct LDL - Serum or Plasma", "lab", "Serum"},
	{"tsh", "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "lab", "Serum"},
	{"ua", "24356-8", "Urinalysis complete panel - Urine", "lab", "Urine"},
	{"cxr", "36643-5", "XR Chest 2 Views", "imaging", ""},
	{"ct-head", "30799-1", "CT Head WO contrast", "imaging", ""},
}

func (ws *Workspace) orderables(r *http.Request) ([]orderable, error) {
	recs, err := ws.Store.ListRecords(r.Context(), orderableKind, "")
	if err != nil {
		return nil, err
	}
	var out []orderable
	for _, rec := range recs {
		var o orderable
		if json.Unmarshal(rec.Value, &o) == nil && o.Code != "" {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return slices.Clone(defaultOrderables), nil
	}
	return out, nil
}

type orderRow struct {
	ID, Name, Status, StatusCode, Priority, When, Reason, Specimen string
	Results                                                        []string
	// Refused are why the laboratory did not take the order (the
	// rejected Tasks the order sender wrote, package outbound).
	Refused []string
}

type ordersData struct {
	Catalogue []orderable
	Rows      []orderRow
	Hidden    bool
	Form      url.Values
	Problem   string
	Alerts    []alertView
	Keep      [][2]string
	Proposed  string
	Done      string
}

func (ws *Workspace) orders(w http.ResponseWriter, r *http.Request) error {
	form := url.Values{}
	if e := r.URL.Query().Get("encounter"); e != "" {
		form.Set("encounter", e)
	}
	return ws.ordersPage(w, r, http.StatusOK, &ordersData{Form: form, Done: r.URL.Query().Get("signed")})
}

func (ws *Workspace) ordersPage(w http.ResponseWriter, r *http.Request, status int, data *ordersData) error {
	cat, err := ws.orderables(r)
	if err != nil {
		return err
	}
	data.Catalogue = cat
	if data.Form == nil {
		data.Form = url.Values{}
	}
	v, shown, err := ws.readPatient(w, r, "orders.title", func(p *patientRead, v *view) error {
		if data.Hidden = p.hidden("ServiceRequest"); data.Hidden {
			return nil
		}
		found, err := p.search("ServiceRequest", url.Values{"_sort": {"-authored"}, "_count": {"100"}})
		if err != nil {
			return err
		}
		for _, sr := range found {
			row := orderRow{ID: sr.ID, Name: conceptText(asMap(sr.Resource["code"])["concept"]), StatusCode: str(sr.Resource, "status"),
				Priority: v.T("orders.priority-" + orDefault(str(sr.Resource, "priority"), "routine")), When: v.dateTimeText(str(sr.Resource, "authoredOn"))}
			row.Status = v.T("orders.status-" + row.StatusCode)
			o := papers.OrderFrom(sr.Resource)
			row.Reason, row.Specimen = o.Reason, o.Specimen
			reports, err := p.search("DiagnosticReport", url.Values{"based-on": {"ServiceRequest/" + sr.ID}, "_count": {"10"}})
			if err != nil {
				return err
			}
			for _, rep := range reports {
				row.Results = append(row.Results, conceptText(rep.Resource["code"])+" · "+v.T("orders.result-"+orDefault(str(rep.Resource, "status"), "unknown")))
			}
			if !p.hidden("Task") {
				tasks, err := p.search("Task", url.Values{"focus": {"ServiceRequest/" + sr.ID}, "status": {"rejected"}, "_count": {"10"}})
				if err != nil {
					return err
				}
				for _, task := range tasks {
					row.Refused = append(row.Refused, conceptText(asMap(task.Resource["statusReason"])["concept"]))
				}
			}
			data.Rows = append(data.Rows, row)
		}
		return nil
	})
	if err != nil || !shown {
		return err
	}
	v.Data = data
	ws.render(w, status, "orders", v)
	return nil
}

// placeOrder is POST /patients/{id}/orders: the tests ticked, with
// priority, reason and specimen, checked and signed in one write.
func (ws *Workspace) placeOrder(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	r.ParseForm()
	form := url.Values{}
	for _, k := range []string{"priority", "reason", "encounter", "note"} {
		if v := strings.TrimSpace(r.PostFormValue(k)); v != "" {
			form.Set(k, v)
		}
	}
	form["test"] = r.PostForm["test"]
	cat, err := ws.orderables(r)
	if err != nil {
		return err
	}
	var chosen []orderable
	for _, key := range form["test"] {
		if i := slices.IndexFunc(cat, func(o orderable) bool { return o.Key == key }); i >= 0 {
			chosen = append(chosen, cat[i])
		}
	}
	again := func(problem string) error {
		return ws.ordersPage(w, r, http.StatusBadRequest, &ordersData{Form: form, Problem: problem})
	}
	if len(chosen) == 0 {
		return again(l.T("orders.error-test"))
	}
	priority := orDefault(form.Get("priority"), "routine")
	if !slices.Contains([]string{"routine", "urgent", "asap", "stat"}, priority) {
		return again(l.T("orders.error-priority"))
	}
	if form.Get("reason") == "" {
		return again(l.T("orders.error-reason"))
	}
	now := ws.now().UTC()
	type planned struct {
		sr       fhir.Resource
		specimen fhir.Resource
	}
	var plan []planned
	var alerts []checks.Alert
	var names []string
	for _, o := range chosen {
		sr := fhir.Resource{"resourceType": "ServiceRequest", "id": store.NewID(), "status": "active", "intent": "order",
			"category": []any{map[string]any{"coding": []any{map[string]any{"system": snomed, "code": map[bool]string{true: imgCategory, false: labCategory}[o.Category == "imaging"]}}}},
			"code":     map[string]any{"concept": map[string]any{"coding": []any{map[string]any{"system": loinc, "code": o.Code, "display": o.Display}}, "text": o.Display}},
			"subject":  map[string]any{"reference": "Patient/" + id}, "authoredOn": now.Format(time.RFC3339), "requester": principalActor(r),
			"priority": priority, "reason": []any{map[string]any{"concept": map[string]any{"text": form.Get("reason")}}}}
		if e := form.Get("encounter"); e != "" {
			sr["encounter"] = map[string]any{"reference": "Encounter/" + e}
		}
		if n := form.Get("note"); n != "" {
			sr["note"] = []any{map[string]any{"text": n}}
		}
		p := planned{sr: sr}
		if o.Specimen != "" {
			p.specimen = fhir.Resource{"resourceType": "Specimen", "id": store.NewID(), "type": map[string]any{"text": o.Specimen},
				"subject": map[string]any{"reference": "Patient/" + id}, "request": []any{map[string]any{"reference": "ServiceRequest/" + sr.ID()}}}
			sr["specimen"] = []any{map[string]any{"reference": "Specimen/" + p.specimen.ID(), "display": o.Specimen}}
		}
		found, err := ws.runChecks(r, id, sr, now)
		if err != nil {
			return err
		}
		alerts = append(alerts, found...)
		plan = append(plan, p)
		names = append(names, o.Display)
	}
	step := l.alertStepOf(alerts, r, form)
	if step.Show {
		return ws.ordersPage(w, r, http.StatusOK, &ordersData{Form: form, Proposed: strings.Join(names, "; "), Problem: step.Problem,
			Alerts: step.Alerts, Keep: step.Keep})
	}
	err = ws.write(r, "create", "ServiceRequest", func(tx store.Tx) ([]access.Touched, error) {
		var touched []access.Touched
		for _, p := range plan {
			v, _, err := tx.Update(p.sr, 0)
			if err != nil {
				return nil, err
			}
			touched = append(touched, touchedFor(id, v)...)
			if p.specimen != nil {
				sv, _, err := tx.Update(p.specimen, 0)
				if err != nil {
					return nil, err
				}
				touched = append(touched, touchedFor(id, sv)...)
			}
		}
		issues, err := recordOverrides(tx, r, alerts, id, form.Get("encounter"), step.Reason, now, func(a checks.Alert) string {
			for _, p := range plan {
				if strings.Contains(a.Key(), codeOf(asMap(p.sr["code"])["concept"])) {
					return "ServiceRequest/" + p.sr.ID()
				}
			}
			return ""
		})
		if err != nil {
			return nil, err
		}
		touched = append(touched, issues...)
		return touched, nil
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id)+"/orders?signed="+url.QueryEscape(plan[0].sr.ID()), http.StatusSeeOther)
	return nil
}

// requisitionPDF is GET …/orders/{oid}/requisition.pdf: the requisition
// for an order and those signed with it (same patient, same time).
func (ws *Workspace) requisitionPDF(w http.ResponseWriter, r *http.Request) error {
	return ws.paper(w, r, "ServiceRequest", r.PathValue("oid"), "requisition.pdf", func(p *patientRead, sr, patient *store.Version, out io.Writer) error {
		req := papers.Requisition{Patient: papers.PatientFrom(patient.Resource), Orderer: ws.prescriber(p.ctx, p.st, sr.Resource), Date: ws.now()}
		together, err := p.search("ServiceRequest", url.Values{"authored": {str(sr.Resource, "authoredOn")}, "_count": {"50"}})
		if err != nil {
			return err
		}
		for _, m := range together {
			req.Tests = append(req.Tests, papers.OrderFrom(m.Resource))
		}
		if len(req.Tests) == 0 {
			req.Tests = []papers.Order{papers.OrderFrom(sr.Resource)}
		}
		if t, ok := fhirTime(str(sr.Resource, "authoredOn")); ok {
			req.Date = t
		}
		return papers.WriteRequisition(out, req)
	})
}

// paper serves a printable PDF about one of the patient's resources
// (typ/rid), made by write from it and the patient, as one audited read
// of all it shows; a restricted record is not printed.
func (ws *Workspace) paper(w http.ResponseWriter, r *http.Request, typ, rid, name string,
	write func(p *patientRead, res, patient *store.Version, out io.Writer) error) error {
	id := r.PathValue("id")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	var pdf bytes.Buffer
	err := ws.read(r, access.Request{Interaction: "read", Type: typ, ID: rid}, func(st store.Store) ([]access.Touched, error) {
		p := &patientRead{ctx: r.Context(), ws: ws, st: st, id: id}
		res, err := p.patientResource(typ, rid)
		if err != nil {
			return nil, err
		}
		patient, err := st.Read(p.ctx, "Patient", id)
		if err != nil {
			return nil, err
		}
		p.touch(res, patient)
		if err := write(p, res, patient, &pdf); err != nil {
			return nil, err
		}
		return p.touched, nil
	})
	if err != nil {
		return err
	}
	writePDF(w, name, pdf.Bytes())
	return nil
}

func writePDF(w http.ResponseWriter, name string, pdf []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `inline; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	w.Write(pdf)
}

type orderablesData struct {
	Rows    []orderable
	Problem string
	Saved   string
}

func (ws *Workspace) orderablesPage(w http.ResponseWriter, r *http.Request) error {
	return ws.renderOrderables(w, r, http.StatusOK, "", "")
}

func (ws *Workspace) renderOrderables(w http.ResponseWriter, r *http.Request, status int, problem, saved string) error {
	if err := adminOnly(r); err != nil {
		return err
	}
	cat, err := ws.orderables(r)
	if err != nil {
		return err
	}
	v := ws.view(r, "orders.catalogue-title")
	v.Data = &orderablesData{Rows: append(cat, orderable{}), Problem: problem, Saved: saved}
	ws.render(w, status, "orderables", v)
	return nil
}

var loincCode = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)

// saveOrderable is POST /admin/orderables: add or change one test, or
// (remove=1) take it out of the catalogue.
func (ws *Workspace) saveOrderable(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r); err != nil {
		return err
	}
	l := LocaleFor(r)
	ctx := r.Context()
	o := orderable{Key: strings.TrimSpace(r.PostFormValue("key")), Code: strings.TrimSpace(r.PostFormValue("code")),
		Display: strings.TrimSpace(r.PostFormValue("display")), Category: r.PostFormValue("category"), Specimen: strings.TrimSpace(r.PostFormValue("specimen"))}
	switch {
	case !templateKey.MatchString(o.Key):
		return ws.renderOrderables(w, r, http.StatusBadRequest, l.T("note.error-key"), "")
	case !loincCode.MatchString(o.Code):
		return ws.renderOrderables(w, r, http.StatusBadRequest, l.T("orders.error-loinc"), "")
	case o.Display == "" || (o.Category != "lab" && o.Category != "imaging"):
		return ws.renderOrderables(w, r, http.StatusBadRequest, l.T("orders.error-orderable"), "")
	}
	// The first save turns the built-in list into records, so the others
	// stay offered.
	if recs, err := ws.Store.ListRecords(ctx, orderableKind, ""); err != nil {
		return err
	} else if len(recs) == 0 {
		for _, d := range defaultOrderables {
			value, _ := json.Marshal(d)
			if _, err := ws.Store.PutRecord(ctx, &store.Record{Kind: orderableKind, Key: d.Key, Value: value}, store.AnyVersion); err != nil {
				return err
			}
		}
	}
	if r.PostFormValue("remove") == "1" {
		if err := ws.Store.DeleteRecord(ctx, orderableKind, o.Key); err != nil {
			return err
		}
	} else {
		value, _ := json.Marshal(o)
		if _, err := ws.Store.PutRecord(ctx, &store.Record{Kind: orderableKind, Key: o.Key, Value: value}, store.AnyVersion); err != nil {
			return err
		}
	}
	pr := access.PrincipalFrom(ctx)
	ev := audit.Event(audit.Entry{Category: audit.CategorySecurityAlert, Interaction: "orderable-changed", Subject: pr.User, Type: "ActivityDefinition", ID: o.Key,
		Outcome: audit.Success, Observer: "emr", Agent: audit.Agent{User: pr.User, Address: clientAddr(r)}})
	if err := ws.Store.AppendAudit(ctx, ev); err != nil {
		return err
	}
	return ws.renderOrderables(w, r, http.StatusOK, "", l.T("orders.catalogue-saved", o.Display))
}

// visitSummaryPDF is GET /patients/{id}/visits/{enc}/summary.pdf: the
// summary given to the patient: the reason, the readings taken, the
// problems addressed, the medicines prescribed and the tests ordered at
// the visit, and the plan of its signed notes as instructions.
func (ws *Workspace) visitSummaryPDF(w http.ResponseWriter, r *http.Request) error {
	encID := r.PathValue("enc")
	return ws.paper(w, r, "Encounter", encID, "visit-summary.pdf", func(p *patientRead, enc, patient *store.Version, out io.Writer) error {
		l := LocaleFor(r)
		row := l.visitRowOf(enc)
		sum := papers.VisitSummary{Patient: papers.PatientFrom(patient.Resource), Clinician: papers.Clinician{Name: strings.Join(row.Participants, ", ")},
			Date: enc.LastUpdated, Reason: row.Reason}
		if t, ok := fhirTime(str(asMap(enc.Resource["actualPeriod"]), "start")); ok {
			sum.Date = t
		}
		at := url.Values{"encounter": {"Encounter/" + encID}, "_count": {"100"}}
		obs, err := p.search("Observation", url.Values{"encounter": at["encounter"], "category": {"vital-signs"}, "_count": {"100"}})
		if err != nil {
			return err
		}
		for _, o := range obs {
			sum.Vitals = append(sum.Vitals, papers.ReadingFrom(o.Resource))
		}
		meds, err := p.search("MedicationRequest", at)
		if err != nil {
			return err
		}
		for _, m := range meds {
			if line, err := papers.MedicationFrom(m.Resource); err == nil && str(m.Resource, "status") == "active" {
				sum.Medications = append(sum.Medications, line)
			}
		}
		orders, err := p.search("ServiceRequest", at)
		if err != nil {
			return err
		}
		for _, o := range orders {
			sum.Tests = append(sum.Tests, papers.OrderFrom(o.Resource))
		}
		conds, err := p.search("Condition", at)
		if err != nil {
			return err
		}
		for _, c := range conds {
			sum.Diagnoses = append(sum.Diagnoses, conceptText(c.Resource["code"]))
		}
		notes, err := p.search("Composition", url.Values{"encounter": at["encounter"], "status": {"final,amended"}, "_count": {"20"}})
		if err != nil {
			return err
		}
		var plans []string
		for _, n := range notes {
			for _, sec := range listOf(n.Resource, "section") {
				if hasCode(asMap(asMap(sec)["code"]), loinc, map[string]bool{"18776-5": true}) {
					if t := textOf(str(asMap(asMap(sec)["text"]), "div")); t != "" {
						plans = append(plans, t)
					}
				}
			}
		}
		sum.Instructions = strings.Join(plans, "\n\n")
		return papers.WriteVisitSummary(out, sum)
	})
}
