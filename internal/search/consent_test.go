package search

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

func TestConsentRules(t *testing.T) {
	for _, tc := range []struct {
		name, consent string
		want          []string // path permit actor type label code purpose data
	}{
		{"not a consent", `{"resourceType":"Patient","id":"p"}`, nil},
		{"not active", `{"resourceType":"Consent","status":"draft","subject":{"reference":"Patient/p"}}`, nil},
		{"not about a patient", `{"resourceType":"Consent","status":"active","subject":{"reference":"Group/g"}}`, nil},
		{"permit by default", `{"resourceType":"Consent","status":"active","subject":{"reference":"Patient/p"}}`,
			[]string{"0 permit"}},
		{"an exception is the opposite", `{"resourceType":"Consent","status":"active","subject":{"reference":"Patient/p"},"decision":"permit",
			"provision":[{"actor":[{"reference":{"reference":"Practitioner/a"}},{"reference":{"reference":"Practitioner/b"}}],
			"resourceType":[{"code":"Observation"}],"securityLabel":[{"system":"s","code":"PSY"}]}]}`,
			[]string{"0 permit", "0.0 deny actor=Practitioner/a type=Observation label=s|PSY", "0.0 deny actor=Practitioner/b type=Observation label=s|PSY"}},
		{"nested exceptions alternate and narrow", `{"resourceType":"Consent","status":"active","subject":{"reference":"Patient/p"},"decision":"deny",
			"provision":[{"actor":[{"reference":{"reference":"Practitioner/a"}}],
			"provision":[{"code":[{"coding":[{"system":"sct","code":"86406008"}]}],"purpose":[{"code":"HMARKT"}]}]}]}`,
			[]string{"0 deny", "0.0 permit actor=Practitioner/a", "0.0.0 deny actor=Practitioner/a code=sct|86406008 purpose=HMARKT"}},
		{"actions other than reading are left out", `{"resourceType":"Consent","status":"active","subject":{"reference":"Patient/p"},
			"provision":[{"action":[{"coding":[{"code":"correct"}]}]},{"action":[{"coding":[{"code":"access"}]}],"data":[{"reference":{"reference":"Observation/o"}}]}]}`,
			[]string{"0 permit", "0.1 deny data=Observation/o"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := fhir.ParseResource([]byte(tc.consent))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range ConsentRules(res) {
				if r.Patient != "p" {
					t.Errorf("patient %q", r.Patient)
				}
				s := r.Path + map[bool]string{true: " permit", false: " deny"}[r.Permit]
				for _, f := range []struct{ k, v string }{{"actor", r.Actor}, {"type", r.Type}, {"label", join(r.LabelSystem, r.LabelCode)},
					{"code", join(r.CodeSystem, r.CodeCode)}, {"purpose", r.Purpose}, {"data", r.Data}} {
					if f.v != "" {
						s += " " + f.k + "=" + f.v
					}
				}
				got = append(got, s)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func join(system, code string) string {
	if code == "" {
		return ""
	}
	return system + "|" + code
}

func TestConsentPeriods(t *testing.T) {
	res, _ := fhir.ParseResource([]byte(`{"resourceType":"Consent","status":"active","subject":{"reference":"Patient/p"},
		"period":{"start":"2020-01-01","end":"2030-01-01"},"provision":[{"period":{"start":"2025-06-01"}}]}`))
	rules := ConsentRules(res)
	lo, _, _ := DateRange("2020-01-01")
	_, hi, _ := DateRange("2030-01-01")
	plo, _, _ := DateRange("2025-06-01")
	if len(rules) != 2 || rules[0].PeriodLow != lo || rules[0].PeriodHigh != hi || rules[1].PeriodLow != plo || rules[1].PeriodHigh != hi {
		t.Errorf("periods: %+v", rules)
	}
}
