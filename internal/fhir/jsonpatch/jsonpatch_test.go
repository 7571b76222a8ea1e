package jsonpatch

import (
	"os"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
)

// TestOfficialCases runs the JSON Patch cases of the FHIR test suite.
func TestOfficialCases(t *testing.T) {
	data, err := os.ReadFile(sharedtest.Path(t, "testdata", "fhir-test-cases", "r5", "patch", "json-patch-tests.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := fhir.ParseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	passed := 0
	cases := v.([]any)
	for i, c := range cases {
		tc := c.(map[string]any)
		name, _ := tc["comment"].(string)
		t.Run(name, func(t *testing.T) {
			patchJSON := fhir.AppendJSON(nil, tc["patch"])
			ops, err := Parse(patchJSON)
			var got any
			if err == nil {
				got, err = Apply(tc["doc"], ops)
			}
			if wantErr, ok := tc["error"]; ok {
				if err == nil {
					t.Fatalf("case %d: want error %q, got %s", i, wantErr, fhir.AppendJSON(nil, got))
				}
				passed++
				return
			}
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			if !equal(got, tc["expected"]) {
				t.Fatalf("case %d: got %s, want %s", i, fhir.AppendJSON(nil, got), fhir.AppendJSON(nil, tc["expected"]))
			}
			passed++
		})
	}
	t.Logf("JSON Patch cases: %d passed of %d", passed, len(cases))
}

func TestApplyLeavesInputAlone(t *testing.T) {
	doc, _ := fhir.ParseJSON([]byte(`{"a":[1,2,3],"b":{"c":1}}`))
	before := string(fhir.AppendJSON(nil, doc))
	ops, err := Parse([]byte(`[{"op":"remove","path":"/a/0"},{"op":"add","path":"/b/d","value":2},{"op":"test","path":"/b/c","value":9}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(doc, ops); err == nil {
		t.Fatal("failing test op did not fail")
	}
	if after := string(fhir.AppendJSON(nil, doc)); after != before {
		t.Errorf("input changed: %s → %s", before, after)
	}
}

func FuzzParseApply(f *testing.F) {
	f.Add([]byte(`{"a":[1,2]}`), []byte(`[{"op":"move","from":"/a/0","path":"/a/-"}]`))
	f.Add([]byte(`{}`), []byte(`[{"op":"copy","from":"","path":"/x"}]`))
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		d, err := fhir.ParseJSON(doc)
		if err != nil {
			return
		}
		ops, err := Parse(patch)
		if err != nil {
			return
		}
		_, _ = Apply(d, ops)
	})
}
