package search

import (
	"net/url"
	"testing"

	"github.com/emr-project/emr/internal/fhir/spec"
)

func BenchmarkParse(b *testing.B) {
	defs := spec.R5()
	values, err := url.ParseQuery("patient=123&code=http://loinc.org|8480-6&date=ge2020-01-01&_sort=-date&_count=20")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(defs, "Observation", values, ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
