package access

import (
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

func TestLabeler(t *testing.T) {
	l := DefaultLabeler()
	for _, tc := range []struct{ resource, want string }{
		{`{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"F32.9"}]}}`, "PSY"},
		{`{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"F10.20"}]}}`, "ETH"},
		{`{"resourceType":"Condition","code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]}}`, "HIV"},
		{`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"7917-8"}]}}`, "HIV"},
		{`{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"O03.9"}]}}`, "SEX"},
		{`{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"E11.9"}]}}`, ""},
		// Several categories, and a label the client already gave kept once.
		{`{"resourceType":"Condition","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HIV"}]},
		  "code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"},{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"F33.1"}]}}`, "HIV PSY"},
		// A code in meta is not content.
		{`{"resourceType":"Patient","meta":{"tag":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"F20"}]}}`, ""},
	} {
		res, err := fhir.ParseResource([]byte(tc.resource))
		if err != nil {
			t.Fatal(err)
		}
		l.Label(res)
		var got []string
		if meta, ok := res["meta"].(map[string]any); ok {
			labels, _ := meta["security"].([]any)
			for _, x := range labels {
				got = append(got, x.(map[string]any)["code"].(string))
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: labels %v, want %q", tc.resource, got, tc.want)
		}
	}
	if _, err := NewLabeler([]byte(`{"labels":[{"code":"X"}]}`)); err == nil {
		t.Error("a label without matches was accepted")
	}
}
