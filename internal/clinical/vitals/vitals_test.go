package vitals

import (
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

func TestParse(t *testing.T) {
	tests := []struct {
		key, input, unit string
		want             float64
		entered          string // UCUM code of the typed unit
	}{
		{"weight", "154 lb", "", 69.85, "[lb_av]"},
		{"weight", "154lbs", "", 69.85, "[lb_av]"},
		{"weight", "70", "kg", 70, "kg"},
		{"weight", "70", "[lb_av]", 31.75, "[lb_av]"},
		{"weight", "70 kg", "[lb_av]", 70, "kg"}, // the typed unit wins over the selector
		{"weight", "70,5 kg", "", 70.5, "kg"},
		{"weight", "3200 g", "", 3.2, "g"},
		{"weight", " 82.3  KG ", "", 82.3, "kg"},
		{"height", "5 ft 7 in", "", 170.2, "[in_i]"},
		{"height", `5'7"`, "", 170.2, "[in_i]"},
		{"height", "5′ 7″", "", 170.2, "[in_i]"},
		{"height", "6 ft", "", 182.9, "[in_i]"},
		{"height", "5 feet 11.5 inches", "", 181.6, "[in_i]"},
		{"height", "67 in", "", 170.2, "[in_i]"},
		{"height", "170 cm", "", 170, "cm"},
		{"height", "1.7 m", "", 170, "m"},
		{"height", "170", "cm", 170, "cm"},
		{"temp", "98.6 °F", "", 37, "[degF]"},
		{"temp", "98.6°f", "", 37, "[degF]"},
		{"temp", "98.6 F", "", 37, "[degF]"},
		{"temp", "101.3 º F", "", 38.5, "[degF]"},
		{"temp", "37.2", "", 37.2, "Cel"},
		{"temp", "37,2 °C", "", 37.2, "Cel"},
		{"temp", "99.5", "", 37.5, "[degF]"},
		{"temp", "36", "[degF]", 0, ""}, // 36 °F is not plausible: see errors
		{"pulse", "72", "", 72, "/min"},
		{"pulse", "72 bpm", "", 72, "/min"},
		{"resp", "16 /min", "", 16, "/min"},
		{"spo2", "98%", "", 98, "%"},
		{"spo2", "100", "", 100, "%"},
		{"pain", "7/10", "", 7, "{score}"},
		{"pain", "0", "", 0, "{score}"},
	}
	for _, tt := range tests {
		t.Run(tt.key+" "+tt.input, func(t *testing.T) {
			v, err := Parse(tt.key, tt.input, tt.unit)
			if tt.entered == "" {
				if err == nil {
					t.Fatalf("got %v, want an error", v.Value)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Value != tt.want || v.EnteredUnit != tt.entered {
				t.Errorf("got %v (typed in %s), want %v (%s)", v.Value, v.EnteredUnit, tt.want, tt.entered)
			}
			if v.Converted != (tt.entered != v.Sign.Unit) {
				t.Errorf("Converted: got %v", v.Converted)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		key, input, unit, wantMsg string
	}{
		{"weight", "700 kg", "", "Weight: 700 kg is not plausible"},
		{"weight", "700", "kg", "Weight: 700 kg is not plausible"},
		{"weight", "70", "", "Weight: \"70\" needs a unit"},
		{"weight", "70 stone", "", "\"stone\" is not a unit for weight"},
		{"weight", "", "", "Weight: no value"},
		{"weight", "-70 kg", "", "is not a number"},
		{"weight", "seventy", "", "is not a number"},
		{"weight", "70", "furlong", "Weight: \"furlong\" is not a unit"},
		{"height", "5 ft 13 in", "", "a foot has 12"},
		{"height", "170", "", "Height: \"170\" needs a unit"},
		{"height", "17 m", "", "Height: 1700 cm is not plausible"},
		{"temp", "60", "", "say °C or °F"},
		{"temp", "98.6 K", "", "is not a unit for temperature"},
		{"temp", "986 °F", "", "Temperature: 530 °C is not plausible"},
		{"spo2", "101%", "", "SpO2: 101 % is not plausible"},
		{"spo2", "98 mmHg", "", "is not a unit"},
		{"pulse", "0", "", "Pulse: 0 beats/minute is not plausible"},
		{"resp", "160", "", "Respiratory rate: 160"},
		{"pain", "11", "", "Pain score: 11"},
		{"pain", "7.5", "", "whole number"},
		{"bmi", "22", "", "not a vital sign typed by itself"},
		{"mood", "good", "", "not a vital sign"},
		{"weight", strings.Repeat("9", 50), "", "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.key+" "+tt.input, func(t *testing.T) {
			_, err := Parse(tt.key, tt.input, tt.unit)
			if !fhir.IsKind(err, fhir.KindInvalid) {
				t.Fatalf("got %v, want an invalid error", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %q, want it to contain %q", err, tt.wantMsg)
			}
			if exp := err.(*fhir.Error).Issues[0].Expression; exp[0] != tt.key {
				t.Errorf("expression: got %v, want %s", exp, tt.key)
			}
		})
	}
}

func TestParseBloodPressure(t *testing.T) {
	tests := []struct {
		input    string
		sys, dia float64
		wantErr  string
	}{
		{"120/80", 120, 80, ""},
		{"120 / 80 mmHg", 120, 80, ""},
		{"90/60 mm[Hg]", 90, 60, ""},
		{"80/120", 0, 0, "diastolic (120) must be below the systolic (80)"},
		{"120/120", 0, 0, "must be below"},
		{"1200/80", 0, 0, "Systolic: 1200 mmHg is not plausible"},
		{"120/8", 0, 0, "Diastolic: 8 mmHg is not plausible"},
		{"120", 0, 0, "is not systolic/diastolic"},
		{"120/80/60", 0, 0, "is not systolic/diastolic"},
		{"", 0, 0, "no value"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			sys, dia, err := ParseBloodPressure(tt.input)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || sys.Value != tt.sys || dia.Value != tt.dia {
				t.Errorf("got %v/%v %v, want %v/%v", sys.Value, dia.Value, err, tt.sys, tt.dia)
			}
		})
	}
}

func TestBMI(t *testing.T) {
	v, err := BMI(69.85, 170.2)
	if err != nil || v.Value != 24.1 {
		t.Errorf("got %v %v, want 24.1", v.Value, err)
	}
	// Each plausible alone, impossible together: 250 kg at 60 cm.
	if _, err := BMI(250, 60); err == nil || !strings.Contains(err.Error(), "check both") {
		t.Errorf("got %v, want an implausible BMI", err)
	}
	if _, err := BMI(0, 170); err == nil {
		t.Error("a zero weight must be an error")
	}
}

func TestRead(t *testing.T) {
	e, err := Read(Input{BloodPressure: "128/82", Pulse: "72", RespiratoryRate: "16", Temperature: "98.6 °F",
		SpO2: "97%", Weight: "154 lb", Height: "5 ft 7 in", PainScore: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if e.BMI == nil || e.BMI.Value != 24.1 {
		t.Errorf("BMI: got %+v, want 24.1", e.BMI)
	}
	// Every faulty field is reported at once, each by its key.
	_, err = Read(Input{BloodPressure: "80/120", Weight: "700 kg", SpO2: "101", Pulse: "72"})
	fe, ok := err.(*fhir.Error)
	if !ok || fe.Kind != fhir.KindInvalid {
		t.Fatalf("got %v, want an invalid error", err)
	}
	var fields []string
	for _, is := range fe.Issues {
		fields = append(fields, is.Expression[0])
	}
	if got := strings.Join(fields, ","); got != "bp,spo2,weight" {
		t.Errorf("fields: got %s, want bp,spo2,weight", got)
	}
	if _, err := Read(Input{}); !fhir.IsKind(err, fhir.KindInvalid) {
		t.Errorf("an empty form: got %v, want an invalid error", err)
	}
	if _, err := Read(Input{Weight: "250 kg", Height: "60 cm"}); err == nil || !strings.Contains(err.Error(), "BMI") {
		t.Errorf("got %v, want a BMI error", err)
	}
}

func TestObservations(t *testing.T) {
	e, err := Read(Input{BloodPressure: "128/82", Pulse: "72", Temperature: "98.6 °F", SpO2: "97", Weight: "154 lb", Height: "170 cm", PainScore: "3", RespiratoryRate: "16"})
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 23, 9, 30, 0, 0, time.FixedZone("", 2*3600))
	obs, err := e.Observations(Context{PatientID: "p1", Encounter: "Encounter/e1", Performer: "Practitioner/n1", Effective: when})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"85354-9": {`"profile":["http://hl7.org/fhir/StructureDefinition/bp"]`, `"component":[{"code":{"coding":[{"code":"8480-6"`,
			`"valueQuantity":{"code":"mm[Hg]","system":"http://unitsofmeasure.org","unit":"mmHg","value":128}`, `"code":"8462-4"`, `"value":82}`},
		"8867-4":  {`"valueQuantity":{"code":"/min","system":"http://unitsofmeasure.org","unit":"beats/minute","value":72}`},
		"9279-1":  {`"profile":["http://hl7.org/fhir/StructureDefinition/resprate"]`},
		"8310-5":  {`"code":"Cel"`, `"value":37}`, `"note":[{"text":"Entered as 98.6 °F"}]`},
		"59408-5": {`"code":"2708-6"`, `"code":"%"`, `"value":97}`},
		"29463-7": {`"code":"kg"`, `"value":69.85}`, `"note":[{"text":"Entered as 154 lb"}]`},
		"8302-2":  {`"code":"cm"`, `"value":170}`},
		"39156-5": {`"code":"kg/m2"`, `"value":24.2}`},
		"72514-3": {`"code":"{score}"`, `"value":3}`},
	}
	if len(obs) != len(want) {
		t.Fatalf("got %d observations, want %d", len(obs), len(want))
	}
	for _, o := range obs {
		js := string(o.JSON())
		code := o["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
		for _, common := range []string{
			`"status":"final"`, `"code":"vital-signs"`, `"system":"http://terminology.hl7.org/CodeSystem/observation-category"`,
			`"subject":{"reference":"Patient/p1"}`, `"encounter":{"reference":"Encounter/e1"}`,
			`"effectiveDateTime":"2026-11-23T09:30:00+02:00"`, `"performer":[{"reference":"Practitioner/n1"}]`,
		} {
			if !strings.Contains(js, common) {
				t.Errorf("%s lacks %s:\n%s", code, common, js)
			}
		}
		for _, w := range want[code] {
			if !strings.Contains(js, w) {
				t.Errorf("%s lacks %s:\n%s", code, w, js)
			}
		}
		if code != "85354-9" && o["valueQuantity"] == nil {
			t.Errorf("%s has no valueQuantity", code)
		}
		if code != "8310-5" && code != "29463-7" && o["note"] != nil {
			t.Errorf("%s has a note though nothing was converted", code)
		}
	}
	if _, err := e.Observations(Context{Effective: when}); err == nil {
		t.Error("no patient must be an error")
	}
	if _, err := e.Observations(Context{PatientID: "p1"}); err == nil {
		t.Error("no time must be an error")
	}
}

func TestUnitsFor(t *testing.T) {
	got := UnitsFor("weight")
	if len(got) != 3 || got[0] != "kg" {
		t.Errorf("got %v, want kg first of kg, g, [lb_av]", got)
	}
	if UnitsFor("nope") != nil {
		t.Error("an unknown sign has no units")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"154 lb", "70", "98.6 °F", "5 ft 7 in", `5'7"`, "120/80", "7/10", "98%", "1,5 m", "٣٧", "37.2°C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		for _, s := range Signs {
			if s.Key == "bp" || s.Key == "bmi" {
				continue
			}
			v, err := Parse(s.Key, input, "")
			if err != nil {
				if !fhir.IsKind(err, fhir.KindInvalid) {
					t.Fatalf("%s %q: error of the wrong kind: %v", s.Key, input, err)
				}
				continue
			}
			if v.Value < s.Min || v.Value > s.Max {
				t.Fatalf("%s %q: %v outside the limits got through", s.Key, input, v.Value)
			}
		}
		if sys, dia, err := ParseBloodPressure(input); err == nil && dia.Value >= sys.Value {
			t.Fatalf("%q: diastolic %v not below systolic %v", input, dia.Value, sys.Value)
		}
	})
}

func TestTransaction(t *testing.T) {
	e, err := Read(Input{Pulse: "72", Weight: "70 kg", Height: "170 cm"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Transaction(Context{PatientID: "p1", Effective: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	entries := b["entry"].([]any)
	if b["type"] != "transaction" || len(entries) != 4 {
		t.Fatalf("got %s", b.JSON())
	}
	urls := map[string]string{}
	seen := map[string]bool{}
	var bmi map[string]any
	for _, en := range entries {
		m := en.(map[string]any)
		url := m["fullUrl"].(string)
		if !strings.HasPrefix(url, "urn:uuid:") || len(url) != 45 || seen[url] {
			t.Errorf("fullUrl %q is not a fresh urn:uuid", url)
		}
		seen[url] = true
		if m["request"].(map[string]any)["method"] != "POST" {
			t.Errorf("request: got %v", m["request"])
		}
		o := fhir.Resource(m["resource"].(map[string]any))
		code := o["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
		urls[code] = url
		if code == "39156-5" {
			bmi = o
		}
	}
	got := string(fhir.Resource(bmi).JSON())
	want := `"derivedFrom":[{"reference":"` + urls["29463-7"] + `"},{"reference":"` + urls["8302-2"] + `"}]`
	if !strings.Contains(got, want) {
		t.Errorf("BMI lacks %s:\n%s", want, got)
	}
	if _, err := e.Transaction(Context{}); err == nil {
		t.Error("no patient must be an error")
	}
}
