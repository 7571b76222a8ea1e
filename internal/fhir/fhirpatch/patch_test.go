package fhirpatch

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpath/fhirpathtest"
	"github.com/emr-project/emr/internal/sharedtest"
)

func TestOfficialPatchCases(t *testing.T) {
	path := sharedtest.Path(t, "testdata", "fhir-test-cases", "r5", "patch", "fhir-patch-tests.xml")
	model := fhirpathtest.LoadModel(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	root, err := fhirpathtest.ParseXML(data)
	if err != nil {
		t.Fatal(err)
	}
	passed, failed := 0, 0
	for _, c := range root.Children {
		if c.Name != "case" {
			continue
		}
		name := c.Attrs["name"]
		if err := runPatchCase(model, c); err != nil {
			failed++
			t.Errorf("%s: %v", name, err)
			continue
		}
		passed++
	}
	t.Logf("%d passed, %d failed", passed, failed)
}

func runPatchCase(model *fhirpathtest.Model, c *fhirpathtest.XMLNode) error {
	var input, diff, output fhir.Resource
	wantErr := ""
	for _, part := range c.Children {
		switch part.Name {
		case "input", "diff", "output":
			if len(part.Children) != 1 {
				return fmt.Errorf("%s: expected one resource", part.Name)
			}
			r, err := fhirpathtest.ConvertResource(model, part.Children[0])
			if err != nil {
				return fmt.Errorf("%s: %v", part.Name, err)
			}
			switch part.Name {
			case "input":
				input = r
			case "diff":
				diff = r
			default:
				output = r
			}
		case "error":
			wantErr = part.Attrs["msg"]
		}
	}
	before := string(input.JSON())
	got, err := (&Patcher{Model: model}).Apply(input, diff)
	if string(input.JSON()) != before {
		return fmt.Errorf("Apply modified its input")
	}
	if wantErr != "" {
		if err == nil {
			return fmt.Errorf("got %s, want error %q", got.JSON(), wantErr)
		}
		if !fhir.IsKind(err, fhir.KindUnprocessable) || !strings.Contains(err.Error(), wantErr) {
			return fmt.Errorf("got error %v, want %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if g, w := canonical(got), canonical(output); g != w {
		return fmt.Errorf("got\n%s\nwant\n%s", g, w)
	}
	return nil
}

// canonical renders a resource with sorted keys for comparison. Narrative
// is compared after normalising line ends and the escaping of quotes, which
// differ between the test's XML and its patch values.
func canonical(r fhir.Resource) string {
	b, _ := json.Marshal(map[string]any(r))
	s := strings.ReplaceAll(string(b), `\r\n`, `\n`)
	return strings.ReplaceAll(s, `\u0026quot;`, `\"`)
}

func TestApplyErrors(t *testing.T) {
	res := fhir.Resource{"resourceType": "Patient", "name": []any{
		map[string]any{"family": "A"}, map[string]any{"family": "B"}}}
	op := func(parts ...map[string]any) fhir.Resource {
		ps := make([]any, len(parts))
		for i, p := range parts {
			ps[i] = p
		}
		return fhir.Resource{"resourceType": "Parameters", "parameter": []any{
			map[string]any{"name": "operation", "part": ps}}}
	}
	str := func(name, v string) map[string]any { return map[string]any{"name": name, "valueString": v} }
	tests := []struct {
		name  string
		patch fhir.Resource
		kind  fhir.Kind
	}{
		{"not Parameters", fhir.Resource{"resourceType": "Patient"}, fhir.KindInvalid},
		{"unknown operation", op(map[string]any{"name": "type", "valueCode": "frobnicate"}, str("path", "Patient")), fhir.KindInvalid},
		{"missing value", op(map[string]any{"name": "type", "valueCode": "replace"}, str("path", "Patient.name.family")), fhir.KindInvalid},
		{"several matches", op(map[string]any{"name": "type", "valueCode": "replace"}, str("path", "Patient.name.family"), str("value", "C")), fhir.KindUnprocessable},
		{"delete several", op(map[string]any{"name": "type", "valueCode": "delete"}, str("path", "Patient.name")), fhir.KindUnprocessable},
		{"bad path", op(map[string]any{"name": "type", "valueCode": "delete"}, str("path", "Patient.name[")), fhir.KindInvalid},
	}
	for _, tc := range tests {
		_, err := Apply(res, tc.patch)
		if !fhir.IsKind(err, tc.kind) {
			t.Errorf("%s: got %v, want kind %v", tc.name, err, tc.kind)
		}
	}
	// Deleting what is not there is a no-op.
	out, err := Apply(res, op(map[string]any{"name": "type", "valueCode": "delete"}, str("path", "Patient.birthDate")))
	if err != nil || len(out["name"].([]any)) != 2 {
		t.Errorf("delete of a missing element: got %v, %v", out, err)
	}
}

func TestApplyWithoutModel(t *testing.T) {
	res := fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "A", "given": []any{"X"}}}}
	patch := fhir.Resource{"resourceType": "Parameters", "parameter": []any{
		map[string]any{"name": "operation", "part": []any{
			map[string]any{"name": "type", "valueCode": "add"},
			map[string]any{"name": "path", "valueString": "Patient.name[0]"},
			map[string]any{"name": "name", "valueString": "given"},
			map[string]any{"name": "value", "valueString": "Y"},
		}},
		map[string]any{"name": "operation", "part": []any{
			map[string]any{"name": "type", "valueCode": "replace"},
			map[string]any{"name": "path", "valueString": "Patient.name[0].family"},
			map[string]any{"name": "value", "valueString": "B"},
		}},
		map[string]any{"name": "operation", "part": []any{
			map[string]any{"name": "type", "valueCode": "move"},
			map[string]any{"name": "path", "valueString": "Patient.name[0].given"},
			map[string]any{"name": "source", "valueInteger": json.Number("1")},
			map[string]any{"name": "destination", "valueInteger": json.Number("0")},
		}},
	}}
	out, err := Apply(res, patch)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out.JSON()), `{"resourceType":"Patient","name":[{"family":"B","given":["Y","X"]}]}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if res["name"].([]any)[0].(map[string]any)["family"] != "A" {
		t.Errorf("input was modified")
	}
}
