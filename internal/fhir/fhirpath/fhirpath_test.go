package fhirpath

import (
	"errors"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpath/fhirpathtest"
)

const patientJSON = `{"resourceType":"Patient","id":"p1","active":true,
 "name":[{"family":"Chalmers","given":["Peter",null,"James"],"_given":[null,{"extension":[{"url":"http://x/syllables","valueInteger":2}]},null]},
         {"given":["Jim"]}],
 "birthDate":"1974-12-25","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]},
 "contained":[{"resourceType":"Organization","id":"org1","name":"Acme"}],
 "managingOrganization":{"reference":"#org1"},
 "generalPractitioner":[{"reference":"Practitioner/7"},{"reference":"Patient/2"}]}`

const observationJSON = `{"resourceType":"Observation","id":"o1","status":"final",
 "code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},
 "valueQuantity":{"value":185.0,"unit":"lbs","system":"http://unitsofmeasure.org","code":"[lb_av]"},
 "subject":{"reference":"Patient/p1"}}`

func mustResource(t testing.TB, s string) fhir.Resource {
	t.Helper()
	r, err := fhir.ParseResource([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func eval(t *testing.T, ctx *Context, expr string, in ...any) []Node {
	t.Helper()
	x, err := Compile(expr)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expr, err)
	}
	out, err := x.Evaluate(ctx, in...)
	if err != nil {
		t.Fatalf("Evaluate(%q): %v", expr, err)
	}
	return out
}

func TestSearchExtraction(t *testing.T) {
	patient := mustResource(t, patientJSON)
	obs := mustResource(t, observationJSON)
	tests := []struct {
		expr      string
		in        fhir.Resource
		wantTypes []string
		wantVals  []string
	}{
		{"Patient.name.given.where(hasValue()) | Practitioner.name.given", patient, []string{"string", "string", "string"}, []string{"Peter", "James", "Jim"}},
		{"(Observation.value as Quantity).value", obs, []string{"decimal"}, []string{"185.0"}},
		{"Observation.value.ofType(Quantity).code", obs, []string{"string"}, []string{"[lb_av]"}},
		{"Observation.value", obs, []string{"Quantity"}, []string{"185.0 '[lb_av]'"}},
		{"Observation.subject.where(resolve() is Patient).reference", obs, []string{"string"}, []string{"Patient/p1"}},
		{"Patient.generalPractitioner.where(resolve() is Practitioner).reference", patient, []string{"string"}, []string{"Practitioner/7"}},
		{"Patient.managingOrganization.resolve().name", patient, []string{"string"}, []string{"Acme"}},
		{"Patient.birthDate.extension('http://hl7.org/fhir/StructureDefinition/patient-birthTime').value", patient, []string{"dateTime"}, []string{"1974-12-25T14:35:45-05:00"}},
		{"Patient.name.given.extension('http://x/syllables').value", patient, []string{"integer"}, []string{"2"}},
		{"%resource.id", patient, []string{"string"}, []string{"p1"}},
		{"Observation.value > 180 '[lb_av]'", obs, []string{"System.Boolean"}, []string{"true"}},
		{"Observation.value > 80 'kg'", obs, []string{"System.Boolean"}, []string{"true"}},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			out := eval(t, nil, tc.expr, tc.in)
			if len(out) != len(tc.wantVals) {
				t.Fatalf("got %d items %v, want %v", len(out), out, tc.wantVals)
			}
			for i, n := range out {
				v, _ := formatValue(system(n))
				if n.Type != tc.wantTypes[i] || v != tc.wantVals[i] {
					t.Errorf("item %d: got %s %q, want %s %q", i, n.Type, v, tc.wantTypes[i], tc.wantVals[i])
				}
			}
		})
	}
}

func TestPrimitiveWithOnlyExtension(t *testing.T) {
	patient := mustResource(t, patientJSON)
	out := eval(t, nil, "Patient.name.first().given", patient)
	if len(out) != 3 {
		t.Fatalf("got %d given names, want 3 (one without value)", len(out))
	}
	if out[1].Value != nil || out[1].Ext == nil || out[1].Index != 1 || out[1].Key != "given" {
		t.Errorf("middle given: got %+v", out[1])
	}
	vals := eval(t, nil, "Patient.name.first().given.select($this.hasValue())", patient)
	if got := describeBools(vals); got != "true false true" {
		t.Errorf("hasValue: got %s", got)
	}
}

// TestOnlyTheExtension covers an element whose object holds the "_key"
// companion and nothing else: the primitive exists, without a value.
func TestOnlyTheExtension(t *testing.T) {
	obs := mustResource(t, `{"resourceType":"Observation","subject":{"_reference":{"extension":[{"url":"http://x/why","valueString":"withheld"}]}}}`)
	if got := describeBools(eval(t, nil, "Observation.subject.reference.exists()", obs)); got != "true" {
		t.Errorf("reference.exists(): got %s, want true", got)
	}
	if got := describeBools(eval(t, nil, "Observation.subject.reference.hasValue()", obs)); got != "false" {
		t.Errorf("reference.hasValue(): got %s, want false", got)
	}
}

// TestSeveralChoiceValues: an invalid element holding two values of a
// choice gives both, in the order of their keys, every time; it gave
// whichever the map's iteration met first, so the same expression on the
// same resource answered differently from one evaluation to the next.
func TestSeveralChoiceValues(t *testing.T) {
	obs := mustResource(t, `{"resourceType":"Observation","valueString":"high","valueQuantity":{"value":7},"_valueBoolean":{"id":"b"}}`)
	for range 20 {
		out := eval(t, nil, "Observation.value", obs)
		var keys []string
		for _, n := range out {
			keys = append(keys, n.Key)
		}
		if got := strings.Join(keys, " "); got != "valueBoolean valueQuantity valueString" {
			t.Fatalf("Observation.value: got %q, want valueBoolean valueQuantity valueString", got)
		}
		if got := eval(t, nil, "Observation.value.ofType(Quantity).value", obs); len(got) != 1 || describeBools(got) != "7" {
			t.Fatalf("value.ofType(Quantity).value: got %v", got)
		}
	}
}

func describeBools(c []Node) string {
	s := ""
	for i, n := range c {
		if i > 0 {
			s += " "
		}
		v, _ := formatValue(system(n))
		s += v
	}
	return s
}

func TestNodeLocation(t *testing.T) {
	patient := mustResource(t, patientJSON)
	out := eval(t, nil, "Patient.name[0].given[2]", patient)
	if len(out) != 1 {
		t.Fatalf("got %d items", len(out))
	}
	n := out[0]
	n.Parent[n.Key].([]any)[n.Index] = "Jimmy"
	if got := eval(t, nil, "Patient.name[0].given[2]", patient); got[0].Value != "Jimmy" {
		t.Errorf("after writing through the node's location: got %v", got[0].Value)
	}
}

func TestInvariants(t *testing.T) {
	patient := mustResource(t, patientJSON)
	tests := []struct {
		expr string
		want bool
	}{
		{"name.exists() implies name.all(given.exists() or family.exists())", true},
		{"contained.all(id.exists())", true},
		{"%resource.contained.id contains 'org1'", true},
		{"%rootResource.id = 'p1' and %context.id = 'p1'", true},
		{"birthDate < today()", true},
		{"active.hasValue() and birthDate.hasValue()", true},
		{"name.first().given.count() = 3 and name.given.count() = 4", true},
	}
	for _, tc := range tests {
		x := MustCompile(tc.expr)
		got, ok, err := x.EvaluateBool(nil, patient)
		if err != nil || !ok || got != tc.want {
			t.Errorf("%s: got %v ok=%v err=%v, want %v", tc.expr, got, ok, err, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	patient := mustResource(t, patientJSON)
	for _, expr := range []string{"1 +", "name.", "'abc", "foo(", "name.unknownFn()", "@2014-13-01", "(1", "1 2"} {
		_, err := Compile(expr)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q): got %v, want a SyntaxError", expr, err)
		}
	}
	for _, expr := range []string{"name.single()", "name.given + 1", "%undefined", "'a' < 1", "name.given.substring(1)"} {
		x := MustCompile(expr)
		_, err := x.Evaluate(nil, patient)
		var ee *EvalError
		if !errors.As(err, &ee) {
			t.Errorf("Evaluate(%q): got %v, want an EvalError", expr, err)
		}
	}
}

func TestModelTypes(t *testing.T) {
	model := fhirpathtest.LoadModel(t)
	patient := mustResource(t, patientJSON)
	out := eval(t, &Context{Model: model}, "Patient.name | Practitioner.name", patient)
	if len(out) != 2 || out[0].Type != "HumanName" {
		t.Fatalf("got %v", out)
	}
	out = eval(t, &Context{Model: model}, "Patient.birthDate", patient)
	if out[0].Type != "date" {
		t.Errorf("birthDate type %s, want date", out[0].Type)
	}
	if _, err := MustCompile("Patient.nme").Evaluate(&Context{Model: model}, patient); err == nil {
		t.Errorf("misspelt element: want an error with a model")
	}

	// A contained resource is typed Resource: asking it for a
	// DomainResource's element is no error (dom-2 on a Parameters or a
	// Binary), but a name no DomainResource has still is one.
	container := mustResource(t, `{"resourceType":"GuidanceResponse","contained":[
		{"resourceType":"Parameters","id":"p","parameter":[{"name":"a","valueString":"b"}]},
		{"resourceType":"Observation","id":"o","status":"final","contained":[{"resourceType":"Binary","id":"b"}]}]}`)
	for expr, want := range map[string]int{
		"contained.contained":           1,
		"contained.contained.empty()":   1, // false, from the Observation
		"contained.text":                0,
		"contained.contained.contained": 0,
	} {
		out, err := MustCompile(expr).Evaluate(&Context{Model: model}, container)
		if err != nil || len(out) != want {
			t.Errorf("%s: %v, %v; want %d items", expr, out, err, want)
		}
	}
	if _, err := MustCompile("contained.nme").Evaluate(&Context{Model: model}, container); err == nil {
		t.Errorf("contained.nme: want an error with a model")
	}

	// repeat() reaches answers from items: asking an answer for its
	// answers too is no error (qrs-2), but repeating over one type keeps
	// the check.
	qr := mustResource(t, `{"resourceType":"QuestionnaireResponse","status":"completed","item":[
		{"linkId":"1","answer":[{"valueString":"a"}]},
		{"linkId":"2","item":[{"linkId":"2.1","answer":[{"valueString":"b","item":[{"linkId":"2.1.1"}]}]}]}]}`)
	out, err := MustCompile("item.repeat(answer | item).count()").Evaluate(&Context{Model: model}, qr)
	if err != nil || len(out) != 1 || out[0].Value != int64(4) {
		t.Errorf("item.repeat(answer | item).count(): %v, %v; want 4", out, err)
	}
	if _, err := MustCompile("item.repeat(item.nme)").Evaluate(&Context{Model: model}, qr); err == nil {
		t.Errorf("item.repeat(item.nme): want an error with a model")
	}
}

// TestDoubleQuotedStrings: the specification's own invariants (eld-11)
// quote some strings with ", which FHIRPath's grammar does not; they are
// read as strings, escapes included.
func TestDoubleQuotedStrings(t *testing.T) {
	for expr, want := range map[string]bool{
		`"a:b" = 'a:b'`:             true,
		`'x:y'.contains(":")`:       true,
		`"it's" = 'it\'s'`:          true,
		`"say \"hi\"".length() = 8`: true,
	} {
		out, err := MustCompile(expr).Evaluate(nil, mustResource(t, patientJSON))
		if err != nil || len(out) != 1 || out[0].Value != want {
			t.Errorf("%s: %v, %v; want %v", expr, out, err, want)
		}
	}
	if _, err := Compile(`"unterminated`); err == nil {
		t.Error(`"unterminated: want a syntax error`)
	}
}

func BenchmarkPatientNameGiven(b *testing.B) {
	patient := mustResource(b, patientJSON)
	x := MustCompile("Patient.name.given")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Evaluate(nil, patient); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkObservationValueOfType(b *testing.B) {
	obs := mustResource(b, observationJSON)
	x := MustCompile("Observation.value.ofType(Quantity)")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Evaluate(nil, obs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("Observation.component.where(code.coding.exists(system = %loinc and code = '8480-6')).value.ofType(Quantity)"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	patient := mustResource(t, patientJSON)
	x := MustCompile("Patient.name.given.select($this & '!').join(',')")
	done := make(chan string)
	for range 8 {
		go func() {
			out, err := x.Evaluate(nil, patient)
			if err != nil || len(out) != 1 {
				done <- "error"
				return
			}
			done <- out[0].Value.(string)
		}()
	}
	for range 8 {
		if got := <-done; got != "Peter!,!,James!,Jim!" {
			t.Errorf("got %q", got)
		}
	}
}
