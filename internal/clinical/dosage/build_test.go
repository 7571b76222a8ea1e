package dosage

import (
	"strconv"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

func TestBuild(t *testing.T) {
	tests := []struct {
		name     string
		form     Form
		text     string
		dispense string // "" when it cannot be computed
	}{
		{"amoxicillin", Form{Dose: "1", DoseUnit: "capsule", Route: "oral", Frequency: "TID", Duration: "7 days"},
			"Take 1 capsule by mouth three times a day for 7 days.", "21 capsules"},
		{"bid bare days", Form{Dose: "1", DoseUnit: "tablet", Route: "PO", Frequency: "twice daily", Duration: "7"},
			"Take 1 tablet by mouth twice a day for 7 days.", "14 tablets"},
		{"q8h", Form{Dose: "2", DoseUnit: "tabs", Route: "26643006", Frequency: "q8h", Duration: "5 days"},
			"Take 2 tablets by mouth every 8 hours for 5 days.", "30 tablets"},
		{"q4-6h prn pain with max", Form{Dose: "1-2", DoseUnit: "tablet", Route: "oral", Frequency: "q4-6h", AsNeededFor: "pain", MaxPerDay: "8", Duration: "3 days"},
			"Take 1 to 2 tablets by mouth every 4 to 6 hours as needed for pain for 3 days. Do not take more than 8 tablets a day.", "24 tablets"},
		{"at bedtime weeks", Form{Dose: "0.5", DoseUnit: "tablet", Route: "oral", Frequency: "at bedtime", Duration: "2 weeks"},
			"Take 0.5 tablet by mouth at bedtime for 2 weeks.", "7 tablets"},
		{"mg cannot be counted", Form{Dose: "500", DoseUnit: "mg", Route: "oral", Frequency: "QID", Duration: "10 days"},
			"Take 500 mg by mouth four times a day for 10 days.", ""},
		{"liquid in mL", Form{Dose: "5", DoseUnit: "ml", Route: "oral", Frequency: "TID", Duration: "5 days"},
			"Take 5 mL by mouth three times a day for 5 days.", "75 mL"},
		{"months cannot be counted", Form{Dose: "1", DoseUnit: "tablet", Route: "oral", Frequency: "once daily", Duration: "3 months"},
			"Take 1 tablet by mouth once a day for 3 months.", ""},
		{"as needed only", Form{Dose: "2", DoseUnit: "puffs", Route: "inhaled", Frequency: "PRN"},
			"Inhale 2 puffs as needed.", ""},
		{"single dose", Form{Dose: "2", DoseUnit: "g", Route: "oral", Frequency: "stat"},
			"Take 2 g by mouth as a single dose.", ""},
		{"once tablets", Form{Dose: "4", DoseUnit: "tablet", Route: "oral", Frequency: "once"},
			"Take 4 tablets by mouth as a single dose.", "4 tablets"},
		{"insulin", Form{Dose: "10", DoseUnit: "units", Route: "SC", Frequency: "in the evening", Duration: "30 days"},
			"Inject 10 units under the skin in the evening for 30 days.", ""},
		{"weekly", Form{Dose: "1", DoseUnit: "tablet", Route: "oral", Frequency: "weekly", Duration: "4 weeks", Instructions: "take with a full glass of water, stay upright"},
			"Take 1 tablet by mouth once a week for 4 weeks. Take with a full glass of water, stay upright.", "4 tablets"},
		{"every other day", Form{Dose: "1", DoseUnit: "tablet", Frequency: "QOD", Duration: "10 days"},
			"Take 1 tablet every other day for 10 days.", "5 tablets"},
		{"q24h is daily", Form{Dose: "1", DoseUnit: "tablet", Frequency: "every 24 hours", Duration: "2 days"},
			"Take 1 tablet once a day for 2 days.", "2 tablets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Build(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			if got := d["text"]; got != tt.text {
				t.Errorf("text: got  %q\nwant %q", got, tt.text)
			}
			// The built Dosage survives a JSON round trip as the store keeps it.
			back, err := fhir.ParseJSON(fhir.AppendJSON(nil, d))
			if err != nil {
				t.Fatal(err)
			}
			if again, err := Text(back.(map[string]any)); err != nil || again != tt.text {
				t.Errorf("after round trip: got %q %v", again, err)
			}
			q, err := DispenseQuantity(back.(map[string]any))
			got := ""
			if err == nil {
				got = strings.TrimSpace(strings.Join([]string{fmtNum(q.Value), q.Unit}, " "))
			} else if !fhir.IsKind(err, fhir.KindUnprocessable) {
				t.Errorf("dispense error kind: %v", err)
			}
			if got != tt.dispense {
				t.Errorf("dispense: got %q (%v), want %q", got, err, tt.dispense)
			}
		})
	}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestBuildErrors(t *testing.T) {
	ok := Form{Dose: "1", DoseUnit: "tablet", Route: "oral", Frequency: "BID", Duration: "7 days"}
	tests := []struct {
		name   string
		change func(*Form)
		field  string
	}{
		{"no dose", func(f *Form) { f.Dose = "" }, "dose"},
		{"words", func(f *Form) { f.Dose = "one" }, "dose"},
		{"zero", func(f *Form) { f.Dose = "0" }, "dose"},
		{"negative", func(f *Form) { f.Dose = "-1" }, "dose"},
		{"no leading zero", func(f *Form) { f.Dose = ".5" }, "dose"},
		{"exponent", func(f *Form) { f.Dose = "1e3" }, "dose"},
		{"huge", func(f *Form) { f.Dose = "10000000" }, "dose"},
		{"inverted range", func(f *Form) { f.Dose = "2-1" }, "dose"},
		{"unit", func(f *Form) { f.DoseUnit = "spoonful" }, "doseUnit"},
		{"route", func(f *Form) { f.Route = "by teleport" }, "route"},
		{"frequency", func(f *Form) { f.Frequency = "sometimes" }, "frequency"},
		{"no frequency", func(f *Form) { f.Frequency = "" }, "frequency"},
		{"q0h", func(f *Form) { f.Frequency = "q0h" }, "frequency"},
		{"q30h", func(f *Form) { f.Frequency = "q30h" }, "frequency"},
		{"q6-4h", func(f *Form) { f.Frequency = "q6-4h" }, "frequency"},
		{"duration unit", func(f *Form) { f.Duration = "7 fortnights" }, "duration"},
		{"duration fraction", func(f *Form) { f.Duration = "1.5 days" }, "duration"},
		{"duration zero", func(f *Form) { f.Duration = "0" }, "duration"},
		{"max words", func(f *Form) { f.MaxPerDay = "lots" }, "maxPerDay"},
		{"max below dose", func(f *Form) { f.Dose = "2"; f.MaxPerDay = "1" }, "maxPerDay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ok
			tt.change(&f)
			_, err := Build(f)
			var fe *fhir.Error
			if !asFHIR(err, &fe) || fe.Kind != fhir.KindInvalid {
				t.Fatalf("got %v, want an invalid error", err)
			}
			if got := fe.Issues[0].Expression; len(got) != 1 || got[0] != tt.field {
				t.Errorf("field: got %v, want %s (%v)", got, tt.field, err)
			}
		})
	}
	if _, err := Build(Form{Dose: "1", DoseUnit: "tablet", AsNeeded: true}); err != nil {
		t.Errorf("as needed without frequency: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"7": "7 d", "7 days": "7 d", "1 day": "1 d", "2 WEEKS": "2 wk", "10d": "10 d", "3 months": "3 mo", "48 hours": "48 h", " 1 week ": "1 wk"} {
		q, err := ParseDuration(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := fmtNum(q.Value) + " " + q.Code; got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
}

func TestDispenseErrors(t *testing.T) {
	for name, d := range map[string]string{
		"no dose":         `{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}}}`,
		"no duration":     `{` + tablet1 + `,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}}}`,
		"no timing":       `{` + tablet1 + `}`,
		"period in month": `{` + tablet1 + `,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"mo","boundsDuration":{"value":3,"code":"mo"}}}}`,
		"unknown unit":    `{"doseAndRate":[{"doseQuantity":{"value":1,"unit":"spoon"}}],"timing":{"repeat":{"count":3}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DispenseQuantity(parse(t, d)); !fhir.IsKind(err, fhir.KindUnprocessable) {
				t.Errorf("got %v, want unprocessable", err)
			}
		})
	}
}

func FuzzBuild(f *testing.F) {
	for _, s := range []string{"1", "0.5", "1-2", "1 to 2", "-", "7 days", "q4-6h", "BID", "2 weeks", "1e400", "½", "٣"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, dose, freq, duration string) {
		d, err := Build(Form{Dose: dose, DoseUnit: "tablet", Route: "oral", Frequency: freq, Duration: duration})
		if err != nil {
			if !fhir.IsKind(err, fhir.KindInvalid) {
				t.Fatalf("Build(%q, %q, %q): error of the wrong kind: %v", dose, freq, duration, err)
			}
			return
		}
		if _, err := Text(d); err != nil {
			t.Fatalf("a built dosage does not render: %v", err)
		}
		if q, err := DispenseQuantity(d); err == nil && (q.Value <= 0 || q.Value != q.Value) {
			t.Fatalf("dispense %v", q)
		}
	})
}

func FuzzText(f *testing.F) {
	f.Add(`{` + tablet1 + `,` + oral + `,"timing":{"repeat":{"frequency":2,"period":1,"periodUnit":"d","boundsDuration":{"value":7,"code":"d"}}}}`)
	f.Add(`{"doseAndRate":[{"doseRange":{"low":{"value":1},"high":{"value":2}}}],"timing":{"repeat":{"when":["AC"],"offset":30,"dayOfWeek":["mon"],"timeOfDay":["08:00:00"]}},"maxDosePerPeriod":[{"numerator":{"value":1},"denominator":{"value":1,"code":"d"}}]}`)
	f.Add(`{"text":"x","asNeededFor":[{"text":"É"}],"additionalInstruction":[{"text":"ü"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := fhir.ParseJSON([]byte(s))
		if err != nil {
			return
		}
		d, _ := v.(map[string]any)
		Text(d)
		DispenseQuantity(d)
	})
}
