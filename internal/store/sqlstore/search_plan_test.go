package sqlstore

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/storetest"
)

func testFilter(typ, code, modifier string, values ...search.Value) *search.Filter {
	p := spec.R5().SearchParamsFor(typ)[code]
	return &search.Filter{Param: p, Name: code, Kind: search.Kind(p.Type), Modifier: modifier, Values: values}
}

func testDate(prefix, s string) search.Value {
	lo, hi, err := search.DateRange(s)
	if err != nil {
		panic(err)
	}
	return search.Value{Prefix: prefix, DateLow: lo, DateHigh: hi}
}

// hotQueries are the searches a clinical workload runs most; at a million
// patients each must start from an index range and never scan a table.
func hotQueries() map[string]*search.Query {
	name := search.Value{Raw: "smi", Text: "smi"}
	dateSort := search.SortKey{Param: spec.R5().SearchParamsFor("Observation")["date"], Name: "date", Descending: true}
	patient := &search.CompartmentRef{Type: "Patient", ID: "p1"}
	return map[string]*search.Query{
		"Patient?name&birthdate": {Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "name", "", name), testFilter("Patient", "birthdate", "", testDate("", "1980"))}},
		"Patient?name&birthdate=day": {Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "name", "", name), testFilter("Patient", "birthdate", "", testDate("", "1980-05-17"))}},
		"Patient?birthdate&name": {Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "birthdate", "", testDate("", "1980")), testFilter("Patient", "name", "", name)}},
		"Patient?identifier": {Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "identifier", "", search.Value{System: "urn:mrn", Code: "M1", HasSystem: true})}},
		"Patient?family:exact": {Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "family", "exact", search.Value{Exact: "Smith"})}},
		"Patient?_sort=_lastUpdated": {Type: "Patient", Sort: []search.SortKey{{Name: "_lastUpdated"}}},
		"Patient?_sort=family":       {Type: "Patient", Sort: []search.SortKey{{Param: spec.R5().SearchParamsFor("Patient")["family"], Name: "family"}}},
		"Patient?_sort=-birthdate":   {Type: "Patient", Sort: []search.SortKey{{Param: spec.R5().SearchParamsFor("Patient")["birthdate"], Name: "birthdate", Descending: true}}},
		"Patient":                    {Type: "Patient"},
		"Observation?patient&code&date&_sort=-date": {Type: "Observation", Sort: []search.SortKey{dateSort}, Filters: []*search.Filter{
			testFilter("Observation", "patient", "", search.Value{RefType: "Patient", RefID: "p1"}),
			testFilter("Observation", "code", "", search.Value{System: "http://loinc.org", Code: "1234", HasSystem: true}),
			testFilter("Observation", "date", "", testDate("ge", "2020"))}},
		"Observation?value-quantity": {Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "value-quantity", "", search.Value{Prefix: "gt", Number: 5, Low: 4.95, High: 5.05,
				System: "http://unitsofmeasure.org", Code: "mmol/L"})}},
		"Observation?code-value-quantity": {Type: "Observation", Filters: []*search.Filter{
			testFilter("Observation", "code-value-quantity", "", search.Value{Components: []search.Value{
				{System: "http://loinc.org", Code: "1234", HasSystem: true},
				{Prefix: "gt", Number: 5, Low: 4.95, High: 5.05}}})}},
		"Condition?patient": {Type: "Condition", Filters: []*search.Filter{
			testFilter("Condition", "patient", "", search.Value{RefID: "p1"})}},
		"Patient/p1/$everything": {Compartment: patient},
		"Patient/p1/Observation?code": {Type: "Observation", Compartment: patient, Filters: []*search.Filter{
			testFilter("Observation", "code", "", search.Value{Code: "1234"})}},
		"Observation?subject:Patient.identifier": {Type: "Observation", Filters: []*search.Filter{func() *search.Filter {
			f := testFilter("Observation", "subject", "Patient")
			f.ChainType, f.Chain = "Patient", testFilter("Patient", "identifier", "", search.Value{System: "urn:mrn", Code: "M1", HasSystem: true})
			return f
		}()}},
		"Patient?_has:Observation:patient:code": {Type: "Patient", Filters: []*search.Filter{{Name: "_has", Kind: search.KindSpecial,
			Has: &search.HasClause{Type: "Observation", RefParam: spec.R5().SearchParamsFor("Observation")["patient"],
				Filter: testFilter("Observation", "code", "", search.Value{Code: "1234"})}}}},
	}
}

// planWants are index searches some plans must contain.
var planWants = map[string]string{
	"Observation?subject:Patient.identifier":    "idx_reference_target (pid=? AND ref_type=? AND ref_id=?)",
	"Patient?_has:Observation:patient:code":     "idx_token_code (pid=? AND code=?)",
	"Patient?name&birthdate":                    "idx_string_text (pid=? AND text>? AND text<?)",
	"Patient?birthdate&name":                    "idx_string_text (pid=? AND text>? AND text<?)",
	"Patient?name&birthdate=day":                "idx_date_low (pid=? AND low>? AND low<?)",
	"Patient?identifier":                        "idx_token_code (pid=? AND code=? AND system=?)",
	"Observation?patient&code&date&_sort=-date": "idx_reference_target (pid=? AND ref_type=? AND ref_id=?)",
	"Observation?value-quantity":                "idx_quantity_code (pid=? AND code=?",
	"Observation?code-value-quantity":           "idx_token_code (pid=?",
	"Condition?patient":                         "idx_reference_target (pid=? AND ref_type=? AND ref_id=?)",
	"Patient?_sort=family":                      "idx_string_text (pid=?)",
	"Patient?_sort=-birthdate":                  "idx_date_high (pid=?)",
	"Patient/p1/$everything":                    "SEARCH cm USING PRIMARY KEY (comp_type=? AND comp_id=?)",
}

// A plan line that reads a whole table or index of the store (json_each
// and the constant rows of IN lists are not tables).
var fullScan = regexp.MustCompile(`\bSCAN (resource_\w+|idx_\w+|k|v|x\w*|t\w*|r\w*|c\w*)\b`)

func TestSearchPlans(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	checkSearchPlans(t, db)
}

// On a store with the statistics a Close leaves (PRAGMA optimize, without
// its samples: dropStat4), the plans are as good: the averages alone lead
// to the same indexes. The samples are gone once the store is closed and
// opened again.
func TestSearchPlansAnalyzed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emr.db")
	db, err := OpenSQLite(ctx, path, Options{Extractor: storetest.Extractor()})
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < 2000; start += 500 {
		err := db.Write(ctx, func(tx store.Tx) error {
			for i := start; i < start+500; i++ {
				p := benchPatient(i)
				p.SetID(fmt.Sprintf("pt%d", i))
				for _, r := range []fhir.Resource{p, benchObservation(i, 0), benchObservation(i, 1), benchCondition(i)} {
					if r.ID() == "" {
						r.SetID(fmt.Sprintf("r%d-%s", i, store.NewID()))
					}
					if _, _, err := tx.Update(r, 0); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.wconn.ExecContext(ctx, "PRAGMA optimize=0x10002"); err != nil {
		t.Fatal(err)
	}
	stats := func(db *DB) (stat1, stat4 int) {
		t.Helper()
		if err := db.readers.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM sqlite_stat1), (SELECT count(*) FROM sqlite_stat4)").Scan(&stat1, &stat4); err != nil {
			t.Fatal(err)
		}
		return stat1, stat4
	}
	if _, stat4 := stats(db); stat4 == 0 {
		t.Fatal("ANALYZE gathered no samples: this SQLite is built without STAT4, and the test tests nothing")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = OpenSQLite(ctx, path, Options{Extractor: storetest.Extractor()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if stat1, stat4 := stats(db); stat1 == 0 || stat4 != 0 {
		t.Fatalf("after Close and Open: %d rows of sqlite_stat1, %d of sqlite_stat4; want some and none", stat1, stat4)
	}
	checkSearchPlans(t, db)
}

// checkSearchPlans checks the plans of hotQueries on db.
func checkSearchPlans(t *testing.T, db *DB) {
	for name, q := range hotQueries() {
		t.Run(name, func(t *testing.T) {
			p, err := planSearch(sqliteDialect, q)
			if err != nil {
				t.Fatal(err)
			}
			mode := modeAll
			if p.walk {
				mode = modeHead
			}
			page, args, err := p.pageSQL(q, nil, false, mode, 51)
			if err != nil {
				t.Fatal(err)
			}
			count, cargs, err := p.countSQL(q, false)
			if err != nil {
				t.Fatal(err)
			}
			for i, sq := range []struct {
				sql  string
				args []any
			}{{page, args}, {count, cargs}} {
				plan := explainPlan(t, db, sq.sql, sq.args...)
				if want := planWants[name]; want != "" && i == 0 && !strings.Contains(plan, want) {
					t.Errorf("plan:\n%s\nwant %s", plan, want)
				}
				if fullScan.MatchString(plan) {
					t.Errorf("full scan in plan:\n%s\nof %s", plan, sq.sql)
				}
				// A probe of one resource's index rows, or a sort key read
				// for one resource, must seek by rid: through a secondary
				// index on (pid, value) it reads every row of the parameter.
				lines := strings.Split(plan, "\n")
				for j, line := range lines {
					probe := strings.Contains(line, "EXISTS USING") && !strings.Contains(line, "resource_key")
					sortKey := j > 0 && strings.HasPrefix(lines[j-1], "CORRELATED SCALAR SUBQUERY")
					if (probe || sortKey) && !strings.Contains(line, "PRIMARY KEY (rid=") {
						t.Errorf("a per-resource probe does not seek by rid: %q in\n%s\nof %s", line, plan, sq.sql)
					}
				}
				if testing.Verbose() {
					t.Logf("%s\n%s", sq.sql, plan)
				}
			}
		})
	}
}

func explainPlan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.readers.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}

// TestParamIDs checks that no two search parameters of the specification
// share a pid: a clash would mix their index rows.
func TestParamIDs(t *testing.T) {
	seen := make(map[int64]string)
	for _, typ := range resourceTypes() {
		for code := range spec.R5().SearchParamsFor(typ) {
			pid, name := paramID(typ, code), typ+"."+code
			if other, ok := seen[pid]; ok {
				t.Errorf("%s and %s share pid %d", other, name, pid)
			}
			seen[pid] = name
		}
	}
	if len(seen) < 1000 {
		t.Errorf("got %d parameters, want the specification's (over 1000)", len(seen))
	}
}
