package datatype

import (
	"encoding/json"
	"testing"
)

func TestCodings(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want int
		text string
	}{
		{"concept", map[string]any{"coding": []any{map[string]any{"system": RxNorm, "code": "723", "display": "amoxicillin"}}}, 1, "amoxicillin"},
		{"codeable reference", map[string]any{"concept": map[string]any{"text": "amox", "coding": []any{map[string]any{"system": RxNorm, "code": "723"}}}}, 1, "amox"},
		{"bare coding", map[string]any{"system": LOINC, "code": "8867-4"}, 1, "8867-4"},
		{"coding without code dropped", map[string]any{"coding": []any{map[string]any{"system": RxNorm}}}, 0, ""},
		{"wrong shapes", map[string]any{"coding": "x"}, 0, ""},
		{"nil", nil, 0, ""},
		{"string", "abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(Codings(tt.in)); got != tt.want {
				t.Errorf("Codings: got %d, want %d", got, tt.want)
			}
			if got := Text(tt.in); got != tt.text {
				t.Errorf("Text: got %q, want %q", got, tt.text)
			}
		})
	}
}

func TestSame(t *testing.T) {
	a := Coding{System: RxNorm, Code: "723"}
	if !a.Same(Coding{System: RxNorm, Code: "723", Display: "other"}) {
		t.Error("display must not decide")
	}
	if a.Same(Coding{System: SNOMED, Code: "723"}) {
		t.Error("another system must not match")
	}
	if (Coding{}).Same(Coding{}) {
		t.Error("empty codings must not match")
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in   any
		want float64
		ok   bool
	}{
		{json.Number("72.50"), 72.5, true},
		{json.Number("x"), 0, false},
		{json.Number("1e999"), 0, false},
		{3, 3, true},
		{int64(4), 4, true},
		{2.5, 2.5, true},
		{"5", 0, false},
		{nil, 0, false},
	}
	for _, tt := range tests {
		got, ok := Number(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Number(%#v): got %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for in, want := range map[float64]string{0.5: "0.5", 5: "5", 1250: "1250", 72.60: "72.6", 0: "0"} {
		if got := FormatNumber(in); got != want {
			t.Errorf("FormatNumber(%v): got %q, want %q", in, got, want)
		}
	}
}

func TestSplitRef(t *testing.T) {
	tests := []struct {
		in, typ, id string
		ok          bool
	}{
		{"Patient/1", "Patient", "1", true},
		{"https://emr.example/fhir/Medication/m1", "Medication", "m1", true},
		{"Medication/m1/_history/2", "Medication", "m1", true},
		{"#med", "", "", false},
		{"", "", "", false},
		{"patient/1", "", "", false},
		{"Patient/", "", "", false},
	}
	for _, tt := range tests {
		typ, id, ok := SplitRef(tt.in)
		if typ != tt.typ || id != tt.id || ok != tt.ok {
			t.Errorf("SplitRef(%q): got %q %q %v, want %q %q %v", tt.in, typ, id, ok, tt.typ, tt.id, tt.ok)
		}
	}
}

func TestQuantity(t *testing.T) {
	q, ok := QuantityOf(map[string]any{"value": json.Number("500"), "unit": "mg", "system": UCUM, "code": "mg"})
	if !ok || q.Value != 500 || q.UnitText() != "mg" {
		t.Fatalf("got %+v %v", q, ok)
	}
	if _, ok := QuantityOf(map[string]any{"unit": "mg"}); ok {
		t.Error("a quantity without value must not read as one")
	}
	if got := q.JSON()["value"]; got != json.Number("500") {
		t.Errorf("JSON value: got %v", got)
	}
}
