package spec

import (
	"bytes"
	"testing"
)

func TestElementLookups(t *testing.T) {
	d := R5()
	tests := []struct {
		typ, path string
		wantType  string // first type code
		wantMin   int
		wantMax   int
	}{
		{"Patient", "Patient.name", "HumanName", 0, -1},
		{"Patient", "Patient.id", "id", 0, 1},
		{"Patient", "Patient.text", "Narrative", 0, 1},
		{"Patient", "Patient.extension", "Extension", 0, -1},
		{"Patient", "Patient.contact.modifierExtension", "Extension", 0, -1},
		{"Patient", "Patient.name.given", "string", 0, -1},
		{"Observation", "Observation.value[x]", "Quantity", 0, 1},
		{"Observation", "Observation.valueQuantity", "Quantity", 0, 1},
		{"Observation", "Observation.component.value[x]", "Quantity", 0, 1},
		{"Observation", "Observation.status", "code", 1, 1},
		{"Questionnaire", "Questionnaire.item.item", "", 0, -1},
		{"Questionnaire", "Questionnaire.item.item.linkId", "string", 1, 1},
		{"Questionnaire", "Questionnaire.item.item.item.answerOption.value[x]", "integer", 1, 1},
		{"Bundle", "Bundle.entry.resource", "Resource", 0, 1},
		{"Extension", "Extension.url", "uri", 1, 1},
		{"string", "string.value", "http://hl7.org/fhirpath/System.String", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			e := d.Element(tt.typ, tt.path)
			if e == nil {
				t.Fatalf("Element(%s, %s) = nil", tt.typ, tt.path)
			}
			got := ""
			if len(e.Types) > 0 {
				got = e.Types[0].Code
			}
			if got != tt.wantType || e.Min != tt.wantMin || e.Max != tt.wantMax {
				t.Errorf("got %s %d..%d, want %s %d..%d", got, e.Min, e.Max, tt.wantType, tt.wantMin, tt.wantMax)
			}
		})
	}
	for _, bad := range []string{"Patient.nope", "Observation.valueFoo", "Nope.id", "Patient.name.nope"} {
		if e := d.Element(firstSegment(bad), bad); e != nil {
			t.Errorf("Element(%s) = %s, want nil", bad, e.Path)
		}
	}
}

func firstSegment(p string) string {
	for i := range p {
		if p[i] == '.' {
			return p[:i]
		}
	}
	return p
}

func TestChildType(t *testing.T) {
	d := R5()
	tests := []struct {
		typ, parent, name string
		wantElement       string
		wantType          string
		wantNext          [2]string
		choice, ext, list bool
	}{
		{"Observation", "Observation", "valueQuantity", "Observation.value[x]", "Quantity", [2]string{"Quantity", "Quantity"}, true, false, false},
		{"Observation", "Observation", "_valueString", "Observation.value[x]", "string", [2]string{"string", "string"}, true, true, false},
		{"Observation", "Observation", "component", "Observation.component", "BackboneElement", [2]string{"Observation", "Observation.component"}, false, false, true},
		{"Patient", "Patient", "_birthDate", "Patient.birthDate", "date", [2]string{"date", "date"}, false, true, false},
		{"Patient", "Patient", "meta", "Patient.meta", "Meta", [2]string{"Meta", "Meta"}, false, false, false},
		{"Questionnaire", "Questionnaire.item", "item", "Questionnaire.item.item", "BackboneElement", [2]string{"Questionnaire", "Questionnaire.item"}, false, false, true},
		{"Timing", "Timing", "repeat", "Timing.repeat", "Element", [2]string{"Timing", "Timing.repeat"}, false, false, false},
		{"HumanName", "HumanName", "given", "HumanName.given", "string", [2]string{"string", "string"}, false, false, true},
		{"Bundle", "Bundle.entry", "resource", "Bundle.entry.resource", "Resource", [2]string{"Resource", "Resource"}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.name, func(t *testing.T) {
			c, ok := d.ChildType(tt.typ, tt.parent, tt.name)
			if !ok {
				t.Fatal("not found")
			}
			if c.Element.Path != tt.wantElement || c.Type != tt.wantType || c.TypeName != tt.wantNext[0] || c.Path != tt.wantNext[1] ||
				c.Choice != tt.choice || c.Extension != tt.ext || c.IsList() != tt.list {
				t.Errorf("got %s %s next (%s,%s) choice=%v ext=%v list=%v", c.Element.Path, c.Type, c.TypeName, c.Path, c.Choice, c.Extension, c.IsList())
			}
		})
	}
	for _, name := range []string{"valueFoo", "value", "value[x]", "nope", "_"} {
		if c, ok := d.ChildType("Observation", "Observation", name); ok {
			t.Errorf("ChildType(Observation, %s) = %s, want not found", name, c.Element.Path)
		}
	}
}

func TestTypes(t *testing.T) {
	d := R5()
	for _, name := range []string{"Resource", "DomainResource", "BackboneElement", "Element", "Patient", "HumanName", "string"} {
		if d.Types[name] == nil {
			t.Errorf("Types[%s] missing", name)
		}
	}
	if p := d.Types["Patient"]; p.Kind != "resource" || p.Base != "DomainResource" || p.Abstract {
		t.Errorf("Patient = %+v", p)
	}
	if !d.IsResource("Patient") || d.IsResource("HumanName") || !d.IsPrimitive("date") {
		t.Error("IsResource/IsPrimitive wrong")
	}
	if !d.IsA("Patient", "Resource") || d.IsA("Patient", "Element") {
		t.Error("IsA wrong")
	}
	if r := d.Types["date"].Regex; r == "" {
		t.Error("date has no regex")
	}
	if n := len(d.Children("Patient", "Patient.contact")); n < 8 {
		t.Errorf("Children(Patient.contact) = %d elements", n)
	}
	if n := len(d.Children("Questionnaire", "Questionnaire.item.item")); n < 10 {
		t.Errorf("Children(Questionnaire.item.item) = %d elements", n)
	}
	if c := d.Children("Patient", "Patient.name"); len(c) == 0 || c[0].Path != "HumanName.id" {
		t.Errorf("Children(Patient.name) = %v", c)
	}
	var constrained bool
	for _, c := range d.Types["Patient"].Elements[0].Constraints {
		if c.Key == "dom-2" && c.Expression != "" && c.Severity == "error" {
			constrained = true
		}
	}
	if !constrained {
		t.Error("Patient root lacks dom-2")
	}
	if b := d.Element("Patient", "Patient.gender").Binding; b == nil || b.Strength != "required" || b.ValueSet != "http://hl7.org/fhir/ValueSet/administrative-gender" {
		t.Errorf("Patient.gender binding = %+v", b)
	}
	if tr := d.Element("Observation", "Observation.subject").Types[0]; len(tr.Targets) < 4 || tr.Targets[0] != "Patient" {
		t.Errorf("Observation.subject targets = %v", tr.Targets)
	}
}

func TestSearchAndCompartments(t *testing.T) {
	d := R5()
	if n := len(d.SearchParams); n < 1200 {
		t.Errorf("%d search parameters", n)
	}
	sp := d.SearchParamsFor("Patient")
	if sp["name"] == nil || sp["name"].Type != "string" || sp["name"].Expression != "Patient.name" {
		t.Errorf("Patient name = %+v", sp["name"])
	}
	for _, code := range []string{"_id", "_lastUpdated", "_tag", "_text", "birthdate", "identifier"} {
		if sp[code] == nil {
			t.Errorf("Patient has no %s", code)
		}
	}
	if c := d.SearchParamsFor("Observation")["code-value-quantity"]; c == nil || c.Type != "composite" || len(c.Component) != 2 {
		t.Errorf("code-value-quantity = %+v", c)
	}
	pc := d.Compartments["Patient"]
	if pc == nil {
		t.Fatal("no Patient compartment")
	}
	if p := pc.Params("Observation"); len(p) == 0 {
		t.Error("Observation not in the Patient compartment")
	}
	if len(d.Compartments) != 5 {
		t.Errorf("%d compartments", len(d.Compartments))
	}
}

func TestValueSets(t *testing.T) {
	d := R5()
	tests := []struct {
		url, system, code string
		found, enumerable bool
	}{
		{"http://hl7.org/fhir/ValueSet/administrative-gender", "", "female", true, true},
		{"http://hl7.org/fhir/ValueSet/administrative-gender|5.0.0", "http://hl7.org/fhir/administrative-gender", "male", true, true},
		{"http://hl7.org/fhir/ValueSet/administrative-gender", "", "F", false, true},
		{"http://hl7.org/fhir/ValueSet/observation-status", "", "final", true, true},
		{"http://hl7.org/fhir/ValueSet/all-languages", "", "en", false, false},
		{"http://hl7.org/fhir/ValueSet/mimetypes", "", "text/plain", false, false},
		{"http://example.org/nope", "", "x", false, false},
	}
	for _, tt := range tests {
		found, enum := d.ValueSet(tt.url).Contains(tt.system, tt.code)
		if found != tt.found || enum != tt.enumerable {
			t.Errorf("%s %s|%s: got %v,%v want %v,%v", tt.url, tt.system, tt.code, found, enum, tt.found, tt.enumerable)
		}
	}
	if c := d.CodeSystem("http://hl7.org/fhir/administrative-gender").Lookup("female"); c == nil || c.Display != "Female" {
		t.Errorf("female = %+v", c)
	}
}

func TestLoadCorrupt(t *testing.T) {
	if _, err := Load(bytes.NewReader([]byte("not gzip"))); err == nil {
		t.Error("Load accepted garbage")
	}
}

func BenchmarkLoad(b *testing.B) {
	b.ReportMetric(float64(len(embedded)), "embed-bytes")
	for b.Loop() {
		if _, err := Load(bytes.NewReader(embedded)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFHIRPathModel(t *testing.T) {
	m := R5().FHIRPathModel()
	tests := []struct {
		parent, name, typ string
		choice, ok        bool
	}{
		{"Patient", "name", "HumanName", false, true},
		{"Patient", "contact", "Patient.contact", false, true},
		{"Patient.contact", "name", "HumanName", false, true},
		{"Observation", "value", "", true, true},
		{"Questionnaire.item", "item", "Questionnaire.item", false, true},
		{"Timing", "repeat", "Timing.repeat", false, true},
		{"string", "value", "System.String", false, true},
		{"Patient", "id", "id", false, true},
		{"Patient", "nope", "", false, false},
		{"Nope", "id", "", false, false},
	}
	for _, tt := range tests {
		typ, choice, ok := m.ChildType(tt.parent, tt.name)
		if typ != tt.typ || choice != tt.choice || ok != tt.ok {
			t.Errorf("ChildType(%s, %s) = %q %v %v, want %q %v %v", tt.parent, tt.name, typ, choice, ok, tt.typ, tt.choice, tt.ok)
		}
	}
	for in, want := range map[string]string{"Patient": "DomainResource", "Age": "Quantity", "Patient.contact": "BackboneElement",
		"Timing.repeat": "Element", "Questionnaire.item.item": "BackboneElement", "Base": "", "Nope": ""} {
		if got := m.BaseType(in); got != want {
			t.Errorf("BaseType(%s) = %q, want %q", in, got, want)
		}
	}
	if !m.IsList("Patient", "name") || m.IsList("Patient", "gender") {
		t.Error("IsList wrong")
	}
	if ct := m.ChoiceTypes("Observation", "value"); len(ct) < 5 || ct[0] != "Quantity" {
		t.Errorf("ChoiceTypes = %v", ct)
	}
}
