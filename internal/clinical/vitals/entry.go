package vitals

import (
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Input is the vitals entry form as typed. An empty field was not taken.
type Input struct {
	BloodPressure                           string // "120/80"
	Pulse, RespiratoryRate, SpO2, PainScore string
	Temperature, Weight, Height             string
	// The units chosen beside the fields, as UCUM codes ("[degF]",
	// "[lb_av]", "[in_i]"), for a number typed without a unit; "" for none.
	TemperatureUnit, WeightUnit, HeightUnit string
}

// Entry is a checked set of readings in canonical units. BMI is set when
// weight and height both were.
type Entry struct {
	Systolic, Diastolic                                                  *Value
	Pulse, RespiratoryRate, Temperature, SpO2, Weight, Height, BMI, Pain *Value
}

// Read checks every field of in. It returns an error of kind
// fhir.KindInvalid with one issue per field at fault (its expression the
// sign's key: bp, pulse, resp, temp, spo2, weight, height, bmi, pain), so
// the form can mark each; an empty form is an error too.
func Read(in Input) (*Entry, error) {
	e := &Entry{}
	var issues []fhir.Issue
	fail := func(err error) {
		if fe, ok := err.(*fhir.Error); ok {
			issues = append(issues, fe.Issues...)
		}
	}
	if in.BloodPressure != "" {
		sys, dia, err := ParseBloodPressure(in.BloodPressure)
		if err != nil {
			fail(err)
		} else {
			e.Systolic, e.Diastolic = &sys, &dia
		}
	}
	for _, f := range []struct {
		key, input, unit string
		dst              **Value
	}{
		{"pulse", in.Pulse, "", &e.Pulse},
		{"resp", in.RespiratoryRate, "", &e.RespiratoryRate},
		{"temp", in.Temperature, in.TemperatureUnit, &e.Temperature},
		{"spo2", in.SpO2, "", &e.SpO2},
		{"weight", in.Weight, in.WeightUnit, &e.Weight},
		{"height", in.Height, in.HeightUnit, &e.Height},
		{"pain", in.PainScore, "", &e.Pain},
	} {
		if f.input == "" {
			continue
		}
		v, err := Parse(f.key, f.input, f.unit)
		if err != nil {
			fail(err)
			continue
		}
		*f.dst = &v
	}
	if e.Weight != nil && e.Height != nil {
		bmi, err := BMI(e.Weight.Value, e.Height.Value)
		if err != nil {
			fail(err)
		} else {
			e.BMI = &bmi
		}
	}
	if len(issues) > 0 {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Issues: issues}
	}
	if len(e.values()) == 0 {
		return nil, fieldError("vitals", "No vital signs were entered")
	}
	return e, nil
}

// BMI computes the body mass index from a weight in kg and a height in
// cm, rounded to one decimal place. A result outside the plausible range
// is an error naming weight and height, since one of them must be wrong.
func BMI(weightKg, heightCm float64) (Value, error) {
	sign, _ := Lookup("bmi")
	if weightKg <= 0 || heightCm <= 0 {
		return Value{}, fieldError("bmi", "BMI needs a weight and a height above zero")
	}
	m := heightCm / 100
	v := datatype.Round(weightKg/(m*m), sign.Places)
	if v < sign.Min || v > sign.Max {
		return Value{}, fieldError("bmi", "BMI: %s kg/m2 from weight %s kg and height %s cm is not plausible; check both",
			datatype.FormatNumber(v), datatype.FormatNumber(weightKg), datatype.FormatNumber(heightCm))
	}
	return Value{Sign: sign, Value: v, EnteredUnit: sign.Unit}, nil
}

// values lists the single-valued readings in the form's order.
func (e *Entry) values() []*Value {
	var out []*Value
	for _, v := range []*Value{e.Systolic, e.Pulse, e.RespiratoryRate, e.Temperature, e.SpO2, e.Weight, e.Height, e.BMI, e.Pain} {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

// Context says whose readings they are and when.
type Context struct {
	PatientID string
	// Encounter is the visit ("Encounter/12"), or "".
	Encounter string
	// Performer is who measured ("Practitioner/3"), or "".
	Performer string
	// Effective is when they were measured; its zone offset is kept.
	Effective time.Time
}

// Observations returns one R5 Observation per reading, conforming to the
// vital-signs profiles: status final, category vital-signs, the LOINC
// code, subject, encounter, effectiveDateTime and a valueQuantity in UCUM
// (blood pressure as one panel with systolic and diastolic components). A
// converted reading keeps what was typed in a note. It returns an error
// of kind fhir.KindInvalid without a patient or a time.
func (e *Entry) Observations(c Context) ([]fhir.Resource, error) {
	if c.PatientID == "" {
		return nil, fieldError("vitals", "vitals: no patient")
	}
	if c.Effective.IsZero() {
		return nil, fieldError("vitals", "vitals: no time of measurement")
	}
	var out []fhir.Resource
	if e.Systolic != nil && e.Diastolic != nil {
		bp, _ := Lookup("bp")
		o := observation(bp, c)
		o["component"] = []any{component(*e.Systolic), component(*e.Diastolic)}
		out = append(out, o)
	}
	for _, v := range e.values() {
		if v.Sign.Key == "systolic" {
			continue
		}
		o := observation(v.Sign, c)
		o["valueQuantity"] = quantity(*v)
		if v.Converted {
			o["note"] = []any{map[string]any{"text": "Entered as " + v.Entered}}
		}
		out = append(out, o)
	}
	return out, nil
}

func observation(s Sign, c Context) fhir.Resource {
	var codings []datatype.Coding
	for _, code := range s.Codes {
		codings = append(codings, datatype.Coding{System: datatype.LOINC, Code: code.Code, Display: code.Display})
	}
	o := fhir.Resource{
		"resourceType": "Observation",
		"meta":         map[string]any{"profile": []any{s.Profile}},
		"status":       "final",
		"category": []any{datatype.Concept("Vital Signs", datatype.Coding{
			System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Display: "Vital Signs"})},
		"code":              datatype.Concept(s.Label, codings...),
		"subject":           datatype.Ref("Patient/"+c.PatientID, ""),
		"effectiveDateTime": c.Effective.Format(time.RFC3339),
	}
	if c.Encounter != "" {
		o["encounter"] = datatype.Ref(c.Encounter, "")
	}
	if c.Performer != "" {
		o["performer"] = []any{datatype.Ref(c.Performer, "")}
	}
	return o
}

func component(v Value) map[string]any {
	return map[string]any{
		"code":          datatype.Concept("", datatype.Coding{System: datatype.LOINC, Code: v.Sign.Codes[0].Code, Display: v.Sign.Codes[0].Display}),
		"valueQuantity": quantity(v),
	}
}

func quantity(v Value) map[string]any {
	return datatype.Quantity{Value: v.Value, Unit: v.Sign.UnitText, System: datatype.UCUM, Code: v.Sign.Unit}.JSON()
}
