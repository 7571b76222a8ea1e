package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// editPatient is GET /patients/{id}/edit: the demographics form, filled
// from the patient as the user may see it, under the patient's banner;
// the form carries the version it was read at.
func (ws *Workspace) editPatient(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := ws.Gate.Decide(r.Context(), access.Request{Interaction: "update", Type: "Patient", ID: id}); err != nil {
		return err
	}
	current, banner, err := ws.readForEdit(r, id)
	if err != nil {
		return err
	}
	f := formOf(ws.Gate.Mask(r.Context(), current.Resource), current.VersionID)
	return ws.renderRegistration(w, r, http.StatusOK, &regData{Form: f, Action: editPath(id), PatientID: id}, banner)
}

func editPath(id string) string { return "/patients/" + url.PathEscape(id) + "/edit" }

// readForEdit reads the patient and its banner (with its allergies) as
// one audited read.
func (ws *Workspace) readForEdit(r *http.Request, id string) (*store.Version, *Banner, error) {
	ctx := r.Context()
	var current *store.Version
	var banner *Banner
	l := LocaleFor(r)
	err := ws.read(r, access.Request{Interaction: "read", Type: "Patient", ID: id}, func(st store.Store) ([]access.Touched, error) {
		v, err := st.Read(ctx, "Patient", id)
		if err != nil {
			return nil, err
		}
		current = v
		touched := []access.Touched{access.TouchedVersion(v)}
		sq, err := search.Parse(ws.Definitions, "AllergyIntolerance", url.Values{"_count": {"100"}},
			search.ParseOptions{Compartment: &search.CompartmentRef{Type: "Patient", ID: id}})
		if err != nil {
			return nil, err
		}
		res, err := st.Search(ctx, sq)
		if err != nil {
			return nil, err
		}
		for _, a := range res.Matches {
			touched = append(touched, access.TouchedVersion(a))
		}
		banner = newBanner(l, &store.Version{ID: v.ID, Resource: ws.Gate.Mask(ctx, v.Resource)}, res.Matches, ws.now())
		return touched, nil
	})
	return current, banner, err
}

// conflict is a version race: someone saved the patient after the form
// was read. Nothing was written; the form keeps what the user typed, and
// each field that differs shows both values.
type conflict struct {
	When    string // when the other change was saved
	Version int64
	Fields  []conflictField
}

type conflictField struct {
	Label, Theirs, Yours string
	// Changed says the other user changed this field (it differs from the
	// version the form was read at), not only the user.
	Changed bool
}

// updatePatient is POST /patients/{id}/edit: the row buttons redraw the
// form; the save checks and validates it like a registration and updates
// the patient If-Match the version the form was read at. Elements the
// user's role does not see are carried over from the stored version.
func (ws *Workspace) updatePatient(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	f := parsePatientForm(r)
	d := &regData{Form: f, Action: editPath(id), PatientID: id}
	current, banner, err := ws.readForEdit(r, id)
	if err != nil {
		return err
	}
	if a := r.PostFormValue("action"); a != "" && a != "save" {
		return ws.renderRegistration(w, r, http.StatusOK, d, banner)
	}
	l := LocaleFor(r)
	if d.Errors = f.check(l, ws.now()); len(d.Errors) > 0 {
		return ws.renderRegistration(w, r, http.StatusUnprocessableEntity, d, banner)
	}
	shown := ws.Gate.Mask(ctx, current.Resource)
	res, at := f.patient(shown, ws.seesGenderIdentity(ctx), ws.practitionerName(r, f.get("gp")))
	if d.Errors = ws.validatePatient(l, res, at); len(d.Errors) > 0 {
		return ws.renderRegistration(w, r, http.StatusUnprocessableEntity, d, banner)
	}
	err = ws.Gate.Write(ctx, ws.writeRequest(r, "update", "Patient", id), func(tx store.Tx) ([]access.Touched, error) {
		stored, err := tx.Read("Patient", id)
		if err != nil {
			return nil, err
		}
		if stored.VersionID != f.Version {
			return nil, fhir.Errorf(fhir.KindPreconditionFailed, "Patient/%s is at version %d, not %d", id, stored.VersionID, f.Version)
		}
		whole, err := ws.Gate.Restore(ctx, res, stored.Resource)
		if err != nil {
			return nil, err
		}
		v, _, err := tx.Update(whole, f.Version)
		if err != nil {
			return nil, err
		}
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	switch {
	case fhir.IsKind(err, fhir.KindPreconditionFailed), fhir.IsKind(err, fhir.KindConflict):
		return ws.showConflict(w, r, d, id, f.Version)
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id), http.StatusSeeOther)
	return nil
}

// showConflict redraws the form after a lost race: the user's values stay
// in the form, now carrying the current version (saving again keeps the
// user's values, knowingly), and above it every field where the stored
// patient and the form differ.
func (ws *Workspace) showConflict(w http.ResponseWriter, r *http.Request, d *regData, id string, readAt int64) error {
	ctx := r.Context()
	current, banner, err := ws.readForEdit(r, id)
	if err != nil {
		return err
	}
	l := LocaleFor(r)
	theirs := formOf(ws.Gate.Mask(ctx, current.Resource), current.VersionID)
	before := theirs
	if old, err := ws.Gate.Guard(ctx, ws.Store).VRead(ctx, "Patient", id, readAt); err == nil && !old.Deleted {
		before = formOf(ws.Gate.Mask(ctx, old.Resource), readAt)
	}
	c := &conflict{When: l.DateTime(current.LastUpdated), Version: current.VersionID}
	for _, key := range conflictKeys(d.Form, theirs) {
		mine, stored := d.Form.get(key), theirs.get(key)
		if key == "birth" {
			mine, stored = l.Date(parseWrittenDate(mine)), l.Date(parseWrittenDate(stored))
		}
		if strings.TrimSpace(mine) == strings.TrimSpace(stored) {
			continue
		}
		c.Fields = append(c.Fields, conflictField{Label: fieldLabel(l, key), Theirs: displayValue(l, key, theirs.get(key)), Yours: displayValue(l, key, d.Form.get(key)),
			Changed: theirs.get(key) != before.get(key)})
	}
	d.Conflict = c
	d.Form.Version = current.VersionID
	return ws.renderRegistration(w, r, http.StatusConflict, d, banner)
}

// conflictKeys are the fields of either form, in the form's order.
func conflictKeys(a, b *patientForm) []string {
	var keys []string
	for i := range max(a.NameRows, b.NameRows) {
		for _, p := range []string{"name-prefix", "name-given", "name-family", "name-use"} {
			keys = append(keys, rowKey(p, i))
		}
	}
	keys = append(keys, "preferred", "gender", "gender-identity", "birth")
	for i := range max(a.IDRows, b.IDRows) {
		for _, p := range []string{"id-type", "id-system", "id-value"} {
			keys = append(keys, rowKey(p, i))
		}
	}
	return append(keys, "phone", "email", "addr-line1", "addr-line2", "addr-city", "addr-district", "addr-postal", "addr-country",
		"language", "contact-name", "contact-relationship", "contact-phone", "gp")
}

// fieldLabel is a field's label in l: "Family name (name 2)".
func fieldLabel(l *Locale, key string) string {
	if i := strings.LastIndexByte(key, '-'); i > 0 && key[i+1:] != "" && onlyDigits(key[i+1:]) == key[i+1:] {
		return l.T("reg.row-label", l.T("reg.label."+key[:i]), atoi(key[i+1:])+1)
	}
	return l.T("reg.label." + key)
}
