package sqlstore

import (
	"fmt"
	"github.com/emr-project/emr/internal/store/pgtest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/storetest"
)

// The search benchmarks share one generated store: benchPatients patients,
// each with two Observations and a Condition. It is built the first time
// a benchmark asks (never by plain go test).
const benchPatients = 20000

var (
	benchOnce sync.Once
	benchDir  string
	benchDB   *DB
	benchErr  error
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	if benchDB != nil {
		benchDB.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchObservation(i, j int) fhir.Resource {
	res, err := fhir.ParseResource(fmt.Appendf(nil, `{"resourceType":"Observation","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"%d-%d","display":"Test %d"}]},
		"subject":{"reference":"Patient/pt%d"},"effectiveDateTime":"20%02d-%02d-%02dT10:00:00Z",
		"valueQuantity":{"value":%d.%d,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`,
		1000+i%20, j, i%20, i, 10+i%15, 1+j*6, 1+i%28, i%10, j))
	if err != nil {
		panic(err)
	}
	return res
}

func benchCondition(i int) fhir.Resource {
	res, err := fhir.ParseResource(fmt.Appendf(nil, `{"resourceType":"Condition",
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"%d"}]},"subject":{"reference":"Patient/pt%d"}}`, 4000+i%50, i))
	if err != nil {
		panic(err)
	}
	return res
}

// benchHeavyPatient writes the record of a patient long in care,
// "heavy": 3,000 Observations, 300 Encounters and 40 Conditions (codes
// 4900 to 4939, which no other patient has).
func benchHeavyPatient(tx store.Tx) error {
	p := benchPatient(benchPatients)
	p.SetID("heavy")
	if _, _, err := tx.Update(p, 0); err != nil {
		return err
	}
	for i := range 3340 {
		var js string
		switch {
		case i < 3000:
			js = fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"9%03d-1"}]},
				"subject":{"reference":"Patient/heavy"},"effectiveDateTime":"2020-01-01T10:00:00Z"}`, i%100)
		case i < 3300:
			js = `{"resourceType":"Encounter","status":"completed","subject":{"reference":"Patient/heavy"}}`
		default:
			js = fmt.Sprintf(`{"resourceType":"Condition","code":{"coding":[{"system":"http://snomed.info/sct","code":"%d"}]},
				"subject":{"reference":"Patient/heavy"}}`, 4900+i-3300)
		}
		res, err := fhir.ParseResource([]byte(js))
		if err != nil {
			return err
		}
		if _, err := tx.Create(res); err != nil {
			return err
		}
	}
	return nil
}

func searchBenchStore(b *testing.B) *DB {
	benchOnce.Do(func() {
		if benchDir, benchErr = os.MkdirTemp("", "emr-search-bench"); benchErr != nil {
			return
		}
		benchDB, benchErr = OpenSQLite(ctx, filepath.Join(benchDir, "emr.db"), Options{Extractor: storetest.Extractor()})
		if benchErr != nil {
			return
		}
		for start := 0; start < benchPatients && benchErr == nil; start += 500 {
			benchErr = benchDB.Write(ctx, func(tx store.Tx) error {
				for i := start; i < start+500; i++ {
					p := benchPatient(i)
					p.SetID(fmt.Sprintf("pt%d", i))
					for _, r := range []fhir.Resource{p, benchObservation(i, 0), benchObservation(i, 1), benchCondition(i)} {
						var err error
						if r.ID() != "" {
							_, _, err = tx.Update(r, 0)
						} else {
							_, err = tx.Create(r)
						}
						if err != nil {
							return err
						}
					}
				}
				return nil
			})
		}
		if benchErr == nil {
			benchErr = benchDB.Write(ctx, benchHeavyPatient)
		}
		if benchErr == nil {
			// As a server's Close leaves them (dropStat4).
			if _, benchErr = benchDB.wconn.ExecContext(ctx, "PRAGMA optimize=0x10002"); benchErr == nil {
				benchErr = dropStat4(ctx, benchDB.wconn)
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDB
}

func benchSearch(b *testing.B, q *search.Query, want int) {
	db := searchBenchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		r, err := db.Search(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Matches) != want {
			b.Fatalf("got %d matches, want %d", len(r.Matches), want)
		}
	}
	reportOps(b)
}

func BenchmarkSearchPatientByName(b *testing.B) {
	// Family1234 and Family12340..12349: 11 patients.
	benchSearch(b, &search.Query{Type: "Patient", Filters: []*search.Filter{
		testFilter("Patient", "name", "", search.Value{Text: "family1234"})}}, 11)
}

func BenchmarkSearchPatientByNameAndBirthdate(b *testing.B) {
	// benchPatient's birthDate is 19{i%100}-0{1+i%9}-1{i%10}.
	benchSearch(b, &search.Query{Type: "Patient", Filters: []*search.Filter{
		testFilter("Patient", "name", "", search.Value{Text: "family1234"}),
		testFilter("Patient", "birthdate", "", testDate("", "1934"))}}, 1)
}

func BenchmarkSearchPatientByIdentifier(b *testing.B) {
	benchSearch(b, &search.Query{Type: "Patient", Filters: []*search.Filter{
		testFilter("Patient", "identifier", "", search.Value{System: "http://hospital.example.org/mrn", Code: "MRN00012345", HasSystem: true})}}, 1)
}

func BenchmarkSearchObservationByPatientCodeDate(b *testing.B) {
	benchSearch(b, &search.Query{Type: "Observation",
		Sort: []search.SortKey{{Param: spec.R5().SearchParamsFor("Observation")["date"], Name: "date", Descending: true}},
		Filters: []*search.Filter{
			testFilter("Observation", "patient", "", search.Value{RefType: "Patient", RefID: "pt4321"}),
			testFilter("Observation", "code", "", search.Value{System: "http://loinc.org", Code: "1001-0", HasSystem: true}),
			testFilter("Observation", "date", "", testDate("ge", "2010"))}}, 1)
}

func BenchmarkSearchConditionByPatient(b *testing.B) {
	benchSearch(b, &search.Query{Type: "Condition", Filters: []*search.Filter{
		testFilter("Condition", "patient", "", search.Value{RefType: "Patient", RefID: "pt777"})}}, 1)
}

func BenchmarkSearchCompartmentEverything(b *testing.B) {
	benchSearch(b, &search.Query{Compartment: &search.CompartmentRef{Type: "Patient", ID: "pt777"}}, 4)
}

// A compartment search of one type with a code (GET
// Patient/heavy/Condition?code=4917, as the chart and SMART apps ask) in
// a record of 3,341 resources, 40 of them Conditions.
func BenchmarkSearchCompartmentConditionByCode(b *testing.B) {
	benchSearch(b, &search.Query{Type: "Condition", Compartment: &search.CompartmentRef{Type: "Patient", ID: "heavy"},
		Filters: []*search.Filter{testFilter("Condition", "code", "", search.Value{Code: "4917"})}}, 1)
}

// The same record's Encounters, the first page of 50.
func BenchmarkSearchCompartmentEncounters(b *testing.B) {
	benchSearch(b, &search.Query{Type: "Encounter", Count: 50, Compartment: &search.CompartmentRef{Type: "Patient", ID: "heavy"}}, 50)
}

func BenchmarkSearchObservationsByCodeTotal(b *testing.B) {
	// 1000 Observations have code 1003-1; one page of 50 and the count.
	benchSearch(b, &search.Query{Type: "Observation", Total: "accurate", Filters: []*search.Filter{
		testFilter("Observation", "code", "", search.Value{Code: "1003-1"})}}, 50)
}

func BenchmarkSearchPatientPageSortedByName(b *testing.B) {
	benchSearch(b, &search.Query{Type: "Patient", Count: 20,
		Sort: []search.SortKey{{Param: spec.R5().SearchParamsFor("Patient")["family"], Name: "family"}}}, 20)
}

// BenchmarkIndexedCreate measures what indexing adds to a write: 100
// Patients per transaction, with and without the extractor.
func BenchmarkIndexedCreate(b *testing.B) {
	for _, tc := range []struct {
		name string
		x    store.Extractor
	}{{"NoIndex", nil}, {"Index", storetest.Extractor()}} {
		b.Run(tc.name, func(b *testing.B) {
			db, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "emr.db"), Options{Extractor: tc.x})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			i := 0
			for b.Loop() {
				err := db.Write(ctx, func(tx store.Tx) error {
					for range 100 {
						i++
						if _, err := tx.Create(benchPatient(i)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}

// BenchmarkSearchUnderAccess measures what access rules add to a search:
// the 1,000 Observations of one code (a page of 50 and the total) for a
// caller without limits, for a physician (a rule over the role's types)
// and for a patient user (their own compartment: one match).
func BenchmarkSearchUnderAccess(b *testing.B) {
	defs := spec.R5()
	pol := access.NewRolePolicy(defs, access.DefaultRoles(defs))
	limit := func(p *access.Principal) *search.Access {
		return pol.Limit(access.WithPrincipal(ctx, p), 's', nil)
	}
	for _, c := range []struct {
		name   string
		access *search.Access
		want   int
	}{
		{"None", nil, 50},
		{"Physician", limit(&access.Principal{User: "d", Role: "physician"}), 50},
		{"Patient", limit(&access.Principal{User: "p", Role: "patient", Patient: "pt3"}), 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchSearch(b, &search.Query{Type: "Observation", Total: "accurate", Access: c.access, Filters: []*search.Filter{
				testFilter("Observation", "code", "", search.Value{Code: "1003-1"})}}, c.want)
		})
	}
}
