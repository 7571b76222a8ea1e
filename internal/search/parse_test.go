package search

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// sameParam compares definitions by identity: the parser must hand out the
// very definitions of spec.R5(), which the backend keys its tables on.
var sameParam = cmp.Comparer(func(a, b *spec.SearchParam) bool { return a == b })

// param returns the definition of code on resourceType.
func param(t *testing.T, resourceType, code string) *spec.SearchParam {
	t.Helper()
	sp := spec.R5().SearchParamsFor(resourceType)[code]
	if sp == nil {
		t.Fatalf("no search parameter %s on %s", code, resourceType)
	}
	return sp
}

func parse(t *testing.T, resourceType, query string, opts ParseOptions) (*Query, error) {
	t.Helper()
	values, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("url.ParseQuery(%q): %v", query, err)
	}
	return Parse(spec.R5(), resourceType, values, opts)
}

func day(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).UnixMilli()
}

func TestParseFilters(t *testing.T) {
	obsCode := param(t, "Observation", "code")
	tests := []struct {
		name, typ, query string
		want             []*Filter
	}{
		// string
		{"string", "Patient", "name=Émile", []*Filter{{Param: param(t, "Patient", "name"), Name: "name", Kind: KindString,
			Values: []Value{{Raw: "Émile", Text: "emile", Exact: "Émile"}}}}},
		{"string exact", "Patient", "family:exact=Van Zanten", []*Filter{{Param: param(t, "Patient", "family"), Name: "family", Kind: KindString, Modifier: "exact",
			Values: []Value{{Raw: "Van Zanten", Text: "van zanten", Exact: "Van Zanten"}}}}},
		{"string contains", "Patient", "name:contains=ann", []*Filter{{Param: param(t, "Patient", "name"), Name: "name", Kind: KindString, Modifier: "contains",
			Values: []Value{{Raw: "ann", Text: "ann", Exact: "ann"}}}}},
		{"string text", "Patient", "name:text=ann", []*Filter{{Param: param(t, "Patient", "name"), Name: "name", Kind: KindString, Modifier: "text",
			Values: []Value{{Raw: "ann", Text: "ann", Exact: "ann"}}}}},
		{"string missing", "Patient", "name:missing=true", []*Filter{{Param: param(t, "Patient", "name"), Name: "name", Kind: KindString, Modifier: "missing",
			Values: []Value{{Raw: "true", Missing: true}}}}},
		{"string or with escapes", "Patient", `name=a\,b,c\\,d\$e\|f`, []*Filter{{Param: param(t, "Patient", "name"), Name: "name", Kind: KindString,
			Values: []Value{{Raw: `a\,b`, Text: "a,b", Exact: "a,b"}, {Raw: `c\\`, Text: `c\`, Exact: `c\`}, {Raw: `d\$e\|f`, Text: "d$e|f", Exact: "d$e|f"}}}}},

		// token
		{"token system|code", "Observation", "code=http://loinc.org|8480-6", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken,
			Values: []Value{{Raw: "http://loinc.org|8480-6", System: "http://loinc.org", Code: "8480-6", HasSystem: true}}}}},
		{"token |code", "Observation", "code=|8480-6", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken,
			Values: []Value{{Raw: "|8480-6", Code: "8480-6", HasSystem: true}}}}},
		{"token system|", "Observation", "code=http://loinc.org|", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken,
			Values: []Value{{Raw: "http://loinc.org|", System: "http://loinc.org", HasSystem: true}}}}},
		{"token code", "Observation", "code=8480-6,8462-4", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken,
			Values: []Value{{Raw: "8480-6", Code: "8480-6"}, {Raw: "8462-4", Code: "8462-4"}}}}},
		{"token escaped bar", "Observation", `code=a\|b`, []*Filter{{Param: obsCode, Name: "code", Kind: KindToken,
			Values: []Value{{Raw: `a\|b`, Code: "a|b"}}}}},
		{"token not", "Observation", "status:not=final", []*Filter{{Param: param(t, "Observation", "status"), Name: "status", Kind: KindToken, Modifier: "not",
			Values: []Value{{Raw: "final", Code: "final"}}}}},
		{"token text", "Observation", "code:text=Blood Pressure", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken, Modifier: "text",
			Values: []Value{{Raw: "Blood Pressure", Text: "blood pressure", Exact: "Blood Pressure"}}}}},
		{"token code-text", "Observation", "code:code-text=Blood", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken, Modifier: "code-text",
			Values: []Value{{Raw: "Blood", Text: "blood", Exact: "Blood"}}}}},
		{"token of-type", "Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053", []*Filter{{Param: param(t, "Patient", "identifier"), Name: "identifier", Kind: KindToken, Modifier: "of-type",
			Values: []Value{{Raw: "http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053", TypeSystem: "http://terminology.hl7.org/CodeSystem/v2-0203", TypeCode: "MR", Code: "446053"}}}}},
		{"token in", "Observation", "code:in=http://example.org/ValueSet/bp", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken, Modifier: "in",
			Values: []Value{{Raw: "http://example.org/ValueSet/bp", Code: "http://example.org/ValueSet/bp"}}}}},
		{"token not-in", "Observation", "code:not-in=http://example.org/ValueSet/bp", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken, Modifier: "not-in",
			Values: []Value{{Raw: "http://example.org/ValueSet/bp", Code: "http://example.org/ValueSet/bp"}}}}},
		{"token below", "Observation", "code:below=http://snomed.info/sct|235856003", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken, Modifier: "below",
			Values: []Value{{Raw: "http://snomed.info/sct|235856003", System: "http://snomed.info/sct", Code: "235856003", HasSystem: true}}}}},
		{"token above", "Observation", "code:above=http://snomed.info/sct|235856003", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken, Modifier: "above",
			Values: []Value{{Raw: "http://snomed.info/sct|235856003", System: "http://snomed.info/sct", Code: "235856003", HasSystem: true}}}}},
		{"token missing", "Observation", "code:missing=false", []*Filter{{Param: obsCode, Name: "code", Kind: KindToken, Modifier: "missing",
			Values: []Value{{Raw: "false"}}}}},
		{"_id", "Patient", "_id=a1,b-2.x", []*Filter{{Param: param(t, "Patient", "_id"), Name: "_id", Kind: KindToken,
			Values: []Value{{Raw: "a1", Code: "a1"}, {Raw: "b-2.x", Code: "b-2.x"}}}}},
		{"_tag", "Patient", "_tag=http://ex.org|vip", []*Filter{{Param: param(t, "Patient", "_tag"), Name: "_tag", Kind: KindToken,
			Values: []Value{{Raw: "http://ex.org|vip", System: "http://ex.org", Code: "vip", HasSystem: true}}}}},
		{"_security", "Patient", "_security:not=R", []*Filter{{Param: param(t, "Patient", "_security"), Name: "_security", Kind: KindToken, Modifier: "not",
			Values: []Value{{Raw: "R", Code: "R"}}}}},
		{"_language", "Patient", "_language=fr", []*Filter{{Param: param(t, "Patient", "_language"), Name: "_language", Kind: KindToken,
			Values: []Value{{Raw: "fr", Code: "fr"}}}}},

		// date
		{"date day", "Observation", "date=2020-01-01", []*Filter{{Param: param(t, "Observation", "date"), Name: "date", Kind: KindDate,
			Values: []Value{{Raw: "2020-01-01", DateLow: day(2020, 1, 1), DateHigh: day(2020, 1, 2)}}}}},
		{"date eq is the default", "Observation", "date=eq2020", []*Filter{{Param: param(t, "Observation", "date"), Name: "date", Kind: KindDate,
			Values: []Value{{Raw: "eq2020", DateLow: day(2020, 1, 1), DateHigh: day(2021, 1, 1)}}}}},
		{"date month ge", "Observation", "date=ge2020-02", []*Filter{{Param: param(t, "Observation", "date"), Name: "date", Kind: KindDate,
			Values: []Value{{Raw: "ge2020-02", Prefix: "ge", DateLow: day(2020, 2, 1), DateHigh: day(2020, 3, 1)}}}}},
		{"date and", "Observation", "date=gt2020&date=lt2021", []*Filter{
			{Param: param(t, "Observation", "date"), Name: "date", Kind: KindDate, Values: []Value{{Raw: "gt2020", Prefix: "gt", DateLow: day(2020, 1, 1), DateHigh: day(2021, 1, 1)}}},
			{Param: param(t, "Observation", "date"), Name: "date", Kind: KindDate, Values: []Value{{Raw: "lt2021", Prefix: "lt", DateLow: day(2021, 1, 1), DateHigh: day(2022, 1, 1)}}}}},
		{"date with offset, + unencoded", "Observation", "date=sa2020-01-01T10:00:00+01:00", []*Filter{{Param: param(t, "Observation", "date"), Name: "date", Kind: KindDate,
			Values: []Value{{Raw: "sa2020-01-01T10:00:00 01:00", Prefix: "sa", DateLow: day(2020, 1, 1) + 9*3600000, DateHigh: day(2020, 1, 1) + 9*3600000 + 1000}}}}},
		{"_lastUpdated", "Patient", "_lastUpdated=le2020-01-01", []*Filter{{Param: param(t, "Patient", "_lastUpdated"), Name: "_lastUpdated", Kind: KindDate,
			Values: []Value{{Raw: "le2020-01-01", Prefix: "le", DateLow: day(2020, 1, 1), DateHigh: day(2020, 1, 2)}}}}},
		{"date prefixes", "Observation", "date=ne2020,eb2020,ap2020", []*Filter{{Param: param(t, "Observation", "date"), Name: "date", Kind: KindDate,
			Values: []Value{
				{Raw: "ne2020", Prefix: "ne", DateLow: day(2020, 1, 1), DateHigh: day(2021, 1, 1)},
				{Raw: "eb2020", Prefix: "eb", DateLow: day(2020, 1, 1), DateHigh: day(2021, 1, 1)},
				{Raw: "ap2020", Prefix: "ap", DateLow: day(2020, 1, 1), DateHigh: day(2021, 1, 1)}}}}},

		// number
		{"number", "RiskAssessment", "probability=gt0.8", []*Filter{{Param: param(t, "RiskAssessment", "probability"), Name: "probability", Kind: KindNumber,
			Values: []Value{{Raw: "gt0.8", Prefix: "gt", Number: 0.8, Low: 0.75, High: 0.8500000000000001}}}}},
		{"number exponent", "RiskAssessment", "probability=1e2", []*Filter{{Param: param(t, "RiskAssessment", "probability"), Name: "probability", Kind: KindNumber,
			Values: []Value{{Raw: "1e2", Number: 100, Low: 95, High: 105}}}}},
		{"number negative", "RiskAssessment", "probability=lt-1", []*Filter{{Param: param(t, "RiskAssessment", "probability"), Name: "probability", Kind: KindNumber,
			Values: []Value{{Raw: "lt-1", Prefix: "lt", Number: -1, Low: -1.5, High: -0.5}}}}},

		// quantity
		{"quantity full", "Observation", "value-quantity=le5.4|http://unitsofmeasure.org|mg", []*Filter{{Param: param(t, "Observation", "value-quantity"), Name: "value-quantity", Kind: KindQuantity,
			Values: []Value{{Raw: "le5.4|http://unitsofmeasure.org|mg", Prefix: "le", Number: 5.4, Low: 5.3500000000000005, High: 5.45, System: "http://unitsofmeasure.org", Code: "mg"}}}}},
		{"quantity no system", "Observation", "value-quantity=5||mg", []*Filter{{Param: param(t, "Observation", "value-quantity"), Name: "value-quantity", Kind: KindQuantity,
			Values: []Value{{Raw: "5||mg", Number: 5, Low: 4.5, High: 5.5, Code: "mg"}}}}},
		{"quantity number", "Observation", "value-quantity=ap5", []*Filter{{Param: param(t, "Observation", "value-quantity"), Name: "value-quantity", Kind: KindQuantity,
			Values: []Value{{Raw: "ap5", Prefix: "ap", Number: 5, Low: 4.5, High: 5.5}}}}},
		{"quantity missing", "Observation", "value-quantity:missing=true", []*Filter{{Param: param(t, "Observation", "value-quantity"), Name: "value-quantity", Kind: KindQuantity, Modifier: "missing",
			Values: []Value{{Raw: "true", Missing: true}}}}},

		// reference
		{"reference Type/id", "Observation", "subject=Patient/123", []*Filter{{Param: param(t, "Observation", "subject"), Name: "subject", Kind: KindReference,
			Values: []Value{{Raw: "Patient/123", RefType: "Patient", RefID: "123"}}}}},
		{"reference bare id", "Observation", "patient=123", []*Filter{{Param: param(t, "Observation", "patient"), Name: "patient", Kind: KindReference,
			Values: []Value{{Raw: "123", RefID: "123"}}}}},
		{"reference versioned", "Observation", "subject=Patient/123/_history/2", []*Filter{{Param: param(t, "Observation", "subject"), Name: "subject", Kind: KindReference,
			Values: []Value{{Raw: "Patient/123/_history/2", RefType: "Patient", RefID: "123", RefVersion: "2"}}}}},
		{"reference type modifier", "Observation", "subject:Patient=123", []*Filter{{Param: param(t, "Observation", "subject"), Name: "subject", Kind: KindReference, Modifier: "Patient",
			Values: []Value{{Raw: "123", RefType: "Patient", RefID: "123"}}}}},
		{"reference absolute", "Observation", "subject=http://other.org/fhir/Patient/1", []*Filter{{Param: param(t, "Observation", "subject"), Name: "subject", Kind: KindReference,
			Values: []Value{{Raw: "http://other.org/fhir/Patient/1", RefURL: "http://other.org/fhir/Patient/1"}}}}},
		{"reference canonical", "QuestionnaireResponse", "questionnaire=http://ex.org/Questionnaire/q|2.0", []*Filter{{Param: param(t, "QuestionnaireResponse", "questionnaire"), Name: "questionnaire", Kind: KindReference,
			Values: []Value{{Raw: "http://ex.org/Questionnaire/q|2.0", RefURL: "http://ex.org/Questionnaire/q", RefVersion: "2.0"}}}}},
		{"reference canonical below", "QuestionnaireResponse", "questionnaire:below=http://ex.org/Questionnaire/q|2", []*Filter{{Param: param(t, "QuestionnaireResponse", "questionnaire"), Name: "questionnaire", Kind: KindReference, Modifier: "below",
			Values: []Value{{Raw: "http://ex.org/Questionnaire/q|2", RefURL: "http://ex.org/Questionnaire/q", RefVersion: "2"}}}}},
		{"reference identifier", "Observation", "subject:identifier=http://hospital.org/mrn|12345", []*Filter{{Param: param(t, "Observation", "subject"), Name: "subject", Kind: KindReference, Modifier: "identifier",
			Values: []Value{{Raw: "http://hospital.org/mrn|12345", System: "http://hospital.org/mrn", Code: "12345", HasSystem: true}}}}},
		{"reference text", "Observation", "subject:text=Peter", []*Filter{{Param: param(t, "Observation", "subject"), Name: "subject", Kind: KindReference, Modifier: "text",
			Values: []Value{{Raw: "Peter", Text: "peter", Exact: "Peter"}}}}},
		{"reference missing", "Observation", "subject:missing=true", []*Filter{{Param: param(t, "Observation", "subject"), Name: "subject", Kind: KindReference, Modifier: "missing",
			Values: []Value{{Raw: "true", Missing: true}}}}},
		{"_profile", "Patient", "_profile=http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient", []*Filter{{Param: param(t, "Patient", "_profile"), Name: "_profile", Kind: KindReference,
			Values: []Value{{Raw: "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient", RefURL: "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"}}}}},

		// uri
		{"uri", "ValueSet", "url=http://ex.org/vs", []*Filter{{Param: param(t, "ValueSet", "url"), Name: "url", Kind: KindURI,
			Values: []Value{{Raw: "http://ex.org/vs", Exact: "http://ex.org/vs"}}}}},
		{"uri below", "ValueSet", "url:below=http://ex.org/", []*Filter{{Param: param(t, "ValueSet", "url"), Name: "url", Kind: KindURI, Modifier: "below",
			Values: []Value{{Raw: "http://ex.org/", Exact: "http://ex.org/"}}}}},
		{"uri above", "ValueSet", "url:above=http://ex.org/a/b", []*Filter{{Param: param(t, "ValueSet", "url"), Name: "url", Kind: KindURI, Modifier: "above",
			Values: []Value{{Raw: "http://ex.org/a/b", Exact: "http://ex.org/a/b"}}}}},
		{"_source", "Patient", "_source=http://ex.org/src", []*Filter{{Param: param(t, "Patient", "_source"), Name: "_source", Kind: KindURI,
			Values: []Value{{Raw: "http://ex.org/src", Exact: "http://ex.org/src"}}}}},

		// composite
		{"composite token$quantity", "Observation", "code-value-quantity=http://loinc.org|8480-6$gt100||mm[Hg]", []*Filter{{Param: param(t, "Observation", "code-value-quantity"), Name: "code-value-quantity", Kind: KindComposite,
			Values: []Value{{Raw: "http://loinc.org|8480-6$gt100||mm[Hg]", Components: []Value{
				{Raw: "http://loinc.org|8480-6", System: "http://loinc.org", Code: "8480-6", HasSystem: true},
				{Raw: "gt100||mm[Hg]", Prefix: "gt", Number: 100, Low: 99.5, High: 100.5, Code: "mm[Hg]"}}}}}}},
		{"composite token$date", "Observation", "code-value-date=8480-6$2020", []*Filter{{Param: param(t, "Observation", "code-value-date"), Name: "code-value-date", Kind: KindComposite,
			Values: []Value{{Raw: "8480-6$2020", Components: []Value{
				{Raw: "8480-6", Code: "8480-6"},
				{Raw: "2020", DateLow: day(2020, 1, 1), DateHigh: day(2021, 1, 1)}}}}}}},

		// special
		{"_text", "Condition", "_text=Bone Fracture", []*Filter{{Name: "_text", Kind: KindSpecial, Special: "_text",
			Values: []Value{{Raw: "Bone Fracture", Text: "bone fracture", Exact: "Bone Fracture"}}}}},
		{"_content", "Condition", "_content=bone", []*Filter{{Name: "_content", Kind: KindSpecial, Special: "_content",
			Values: []Value{{Raw: "bone", Text: "bone", Exact: "bone"}}}}},
		{"_list", "Condition", "_list=42", []*Filter{{Name: "_list", Kind: KindSpecial, Special: "_list",
			Values: []Value{{Raw: "42", RefType: "List", RefID: "42"}}}}},

		// chains
		{"chain with type", "Observation", "subject:Patient.name=peter", []*Filter{{Param: param(t, "Observation", "subject"), Name: "subject", Kind: KindReference, Modifier: "Patient", ChainType: "Patient",
			Chain: &Filter{Param: param(t, "Patient", "name"), Name: "name", Kind: KindString, Values: []Value{{Raw: "peter", Text: "peter", Exact: "peter"}}}}}},
		{"chain single target", "Observation", "patient.birthdate=2000", []*Filter{{Param: param(t, "Observation", "patient"), Name: "patient", Kind: KindReference, ChainType: "Patient",
			Chain: &Filter{Param: param(t, "Patient", "birthdate"), Name: "birthdate", Kind: KindDate, Values: []Value{{Raw: "2000", DateLow: day(2000, 1, 1), DateHigh: day(2001, 1, 1)}}}}}},
		{"chain ambiguous", "Observation", "subject.identifier=x", []*Filter{{Param: param(t, "Observation", "subject"), Name: "subject", Kind: KindReference,
			Chain: &Filter{Param: param(t, "Device", "identifier"), Name: "identifier", Kind: KindToken, Values: []Value{{Raw: "x", Code: "x"}}}}}},
		{"chain two links with modifier at the end", "Observation", "patient.organization.name:exact=Acme", []*Filter{{Param: param(t, "Observation", "patient"), Name: "patient", Kind: KindReference, ChainType: "Patient",
			Chain: &Filter{Param: param(t, "Patient", "organization"), Name: "organization", Kind: KindReference, ChainType: "Organization",
				Chain: &Filter{Param: param(t, "Organization", "name"), Name: "name", Kind: KindString, Modifier: "exact", Values: []Value{{Raw: "Acme", Text: "acme", Exact: "Acme"}}}}}}},

		// reverse chains
		{"_has", "Patient", "_has:Observation:patient:code=1234-5", []*Filter{{Name: "_has", Kind: KindSpecial,
			Has: &HasClause{Type: "Observation", RefParam: param(t, "Observation", "patient"),
				Filter: &Filter{Param: obsCode, Name: "code", Kind: KindToken, Values: []Value{{Raw: "1234-5", Code: "1234-5"}}}}}}},
		{"_has nested", "Patient", "_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/1", []*Filter{{Name: "_has", Kind: KindSpecial,
			Has: &HasClause{Type: "Observation", RefParam: param(t, "Observation", "patient"),
				Filter: &Filter{Name: "_has", Kind: KindSpecial,
					Has: &HasClause{Type: "AuditEvent", RefParam: param(t, "AuditEvent", "entity"),
						Filter: &Filter{Param: param(t, "AuditEvent", "agent"), Name: "agent", Kind: KindReference, Values: []Value{{Raw: "Practitioner/1", RefType: "Practitioner", RefID: "1"}}}}}}}}},
		{"_has then chain", "Patient", "_has:Observation:patient:performer:Practitioner.name=smith", []*Filter{{Name: "_has", Kind: KindSpecial,
			Has: &HasClause{Type: "Observation", RefParam: param(t, "Observation", "patient"),
				Filter: &Filter{Param: param(t, "Observation", "performer"), Name: "performer", Kind: KindReference, Modifier: "Practitioner", ChainType: "Practitioner",
					Chain: &Filter{Param: param(t, "Practitioner", "name"), Name: "name", Kind: KindString, Values: []Value{{Raw: "smith", Text: "smith", Exact: "smith"}}}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parse(t, tc.typ, tc.query, ParseOptions{})
			if err != nil {
				t.Fatalf("Parse(%s?%s): %v", tc.typ, tc.query, err)
			}
			if diff := cmp.Diff(tc.want, q.Filters, sameParam); diff != "" {
				t.Errorf("Parse(%s?%s) filters (-want +got):\n%s", tc.typ, tc.query, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		typ, query string
		mention    string // the diagnostics must contain it
	}{
		{"Observation", "foo=1", `"foo"`},
		{"Observation", "code:exact=1", "code:exact"},
		{"Observation", "code:bogus=1", "code:bogus"},
		{"Patient", "name:not=x", "name:not"},
		{"Patient", "name:in=x", "name:in"},
		{"Observation", "date:exact=2020", "date:exact"},
		{"Observation", "date:missing=maybe", "date:missing"},
		{"Observation", "date=2020-13-01", `"date"`},
		{"Observation", "date=yesterday", `"date"`},
		{"Observation", "date=xx2020", `"date"`},
		{"Observation", "date=", `"date"`},
		{"Observation", "date=2020,", `"date"`},
		{"RiskAssessment", "probability=abc", "probability"},
		{"RiskAssessment", "probability=0x10", "probability"},
		{"RiskAssessment", "probability=Inf", "probability"},
		{"RiskAssessment", "probability=1e999", "probability"},
		{"Observation", "value-quantity=5|mg", "value-quantity"},
		{"Observation", "value-quantity=5|http://unitsofmeasure.org|", "value-quantity"},
		{"Observation", "value-quantity:exact=5", "value-quantity"},
		{"Observation", "code=a|b|c", `"code"`},
		{"Observation", "code=|", `"code"`},
		{"Patient", "identifier:of-type=a|b", "identifier:of-type"},
		{"Observation", "subject=Foo/1", `"subject"`},
		{"Observation", "subject=Patient/1/2", `"subject"`},
		{"Observation", "subject=Patient/a_b", `"subject"`},
		{"Observation", "patient=Group/1", `"patient"`},
		{"Observation", "subject:Patient=Group/1", "subject:Patient"},
		{"Observation", "patient:Group=1", "patient:Group"},
		{"Observation", "subject:text-advanced=x", "subject:text-advanced"},
		{"Observation", "code:text-advanced=x", "code:text-advanced"},
		{"Observation", "subject:contains=x", "subject:contains"},
		{"Patient", "_id=a_b", "_id"},
		{"Patient", "_id:exact=a", "_id:exact"},
		{"Observation", "code-value-quantity=8480-6", "code-value-quantity"},
		{"Observation", "code-value-quantity=8480-6$abc", "code-value-quantity"},
		{"Observation", "code-value-quantity=a$1,b$2", "code-value-quantity"},
		{"Observation", "code-value-quantity:missing=true", "code-value-quantity"},
		{"Observation", "code.name=x", "code.name"},
		{"Observation", "subject:Patient.foo=x", "subject:Patient.foo"},
		{"Observation", "subject:Medication.name=x", "subject:Medication.name"},
		{"Observation", "patient.=x", "patient."},
		{"Observation", "focus.name=x", "focus.name"},
		{"Observation", "a.b.c.d.e.f=x", "a.b.c.d.e.f"},
		{"Observation", "patient.link.link.link.link.link.link.name=x", "patient.link"},
		{"Patient", "_has:Observation:code:status=final", "_has:Observation:code:status"},
		{"Patient", "_has:Observation:patient=x", "_has:Observation:patient"},
		{"Patient", "_has:Nope:patient:code=x", "_has:Nope"},
		{"Patient", "_has:Observation:encounter:code=x", "_has:Observation:encounter"},
		{"Patient", "_has=x", "_has"},
		{"Patient", "_filter=name eq x", "_filter"},
		{"Patient", "_query=x", "_query"},
		{"Patient", "_list=$current-allergies", "_list"},
		{"Patient", "_text:exact=x", "_text:exact"},
		{"Location", "near=1|2|3|km", "near"},
		{"Patient", "_sort=foo", "_sort"},
		{"Patient", "_sort=name,-name", "_sort"},
		{"Patient", "_sort=name:exact", "_sort"},
		{"Observation", "_sort=code-value-quantity", "_sort"},
		{"Patient", "_sort=", "_sort"},
		{"Patient", "_count=-1", "_count"},
		{"Patient", "_count=ten", "_count"},
		{"Patient", "_count=1&_count=2", "_count"},
		{"Patient", "_count:x=1", "_count:x"},
		{"Patient", "_total=some", "_total"},
		{"Patient", "_summary=yes", "_summary"},
		{"Patient", "_contained=maybe", "_contained"},
		{"Patient", "_containedType=contained", "_containedType"},
		{"Patient", "_elements=nope", "_elements"},
		{"Patient", "_elements=Observation.code", "_elements"},
		{"Patient", "_include=Patient", "_include"},
		{"Patient", "_include=Patient:name", "_include"},
		{"Patient", "_include=Patient:nope", "_include"},
		{"Patient", "_include=Observation:subject", "_include"},
		{"Patient", "_include=Patient:organization:Patient", "_include"},
		{"Patient", "_include:deep=Patient:organization", "_include:deep"},
		{"Patient", "_revinclude=Observation:encounter", "_revinclude"},
		{"Patient", "_revinclude=*", "_revinclude"},
		{"", "_include=*", "_include"},
		{"Patient", "_type=Observation", "_type"},
		{"", "_type=Nope", "_type"},
		{"", "_type=DomainResource", "_type"},
		{"", "name=x", `"name"`},
		{"", "_type=Patient,Observation&code=x", `"code"`},
		{"Patient", "name:=x", "name:"},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"?"+tc.query, func(t *testing.T) {
			q, err := parse(t, tc.typ, tc.query, ParseOptions{})
			if err == nil {
				t.Fatalf("Parse(%s?%s) = %+v, want an error", tc.typ, tc.query, q)
			}
			var fe *fhir.Error
			if !errors.As(err, &fe) || fe.Kind != fhir.KindInvalid {
				t.Fatalf("Parse(%s?%s): %v, want a *fhir.Error of KindInvalid", tc.typ, tc.query, err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("Parse(%s?%s): %q, want it to mention %s", tc.typ, tc.query, err, tc.mention)
			}
		})
	}
}
