package search

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestParseQuery checks the whole Query but its Filters (TestParseFilters
// covers them).
func TestParseQuery(t *testing.T) {
	tests := []struct {
		name, typ, query string
		opts             ParseOptions
		want             Query
	}{
		{name: "typical", typ: "Observation",
			query: "patient=123&code=http://loinc.org|8480-6&date=ge2020-01-01&_sort=-date&_count=20",
			want: Query{Type: "Observation", Count: 20, CountGiven: true,
				Sort: []SortKey{{Param: param(t, "Observation", "date"), Name: "date", Descending: true}},
				Raw:  "_count=20&_sort=-date&code=http://loinc.org|8480-6&date=ge2020-01-01&patient=123"}},
		{name: "sort keys", typ: "Patient", query: "_sort=family,-birthdate,_id,-_lastUpdated",
			want: Query{Type: "Patient", Sort: []SortKey{
				{Param: param(t, "Patient", "family"), Name: "family"},
				{Param: param(t, "Patient", "birthdate"), Name: "birthdate", Descending: true},
				{Name: "_id"}, {Name: "_lastUpdated", Descending: true}},
				Raw: "_sort=family,-birthdate,_id,-_lastUpdated"}},
		{name: "count zero", typ: "Patient", query: "_count=0&_total=accurate",
			want: Query{Type: "Patient", CountGiven: true, Total: "accurate", Raw: "_count=0&_total=accurate"}},
		{name: "count capped", typ: "Patient", query: "_count=5000",
			want: Query{Type: "Patient", Count: MaxCount, CountGiven: true, Raw: "_count=5000"}},
		{name: "summary elements contained", typ: "Patient", query: "_summary=count&_elements=name,birthDate,deceased&_contained=both&_containedType=container",
			want: Query{Type: "Patient", Summary: "count", Elements: []string{"name", "birthDate", "deceased"}, Contained: "both",
				Raw: "_contained=both&_containedType=container&_elements=name,birthDate,deceased&_summary=count"}},
		{name: "includes", typ: "Observation",
			query: "_include=Observation:patient&_include=Observation:subject:Patient&_include=Observation:patient&_include:iterate=Patient:organization&_include:recurse=Patient:general-practitioner:Practitioner&_include=Observation:*",
			want: Query{Type: "Observation", Includes: []Include{
				{SourceType: "Observation", Param: "patient"},
				{SourceType: "Observation", Param: "subject", TargetType: "Patient"},
				{SourceType: "Observation", Param: "*"},
				{SourceType: "Patient", Param: "organization", Iterate: true},
				{SourceType: "Patient", Param: "general-practitioner", TargetType: "Practitioner", Iterate: true}},
				Raw: "_include=Observation:patient&_include=Observation:subject:Patient&_include=Observation:patient&_include=Observation:*&_include:iterate=Patient:organization&_include:recurse=Patient:general-practitioner:Practitioner"}},
		{name: "include star", typ: "Patient", query: "_include=*",
			want: Query{Type: "Patient", Includes: []Include{{SourceType: "Patient", Param: "*"}}, Raw: "_include=*"}},
		{name: "revinclude", typ: "Patient", query: "_revinclude=Observation:subject&_revinclude=Provenance:target:Patient&_revinclude:iterate=DiagnosticReport:result",
			want: Query{Type: "Patient", RevIncludes: []Include{
				{SourceType: "Observation", Param: "subject"},
				{SourceType: "Provenance", Param: "target", TargetType: "Patient"},
				{SourceType: "DiagnosticReport", Param: "result", Iterate: true}},
				Raw: "_revinclude=Observation:subject&_revinclude=Provenance:target:Patient&_revinclude:iterate=DiagnosticReport:result"}},
		{name: "cursor passes through, not echoed", typ: "Patient", query: "_cursor=opaque%2Bstuff==&name=x",
			want: Query{Type: "Patient", Cursor: "opaque+stuff==", Raw: "name=x"}},
		{name: "raw sorted, escaped, repeated keys kept in order", typ: "Patient", query: "name=b&birthdate=lt2000&name=a%20c&gender=male,female",
			want: Query{Type: "Patient", Raw: "birthdate=lt2000&gender=male,female&name=b&name=a+c"}},
		{name: "compartment", typ: "Observation", query: "code=x", opts: ParseOptions{Compartment: &CompartmentRef{Type: "Patient", ID: "123"}},
			want: Query{Type: "Observation", Compartment: &CompartmentRef{Type: "Patient", ID: "123"}, Raw: "code=x"}},
		{name: "system level", typ: "", query: "_lastUpdated=gt2020&_id=1",
			want: Query{Raw: "_id=1&_lastUpdated=gt2020"}},
		{name: "system level with _type", typ: "", query: "_type=Observation,Condition&patient=Patient/1&_include=Condition:patient",
			want: Query{Types: []string{"Observation", "Condition"}, Includes: []Include{{SourceType: "Condition", Param: "patient"}},
				Raw: "_include=Condition:patient&_type=Observation,Condition&patient=Patient/1"}},
		{name: "system level with one _type", typ: "", query: "_type=Patient&name=x&_sort=name",
			want: Query{Types: []string{"Patient"}, Sort: []SortKey{{Param: param(t, "Patient", "name"), Name: "name"}},
				Raw: "_sort=name&_type=Patient&name=x"}},
		{name: "type-level _type naming the type", typ: "Patient", query: "_type=Patient",
			want: Query{Type: "Patient", Raw: "_type=Patient"}},
		{name: "lenient drops unknown parameters and modifiers", typ: "Patient", opts: ParseOptions{Lenient: true},
			query: "foo=1&name:bogus=x&organization:text-advanced=x&_include:deep=Patient:link&general-practitioner:Foo.name=x&_count=3",
			want: Query{Type: "Patient", Count: 3, CountGiven: true,
				Ignored: []string{"_include:deep", "foo", "general-practitioner:Foo.name", "name:bogus", "organization:text-advanced"},
				Raw:     "_count=3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parse(t, tc.typ, tc.query, tc.opts)
			if err != nil {
				t.Fatalf("Parse(%s?%s): %v", tc.typ, tc.query, err)
			}
			if diff := cmp.Diff(&tc.want, q, sameParam, cmpopts.IgnoreFields(Query{}, "Filters")); diff != "" {
				t.Errorf("Parse(%s?%s) (-want +got):\n%s", tc.typ, tc.query, diff)
			}
		})
	}
}

// TestParseLenientStillRejectsBadValues: lenient handling forgives what the
// server does not know, never a malformed value of what it knows.
func TestParseLenientStillRejectsBadValues(t *testing.T) {
	for _, query := range []string{"birthdate=notadate", "_count=-1", "name:exact=", "_filter=name eq x", "general-practitioner=Foo/1"} {
		if q, err := parse(t, "Patient", query, ParseOptions{Lenient: true}); err == nil {
			t.Errorf("Parse(Patient?%s, lenient) = %+v, want an error", query, q)
		}
	}
}

func TestParseCompartmentErrors(t *testing.T) {
	for _, c := range []CompartmentRef{{Type: "Nope", ID: "1"}, {Type: "Patient", ID: "a b"}} {
		if _, err := parse(t, "Observation", "", ParseOptions{Compartment: &c}); err == nil {
			t.Errorf("compartment %+v: no error", c)
		}
	}
	if _, err := parse(t, "Organization", "", ParseOptions{Compartment: &CompartmentRef{Type: "Patient", ID: "1"}}); err == nil {
		t.Error("Organization is not in the Patient compartment: no error")
	}
}

func TestParseBase(t *testing.T) {
	q, err := parse(t, "Observation", "subject=https://emr.example/fhir/Patient/7", ParseOptions{Base: "https://emr.example/fhir"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{{Raw: "https://emr.example/fhir/Patient/7", RefType: "Patient", RefID: "7"}}
	if diff := cmp.Diff(want, q.Filters[0].Values); diff != "" {
		t.Errorf("a reference under Base (-want +got):\n%s", diff)
	}
}

func TestSplitUnescaped(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a,b", []string{"a", "b"}},
		{`a\,b,c`, []string{`a\,b`, "c"}},
		{`a\\,b`, []string{`a\\`, "b"}},
		{`a\`, []string{`a\`}},
		{",", []string{"", ""}},
	}
	for _, tc := range tests {
		if got := splitUnescaped(tc.in, ','); !cmp.Equal(got, tc.want) {
			t.Errorf("splitUnescaped(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for in, want := range map[string]string{`a\,b`: "a,b", `\$\|\\`: `$|\`, `a\b`: `a\b`, `a\`: `a\`} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
