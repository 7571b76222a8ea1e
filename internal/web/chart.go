package web

import (
	"net/http"
	"net/url"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

func (ws *Workspace) registerChart(page pageFunc) {
	page("GET /patients/{id}", ws.chart)
}

// chartData is the chart summary of one patient.
type chartData struct {
	Problems    []string
	Medications []string
}

// chart is GET /patients/{id}: the banner and the summary, read as one
// audited interaction. A patient the user may not see shows only that the
// record is restricted (restricted.html), with break-glass where the user
// may use it.
func (ws *Workspace) chart(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ctx := r.Context()
	ok, err := ws.visible(ctx, id)
	if err != nil {
		return err
	}
	v := ws.view(r, "chart.title")
	if !ok {
		if !ws.exists(ctx, id) {
			return notFound
		}
		v.Title = v.T("restricted.title")
		v.Data = id
		ws.render(w, http.StatusForbidden, "restricted", v)
		return nil
	}
	data := &chartData{}
	err = ws.read(r, access.Request{Interaction: "read", Type: "Patient", ID: id}, func(st store.Store) ([]access.Touched, error) {
		patient, err := st.Read(ctx, "Patient", id)
		if err != nil {
			return nil, err
		}
		touched := []access.Touched{access.TouchedVersion(patient)}
		compartment := func(typ string, params url.Values) ([]*store.Version, error) {
			q, err := search.Parse(ws.Definitions, typ, params, search.ParseOptions{Compartment: &search.CompartmentRef{Type: "Patient", ID: id}})
			if err != nil {
				return nil, err
			}
			res, err := st.Search(ctx, q)
			if err != nil {
				return nil, err
			}
			for _, m := range res.Matches {
				touched = append(touched, access.TouchedVersion(m))
			}
			return res.Matches, nil
		}
		allergies, err := compartment("AllergyIntolerance", url.Values{"_count": {"100"}})
		if err != nil {
			return nil, err
		}
		v.Banner = newBanner(v.Locale, patient, allergies, ws.now())
		problems, err := compartment("Condition", url.Values{"clinical-status": {"active"}, "_count": {"100"}})
		if err != nil {
			return nil, err
		}
		for _, p := range problems {
			data.Problems = append(data.Problems, conceptText(p.Resource["code"]))
		}
		meds, err := compartment("MedicationRequest", url.Values{"status": {"active"}, "_count": {"100"}})
		if err != nil {
			return nil, err
		}
		for _, m := range meds {
			data.Medications = append(data.Medications, conceptText(m.Resource["medication"]))
		}
		return touched, nil
	})
	if err != nil {
		return err
	}
	ws.rememberRecent(ctx, v.User, id)
	v.Title = v.Banner.Name
	v.Data = data
	ws.render(w, http.StatusOK, "chart", v)
	return nil
}
