package search

import (
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

// FuzzExtract feeds arbitrary JSON objects, typed Patient or Observation,
// to the extractor: it must never panic, whatever shapes the elements take.
func FuzzExtract(f *testing.F) {
	f.Add([]byte(patientJSON))
	f.Add([]byte(observationJSON))
	f.Add([]byte(`{"resourceType":"Patient","name":"x","birthDate":{"a":1},"telecom":[1,2,null],"meta":{"lastUpdated":7}}`))
	f.Add([]byte(`{"resourceType":"Observation","valueQuantity":{"value":"1e999"},"component":[{"code":[],"valueQuantity":[{"value":1}]}],"subject":{"reference":"/"}}`))
	f.Add([]byte(`{"resourceType":"Observation","effectivePeriod":{"start":"2020","end":"x"},"valueRange":{"low":{"value":1e308}}}`))
	x := testExtractor(f)
	plain := NewExtractor(x.defs)
	plain.plain = true
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := fhir.ParseJSON(data)
		if err != nil {
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		for _, typ := range []string{"Patient", "Observation"} {
			obj["resourceType"] = typ
			failures := x.evalFailures.Load()
			got, err := x.Extract(fhir.Resource(obj))
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			if x.evalFailures.Load() != failures {
				// Extract recovers from its own panics: find them here.
				for url, msg := range x.Stats().Failures {
					if strings.HasPrefix(msg, "internal error") {
						t.Fatalf("%s: %s: %s", typ, url, msg)
					}
				}
			}
			// The shortcuts must agree with FHIRPath alone.
			want, _ := plain.Extract(fhir.Resource(obj))
			if len(got) != len(want) {
				t.Fatalf("%s: %d entries, %d through FHIRPath alone:\n%v\n%v", typ, len(got), len(want), got, want)
			}
		}
	})
}

// FuzzFold checks that fold's shortcut gives what Normalize gives.
func FuzzFold(f *testing.F) {
	for _, s := range []string{"abc", "a b", " a", "A", "é", "a\tb", "a  b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := fold(s), Normalize(s); got != want {
			t.Errorf("fold(%q) = %q, Normalize gives %q", s, got, want)
		}
	})
}
