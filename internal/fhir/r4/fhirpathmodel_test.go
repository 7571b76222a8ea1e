package r4

import "testing"

// TestFHIRPathModel checks the R4 answers where R4 and R5 differ, and the
// R5 fallback for what the R4 table leaves out.
func TestFHIRPathModel(t *testing.T) {
	m := FHIRPathModel()
	cases := []struct {
		parent, name string
		typ          string
		choice, ok   bool
		repeats      bool
	}{
		{"Encounter", "class", "Coding", false, true, false},  // R5: CodeableConcept, repeating
		{"Encounter", "period", "Period", false, true, false}, // R5: actualPeriod
		{"Encounter", "hospitalization", "Encounter.hospitalization", false, true, false},
		{"Encounter.hospitalization", "admitSource", "CodeableConcept", false, true, false},
		{"Encounter", "identifier", "Identifier", false, true, true},
		{"Encounter", "extension", "Extension", false, true, true},
		{"Procedure", "performed", "", true, true, false},
		{"Questionnaire.item", "item", "Questionnaire.item", false, true, true},
		{"Encounter", "actualPeriod", "", false, false, false},
	}
	for _, c := range cases {
		typ, choice, ok := m.ChildType(c.parent, c.name)
		if typ != c.typ || choice != c.choice || ok != c.ok {
			t.Errorf("ChildType(%s, %s) = %q, %v, %v; want %q, %v, %v", c.parent, c.name, typ, choice, ok, c.typ, c.choice, c.ok)
		}
		if got := m.Repeats(c.parent, c.name); got != c.repeats {
			t.Errorf("Repeats(%s, %s) = %v, want %v", c.parent, c.name, got, c.repeats)
		}
	}
	if got := m.BaseType("Encounter.hospitalization"); got != "BackboneElement" {
		t.Errorf("BaseType(Encounter.hospitalization) = %q, want BackboneElement", got)
	}
	if got := m.BaseType("Encounter"); got != "DomainResource" {
		t.Errorf("BaseType(Encounter) = %q, want DomainResource", got)
	}
}
