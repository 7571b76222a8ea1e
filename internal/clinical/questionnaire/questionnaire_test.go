package questionnaire

import (
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// load parses a shipped form.
func load(t testing.TB, id string) *Questionnaire {
	t.Helper()
	r, err := Form(id)
	return mustParse(t, r, err)
}

// parseJSON parses a questionnaire written in the test.
func parseJSON(t testing.TB, s string) *Questionnaire {
	t.Helper()
	r, err := fhir.ParseResource([]byte(s))
	return mustParse(t, r, err)
}

func mustParse(t testing.TB, r fhir.Resource, err error) *Questionnaire {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// frequency answers of PHQ-9 and GAD-7 by weight.
var frequency = []string{"LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"}

func loinc(code string) Value { return Code("http://loinc.org", code) }

// scored answers each item of a PHQ-9 or GAD-7 with the given weights.
func scored(q *Questionnaire, weights ...int) Answers {
	a := Answers{}
	i := 0
	for _, it := range q.Items {
		if it.Type == "coding" && it.LinkID != "difficulty" && i < len(weights) {
			a[it.LinkID] = []Value{loinc(frequency[weights[i]])}
			i++
		}
	}
	return a
}

func TestPHQ9(t *testing.T) {
	q := load(t, "phq-9")
	tests := []struct {
		name       string
		weights    []int
		difficulty bool
		total      float64
		severity   string
		issues     int
		selfHarm   bool
	}{
		{"none", []int{0, 0, 0, 0, 0, 0, 0, 0, 0}, false, 0, "minimal", 0, false},
		{"mild", []int{1, 1, 1, 1, 1, 0, 0, 0, 0}, true, 5, "mild", 0, false},
		{"moderate", []int{2, 2, 2, 2, 1, 1, 0, 0, 0}, true, 10, "moderate", 0, false},
		{"moderately severe", []int{2, 2, 2, 2, 2, 2, 2, 1, 0}, true, 15, "moderately severe", 0, false},
		{"severe with item 9", []int{3, 3, 3, 3, 3, 3, 2, 0, 1}, true, 21, "severe", 0, true},
		{"maximum", []int{3, 3, 3, 3, 3, 3, 3, 3, 3}, true, 27, "severe", 0, true},
		{"two unanswered", []int{1, 1, 1, 1, 1, 1, 1}, true, 7, "mild", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := scored(q, tt.weights...)
			a["difficulty"] = []Value{loinc("LA6573-5")}
			r := Evaluate(q, a)
			if got := r.Scores[PHQ9Total]; got != tt.total {
				t.Errorf("total: got %v, want %v", got, tt.total)
			}
			if sev, err := Interpret(q.URL, r.Scores[PHQ9Total]); err != nil || sev != tt.severity {
				t.Errorf("severity: got %q %v, want %q", sev, err, tt.severity)
			}
			if r.Enabled["difficulty"] != tt.difficulty {
				t.Errorf("difficulty enabled: got %v, want %v", r.Enabled["difficulty"], tt.difficulty)
			}
			if _, kept := r.Answers["difficulty"]; kept != tt.difficulty {
				t.Errorf("difficulty answer kept: got %v, want %v (a disabled item's answer is dropped)", kept, tt.difficulty)
			}
			if len(r.Issues) != tt.issues {
				t.Errorf("issues: got %v, want %d", r.Issues, tt.issues)
			}
			if SelfHarmFlag(q, r) != tt.selfHarm {
				t.Errorf("self-harm flag: got %v", !tt.selfHarm)
			}
			resp := Response(q, r, ResponseInfo{Subject: "Patient/p1", Author: "Practitioner/d1", Authored: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)})
			js := string(resp.JSON())
			wantStatus := `"status":"completed"`
			if tt.issues > 0 {
				wantStatus = `"status":"in-progress"`
			}
			for _, w := range []string{wantStatus, `"questionnaire":"https://emr-project.org/fhir/Questionnaire/phq-9|1.0.0"`,
				`"subject":{"reference":"Patient/p1"}`, `"authored":"2026-11-23T09:00:00Z"`,
				`{"answer":[{"valueInteger":` + datatype.FormatNumber(tt.total) + `}],"linkId":"44261-6"`} {
				if !strings.Contains(js, w) {
					t.Errorf("response lacks %s:\n%s", w, js)
				}
			}
			if strings.Contains(js, `"intro"`) {
				t.Error("a display item must not be in the response")
			}
		})
	}
}

func TestGAD7(t *testing.T) {
	q := load(t, "gad-7")
	for _, tt := range []struct {
		weights  []int
		severity string
	}{
		{[]int{0, 0, 0, 0, 0, 0, 0}, "minimal"}, {[]int{1, 1, 1, 1, 1, 0, 0}, "mild"},
		{[]int{2, 2, 2, 2, 2, 0, 0}, "moderate"}, {[]int{3, 3, 3, 3, 3, 0, 0}, "severe"}, {[]int{3, 3, 3, 3, 3, 3, 3}, "severe"},
	} {
		r := Evaluate(q, scored(q, tt.weights...))
		sev, err := Interpret(GAD7URL, r.Scores[GAD7Total])
		if err != nil || sev != tt.severity || !r.Complete() {
			t.Errorf("%v: got %q %v %v, want %q", tt.weights, sev, err, r.Issues, tt.severity)
		}
	}
}

func TestInterpret(t *testing.T) {
	tests := []struct {
		url   string
		score float64
		want  string
		kind  fhir.Kind
	}{
		{PHQ9URL, 4, "minimal", 0}, {PHQ9URL, 9, "mild", 0}, {PHQ9URL, 14, "moderate", 0}, {PHQ9URL, 19, "moderately severe", 0},
		{PHQ9URL, 20, "severe", 0}, {PHQ9URL, 28, "", fhir.KindInvalid}, {PHQ9URL, -1, "", fhir.KindInvalid}, {PHQ9URL, 4.5, "", fhir.KindInvalid},
		{GAD7URL, 21, "severe", 0}, {GAD7URL, 22, "", fhir.KindInvalid}, {"https://other", 3, "", fhir.KindNotFound},
	}
	for _, tt := range tests {
		got, err := Interpret(tt.url, tt.score)
		if got != tt.want || (tt.kind != 0 && !fhir.IsKind(err, tt.kind)) || (tt.kind == 0 && err != nil) {
			t.Errorf("Interpret(%s, %v): got %q %v, want %q", tt.url, tt.score, got, err, tt.want)
		}
	}
}

func TestIntake(t *testing.T) {
	q := load(t, "intake")
	sct := func(code string) Value { return Code("http://snomed.info/sct", code) }
	base := func() Answers {
		return Answers{
			"weight":        {{Kind: "quantity", Quantity: datatype.Quantity{Value: 70, Unit: "kg", System: datatype.UCUM, Code: "kg"}}},
			"has-allergies": {Bool(false)},
			"smoking":       {sct("266919005")},
		}
	}
	tests := []struct {
		name    string
		change  func(Answers)
		issues  []string // linkIds with issues
		enabled map[string]bool
	}{
		{"minimal complete", func(Answers) {}, nil, map[string]bool{"allergies": false, "quit-date": false, "advice": false, "diastolic": false}},
		{"allergy required when yes", func(a Answers) { a["has-allergies"] = []Value{Bool(true)} }, []string{"allergies"}, map[string]bool{"allergies": true}},
		{"allergies repeat", func(a Answers) {
			a["has-allergies"] = []Value{Bool(true)}
			a["allergies"] = []Value{String("penicillin: rash"), String("codeine: vomiting")}
		}, nil, nil},
		{"allergies dropped when no", func(a Answers) { a["allergies"] = []Value{String("penicillin")} }, nil, map[string]bool{"allergies": false}},
		{"too long", func(a Answers) {
			a["has-allergies"] = []Value{Bool(true)}
			a["allergies"] = []Value{String(strings.Repeat("x", 201))}
		}, []string{"allergies"}, nil},
		{"ex-smoker asks the date", func(a Answers) { a["smoking"] = []Value{sct("8517006")}; a["quit-date"] = []Value{Date("2019-06")} }, nil, map[string]bool{"quit-date": true, "advice": false}},
		{"smoker gets advice (any)", func(a Answers) { a["smoking"] = []Value{sct("77176002")} }, nil, map[string]bool{"advice": true}},
		{"drinker gets advice (any)", func(a Answers) { a["alcohol"] = []Value{Integer(20)} }, nil, map[string]bool{"advice": true}},
		{"14 drinks is not above 14", func(a Answers) { a["alcohol"] = []Value{Integer(14)} }, nil, map[string]bool{"advice": false}},
		{"smoking not in the value set", func(a Answers) { a["smoking"] = []Value{sct("12345")} }, []string{"smoking"}, nil},
		{"smoking required", func(a Answers) { delete(a, "smoking") }, []string{"smoking"}, nil},
		{"conditions repeat with free text", func(a Answers) {
			a["conditions"] = []Value{sct("73211009"), sct("195967001"), String("gout")}
		}, nil, nil},
		{"condition code not offered", func(a Answers) { a["conditions"] = []Value{sct("999")} }, []string{"conditions"}, nil},
		{"diastolic after systolic", func(a Answers) { a["systolic"] = []Value{Integer(120)}; a["diastolic"] = []Value{Integer(80)} }, nil, map[string]bool{"diastolic": true}},
		{"two answers to a single item", func(a Answers) { a["alcohol"] = []Value{Integer(1), Integer(2)} }, []string{"alcohol"}, nil},
		{"wrong type", func(a Answers) { a["alcohol"] = []Value{String("a few")} }, []string{"alcohol"}, nil},
		{"fraction for an integer", func(a Answers) { a["alcohol"] = []Value{{Kind: "integer", Number: 2.5}} }, []string{"alcohol"}, nil},
		{"answer to a group", func(a Answers) { a["history"] = []Value{String("x")} }, []string{"history"}, nil},
		{"answer to a display", func(a Answers) { a["smoking"] = []Value{sct("77176002")}; a["advice"] = []Value{String("x")} }, []string{"advice"}, nil},
		{"unknown linkId", func(a Answers) { a["shoe-size"] = []Value{Integer(42)} }, []string{"shoe-size"}, nil},
		{"weight required", func(a Answers) { delete(a, "weight") }, []string{"weight"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base()
			tt.change(a)
			r := Evaluate(q, a)
			var got []string
			for _, is := range r.Issues {
				got = append(got, is.LinkID)
				if is.Message == "" {
					t.Errorf("issue without a message: %+v", is)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.issues, ",") {
				t.Errorf("issues: got %v, want %v", r.Issues, tt.issues)
			}
			for link, want := range tt.enabled {
				if r.Enabled[link] != want {
					t.Errorf("%s enabled: got %v, want %v", link, r.Enabled[link], want)
				}
			}
		})
	}
	r := Evaluate(q, Answers{"weight": {{Kind: "quantity", Quantity: datatype.Quantity{Value: 70, Code: "kg"}}},
		"has-allergies": {Bool(true)}, "allergies": {String("penicillin")}, "smoking": {Code("http://snomed.info/sct", "8517006")}})
	r.Answers["last-visit"] = nil
	r2 := Evaluate(q, Answers{"last-visit": {Date("2026-10")}})
	if got := r2.Answers["last-visit"][0]; got.Kind != "dateTime" || got.Text != "2026-10" {
		t.Errorf("a partial date for a dateTime item: got %+v, want it as dateTime", got)
	}
	js := string(Response(q, r, ResponseInfo{}).JSON())
	for _, w := range []string{`"linkId":"vitals"`, `"valueQuantity":{"code":"kg","value":70}`, `"valueBoolean":true`,
		`"valueString":"penicillin"`, `"valueCoding":{"code":"8517006","display":"Ex-smoker","system":"http://snomed.info/sct"}`} {
		if !strings.Contains(js, w) {
			t.Errorf("response lacks %s:\n%s", w, js)
		}
	}
}

// operatorForm builds a questionnaire with one source question of type typ
// and a target enabled by source <op> answer.
func operatorForm(typ, op, answer string) string {
	return `{"resourceType":"Questionnaire","item":[{"linkId":"s","type":"` + typ + `","repeats":true},
	 {"linkId":"t","type":"string","enableWhen":[{"question":"s","operator":"` + op + `",` + answer + `}]}]}`
}

func TestEnableWhenOperators(t *testing.T) {
	tests := []struct {
		typ, op, answer string
		given           []Value
		want            bool
	}{
		{"integer", "exists", `"answerBoolean":true`, []Value{Integer(1)}, true},
		{"integer", "exists", `"answerBoolean":true`, nil, false},
		{"integer", "exists", `"answerBoolean":false`, nil, true},
		{"integer", "exists", `"answerBoolean":false`, []Value{Integer(1)}, false},
		{"integer", "=", `"answerInteger":3`, []Value{Integer(3)}, true},
		{"integer", "=", `"answerInteger":3`, []Value{Integer(4)}, false},
		{"integer", "=", `"answerInteger":3`, nil, false},
		{"integer", "!=", `"answerInteger":3`, []Value{Integer(4)}, true},
		{"integer", "!=", `"answerInteger":3`, []Value{Integer(3)}, false},
		{"integer", "!=", `"answerInteger":3`, nil, false},
		{"integer", ">", `"answerInteger":3`, []Value{Integer(4)}, true},
		{"integer", ">", `"answerInteger":3`, []Value{Integer(3)}, false},
		{"integer", ">=", `"answerInteger":3`, []Value{Integer(3)}, true},
		{"integer", "<", `"answerInteger":3`, []Value{Integer(2)}, true},
		{"integer", "<=", `"answerInteger":3`, []Value{Integer(4)}, false},
		{"integer", ">", `"answerInteger":3`, []Value{Integer(1), Integer(5)}, true},
		{"decimal", ">", `"answerDecimal":37.5`, []Value{Decimal(38.1)}, true},
		{"decimal", "=", `"answerDecimal":2`, []Value{Integer(2)}, true},
		{"dateTime", "=", `"answerDateTime":"2020-01"`, []Value{Date("2020-01")}, true},
		{"date", ">", `"answerDate":"2020-01-01"`, []Value{Date("2021-03-04")}, true},
		{"date", "<", `"answerDate":"2020-01-01"`, []Value{Date("2021")}, false},
		{"dateTime", ">=", `"answerDateTime":"2020-01-01T10:00:00Z"`, []Value{{Kind: "dateTime", Text: "2020-01-01T11:00:00+00:00"}}, true},
		{"string", "=", `"answerString":"yes"`, []Value{String("yes")}, true},
		{"string", "<", `"answerString":"b"`, []Value{String("a")}, true},
		{"boolean", "=", `"answerBoolean":true`, []Value{Bool(true)}, true},
		{"boolean", ">", `"answerBoolean":false`, []Value{Bool(true)}, false},
		{"coding", "=", `"answerCoding":{"system":"http://x","code":"a"}`, []Value{Code("http://x", "a")}, true},
		{"coding", "=", `"answerCoding":{"system":"http://x","code":"a"}`, []Value{Code("http://y", "a")}, false},
		{"coding", "=", `"answerCoding":{"code":"a"}`, []Value{Code("http://y", "a")}, true},
		{"coding", "!=", `"answerCoding":{"system":"http://x","code":"a"}`, []Value{Code("http://x", "a"), Code("http://x", "b")}, true},
		{"coding", ">", `"answerCoding":{"system":"http://x","code":"a"}`, []Value{Code("http://x", "b")}, false},
		{"quantity", ">", `"answerQuantity":{"value":100,"code":"kg"}`, []Value{{Kind: "quantity", Quantity: datatype.Quantity{Value: 120, Code: "kg"}}}, true},
		{"quantity", ">", `"answerQuantity":{"value":100,"code":"kg"}`, []Value{{Kind: "quantity", Quantity: datatype.Quantity{Value: 120, Code: "[lb_av]"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.op+" "+tt.answer, func(t *testing.T) {
			q := parseJSON(t, operatorForm(tt.typ, tt.op, tt.answer))
			r := Evaluate(q, Answers{"s": tt.given})
			if r.Enabled["t"] != tt.want {
				t.Errorf("got %v, want %v", r.Enabled["t"], tt.want)
			}
		})
	}
}

func TestEnableCascade(t *testing.T) {
	// c depends on b, which depends on a; a group's children follow it.
	q := parseJSON(t, `{"resourceType":"Questionnaire","item":[
	 {"linkId":"a","type":"boolean"},
	 {"linkId":"b","type":"boolean","enableWhen":[{"question":"a","operator":"=","answerBoolean":true}]},
	 {"linkId":"c","type":"string","required":true,"enableWhen":[{"question":"b","operator":"=","answerBoolean":true}]},
	 {"linkId":"g","type":"group","required":true,"enableWhen":[{"question":"a","operator":"exists","answerBoolean":true}],"item":[{"linkId":"g1","type":"string"}]},
	 {"linkId":"both","type":"display","enableWhen":[{"question":"a","operator":"=","answerBoolean":true},{"question":"b","operator":"=","answerBoolean":true}]}]}`)
	r := Evaluate(q, Answers{"a": {Bool(false)}, "b": {Bool(true)}, "c": {String("kept?")}})
	if r.Enabled["b"] || r.Enabled["c"] || r.Enabled["both"] {
		t.Errorf("b, c and both must be disabled: %v", r.Enabled)
	}
	if _, ok := r.Answers["c"]; ok {
		t.Error("the answer of a disabled item must be dropped")
	}
	if len(r.Issues) != 1 || r.Issues[0].LinkID != "g" {
		t.Errorf("issues: got %v, want the required group g", r.Issues)
	}
	r = Evaluate(q, Answers{"a": {Bool(true)}, "b": {Bool(true)}, "c": {String("x")}, "g1": {String("y")}})
	if !r.Enabled["c"] || !r.Enabled["both"] || !r.Complete() {
		t.Errorf("got %v %v", r.Enabled, r.Issues)
	}
	q.Resource.SetID("cascade")
	js := string(Response(q, r, ResponseInfo{}).JSON())
	if !strings.Contains(js, `"questionnaire":"Questionnaire/cascade"`) {
		t.Errorf("a questionnaire without url is named by its id:\n%s", js)
	}
	if !strings.Contains(js, `{"item":[{"answer":[{"valueString":"y"}],"linkId":"g1"}],"linkId":"g"}`) {
		t.Errorf("the group must nest its answers:\n%s", js)
	}
}

func TestCalculatedFHIRPath(t *testing.T) {
	q := parseJSON(t, `{"resourceType":"Questionnaire","item":[
	 {"linkId":"a","type":"integer"},{"linkId":"b","type":"integer"},
	 {"linkId":"sum","type":"integer","readOnly":true,"extension":[{"url":"`+CalculatedExpression+`",
	  "valueExpression":{"language":"text/fhirpath","expression":"%resource.item.where(linkId='a').answer.value + %resource.item.where(linkId='b').answer.value"}}]},
	 {"linkId":"high","type":"display","enableWhen":[{"question":"sum","operator":">=","answerInteger":10}]},
	 {"linkId":"broken","type":"decimal","extension":[{"url":"`+CalculatedExpression+`","valueExpression":{"expression":"item.where("}}]}]}`)
	r := Evaluate(q, Answers{"a": {Integer(4)}, "b": {Integer(7)}, "sum": {Integer(99)}})
	if r.Scores["sum"] != 11 {
		t.Errorf("sum: got %v, want 11 (a typed value for a calculated item is ignored)", r.Scores["sum"])
	}
	if !r.Enabled["high"] {
		t.Error("an item enabled by a calculated score must be enabled")
	}
	if len(r.Issues) != 1 || r.Issues[0].LinkID != "broken" || !strings.Contains(r.Issues[0].Message, "cannot be done") {
		t.Errorf("issues: got %v, want the broken expression", r.Issues)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, json, path string
	}{
		{"no linkId", `{"resourceType":"Questionnaire","item":[{"type":"string"}]}`, "Questionnaire.item[0].linkId"},
		{"duplicate", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"string"},{"linkId":"a","type":"string"}]}`, "Questionnaire.item[1].linkId"},
		{"type", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"colour"}]}`, "Questionnaire.item[0].type"},
		{"unknown question", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"string","enableWhen":[{"question":"z","operator":"exists","answerBoolean":true}]}]}`, "Questionnaire.item[0].enableWhen[0].question"},
		{"operator", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"string","enableWhen":[{"question":"a","operator":"~","answerBoolean":true}]}]}`, "Questionnaire.item[0].enableWhen[0].operator"},
		{"no answer", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"string","enableWhen":[{"question":"a","operator":"="}]}]}`, "Questionnaire.item[0].enableWhen[0]"},
		{"exists needs boolean", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"string","enableWhen":[{"question":"a","operator":"exists","answerInteger":1}]}]}`, "Questionnaire.item[0].enableWhen[0]"},
		{"behavior", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"string","enableBehavior":"most"}]}`, "Questionnaire.item[0].enableBehavior"},
		{"external value set", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"coding","answerValueSet":"http://x/vs"}]}`, "Questionnaire.item[0].answerValueSet"},
		{"missing contained", `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"coding","answerValueSet":"#vs"}]}`, "Questionnaire.item[0].answerValueSet"},
		{"nested", `{"resourceType":"Questionnaire","item":[{"linkId":"g","type":"group","item":[{"linkId":"a"}]}]}`, "Questionnaire.item[0].item[0].type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := fhir.ParseResource([]byte(tt.json))
			_, err := Parse(r)
			fe, ok := err.(*fhir.Error)
			if !ok || fe.Kind != fhir.KindInvalid {
				t.Fatalf("got %v, want an invalid error", err)
			}
			if got := fe.Issues[0].Expression[0]; got != tt.path {
				t.Errorf("path: got %s, want %s (%v)", got, tt.path, err)
			}
		})
	}
	if _, err := Parse(fhir.Resource{"resourceType": "Patient"}); err == nil {
		t.Error("a Patient is not a Questionnaire")
	}
	// R4 choice and open-choice still read.
	q := parseJSON(t, `{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"open-choice","answerOption":[{"valueCoding":{"code":"x"}}]}]}`)
	if it := q.Item("a"); it.Type != "coding" || it.AnswerConstraint != "optionsOrString" {
		t.Errorf("open-choice: got %s %s", it.Type, it.AnswerConstraint)
	}
}

func TestForms(t *testing.T) {
	forms, err := Forms()
	if err != nil || len(forms) != 3 {
		t.Fatalf("got %d forms, %v", len(forms), err)
	}
	for _, f := range forms {
		if _, err := Parse(f); err != nil {
			t.Errorf("%s: %v", f.ID(), err)
		}
	}
	if _, err := Form("../model"); !fhir.IsKind(err, fhir.KindNotFound) {
		t.Errorf("got %v, want not found", err)
	}
}

func TestParseAnswer(t *testing.T) {
	q := load(t, "intake")
	phq := load(t, "phq-9")
	tests := []struct {
		item  *Item
		input string
		want  Value
		err   bool
	}{
		{q.Item("has-allergies"), "yes", Bool(true), false},
		{q.Item("has-allergies"), "No", Bool(false), false},
		{q.Item("has-allergies"), "maybe", Value{}, true},
		{q.Item("alcohol"), "12", Integer(12), false},
		{q.Item("alcohol"), "1.5", Value{}, true},
		{q.Item("alcohol"), "99999999999", Value{}, true},
		{q.Item("quit-date"), "2019-06-30", Date("2019-06-30"), false},
		{q.Item("quit-date"), "2019", Date("2019"), false},
		{q.Item("quit-date"), "2019-02-30", Value{}, true},
		{q.Item("quit-date"), "30/06/2019", Value{}, true},
		{q.Item("last-visit"), "2026-11-01T10:00:00+01:00", Value{Kind: "dateTime", Text: "2026-11-01T10:00:00+01:00"}, false},
		{q.Item("last-visit"), "2026-11", Date("2026-11"), false},
		{q.Item("last-visit"), "last week", Value{}, true},
		{q.Item("smoking"), "8517006", Code("http://snomed.info/sct", "8517006"), false},
		{q.Item("smoking"), "http://snomed.info/sct|77176002", Code("http://snomed.info/sct", "77176002"), false},
		{q.Item("smoking"), "http://loinc.org|77176002", Value{}, true},
		{q.Item("conditions"), "gout", String("gout"), false},
		{q.Item("weight"), "70 kg", Value{Kind: "quantity", Quantity: datatype.Quantity{Value: 70, Unit: "kg", System: datatype.UCUM, Code: "kg"}}, false},
		{q.Item("weight"), "heavy", Value{}, true},
		{q.Item("medicines"), "  metformin  ", String("metformin"), false},
		{q.Item("medicines"), "", Value{}, true},
		{q.Item("vitals"), "x", Value{}, true},
		{phq.Item("44250-9"), "LA6570-1", loinc("LA6570-1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.item.LinkID+" "+tt.input, func(t *testing.T) {
			got, err := ParseAnswer(tt.item, tt.input)
			if tt.err {
				if !fhir.IsKind(err, fhir.KindInvalid) {
					t.Fatalf("got %v %v, want an invalid error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.want.Kind || !equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{"yes", "12", "1.5", "2019-06-30", "2026-11-01T10:00:00Z", "10:30", "8517006", "http://snomed.info/sct|77176002", "70 kg", "1e999", "NaN", "-0"} {
		f.Add(s)
	}
	q := load(f, "intake")
	var items []*Item
	walk(q.Items, func(it *Item) { items = append(items, it) })
	f.Fuzz(func(t *testing.T, input string) {
		answers := Answers{}
		for _, it := range items {
			v, err := ParseAnswer(it, input)
			if err != nil {
				if !fhir.IsKind(err, fhir.KindInvalid) {
					t.Fatalf("%s %q: error of the wrong kind: %v", it.LinkID, input, err)
				}
				continue
			}
			answers[it.LinkID] = []Value{v}
		}
		r := Evaluate(q, answers)
		Response(q, r, ResponseInfo{}).JSON()
	})
}

func FuzzParse(f *testing.F) {
	// Small seeds: the fuzzer minimises every input that finds new code,
	// and minimising a whole shipped form (18 kB) takes it minutes.
	for _, s := range []string{
		operatorForm("integer", ">", `"answerInteger":3`),
		operatorForm("coding", "=", `"answerCoding":{"system":"http://x","code":"a"}`),
		`{"resourceType":"Questionnaire","contained":[{"resourceType":"ValueSet","id":"v","compose":{"include":[{"system":"s","concept":[{"code":"a"}]}]}}],` +
			`"item":[{"linkId":"a","type":"coding","answerValueSet":"#v","required":true},{"linkId":"g","type":"group","item":[{"linkId":"b","type":"integer",` +
			`"answerOption":[{"valueInteger":1,"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/itemWeight","valueDecimal":2}]}]}]},` +
			`{"linkId":"t","type":"integer","extension":[{"url":"` + CalculatedExpression + `","valueExpression":{"expression":"weight().sum()"}}]}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := fhir.ParseResource([]byte(s))
		if err != nil {
			return
		}
		q, err := Parse(r)
		if err != nil {
			return
		}
		res := Evaluate(q, Answers{})
		Response(q, res, ResponseInfo{})
	})
}
