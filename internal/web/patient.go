package web

import (
	"context"
	"net/http"
	"net/url"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// patientRead is what a patient page reads with: the store as the user
// may see it, searches confined to the patient's compartment, and the
// list of what the page shows, for its one audit record.
type patientRead struct {
	ctx     context.Context
	ws      *Workspace
	st      store.Store
	id      string
	patient *store.Version
	touched []access.Touched
}

// search returns the patient's resources of typ matching params, and
// counts them as shown.
func (p *patientRead) search(typ string, params url.Values) ([]*store.Version, error) {
	found, err := p.find(typ, params)
	p.touch(found...)
	return found, err
}

// find is search without counting the resources as shown: for pages that
// show only some of what they look at (a page of results).
func (p *patientRead) find(typ string, params url.Values) ([]*store.Version, error) {
	q, err := search.Parse(p.ws.Definitions, typ, params, search.ParseOptions{Compartment: &search.CompartmentRef{Type: "Patient", ID: p.id}})
	if err != nil {
		return nil, err
	}
	res, err := p.st.Search(p.ctx, q)
	if err != nil {
		return nil, err
	}
	return res.Matches, nil
}

// findByParams is find with the patient named in params instead of the
// compartment: for searches whose other parameters are more selective
// than the patient's record (a rare code), which the planner then drives
// by. params must name the patient.
func (p *patientRead) findByParams(typ string, params url.Values) ([]*store.Version, error) {
	q, err := search.Parse(p.ws.Definitions, typ, params, search.ParseOptions{})
	if err != nil {
		return nil, err
	}
	res, err := p.st.Search(p.ctx, q)
	if err != nil {
		return nil, err
	}
	return res.Matches, nil
}

// hidden reports whether the user's role may not search typ at all: the
// page then says the section is not available to them, never that
// nothing is recorded (a registrar must not read "No known allergies"
// into a list they may not see).
func (p *patientRead) hidden(typ string) bool {
	acc := p.ws.Gate.Limit(p.ctx, 's', []string{typ})
	return acc != nil && len(acc.Rules) == 0
}

// touch lists versions as shown by the page.
func (p *patientRead) touch(vs ...*store.Version) {
	for _, v := range vs {
		p.touched = append(p.touched, access.TouchedVersion(v))
	}
}

// patientPage is the frame of every page about one patient (chart,
// timeline, results, trend, documents): a patient the user may not see
// shows only that the record is restricted, with the break-glass form
// where the user may use it; otherwise the patient, the banner's data
// and what fill reads are one audited read, and the page named name is
// rendered with the banner above it.
func (ws *Workspace) patientPage(w http.ResponseWriter, r *http.Request, name, titleKey string, fill func(p *patientRead, v *view) error) error {
	v, shown, err := ws.readPatient(w, r, titleKey, fill)
	if err != nil || !shown {
		return err
	}
	ws.render(w, http.StatusOK, name, v)
	return nil
}

// readPatient is patientPage without the rendering: shown is false when
// it answered with the restricted page.
func (ws *Workspace) readPatient(w http.ResponseWriter, r *http.Request, titleKey string, fill func(p *patientRead, v *view) error) (v *view, shown bool, err error) {
	id := r.PathValue("id")
	ctx := r.Context()
	ok, err := ws.visible(ctx, id)
	if err != nil {
		return nil, false, err
	}
	v = ws.view(r, titleKey)
	if !ok {
		if !ws.exists(ctx, id) {
			return nil, false, notFound
		}
		return nil, false, ws.restricted(w, r, v, id, "")
	}
	p := &patientRead{ctx: ctx, ws: ws, id: id}
	err = ws.read(r, access.Request{Interaction: "read", Type: "Patient", ID: id}, func(st store.Store) ([]access.Touched, error) {
		p.st = st
		patient, err := st.Read(ctx, "Patient", id)
		if err != nil {
			return nil, err
		}
		p.patient = patient
		p.touch(patient)
		if v.Banner, err = ws.banner(p, v.Locale); err != nil {
			return nil, err
		}
		if err := fill(p, v); err != nil {
			return nil, err
		}
		return p.touched, nil
	})
	if err != nil {
		return nil, false, err
	}
	if v.Title == v.T(titleKey) {
		v.Title = v.T(titleKey) + " · " + v.Banner.Name
	}
	return v, true, nil
}

// banner reads what the banner shows besides the patient: allergies,
// active alerts (Flag) and Consents, and the user's break-glass grant.
func (ws *Workspace) banner(p *patientRead, l *Locale) (*Banner, error) {
	allergies, err := p.search("AllergyIntolerance", url.Values{"_count": {"100"}})
	if err != nil {
		return nil, err
	}
	flags, err := p.search("Flag", url.Values{"status": {"active"}, "_count": {"50"}})
	if err != nil {
		return nil, err
	}
	consents, err := p.search("Consent", url.Values{"status": {"active"}, "_count": {"50"}})
	if err != nil {
		return nil, err
	}
	now := ws.now()
	b := newBanner(l, p.patient, allergies, now)
	b.AllergiesHidden = p.hidden("AllergyIntolerance")
	b.addAlerts(flags, now)
	b.addConsents(consents)
	if pr := access.PrincipalFrom(p.ctx); pr != nil {
		for _, e := range pr.Emergencies {
			if e.Patient == p.id && now.Before(e.Until) {
				b.Emergency = l.DateTime(e.Until.Local())
			}
		}
	}
	return b, nil
}
