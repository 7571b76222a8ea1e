package search

import (
	"errors"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// FuzzParse feeds arbitrary query strings to Parse on Patient and
// Observation: it must never panic, and every failure must be a
// *fhir.Error of KindInvalid, the only answer a client can act on.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"patient=123&code=http://loinc.org|8480-6&date=ge2020-01-01&_sort=-date&_count=20",
		"name:exact=a\\,b,c&_revinclude=Observation:subject&_include=*&_elements=name,birthDate",
		"subject:Patient.name=peter&patient.organization.name=x&subject.identifier=x",
		"_has:Observation:patient:_has:AuditEvent:entity:agent=x&_has:Observation:patient:code=1",
		"code-value-quantity=http://loinc.org|8480-6$gt100||mm[Hg]&value-quantity=ap5.4|http://unitsofmeasure.org|mg",
		"identifier:of-type=a|b|c&_list=1&_text=x&_content=y&_lastUpdated=gt2020-01-01T10:00:00%2B01:00",
		"subject=http://x.org/Patient/1|2&subject:identifier=|x&code:in=http://vs&_total=accurate&_summary=count",
		"_include:iterate=Patient:organization&_cursor=abc&_contained=both&_type=Patient",
		"focus.name=x&_filter=x&_sort=name:exact&date=sa2020-02-30",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	defs := spec.R5()
	f.Fuzz(func(t *testing.T, query string, observation bool) {
		values, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		typ := "Patient"
		if observation {
			typ = "Observation"
		}
		for _, lenient := range []bool{false, true} {
			q, err := Parse(defs, typ, values, ParseOptions{Lenient: lenient})
			if err != nil {
				var fe *fhir.Error
				if !errors.As(err, &fe) || fe.Kind != fhir.KindInvalid {
					t.Fatalf("Parse(%s?%s): %v (%T), want a *fhir.Error of KindInvalid", typ, query, err, err)
				}
				continue
			}
			// The self link must read back as the same search.
			again, err := url.ParseQuery(q.Raw)
			if err != nil {
				t.Fatalf("Raw %q does not parse: %v", q.Raw, err)
			}
			q2, err := Parse(defs, typ, again, ParseOptions{})
			if err != nil {
				t.Fatalf("Parse(%s?%s) gives Raw %q, which fails: %v", typ, query, q.Raw, err)
			}
			q2.Cursor, q2.Ignored = q.Cursor, q.Ignored
			if diff := cmp.Diff(q, q2, sameParam); diff != "" {
				t.Fatalf("Parse(%s?%s) and Parse of its Raw %q differ (-first +second):\n%s", typ, query, q.Raw, diff)
			}
		}
	})
}
