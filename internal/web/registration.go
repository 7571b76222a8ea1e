package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Registration and demographics: GET /patients/new and POST /patients
// register a patient, GET and POST /patients/{id}/edit change one. Both
// write through the access gate as the FHIR API's create and update do
// (authorised, audited in the write's transaction, validated, labelled),
// ask the matcher before creating, and update If-Match on the version
// the form was read at, so that nobody's change is overwritten unseen.

func (ws *Workspace) registerRegistration(page pageFunc) {
	// The defaults are what cmd/emr gives the FHIR API: the definitions'
	// validator with FHIRPath invariants, and the built-in sensitivity
	// labels.
	if ws.Validator == nil {
		ws.Validator = validate.New(ws.Definitions, validate.WithInvariants(validate.NewFHIRPathInvariants(ws.Definitions)))
	}
	if ws.Labeler == nil {
		ws.Labeler = access.DefaultLabeler()
	}
	page("GET /patients/new", ws.newPatient)
	page("POST /patients", ws.createPatient)
	page("GET /patients/{id}/edit", ws.editPatient)
	page("POST /patients/{id}/edit", ws.updatePatient)
}

// regData is what the registration template gets.
type regData struct {
	Form   *patientForm
	Action string // where the form posts
	// PatientID is the patient edited ("" when registering).
	PatientID string
	Errors    []fieldError
	// ShowIdentity is false when the user's role may not see gender
	// identity (a mask hides it): the field is left out and kept as stored.
	ShowIdentity  bool
	Practitioners []option
	Duplicates    *duplicates
	Conflict      *conflict
	l             *Locale
}

type option struct {
	Value, Label string
	Selected     bool
}

// field is one input as the template draws it.
type field struct {
	ID, Value, Error string
	Options          []option
}

// F is the field key.
func (d *regData) F(key string) field {
	f := field{ID: key, Value: d.Form.get(key)}
	for _, e := range d.Errors {
		if e.Field == key && f.Error == "" {
			f.Error = e.Message
		}
	}
	return f
}

// Row is the field prefix-i of a name or identifier row.
func (d *regData) Row(prefix string, i int) field { return d.F(rowKey(prefix, i)) }

// Choice is the field key as a select of the codes of kind, with a first
// empty choice labelled by the catalog's key empty.
func (d *regData) Choice(key, kind, empty string) field {
	f := d.F(key)
	f.Options = []option{{Value: "", Label: d.l.T(empty), Selected: f.Value == ""}}
	var codes []string
	var labelKey func(string) string
	switch kind {
	case "use":
		codes, labelKey = nameUses, func(c string) string { return "reg.use." + c }
	case "gender":
		codes, labelKey = genders, func(c string) string { return "sex." + c }
	case "identity":
		codes, labelKey = genderIdentityIDs, func(c string) string { return "reg.identity." + c }
	case "idtype":
		codes, labelKey = identifierTypes, func(c string) string { return "reg.idtype." + c }
	case "relationship":
		codes, labelKey = contactRoles, func(c string) string { return "reg.relationship." + c }
	case "language":
		codes, labelKey = formLanguages, func(c string) string { return "reg.language." + c }
	case "gp":
		for _, o := range d.Practitioners {
			f.Options = append(f.Options, option{Value: o.Value, Label: o.Label, Selected: o.Value == f.Value})
		}
		return f
	}
	known := f.Value == ""
	for _, c := range codes {
		f.Options = append(f.Options, option{Value: c, Label: d.l.T(labelKey(c)), Selected: c == f.Value})
		known = known || c == f.Value
	}
	if !known { // a code stored by another system: shown, kept
		f.Options = append(f.Options, option{Value: f.Value, Label: f.Value, Selected: true})
	}
	return f
}

// NameRows and IDRows are the row numbers, for range.
func (d *regData) NameRows() []int { return seq(d.Form.NameRows) }
func (d *regData) IDRows() []int   { return seq(d.Form.IDRows) }

// CanAdd says whether another row fits.
func (d *regData) CanAdd(n int) bool { return n < maxRows }

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// newPatient is GET /patients/new: the empty form (a name typed in the
// finder comes along: ?family=…&given=…).
func (ws *Workspace) newPatient(w http.ResponseWriter, r *http.Request) error {
	// A role that may not register is told so before typing anything.
	if err := ws.Gate.Decide(r.Context(), access.Request{Interaction: "create", Type: "Patient"}); err != nil {
		return err
	}
	f := newPatientForm()
	f.Values["name-family-0"] = strings.TrimSpace(r.URL.Query().Get("family"))
	f.Values["name-given-0"] = strings.TrimSpace(r.URL.Query().Get("given"))
	return ws.renderRegistration(w, r, http.StatusOK, &regData{Form: f, Action: "/patients"}, nil)
}

// renderRegistration shows the form of d, with the banner of patient when
// editing, after reading the practitioners for the GP choice.
func (ws *Workspace) renderRegistration(w http.ResponseWriter, r *http.Request, status int, d *regData, banner *Banner) error {
	titleKey := "reg.title"
	if d.PatientID != "" {
		titleKey = "reg.edit-title"
	}
	v := ws.view(r, titleKey)
	d.l, d.ShowIdentity = v.Locale, ws.seesGenderIdentity(r.Context())
	practitioners, err := ws.practitioners(r)
	if err != nil {
		return err
	}
	d.Practitioners = practitioners
	if gp := d.Form.get("gp"); gp != "" && !slices.ContainsFunc(practitioners, func(o option) bool { return o.Value == gp }) {
		d.Practitioners = append(d.Practitioners, option{Value: gp, Label: "Practitioner/" + gp})
	}
	v.Banner, v.Data = banner, d
	if len(d.Errors) > 0 {
		v.Title = v.T("reg.error-title", v.Title)
	}
	ws.render(w, status, "registration", v)
	return nil
}

// practitioners are the GP choices: the practitioners by name, as the
// user may see them (none when the role may not read the directory).
func (ws *Workspace) practitioners(r *http.Request) ([]option, error) {
	var out []option
	err := ws.read(r, access.Request{Interaction: "search-type", Type: "Practitioner", Query: "ui:" + r.URL.Path + " (general practitioners)"},
		func(st store.Store) ([]access.Touched, error) {
			sq, err := search.Parse(ws.Definitions, "Practitioner", url.Values{"_count": {"100"}, "_sort": {"family,given"}, "_total": {"none"}}, search.ParseOptions{})
			if err != nil {
				return nil, err
			}
			res, err := st.Search(r.Context(), sq)
			if err != nil {
				return nil, err
			}
			var touched []access.Touched
			for _, v := range res.Matches {
				out = append(out, option{Value: v.ID, Label: DisplayName(v.Resource)})
				touched = append(touched, access.TouchedVersion(v))
			}
			return touched, nil
		})
	if fhir.IsKind(err, fhir.KindForbidden) {
		return nil, nil
	}
	return out, err
}

// seesGenderIdentity reports whether the user's role may see the gender
// identity extension (the registrar's role masks it).
func (ws *Workspace) seesGenderIdentity(ctx context.Context) bool {
	for _, m := range ws.Gate.MaskedPaths(ctx) {
		if (m.Type == "Patient" || m.Type == "*") && (m.Path == "extension" || strings.HasPrefix(m.Path, "extension.")) &&
			(len(m.URLs) == 0 || slices.Contains(m.URLs, genderIdentityURL)) {
			return false
		}
	}
	return true
}

// createPatient is POST /patients: the row buttons redraw the form; the
// save checks the form, validates the Patient as the API would, asks the
// matcher, and creates it; it then opens the new chart.
func (ws *Workspace) createPatient(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f := parsePatientForm(r)
	d := &regData{Form: f, Action: "/patients"}
	if a := r.PostFormValue("action"); a != "" && a != "save" {
		return ws.renderRegistration(w, r, http.StatusOK, d, nil)
	}
	l := LocaleFor(r)
	if d.Errors = f.check(l, ws.now()); len(d.Errors) > 0 {
		return ws.renderRegistration(w, r, http.StatusUnprocessableEntity, d, nil)
	}
	res, at := f.patient(nil, ws.seesGenderIdentity(ctx), ws.practitionerName(r, f.get("gp")))
	if d.Errors = ws.validatePatient(l, res, at); len(d.Errors) > 0 {
		return ws.renderRegistration(w, r, http.StatusUnprocessableEntity, d, nil)
	}
	dups, err := ws.duplicatesOf(r, l, res, r.PostFormValue("reviewed"))
	if err != nil {
		return err
	}
	if dups != nil {
		d.Duplicates = dups
		return ws.renderRegistration(w, r, http.StatusConflict, d, nil)
	}
	var created *store.Version
	err = ws.Gate.Write(ctx, ws.writeRequest(r, "create", "Patient", ""), func(tx store.Tx) ([]access.Touched, error) {
		res.SetID(store.NewID())
		v, _, err := tx.Update(res, 0)
		if err != nil {
			return nil, err
		}
		created = v
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/patients/"+created.ID, http.StatusSeeOther)
	return nil
}

// writeRequest is the gate's request for a write of a page's form (of
// typ/id; id "" for a new resource), audited as the FHIR interaction it
// is, naming the page.
func (ws *Workspace) writeRequest(r *http.Request, interaction, typ, id string) access.Request {
	return access.Request{Interaction: interaction, Type: typ, ID: id, Query: "ui:" + r.URL.Path,
		Agent: audit.Agent{Address: clientAddr(r)}}
}

// practitionerName is the display of the chosen GP, for the reference.
func (ws *Workspace) practitionerName(r *http.Request, id string) string {
	if id == "" {
		return ""
	}
	name := ""
	err := ws.read(r, access.Request{Interaction: "read", Type: "Practitioner", ID: id}, func(st store.Store) ([]access.Touched, error) {
		v, err := st.Read(r.Context(), "Practitioner", id)
		if err != nil {
			return nil, err
		}
		name = DisplayName(v.Resource)
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	if err != nil {
		return "" // the reference is kept without a display; the validator judges it
	}
	return name
}

// validatePatient labels res and validates it as the FHIR API does before
// a write: each error goes to the field whose element it names, or to the
// form as a whole.
func (ws *Workspace) validatePatient(l *Locale, res fhir.Resource, at map[string]string) []fieldError {
	ws.Labeler.Label(res)
	var errs []fieldError
	for _, is := range ws.Validator.Validate(res) {
		if is.Severity != "error" && is.Severity != "fatal" {
			continue
		}
		field := ""
		for _, e := range is.Expression {
			if field = fieldOf(at, e); field != "" {
				break
			}
		}
		errs = append(errs, fieldError{Field: field, Message: l.T("reg.err.invalid", is.Diagnostics)})
	}
	return errs
}
