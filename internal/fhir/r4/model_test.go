package r4

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestR4TableProvenance holds the embedded table to the checksum that
// PROVENANCE.md records, so that a regenerated table comes with its record.
func TestR4TableProvenance(t *testing.T) {
	doc, err := os.ReadFile("PROVENANCE.md")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(r4Elements)
	if got := hex.EncodeToString(sum[:]); !strings.Contains(string(doc), got) {
		t.Errorf("r4elements.txt.gz has sha256 %s, which PROVENANCE.md does not record", got)
	}
}

func TestR4Table(t *testing.T) {
	m := r4Model()
	tests := []struct {
		path  string
		types []string
		list  bool
	}{
		{"Encounter.class", []string{"Coding"}, false},
		{"Encounter.hospitalization", []string{"BackboneElement"}, false},
		{"Procedure.performed[x]", []string{"dateTime", "Period", "string", "Age", "Range"}, false},
		{"Patient.name", []string{"HumanName"}, true},
		{"HumanName.given", []string{"string"}, true},
		{"Extension.url", []string{"uri"}, false},
	}
	for _, tt := range tests {
		e, ok := m.lookup(tt.path)
		if !ok {
			t.Errorf("%s: not in the R4 table", tt.path)
			continue
		}
		if !slices.Equal(e.types, tt.types) || e.list != tt.list {
			t.Errorf("%s: got types %v list %v, want %v %v", tt.path, e.types, e.list, tt.types, tt.list)
		}
	}
	if e, _, ok := m.child("Procedure", "performedPeriod"); !ok || e.path != "Procedure.performed[x]" {
		t.Errorf("performedPeriod does not resolve to Procedure.performed[x]")
	}
	if e, ok := m.lookup("Questionnaire.item.item"); !ok || e.contentRef != "Questionnaire.item" {
		t.Errorf("Questionnaire.item.item: contentReference not kept")
	}
	if _, ok := m.lookup("Meta.project"); ok {
		t.Errorf("Meta.project (a Medplum addition) is in the R4 table")
	}
	if len(m.extValue) < 40 || !m.extValue["CodeableConcept"] || m.extValue["CodeableReference"] {
		t.Errorf("R4 Extension.value[x] types: %d, CodeableConcept %v, CodeableReference %v", len(m.extValue), m.extValue["CodeableConcept"], m.extValue["CodeableReference"])
	}
}
