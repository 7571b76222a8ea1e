// Package vitals is the model of vital-signs entry: which signs there are
// (with their LOINC codes and R5 vital-signs profiles), how a typed value
// such as "154 lb", "98.6 °F" or "5 ft 7 in" is read and converted to the
// canonical UCUM unit that is stored, the plausibility limits that stop a
// typo (a weight of 700 kg, an SpO2 over 100, a diastolic above the
// systolic) with a message naming the field, BMI computed from weight and
// height, and the Observations that record them.
package vitals

// Sign is one vital sign as the entry form and the record know it.
type Sign struct {
	// Key names the form field: bp, pulse, resp, temp, spo2, weight,
	// height, bmi, pain.
	Key string
	// Label is the sign's name in English, for messages.
	Label string
	// Codes are the LOINC codes of Observation.code, the first the main one.
	Codes []Code
	// Profile is the R5 vital-signs profile the Observation claims.
	Profile string
	// Unit is the canonical UCUM code stored; UnitText how it is shown.
	Unit, UnitText string
	// Min and Max are the plausible values in Unit, inclusive. A value
	// outside is refused as a likely typo.
	Min, Max float64
	// Places is the number of decimal places kept after conversion.
	Places int
}

// Code is a LOINC code and its display.
type Code struct{ Code, Display string }

const profileBase = "http://hl7.org/fhir/StructureDefinition/"

// Signs are the vital signs of the entry form, in its order. Blood
// pressure's limits are those of the systolic; Systolic and Diastolic
// describe its components.
var Signs = []Sign{
	{Key: "bp", Label: "Blood pressure", Codes: []Code{{"85354-9", "Blood pressure panel with all children optional"}},
		Profile: profileBase + "bp", Unit: "mm[Hg]", UnitText: "mmHg", Min: 40, Max: 300},
	{Key: "pulse", Label: "Pulse", Codes: []Code{{"8867-4", "Heart rate"}},
		Profile: profileBase + "heartrate", Unit: "/min", UnitText: "beats/minute", Min: 20, Max: 300},
	{Key: "resp", Label: "Respiratory rate", Codes: []Code{{"9279-1", "Respiratory rate"}},
		Profile: profileBase + "resprate", Unit: "/min", UnitText: "breaths/minute", Min: 4, Max: 80},
	{Key: "temp", Label: "Temperature", Codes: []Code{{"8310-5", "Body temperature"}},
		Profile: profileBase + "bodytemp", Unit: "Cel", UnitText: "°C", Min: 25, Max: 45, Places: 1},
	// The oxygensat profile requires 2708-6; 59408-5 says it was measured
	// by pulse oximetry, as a bedside reading is.
	{Key: "spo2", Label: "SpO2", Codes: []Code{{"59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"}, {"2708-6", "Oxygen saturation in Arterial blood"}},
		Profile: profileBase + "oxygensat", Unit: "%", UnitText: "%", Min: 50, Max: 100},
	{Key: "weight", Label: "Weight", Codes: []Code{{"29463-7", "Body weight"}},
		Profile: profileBase + "bodyweight", Unit: "kg", UnitText: "kg", Min: 0.3, Max: 400, Places: 2},
	{Key: "height", Label: "Height", Codes: []Code{{"8302-2", "Body height"}},
		Profile: profileBase + "bodyheight", Unit: "cm", UnitText: "cm", Min: 20, Max: 250, Places: 1},
	{Key: "bmi", Label: "BMI", Codes: []Code{{"39156-5", "Body mass index (BMI) [Ratio]"}},
		Profile: profileBase + "bmi", Unit: "kg/m2", UnitText: "kg/m2", Min: 8, Max: 120, Places: 1},
	// Pain has no R5 vital-signs profile of its own; it is recorded with
	// the vital signs and claims the base profile.
	{Key: "pain", Label: "Pain score", Codes: []Code{{"72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}},
		Profile: profileBase + "vitalsigns", Unit: "{score}", UnitText: "/10", Min: 0, Max: 10},
}

// The components of blood pressure.
var (
	Systolic  = Sign{Key: "systolic", Label: "Systolic", Codes: []Code{{"8480-6", "Systolic blood pressure"}}, Unit: "mm[Hg]", UnitText: "mmHg", Min: 40, Max: 300}
	Diastolic = Sign{Key: "diastolic", Label: "Diastolic", Codes: []Code{{"8462-4", "Diastolic blood pressure"}}, Unit: "mm[Hg]", UnitText: "mmHg", Min: 20, Max: 200}
)

// Lookup returns the sign with key.
func Lookup(key string) (Sign, bool) {
	for _, s := range Signs {
		if s.Key == key {
			return s, true
		}
	}
	return Sign{}, false
}
