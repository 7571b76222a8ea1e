package dosage

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

// parse reads a Dosage written as JSON, as it arrives from the store.
func parse(t testing.TB, s string) map[string]any {
	t.Helper()
	v, err := fhir.ParseJSON([]byte(s))
	if err != nil {
		t.Fatalf("bad fixture %s: %v", s, err)
	}
	return v.(map[string]any)
}

const (
	tablet1 = `"doseAndRate":[{"doseQuantity":{"value":1,"unit":"tablet","system":"http://unitsofmeasure.org","code":"{tablet}"}}]`
	oral    = `"route":{"coding":[{"system":"http://snomed.info/sct","code":"26643006","display":"Oral route"}]}`
)

func TestText(t *testing.T) {
	tests := []struct {
		name, dosage, want string
	}{
		{"bid for 7 days", `{` + tablet1 + `,` + oral + `,"timing":{"repeat":{"frequency":2,"period":1,"periodUnit":"d","boundsDuration":{"value":7,"unit":"days","system":"http://unitsofmeasure.org","code":"d"}}}}`,
			"Take 1 tablet by mouth twice a day for 7 days."},
		{"code only", `{` + tablet1 + `,` + oral + `,"timing":{"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation","code":"TID"}]}}}`,
			"Take 1 tablet by mouth three times a day."},
		{"once a day", `{"doseAndRate":[{"doseQuantity":{"value":500,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}],"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}}}`,
			"Take 500 mg once a day."},
		{"every 8 hours, plural tablets", `{"doseAndRate":[{"doseQuantity":{"value":2,"code":"{tablet}","system":"http://unitsofmeasure.org"}}],` + oral + `,"timing":{"repeat":{"frequency":1,"period":8,"periodUnit":"h"}}}`,
			"Take 2 tablets by mouth every 8 hours."},
		{"every hour", `{` + tablet1 + `,"timing":{"repeat":{"period":1,"periodUnit":"h"}}}`, "Take 1 tablet every hour."},
		{"every 4 to 6 hours as needed for pain, max", `{"doseAndRate":[{"doseRange":{"low":{"value":1,"code":"{tablet}","system":"http://unitsofmeasure.org"},"high":{"value":2,"code":"{tablet}","system":"http://unitsofmeasure.org"}}}],` + oral + `,"timing":{"repeat":{"frequency":1,"period":4,"periodMax":6,"periodUnit":"h"}},"asNeededFor":[{"text":"Pain"}],"maxDosePerPeriod":[{"numerator":{"value":8,"code":"{tablet}","system":"http://unitsofmeasure.org"},"denominator":{"value":1,"code":"d","system":"http://unitsofmeasure.org"}}]}`,
			"Take 1 to 2 tablets by mouth every 4 to 6 hours as needed for pain. Do not take more than 8 tablets a day."},
		{"max in 24 hours", `{` + tablet1 + `,"asNeeded":true,"maxDosePerPeriod":[{"numerator":{"value":4,"code":"{tablet}","system":"http://unitsofmeasure.org"},"denominator":{"value":24,"code":"h","system":"http://unitsofmeasure.org"}}]}`,
			"Take 1 tablet as needed. Do not take more than 4 tablets in 24 hours."},
		{"at bedtime", `{` + tablet1 + `,` + oral + `,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d","when":["HS"]}}}`,
			"Take 1 tablet by mouth at bedtime."},
		{"before breakfast with offset", `{` + tablet1 + `,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d","when":["ACM"],"offset":30}}}`,
			"Take 1 tablet 30 minutes before breakfast."},
		{"morning and evening", `{` + tablet1 + `,"timing":{"repeat":{"frequency":2,"period":1,"periodUnit":"d","when":["MORN","EVE"]}}}`,
			"Take 1 tablet in the morning and in the evening."},
		{"every other day", `{` + tablet1 + `,"timing":{"repeat":{"frequency":1,"period":2,"periodUnit":"d"}}}`, "Take 1 tablet every other day."},
		{"weekly on days", `{"doseAndRate":[{"doseQuantity":{"value":2.5,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}],` + oral + `,"timing":{"repeat":{"frequency":2,"period":1,"periodUnit":"wk","dayOfWeek":["mon","thu"]}}}`,
			"Take 2.5 mg by mouth twice a week on Monday and Thursday."},
		{"three days a week", `{` + tablet1 + `,"timing":{"repeat":{"frequency":3,"period":1,"periodUnit":"wk","dayOfWeek":["mon","wed","fri"]}}}`,
			"Take 1 tablet 3 times a week on Monday, Wednesday and Friday."},
		{"times of day", `{` + tablet1 + `,"timing":{"repeat":{"timeOfDay":["08:00:00","20:00:00"]}}}`, "Take 1 tablet at 08:00 and 20:00."},
		{"single dose", `{` + tablet1 + `,"timing":{"repeat":{"count":1}}}`, "Take 1 tablet as a single dose."},
		{"mcg never µg", `{"doseAndRate":[{"doseQuantity":{"value":0.5,"unit":"µg"}}],"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}}}`,
			"Take 0.5 mcg once a day."},
		{"units never IU", `{"doseAndRate":[{"doseQuantity":{"value":10,"unit":"IU","system":"http://unitsofmeasure.org","code":"[iU]"}}],"route":{"coding":[{"system":"http://snomed.info/sct","code":"34206005"}]},"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d","when":["HS"]}}}`,
			"Inject 10 units under the skin at bedtime."},
		{"inhaler", `{"doseAndRate":[{"doseQuantity":{"value":2,"code":"{puff}","system":"http://unitsofmeasure.org"}}],"route":{"coding":[{"system":"http://snomed.info/sct","code":"447694001"}]},"timing":{"repeat":{"frequency":4,"period":1,"periodUnit":"d"}},"asNeeded":true}`,
			"Inhale 2 puffs four times a day as needed."},
		{"eye drops", `{"doseAndRate":[{"doseQuantity":{"value":1,"code":"[drp]","system":"http://unitsofmeasure.org"}}],"route":{"text":"eye"},"timing":{"repeat":{"frequency":4,"period":1,"periodUnit":"d"}}}`,
			"Put 1 drop into the eye four times a day."},
		{"uncoded route", `{` + tablet1 + `,"route":{"text":"Buccal route"},"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}}}`,
			"Use 1 tablet by the buccal route once a day."},
		{"rate", `{"doseAndRate":[{"rateQuantity":{"value":100,"unit":"mL/h"}}],"route":{"coding":[{"system":"http://snomed.info/sct","code":"47625008"}]}}`,
			"Give at a rate of 100 mL/h into a vein."},
		{"until a date", `{` + tablet1 + `,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d","boundsPeriod":{"start":"2026-11-23","end":"2026-11-30"}}}}`,
			"Take 1 tablet once a day until 30-Nov-2026."},
		{"additional and patient instructions", `{` + tablet1 + `,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}},"additionalInstruction":[{"text":"take with food"}],"patientInstruction":"Avoid alcohol."}`,
			"Take 1 tablet once a day. Take with food. Avoid alcohol."},
		{"instruction in another script", `{` + tablet1 + `,"asNeededFor":[{"text":"Éruption"}],"additionalInstruction":[{"text":"über Nacht"}]}`,
			"Take 1 tablet as needed for éruption. Über Nacht."},
		{"text only", `{"text":"As directed by the clinic"}`, "As directed by the clinic"},
		{"1 to 2 times a day", `{` + tablet1 + `,"timing":{"repeat":{"frequency":1,"frequencyMax":2,"period":1,"periodUnit":"d"}}}`, "Take 1 tablet 1 to 2 times a day."},
		{"3 times every 2 weeks", `{` + tablet1 + `,"timing":{"repeat":{"frequency":3,"period":2,"periodUnit":"wk"}}}`, "Take 1 tablet 3 times every 2 weeks."},
		{"once a month", `{` + tablet1 + `,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"mo"}}}`, "Take 1 tablet once a month."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Text(parse(t, tt.dosage))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTextErrors(t *testing.T) {
	tests := []struct {
		name, dosage, field string
	}{
		{"empty", `{}`, "Dosage"},
		{"zero dose", `{"doseAndRate":[{"doseQuantity":{"value":0,"unit":"mg"}}]}`, "Dosage.doseAndRate[0].doseQuantity"},
		{"negative dose", `{"doseAndRate":[{"doseQuantity":{"value":-1,"unit":"mg"}}]}`, "Dosage.doseAndRate[0].doseQuantity"},
		{"dose without value", `{"doseAndRate":[{"doseQuantity":{"unit":"mg"}}]}`, "Dosage.doseAndRate[0].doseQuantity"},
		{"inverted range", `{"doseAndRate":[{"doseRange":{"low":{"value":2},"high":{"value":1}}}]}`, "Dosage.doseAndRate[0].doseRange"},
		{"frequency text", `{` + tablet1 + `,"timing":{"repeat":{"frequency":"two","period":1,"periodUnit":"d"}}}`, "Dosage.timing.repeat.frequency"},
		{"fractional frequency", `{` + tablet1 + `,"timing":{"repeat":{"frequency":1.5,"period":1,"periodUnit":"d"}}}`, "Dosage.timing.repeat.frequency"},
		{"bad period unit", `{` + tablet1 + `,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"fortnight"}}}`, "Dosage.timing.repeat.periodUnit"},
		{"bad weekday", `{` + tablet1 + `,"timing":{"repeat":{"dayOfWeek":["monday"]}}}`, "Dosage.timing.repeat.dayOfWeek"},
		{"bad time", `{` + tablet1 + `,"timing":{"repeat":{"timeOfDay":["8am"]}}}`, "Dosage.timing.repeat.timeOfDay"},
		{"bad event", `{` + tablet1 + `,"timing":{"repeat":{"when":["LUNCHTIME"]}}}`, "Dosage.timing.repeat.when"},
		{"bad offset", `{` + tablet1 + `,"timing":{"repeat":{"when":["AC"],"offset":-5}}}`, "Dosage.timing.repeat.offset"},
		{"bad duration unit", `{` + tablet1 + `,"timing":{"repeat":{"boundsDuration":{"value":7,"code":"fortnight"}}}}`, "Dosage.timing.repeat.boundsDuration"},
		{"bad bounds end", `{` + tablet1 + `,"timing":{"repeat":{"boundsPeriod":{"end":"soon"}}}}`, "Dosage.timing.repeat.boundsPeriod.end"},
		{"bad max", `{` + tablet1 + `,"maxDosePerPeriod":[{"numerator":{"value":4}}]}`, "Dosage.maxDosePerPeriod[0].denominator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Text(parse(t, tt.dosage))
			var fe *fhir.Error
			if err == nil || !asFHIR(err, &fe) || fe.Kind != fhir.KindInvalid {
				t.Fatalf("got %v, want an invalid error", err)
			}
			if got := fe.Issues[0].Expression; len(got) != 1 || got[0] != tt.field {
				t.Errorf("expression: got %v, want %s (%v)", got, tt.field, err)
			}
		})
	}
	if _, err := Text(nil); err == nil {
		t.Error("a nil dosage must be an error")
	}
}

func asFHIR(err error, fe **fhir.Error) bool {
	e, ok := err.(*fhir.Error)
	*fe = e
	return ok
}

func TestTranslationCatalog(t *testing.T) {
	d := parse(t, `{`+tablet1+`,`+oral+`,"timing":{"repeat":{"frequency":2,"period":1,"periodUnit":"d"}}}`)
	msgs, err := Instructions(d)
	if err != nil {
		t.Fatal(err)
	}
	// A partial catalog: what it lacks falls back to English.
	fr := map[string]string{"verb.take": "Prendre", "unit.{tablet}.one": "comprimé", "route.oral": "par voie orale", "freq.twice": "deux fois par jour"}
	if got, want := Format(fr, msgs), "Prendre 1 comprimé par voie orale deux fois par jour."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, m := range msgs {
		if _, ok := English[m.ID]; !ok {
			t.Errorf("message id %q has no English text", m.ID)
		}
	}
}

func TestTextAll(t *testing.T) {
	got, err := TextAll([]any{
		parse(t, `{"sequence":1,`+tablet1+`,"timing":{"repeat":{"frequency":2,"period":1,"periodUnit":"d","boundsDuration":{"value":3,"code":"d"}}}}`),
		parse(t, `{"sequence":2,`+tablet1+`,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d","boundsDuration":{"value":1,"code":"wk"}}}}`),
	})
	if want := "Take 1 tablet twice a day for 3 days. Then: Take 1 tablet once a day for 1 week."; err != nil || got != want {
		t.Errorf("got %q %v, want %q", got, err, want)
	}
	if _, err := TextAll([]any{"x"}); err == nil || !strings.Contains(err.Error(), "dosageInstruction[0]") {
		t.Errorf("got %v, want an error naming dosageInstruction[0]", err)
	}
}

func TestJSONNumbersFromCode(t *testing.T) {
	// Dosages built in code hold ints and float64s, not json.Number.
	d := map[string]any{"doseAndRate": []any{map[string]any{"doseQuantity": map[string]any{"value": 1, "code": "{tablet}", "system": "http://unitsofmeasure.org"}}},
		"timing": map[string]any{"repeat": map[string]any{"frequency": json.Number("3"), "period": 1.0, "periodUnit": "d"}}}
	if got, err := Text(d); err != nil || got != "Take 1 tablet three times a day." {
		t.Errorf("got %q %v", got, err)
	}
}
