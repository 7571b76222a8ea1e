package storetest

import (
	"github.com/emr-project/emr/internal/search"
)

type searchCase struct {
	name string
	q    *search.Query
	want []string // ids, in order
}

// chained is subject:Patient.name=jones style: param on typ, chained
// condition on chainType.
func chained(typ, code, chainType string, chain *search.Filter) *search.Filter {
	f := flt(typ, code, chainType)
	f.Chain, f.ChainType = chain, chainType
	return f
}

func has(refType, refParam string, cond *search.Filter) *search.Filter {
	return &search.Filter{Name: "_has", Kind: search.KindSpecial,
		Has: &search.HasClause{Type: refType, RefParam: sp(refType, refParam), Filter: cond}}
}

func sorted(q *search.Query, keys ...string) *search.Query {
	for _, k := range keys {
		desc := k[0] == '-'
		if desc {
			k = k[1:]
		}
		key := search.SortKey{Name: k, Descending: desc}
		if k != "_id" && k != "_lastUpdated" {
			key.Param = sp(q.Type, k)
		}
		q.Sort = append(q.Sort, key)
	}
	return q
}

func searchCases() []searchCase {
	composite := flt("Observation", "code-value-quantity", "", search.Value{Raw: "1234$gt6",
		Components: []search.Value{tok(loinc, "1234", true), qty("gt", "6", ucum, "mmol/L")}})
	return []searchCase{
		// string
		{"string prefix, case and accents", query("Patient", flt("Patient", "name", "", str("SMI"))), []string{"p1", "p2", "p4"}},
		{"string exact", query("Patient", flt("Patient", "name", "exact", str("Smith"))), []string{"p1"}},
		{"string exact is exact", query("Patient", flt("Patient", "name", "exact", str("smith"))), nil},
		{"string contains", query("Patient", flt("Patient", "family", "contains", str("ITH"))), []string{"p1", "p2", "p4"}},
		{"string OR values", query("Patient", flt("Patient", "given", "", str("pet"), str("sam"))), []string{"p3", "p4"}},
		{"string AND filters", query("Patient", flt("Patient", "name", "", str("smi")), flt("Patient", "given", "", str("ja"))), []string{"p2"}},
		{"string missing", query("Patient", flt("Patient", "gender", "missing", missing(true))), []string{"p4"}},
		// token
		{"token code any system", query("Observation", flt("Observation", "code", "", code("1234"))), []string{"obs1", "obs3", "obs4"}},
		{"token system|code", query("Observation", flt("Observation", "code", "", tok(loinc, "1234", true))), []string{"obs1", "obs3"}},
		{"token |code", query("Observation", flt("Observation", "code", "", tok("", "1234", true))), nil},
		{"token system|", query("Observation", flt("Observation", "code", "", tok(loinc, "", true))), []string{"obs1", "obs2", "obs3"}},
		{"token not", query("Observation", flt("Observation", "code", "not", tok(loinc, "1234", true))), []string{"obs2", "obs4"}},
		{"token text", query("Observation", flt("Observation", "code", "text", str("gluc"))), []string{"obs1", "obs3"}},
		{"token boolean", query("Patient", flt("Patient", "active", "", code("true"))), []string{"p1"}},
		{"token code", query("Patient", flt("Patient", "gender", "", code("male"))), []string{"p1", "p3"}},
		{"token missing false", query("Patient", flt("Patient", "gender", "missing", missing(false))), []string{"p1", "p2", "p3"}},
		{"identifier", query("Patient", flt("Patient", "identifier", "", tok(mrn, "M1", true))), []string{"p1"}},
		{"identifier value only", query("Patient", flt("Patient", "identifier", "", code("M1"))), []string{"p1", "p3"}},
		{"identifier of-type", query("Patient", flt("Patient", "identifier", "of-type", search.Value{
			TypeSystem: "http://terminology.hl7.org/CodeSystem/v2-0203", TypeCode: "MR", Code: "M1"})), []string{"p1"}},
		{"token in value set", query("Observation", flt("Observation", "status", "in",
			search.Value{Code: "http://hl7.org/fhir/ValueSet/observation-status"})), []string{"obs1", "obs2", "obs3", "obs4"}},
		{"_tag", query("Patient", flt("Patient", "_tag", "", tok("http://example.org/tags", "vip", true))), []string{"p1"}},
		{"_security", query("Patient", flt("Patient", "_security", "", tok("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R", true))), []string{"p2"}},
		{"_source", query("Patient", flt("Patient", "_source", "", search.Value{Raw: "http://example.org/source#a1", Exact: "http://example.org/source#a1"})), []string{"p2"}},
		{"_id", query("Patient", flt("Patient", "_id", "", code("p3"), code("p2"))), []string{"p2", "p3"}},
		{"_id not", query("Patient", flt("Patient", "_id", "not", code("p3"))), []string{"p1", "p2", "p4"}},
		// date
		{"date eq year", query("Patient", flt("Patient", "birthdate", "", date("", "1980"))), []string{"p1", "p2"}},
		{"date eq day", query("Patient", flt("Patient", "birthdate", "", date("eq", "1980-05-17"))), []string{"p1"}},
		{"date ne", query("Patient", flt("Patient", "birthdate", "", date("ne", "1980"))), []string{"p3", "p4"}},
		{"date gt", query("Patient", flt("Patient", "birthdate", "", date("gt", "1980"))), []string{"p4"}},
		{"date lt", query("Patient", flt("Patient", "birthdate", "", date("lt", "1980"))), []string{"p3"}},
		{"date ge", query("Patient", flt("Patient", "birthdate", "", date("ge", "1980-05"))), []string{"p1", "p2", "p4"}},
		{"date le", query("Patient", flt("Patient", "birthdate", "", date("le", "1980-05-17"))), []string{"p1", "p2", "p3"}},
		{"date sa", query("Patient", flt("Patient", "birthdate", "", date("sa", "1980"))), []string{"p4"}},
		{"date eb", query("Patient", flt("Patient", "birthdate", "", date("eb", "1980"))), []string{"p3"}},
		{"date period contained", query("Observation", flt("Observation", "date", "", date("", "2018"))), []string{"obs4"}},
		{"date period not in a month", query("Observation", flt("Observation", "date", "", date("", "2018-06"))), nil},
		{"date period overlaps with gt", query("Observation", flt("Observation", "date", "", date("gt", "2018-06-01"))), []string{"obs1", "obs2", "obs3", "obs4"}},
		{"_lastUpdated", query("Patient", flt("Patient", "_lastUpdated", "", date("gt", "2001-01-01"))), []string{"p1", "p2", "p3", "p4"}},
		{"_lastUpdated lt", query("Patient", flt("Patient", "_lastUpdated", "", date("lt", "2001-01-01"))), nil},
		// number and quantity
		{"number eq", query("RiskAssessment", flt("RiskAssessment", "probability", "", num("", "0.8"))), []string{"ra1"}},
		{"number precision", query("RiskAssessment", flt("RiskAssessment", "probability", "", num("", "0.3"))), nil},
		{"number gt", query("RiskAssessment", flt("RiskAssessment", "probability", "", num("gt", "0.5"))), []string{"ra1"}},
		{"number le", query("RiskAssessment", flt("RiskAssessment", "probability", "", num("le", "0.25"))), []string{"ra2"}},
		{"number ap", query("RiskAssessment", flt("RiskAssessment", "probability", "", num("ap", "0.26"))), []string{"ra2"}},
		{"quantity with unit", query("Observation", flt("Observation", "value-quantity", "", qty("", "5.4", ucum, "mmol/L"))), []string{"obs1"}},
		{"quantity gt", query("Observation", flt("Observation", "value-quantity", "", qty("gt", "6", ucum, "mmol/L"))), []string{"obs3"}},
		{"quantity in other units", query("Observation", flt("Observation", "value-quantity", "", qty("", "0.006", ucum, "mol/L"))), []string{"obs3"}},
		{"quantity gt in other units", query("Observation", flt("Observation", "value-quantity", "", qty("gt", "5000", ucum, "umol/L"))), []string{"obs1", "obs3"}},
		{"quantity no unit", query("Observation", flt("Observation", "value-quantity", "", qty("", "200", "", ""))), []string{"obs2"}},
		{"quantity wrong unit", query("Observation", flt("Observation", "value-quantity", "", qty("", "200", ucum, "mmol/L"))), nil},
		// reference
		{"reference Type/id", query("Observation", flt("Observation", "subject", "", ref("Patient", "p1"))), []string{"obs1", "obs2"}},
		{"reference bare id", query("Observation", flt("Observation", "patient", "", ref("", "p1"))), []string{"obs1", "obs2"}},
		{"reference :Type", query("Observation", flt("Observation", "subject", "Patient", ref("", "p2"))), []string{"obs3"}},
		{"reference :Type other", query("Observation", flt("Observation", "subject", "Group", ref("", "p2"))), nil},
		{"reference url", query("Patient", flt("Patient", "_profile", "", search.Value{RefURL: "http://example.org/StructureDefinition/p"})), []string{"p1"}},
		{"reference missing", query("Patient", flt("Patient", "organization", "missing", missing(true))), []string{"p2", "p3", "p4"}},
		{"chain", query("Observation", chained("Observation", "subject", "Patient", flt("Patient", "name", "", str("jones")))), []string{"obs4"}},
		{"chain any target", query("Observation", chained("Observation", "patient", "", flt("Patient", "birthdate", "", date("", "1980")))), []string{"obs1", "obs2", "obs3"}},
		{"chain two levels", query("Observation", chained("Observation", "subject", "Patient",
			chained("Patient", "organization", "Organization", flt("Organization", "name", "", str("acme"))))), []string{"obs1", "obs2"}},
		{"chain with another filter", query("Observation", flt("Observation", "code", "", code("1234")),
			chained("Observation", "subject", "Patient", flt("Patient", "gender", "", code("female")))), []string{"obs3"}},
		{"_has", query("Patient", has("Observation", "patient", flt("Observation", "code", "", code("5678")))), []string{"p1"}},
		{"_has nested", query("Practitioner", has("Patient", "general-practitioner",
			has("Observation", "patient", flt("Observation", "code", "", code("1234"))))), []string{"dr1"}},
		{"_has with filter", query("Patient", flt("Patient", "gender", "", code("male")),
			has("Observation", "patient", flt("Observation", "code", "", code("1234")))), []string{"p1", "p3"}},
		{"composite", query("Observation", composite), []string{"obs3"}},
		{"composite with an empty component", query("Observation", flt("Observation", "code-value-quantity", "", search.Value{Raw: "1234$",
			Components: []search.Value{tok(loinc, "1234", true), {}}})), []string{"obs1", "obs3"}},
		{"system search _has", &search.Query{Filters: []*search.Filter{has("Observation", "subject", flt("Observation", "code", "", code("5678")))}}, []string{"p1"}},
		{"system search _content", &search.Query{Filters: []*search.Filter{special("_content", "hypertension")}}, []string{"c2"}},
		// uri
		{"uri", query("ValueSet", flt("ValueSet", "url", "", search.Value{Raw: "http://example.org/fhir/ValueSet/abc"})), []string{"vs1"}},
		{"uri below", query("ValueSet", flt("ValueSet", "url", "below", search.Value{Raw: "http://example.org/fhir/ValueSet/abc"})), []string{"vs1", "vs2"}},
		{"uri above", query("ValueSet", flt("ValueSet", "url", "above", search.Value{Raw: "http://example.org/fhir/ValueSet/abc/sub/x"})), []string{"vs1", "vs2"}},
		// special
		{"_text", query("Patient", special("_text", "diabetic")), []string{"p1"}},
		{"_content", query("Patient", special("_content", "springfield")), []string{"p3"}},
		{"_content accents", query("Patient", special("_content", "smith")), []string{"p1", "p2"}},
		{"_list", query("Patient", special("_list", "l1")), []string{"p1", "p3"}},
		// compartments and system search
		{"compartment type", &search.Query{Type: "Observation", Compartment: &search.CompartmentRef{Type: "Patient", ID: "p1"}}, []string{"obs1", "obs2"}},
		{"compartment everything", &search.Query{Compartment: &search.CompartmentRef{Type: "Patient", ID: "p1"}}, []string{"p1", "p3", "obs1", "obs2", "c1", "ra1"}},
		{"compartments of two patients", &search.Query{Type: "Observation", Compartment: &search.CompartmentRef{Type: "Patient", ID: "p1"},
			MoreCompartments: []string{"p2"}}, []string{"obs1", "obs2", "obs3"}},
		{"compartments of patients, every type", &search.Query{Types: []string{"Observation", "Condition"}, Compartment: &search.CompartmentRef{Type: "Patient", ID: "p2"},
			MoreCompartments: []string{"nobody"}}, []string{"obs3", "c2"}},
		{"compartment with filter", &search.Query{Type: "Observation", Compartment: &search.CompartmentRef{Type: "Patient", ID: "p1"},
			Filters: []*search.Filter{flt("Observation", "code", "", code("5678"))}}, []string{"obs2"}},
		{"system search by _id", &search.Query{Filters: []*search.Filter{flt("Patient", "_id", "", code("obs1"), code("c1"))}}, []string{"obs1", "c1"}},
		{"system search with _type", &search.Query{Types: []string{"Observation", "Condition"}, Filters: []*search.Filter{
			flt("Observation", "patient", "", ref("Patient", "p2"))}}, []string{"obs3", "c2"}},
		// sort
		{"sort string", sorted(query("Patient"), "family"), []string{"p3", "p1", "p2", "p4"}},
		{"sort date descending", sorted(query("Patient"), "-birthdate"), []string{"p4", "p2", "p1", "p3"}},
		{"sort token then date", sorted(query("Patient"), "gender", "-birthdate"), []string{"p2", "p1", "p3", "p4"}},
		{"sort _id descending", sorted(query("Patient"), "-_id"), []string{"p4", "p3", "p2", "p1"}},
		{"sort with filter", sorted(query("Observation", flt("Observation", "patient", "", ref("Patient", "p1"))), "-date"), []string{"obs2", "obs1"}},
		{"sort number", sorted(query("RiskAssessment"), "probability"), []string{"ra2", "ra1"}},
	}
}
