package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/clinical/vitals"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Vitals entry on a visit: the form reads values as clinicians write
// them ("154 lb", "98.6 °F", "5 ft 7 in", "120/80") with internal/clinical/
// vitals, which converts them to the UCUM unit stored, computes the BMI
// and refuses an implausible value (a typo) with a message at its field.
// The readings become vital-signs Observations of the visit, in one
// audited write.

func (ws *Workspace) registerVitals(page pageFunc) {
	page("GET /patients/{id}/visits/{enc}/vitals", ws.vitalsForm)
	page("POST /patients/{id}/visits/{enc}/vitals", ws.recordVitals)
}

// vitalsField is one field of the form.
type vitalsField struct {
	Key, Label, Hint, Value, Unit, Error string
	Units                                []unitChoice
}

type unitChoice struct{ Code, Text string }

type vitalsData struct {
	Fields []vitalsField
	Visit  string
	Errors []vitalsField // the fields at fault, for the summary
}

// vitalsKeys are the form's fields in order; those with units offer a
// choice of unit beside them.
var vitalsKeys = []string{"bp", "pulse", "resp", "temp", "spo2", "weight", "height", "pain"}

func (l *Locale) vitalsFields(form url.Values, bad map[string]bool) []vitalsField {
	var out []vitalsField
	for _, key := range vitalsKeys {
		f := vitalsField{Key: key, Label: l.T("vitals.field-" + key), Hint: l.T("vitals.hint-" + key), Value: form.Get(key), Unit: form.Get(key + "-unit")}
		if units := vitalsUnits(key); len(units) > 1 {
			for _, u := range units {
				f.Units = append(f.Units, unitChoice{u, l.T("unit." + u)})
			}
		}
		if bad[key] {
			sign, _ := vitals.Lookup(key)
			if key == "bp" {
				sign = vitals.Systolic
			}
			f.Error = l.T("vitals.error", f.Label, datatype.FormatNumber(sign.Min), datatype.FormatNumber(sign.Max), sign.UnitText)
			if key == "bp" {
				f.Error = l.T("vitals.error-bp")
			}
		}
		out = append(out, f)
	}
	return out
}

// vitalsUnits are the units a sign may be typed in: the canonical one and
// the common others.
func vitalsUnits(key string) []string {
	switch key {
	case "temp", "weight", "height":
		return vitals.UnitsFor(key)
	}
	return nil
}

func (ws *Workspace) vitalsForm(w http.ResponseWriter, r *http.Request) error {
	return ws.vitalsPage(w, r, http.StatusOK, url.Values{}, nil, "")
}

func (ws *Workspace) vitalsPage(w http.ResponseWriter, r *http.Request, status int, form url.Values, bad map[string]bool, problem string) error {
	encID := r.PathValue("enc")
	v, shown, err := ws.readPatient(w, r, "vitals.title", func(p *patientRead, v *view) error {
		enc, err := p.patientResource("Encounter", encID)
		if err != nil {
			return err
		}
		p.touch(enc)
		data := &vitalsData{Fields: v.vitalsFields(form, bad), Visit: encID}
		for _, f := range data.Fields {
			if f.Error != "" {
				data.Errors = append(data.Errors, f)
			}
		}
		if problem != "" {
			data.Errors = append(data.Errors, vitalsField{Key: "bp", Error: problem})
		}
		v.Data = data
		return nil
	})
	if err != nil || !shown {
		return err
	}
	ws.render(w, status, "vitals", v)
	return nil
}

// recordVitals is POST /patients/{id}/visits/{enc}/vitals.
func (ws *Workspace) recordVitals(w http.ResponseWriter, r *http.Request) error {
	id, encID := r.PathValue("id"), r.PathValue("enc")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	r.ParseForm()
	form := r.PostForm
	entry, err := vitals.Read(vitals.Input{
		BloodPressure: form.Get("bp"), Pulse: form.Get("pulse"), RespiratoryRate: form.Get("resp"), SpO2: form.Get("spo2"), PainScore: form.Get("pain"),
		Temperature: form.Get("temp"), Weight: form.Get("weight"), Height: form.Get("height"),
		TemperatureUnit: form.Get("temp-unit"), WeightUnit: form.Get("weight-unit"), HeightUnit: form.Get("height-unit"),
	})
	var fe *fhir.Error
	if errors.As(err, &fe) && fe.Kind == fhir.KindInvalid {
		bad := map[string]bool{}
		empty := false
		for _, is := range fe.Issues {
			for _, key := range is.Expression {
				switch key {
				case "bmi":
					bad["weight"], bad["height"] = true, true
				case "vitals":
					empty = true
				default:
					bad[key] = true
				}
			}
		}
		problem := ""
		if empty {
			problem = LocaleFor(r).T("vitals.error-empty")
		}
		return ws.vitalsPage(w, r, http.StatusBadRequest, form, bad, problem)
	}
	if err != nil {
		return err
	}
	performer := ""
	if pr := access.PrincipalFrom(r.Context()); pr != nil {
		performer = pr.FHIRUser
	}
	obs, err := entry.Observations(vitals.Context{PatientID: id, Encounter: "Encounter/" + encID, Performer: performer, Effective: ws.now()})
	if err != nil {
		return err
	}
	err = ws.write(r, "create", "Observation", func(tx store.Tx) ([]access.Touched, error) {
		if _, err := ownedIn(tx, id, "Encounter", encID); err != nil {
			return nil, err
		}
		var touched []access.Touched
		for _, o := range obs {
			v, err := tx.Create(o)
			if err != nil {
				return nil, err
			}
			touched = append(touched, touchedFor(id, v)...)
		}
		return touched, nil
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, visitPath(id, encID)+"#vitals-h", http.StatusSeeOther)
	return nil
}
