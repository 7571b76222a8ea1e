package storetest

import (
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Queries are built by hand here: the parser (search.Parse) is written in
// parallel; when it lands these helpers can give way to query strings.

func sp(typ, code string) *spec.SearchParam {
	p := spec.R5().SearchParamsFor(typ)[code]
	if p == nil {
		panic("storetest: no search parameter " + typ + "." + code)
	}
	return p
}

// flt is a filter on typ's parameter code (code may carry a :modifier).
func flt(typ, code, modifier string, values ...search.Value) *search.Filter {
	p := sp(typ, code)
	return &search.Filter{Param: p, Name: code, Kind: search.Kind(p.Type), Modifier: modifier, Values: values}
}

func str(s string) search.Value {
	return search.Value{Raw: s, Text: search.Normalize(s), Exact: s}
}

func tok(system, code string, hasSystem bool) search.Value {
	return search.Value{Raw: system + "|" + code, System: system, Code: code, HasSystem: hasSystem}
}

func code(c string) search.Value { return search.Value{Raw: c, Code: c} }

func ref(typ, id string) search.Value {
	raw := id
	if typ != "" {
		raw = typ + "/" + id
	}
	return search.Value{Raw: raw, RefType: typ, RefID: id}
}

func date(prefix, s string) search.Value {
	lo, hi, err := search.DateRange(s)
	if err != nil {
		panic(err)
	}
	return search.Value{Raw: prefix + s, Prefix: prefix, DateLow: lo, DateHigh: hi}
}

func num(prefix, s string) search.Value {
	v, lo, hi, err := search.NumberRange(s)
	if err != nil {
		panic(err)
	}
	return search.Value{Raw: prefix + s, Prefix: prefix, Number: v, Low: lo, High: hi}
}

func qty(prefix, s, system, unit string) search.Value {
	v := num(prefix, s)
	v.System, v.Code = system, unit
	return v
}

func missing(b bool) search.Value { return search.Value{Missing: b} }

func special(name, value string) *search.Filter {
	return &search.Filter{Name: name, Kind: search.KindSpecial, Special: name, Values: []search.Value{{Raw: value}}}
}

func query(typ string, filters ...*search.Filter) *search.Query {
	return &search.Query{Type: typ, Filters: filters}
}

const (
	loinc  = "http://loinc.org"
	snomed = "http://snomed.info/sct"
	ucum   = "http://unitsofmeasure.org"
	mrn    = "http://hospital.example.org/mrn"
)

func res(js string) fhir.Resource {
	r, err := fhir.ParseResource([]byte(js))
	if err != nil {
		panic(err)
	}
	return r
}

// fixture is the data of the search cases, stored with fixed ids in this
// order (the default order of results).
var fixture = []string{
	`{"resourceType":"Organization","id":"o1","name":"Acme Hospital"}`,
	`{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Who","given":["Doctor"]}]}`,
	`{"resourceType":"Patient","id":"p1","meta":{"tag":[{"system":"http://example.org/tags","code":"vip"}],"profile":["http://example.org/StructureDefinition/p"]},
	  "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">John Smith, <b>diabetic</b></div>"},
	  "identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"` + mrn + `","value":"M1"}],
	  "active":true,"name":[{"family":"Smith","given":["John"]}],"gender":"male","birthDate":"1980-05-17","managingOrganization":{"reference":"Organization/o1"}}`,
	`{"resourceType":"Patient","id":"p2","meta":{"source":"http://example.org/source#a1","security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},"identifier":[{"system":"` + mrn + `","value":"M2"}],"active":false,
	  "name":[{"family":"Smíth","given":["Jane"]}],"gender":"female","birthDate":"1980-05","generalPractitioner":[{"reference":"Practitioner/dr1"}]}`,
	`{"resourceType":"Patient","id":"p3","identifier":[{"system":"http://other.example.org","value":"M1"}],
	  "name":[{"family":"Jones","given":["Peter"]}],"gender":"male","birthDate":"1975","address":[{"city":"Springfield"}],
	  "link":[{"other":{"reference":"Patient/p1"},"type":"seealso"}]}`,
	`{"resourceType":"Patient","id":"p4","name":[{"family":"Smithson","given":["Sam"]}],"birthDate":"1990-01-01"}`,
	`{"resourceType":"Observation","id":"obs1","status":"final","code":{"coding":[{"system":"` + loinc + `","code":"1234","display":"Glucose"}]},
	  "subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/dr1"}],"effectiveDateTime":"2020-01-01T10:00:00Z",
	  "valueQuantity":{"value":5.4,"unit":"mmol/L","system":"` + ucum + `","code":"mmol/L"}}`,
	`{"resourceType":"Observation","id":"obs2","status":"preliminary","code":{"coding":[{"system":"` + loinc + `","code":"5678","display":"Cholesterol"}]},
	  "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2021-06-15","valueQuantity":{"value":200,"system":"` + ucum + `","code":"mg/dL"}}`,
	`{"resourceType":"Observation","id":"obs3","status":"final","code":{"coding":[{"system":"` + loinc + `","code":"1234","display":"Glucose"}]},
	  "subject":{"reference":"Patient/p2"},"effectiveDateTime":"2019-03-01T00:00:00Z","valueQuantity":{"value":6.1,"system":"` + ucum + `","code":"mmol/L"}}`,
	`{"resourceType":"Observation","id":"obs4","status":"final","code":{"coding":[{"system":"` + snomed + `","code":"1234"}]},
	  "subject":{"reference":"Patient/p3"},"effectivePeriod":{"start":"2018-01-01","end":"2018-12-31"}}`,
	`{"resourceType":"Condition","id":"c1","code":{"coding":[{"system":"` + snomed + `","code":"44054006","display":"Diabetes"}]},"subject":{"reference":"Patient/p1"}}`,
	`{"resourceType":"Condition","id":"c2","code":{"coding":[{"system":"` + snomed + `","code":"38341003","display":"Hypertension"}]},"subject":{"reference":"Patient/p2"}}`,
	`{"resourceType":"List","id":"l1","status":"current","mode":"working","entry":[{"item":{"reference":"Patient/p1"}},{"item":{"reference":"Patient/p3"}}]}`,
	`{"resourceType":"RiskAssessment","id":"ra1","status":"final","subject":{"reference":"Patient/p1"},"prediction":[{"probabilityDecimal":0.8}]}`,
	`{"resourceType":"RiskAssessment","id":"ra2","status":"final","subject":{"reference":"Patient/p2"},"prediction":[{"probabilityDecimal":0.25}]}`,
	`{"resourceType":"ValueSet","id":"vs1","status":"active","url":"http://example.org/fhir/ValueSet/abc"}`,
	`{"resourceType":"ValueSet","id":"vs2","status":"active","url":"http://example.org/fhir/ValueSet/abc/sub"}`,
	`{"resourceType":"ValueSet","id":"vs3","status":"active","url":"http://other.org/ValueSet/abc"}`,
}

func loadFixture(t *testing.T, s store.Store) {
	t.Helper()
	write(t, s, func(tx store.Tx) error {
		for _, js := range fixture {
			if _, _, err := tx.Update(res(js), 0); err != nil {
				return err
			}
		}
		return nil
	})
}

// ids are the "Type/id" of versions.
func ids(vs []*store.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func runSearch(t *testing.T, s store.Store, q *search.Query) *store.SearchResult {
	t.Helper()
	r, err := s.Search(ctx, q)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	return r
}

func equalIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
