package r4

import (
	"bytes"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

// FuzzConvert feeds arbitrary JSON resources through both directions: no
// panic, and either an error or a resource; and ToR5Owned gives what ToR5
// gives.
func FuzzConvert(f *testing.F) {
	for _, tt := range mappingTests {
		f.Add([]byte(tt.r4))
		f.Add([]byte(tt.r5))
	}
	f.Add([]byte(`{"resourceType":"Encounter","extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.class","extension":[{"url":"coding"}]}]}`))
	f.Add([]byte(`{"resourceType":"Encounter","class":[1,{"coding":"x"}],"_status":[null],"reasonCode":{"a":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := fhir.ParseResource(data)
		if err != nil {
			return
		}
		for _, conv := range []func(fhir.Resource) (fhir.Resource, *Report, error){ToR5, ToR4} {
			out, report, err := conv(res)
			if err == nil && (out == nil || report == nil) {
				t.Fatalf("no error and no output for %s", data)
			}
			if err == nil {
				_ = out.JSON()
			}
		}
		want, _, wantErr := ToR5(res)
		got, _, gotErr := ToR5Owned(res.Clone())
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("ToR5: %v, ToR5Owned: %v, for %s", wantErr, gotErr, data)
		}
		if wantErr == nil && !bytes.Equal(want.JSON(), got.JSON()) {
			t.Fatalf("ToR5Owned differs from ToR5 for %s:\n%s\n%s", data, want.JSON(), got.JSON())
		}
	})
}
