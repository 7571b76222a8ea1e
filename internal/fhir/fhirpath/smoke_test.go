package fhirpath

import (
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

func TestSmoke(t *testing.T) {
	res, err := fhir.ParseResource([]byte(`{"resourceType":"Observation","id":"o1","valueQuantity":{"value":5.40,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"},"subject":{"reference":"Patient/123"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ expr, want string }{
		{"Observation.value.ofType(Quantity).value", "5.40"},
		{"(Observation.value as Quantity).unit", "mg"},
		{"Observation.subject.where(resolve() is Patient).reference", "Patient/123"},
		{"1 + 2 * 3", "7"},
		{"(1.2 / 1.8).round(2)", "0.67"},
		{"Observation.value > 5 'mg'", "true"},
		{"Observation.value = 5400 'ug'", "true"},
		{"@2014-01-01 + 1 month", "2014-02-01"},
	} {
		x, err := Compile(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		out, err := x.Evaluate(nil, res)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if len(out) != 1 {
			t.Fatalf("%s: got %d items %v", tc.expr, len(out), out)
		}
		s, _ := formatValue(system(out[0]))
		if s != tc.want {
			t.Errorf("%s: got %q, want %q", tc.expr, s, tc.want)
		}
	}
}
