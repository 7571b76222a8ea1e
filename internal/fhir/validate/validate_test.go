package validate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

var validator = New(spec.R5())

func parse(t testing.TB, s string) fhir.Resource {
	t.Helper()
	r, err := fhir.ParseResource([]byte(s))
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return r
}

func TestValid(t *testing.T) {
	tests := []string{
		`{"resourceType":"Patient"}`,
		`{"resourceType":"Patient","id":"a.b-1","name":[{"family":"Chalmers","given":["Peter","James"]}],"gender":"male","birthDate":"1974-12-25","active":true}`,
		`{"resourceType":"Patient","birthDate":"1974","_birthDate":{"extension":[{"url":"http://example.org/x","valueBoolean":true}]}}`,
		`{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"extension":[{"url":"http://x.org","valueString":"b"}]}]}]}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"},"subject":{"reference":"Patient/1"}}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2023-01-02T10:00:00+01:00","subject":{"reference":"urn:uuid:0a1b2c3d-0000-4000-8000-000000000000"}}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"http://example.org/fhir/Patient/1/_history/2"}}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"#p1"},"contained":[{"resourceType":"Patient","id":"p1"}]}`,
		`{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"group","item":[{"linkId":"1.1","type":"string"}]}]}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"x"}}]}`,
		`{"resourceType":"Patient","maritalStatus":{"coding":[{"system":"http://example.org/local","code":"whatever"}]}}`,
		`{"resourceType":"Basic","code":{"text":"x"},"extension":[{"url":"http://x.org/a","valueInteger64":"9007199254740993"}]}`,
	}
	for i, s := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if issues := validator.Validate(parse(t, s)); len(issues) > 0 {
				t.Errorf("got %v, want no issues", issues)
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name, json, expression, code string
	}{
		{"unknown resource", `{"resourceType":"Patientx"}`, "Patientx", "structure"},
		{"abstract resource", `{"resourceType":"DomainResource"}`, "DomainResource", "structure"},
		{"unknown element", `{"resourceType":"Patient","foo":1}`, "Patient.foo", "structure"},
		{"wrong choice suffix", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueFoo":1}`, "Observation.valueFoo", "structure"},
		{"two choices", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","valueBoolean":true}`, "", "structure"},
		{"missing required", `{"resourceType":"Observation","code":{"text":"x"}}`, "Observation.status", "required"},
		{"missing nested required", `{"resourceType":"Questionnaire","status":"draft","item":[{"type":"group"}]}`, "Questionnaire.item[0].linkId", "required"},
		{"array for single", `{"resourceType":"Patient","gender":["male"]}`, "Patient.gender", "structure"},
		{"single for array", `{"resourceType":"Patient","name":{"family":"x"}}`, "Patient.name", "structure"},
		{"empty array", `{"resourceType":"Patient","name":[]}`, "Patient.name", "structure"},
		{"empty object", `{"resourceType":"Patient","name":[{}]}`, "Patient.name[0]", "structure"},
		{"empty string", `{"resourceType":"Patient","name":[{"family":""}]}`, "Patient.name[0].family", "value"},
		{"null single", `{"resourceType":"Patient","gender":null}`, "Patient.gender", "structure"},
		{"null with _", `{"resourceType":"Patient","birthDate":null,"_birthDate":{"id":"a"}}`, "Patient.birthDate", "structure"},
		{"null _ array", `{"resourceType":"Patient","name":[{"given":["a"],"_given":null}]}`, "Patient.name[0].given", "structure"},
		{"null in array without _", `{"resourceType":"Patient","name":[{"given":["a",null]}]}`, "Patient.name[0].given[1]", "structure"},
		{"null in object array", `{"resourceType":"Patient","name":[null]}`, "Patient.name[0]", "structure"},
		{"misaligned _ array", `{"resourceType":"Patient","name":[{"given":["a"],"_given":[null,null]}]}`, "Patient.name[0].given", "structure"},
		{"_ on complex", `{"resourceType":"Patient","_name":[{"id":"x"}]}`, "Patient._name", "structure"},
		{"_ value key", `{"resourceType":"Patient","_birthDate":{"value":"x"}}`, "Patient.birthDate.value", "structure"},
		{"_ not object", `{"resourceType":"Patient","_birthDate":"x"}`, "Patient.birthDate", "structure"},
		{"string for object", `{"resourceType":"Patient","maritalStatus":"M"}`, "Patient.maritalStatus", "structure"},
		{"number for string", `{"resourceType":"Patient","name":[{"family":1}]}`, "Patient.name[0].family", "structure"},
		{"string for boolean", `{"resourceType":"Patient","active":"true"}`, "Patient.active", "structure"},
		{"string for decimal", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"1.5"}}`, "Observation.valueQuantity.value", "structure"},
		{"fraction for integer", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":1.5}`, "Observation.valueInteger", "value"},
		{"integer range", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":2147483648}`, "Observation.valueInteger", "value"},
		{"positiveInt zero", `{"resourceType":"Patient","multipleBirthInteger":0,"contact":[{"name":{"text":"x"}}]}`, "", ""},
		{"unsignedInt negative", `{"resourceType":"ImagingStudy","status":"available","subject":{"reference":"Patient/1"},"numberOfSeries":-1}`, "ImagingStudy.numberOfSeries", "value"},
		{"integer64 as number", `{"resourceType":"Basic","code":{"text":"x"},"extension":[{"url":"http://x.org/a","valueInteger64":5}]}`, "Basic.extension[0].valueInteger64", "structure"},
		{"bad id", `{"resourceType":"Patient","id":"a_b"}`, "Patient.id", "value"},
		{"long id", `{"resourceType":"Patient","id":"` + strings.Repeat("a", 65) + `"}`, "Patient.id", "value"},
		{"bad date", `{"resourceType":"Patient","birthDate":"1974-13-01"}`, "Patient.birthDate", "value"},
		{"impossible date", `{"resourceType":"Patient","birthDate":"2023-02-30"}`, "Patient.birthDate", "value"},
		{"dateTime without zone", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2023-01-02T10:00:00"}`, "Observation.effectiveDateTime", "value"},
		{"instant without zone", `{"resourceType":"Patient","meta":{"lastUpdated":"2023-01-02T10:00:00"}}`, "Patient.meta.lastUpdated", "value"},
		{"bad time", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueTime":"25:00:00"}`, "Observation.valueTime", "value"},
		{"code whitespace", `{"resourceType":"Patient","gender":" male"}`, "Patient.gender", "value"},
		{"code not in value set", `{"resourceType":"Patient","gender":"man"}`, "Patient.gender", "code-invalid"},
		{"coding not in value set", `{"resourceType":"Patient","contact":[{"gender":"x","name":{"text":"a"}}]}`, "Patient.contact[0].gender", "code-invalid"},
		{"codeable concept in required set", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","dataAbsentReason":{"text":"x"},"triggeredBy":[{"observation":{"reference":"Observation/1"},"type":"nope"}]}`, "Observation.triggeredBy[0].type", "code-invalid"},
		{"uri with space", `{"resourceType":"Patient","identifier":[{"system":"http://a b"}]}`, "Patient.identifier[0].system", "value"},
		{"bad oid", `{"resourceType":"Patient","identifier":[{"system":"urn:oid:9.1"}],"extension":[{"url":"http://x.org","valueOid":"urn:oid:9.1"}]}`, "Patient.extension[0].valueOid", "value"},
		{"bad uuid", `{"resourceType":"Patient","extension":[{"url":"http://x.org","valueUuid":"urn:uuid:XYZ"}]}`, "Patient.extension[0].valueUuid", "value"},
		{"bad base64", `{"resourceType":"Patient","photo":[{"data":"abc"}]}`, "Patient.photo[0].data", "value"},
		{"control char", `{"resourceType":"Patient","name":[{"family":"a\u0001b"}]}`, "Patient.name[0].family", "value"},
		{"extension without url", `{"resourceType":"Patient","extension":[{"valueString":"a"}]}`, "Patient.extension[0].url", "required"},
		{"bad reference", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/a b"}}`, "Observation.subject.reference", "invalid"},
		{"bare id reference", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"123"}}`, "Observation.subject.reference", "invalid"},
		{"reference target", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Observation/1"}}`, "Observation.subject.reference", "invalid"},
		{"reference unknown type", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Foo/1"}}`, "Observation.subject.reference", "invalid"},
		{"reference type element", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"type":"Observation","display":"x"}}`, "Observation.subject.type", "invalid"},
		{"codeable reference target", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"evidence":[{"reference":{"reference":"Patient/2"}}],"clinicalStatus":{"text":"a"}}`, "", ""},
		{"contained bad", `{"resourceType":"Patient","contained":[{"resourceType":"Observation","status":"nope","code":{"text":"x"}}]}`, "Patient.contained[0].status", "code-invalid"},
		{"contained no resourceType", `{"resourceType":"Patient","contained":[{"id":"x"}]}`, "Patient.contained[0]", "structure"},
		{"nested contained", `{"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"x","contained":[{"resourceType":"Patient","id":"y"}]}]}`, "Patient.contained[0]", "invariant"},
		{"bundle entry", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","gender":"x"}}]}`, "Bundle.entry[0].resource.gender", "code-invalid"},
		{"parameters resource", `{"resourceType":"Parameters","parameter":[{"name":"a","resource":{"resourceType":"Patient","foo":1}}]}`, "Parameters.parameter[0].resource.foo", "structure"},
		{"backbone unknown", `{"resourceType":"Patient","contact":[{"foo":"x"}]}`, "Patient.contact[0].foo", "structure"},
		{"contentReference", `{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"group","item":[{"linkId":"2","type":"string","bogus":1}]}]}`, "Questionnaire.item[0].item[0].bogus", "structure"},
		{"narrative not xhtml", `{"resourceType":"Patient","text":{"status":"generated","div":"<p>x</p>"}}`, "Patient.text.div", "value"},
		{"narrative script", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>"}}`, "Patient.text.div", "value"},
		{"narrative onclick", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a onclick=\"x()\">a</a></div>"}}`, "Patient.text.div", "value"},
		{"narrative malformed", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><b>x</div>"}}`, "Patient.text.div", "value"},
		{"too many", `{"resourceType":"Patient","link":[{"other":{"reference":"Patient/1"},"type":"seealso"}],"contact":[{"name":{"text":"a"}}],"photo":[{"contentType":"image/png"}],"communication":[{"language":{"text":"en"}}]}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issues := validator.Validate(parse(t, tt.json))
			if tt.code == "" {
				if len(issues) > 0 {
					t.Errorf("got %v, want none", issues)
				}
				return
			}
			for _, is := range issues {
				if is.Code == tt.code && is.Severity == "error" && (tt.expression == "" || slices.Contains(is.Expression, tt.expression)) {
					return
				}
			}
			t.Errorf("got %v, want %s at %s", issues, tt.code, tt.expression)
		})
	}
}

func TestNoMutation(t *testing.T) {
	r := parse(t, `{"resourceType":"Patient","_birthDate":{"value":"x","id":"a"}}`)
	before := string(r.JSON())
	validator.Validate(r)
	if after := string(r.JSON()); after != before {
		t.Errorf("Validate changed the resource: %s -> %s", before, after)
	}
}

const patientJSON = `{"resourceType":"Patient","id":"example","meta":{"versionId":"1","lastUpdated":"2023-01-02T10:00:00Z"},
"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Peter Chalmers</div>"},
"identifier":[{"use":"usual","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:oid:1.2.36.146.595.217.0.1","value":"12345","period":{"start":"2001-05-06"},"assigner":{"display":"Acme Healthcare"}}],
"active":true,"name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jim"]}],
"telecom":[{"system":"phone","value":"(03) 5555 6473","use":"work","rank":1}],"gender":"male","birthDate":"1974-12-25",
"_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]},
"deceasedBoolean":false,"address":[{"use":"home","type":"both","text":"534 Erewhon St PeasantVille, Rainbow, Vic  3999","line":["534 Erewhon St"],"city":"PleasantVille","district":"Rainbow","state":"Vic","postalCode":"3999","period":{"start":"1974-12-25"}}],
"contact":[{"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"N"}]}],"name":{"family":"du Marché","given":["Bénédicte"]},"telecom":[{"system":"phone","value":"+33 (237) 998327"}],"gender":"female"}],
"managingOrganization":{"reference":"Organization/1"}}`

func BenchmarkValidatePatient(b *testing.B) {
	r := parse(b, patientJSON)
	if issues := validator.Validate(r); len(issues) > 0 {
		b.Fatal(issues)
	}
	b.ReportAllocs()
	for b.Loop() {
		validator.Validate(r)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(patientJSON))
	f.Add([]byte(`{"resourceType":"Observation","valueQuantity":{"value":1},"_status":[null]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","contained":[{}]}}]}`))
	f.Add([]byte(`{"resourceType":"Patient","name":[{"given":[null],"_given":[null]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := fhir.ParseResource(data)
		if err != nil {
			return
		}
		validator.Validate(r)
	})
}

// TestConcurrent validates at once from several goroutines, which share
// the pooled walkers: each gets the issues a lone validation gives, paths
// of failed invariants included.
func TestConcurrent(t *testing.T) {
	v := New(spec.R5(), WithInvariants(NewFHIRPathInvariants(spec.R5())))
	inputs := []string{patientJSON,
		`{"resourceType":"Encounter","status":"planned","class":[{"coding":[{"display":"x"}]}],
		  "actualPeriod":{"start":"2020-01-02T00:00:00Z","end":"2020-01-01T00:00:00Z"},"identifier":[{"system":"http://x.org"}]}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1,"code":"mg"},"dataAbsentReason":{"text":"x"}}`,
	}
	want := make([]string, len(inputs))
	for i, in := range inputs {
		want[i] = fmt.Sprint(v.Validate(parse(t, in)))
	}
	if want[1] == "[]" || want[2] == "[]" {
		t.Fatalf("the invalid inputs gave no issues: %v", want)
	}
	done := make(chan bool)
	for g := range 4 {
		go func() {
			defer func() { done <- true }()
			for k := range 30 {
				i := (g + k) % len(inputs)
				if got := fmt.Sprint(v.Validate(parse(t, inputs[i]))); got != want[i] {
					t.Errorf("input %d: %s, alone %s", i, got, want[i])
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
