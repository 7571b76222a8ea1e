package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

const (
	sctFragment = `{"resourceType":"CodeSystem","id":"sct","url":"http://snomed.info/sct","name":"SNOMED_CT","title":"SNOMED CT","status":"active","content":"fragment",
	"concept":[{"code":"44054006","display":"Diabetes mellitus type 2"},{"code":"73211009","display":"Diabetes mellitus"},
		{"code":"38341003","display":"Hypertensive disorder, systemic arterial"},{"code":"91936005","display":"Allergy to penicillin"}]}`
	rxFragment = `{"resourceType":"CodeSystem","id":"rx","url":"http://www.nlm.nih.gov/research/umls/rxnorm","name":"RxNorm","status":"active","content":"fragment",
	"concept":[{"code":"7980","display":"Penicillin G"},{"code":"723","display":"Amoxicillin"}]}`
)

// Problems: coded by a picked term, by a term typed exactly, or kept as
// uncoded text; resolved and entered in error as new versions that R5
// accepts, on the version the page showed.
func TestProblemList(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, sctFragment, rxFragment)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/problems")
	wantAll(t, "problems", page, http.StatusOK, "No active problem", "Add a problem", `data-kind="problem"`, "/static/ws/coded.js")
	csrf := csrfOf(t, page.body)

	// The suggestions as the script asks for them: problem systems only.
	wantAll(t, "lookup", b.get("/terminology?kind=problem&q=diab"), http.StatusOK,
		`data-code="73211009"`, `data-code="44054006"`, "SNOMED CT 44054006")
	if got := b.get("/terminology?kind=problem&q=penicillin+g"); strings.Contains(got.body, "7980") {
		t.Errorf("a problem is offered an RxNorm drug: %s", got.body)
	}
	wantAll(t, "lookup nothing", b.get("/terminology?kind=problem&q=zzzz"), http.StatusOK, "No matching term")

	add := func(form url.Values) answer {
		form.Set("csrf", csrf)
		return b.post("/patients/jose/problems", form)
	}
	for _, f := range []url.Values{
		{"term": {"Diabetes mellitus type 2"}, "system": {"http://snomed.info/sct"}, "code": {"44054006"}, "display": {"Diabetes mellitus type 2"}, "onset": {"02-May-2019"}},
		{"term": {"hypertensive disorder, systemic arterial"}},                         // typed exactly: coded
		{"term": {"Knee pain after a fall"}},                                           // not held: text
		{"term": {"Fake"}, "system": {"http://snomed.info/sct"}, "code": {"91936005"}}, // a code whose display is not the term: text
	} {
		if a := add(f); a.status != http.StatusSeeOther {
			t.Fatalf("add %v: %d %.2000s", f, a.status, a.body)
		}
	}
	wantAll(t, "no term", add(url.Values{"term": {" "}}), http.StatusBadRequest, "Type the problem or diagnosis.")
	wantAll(t, "bad onset", add(url.Values{"term": {"Gout"}, "onset": {"last spring"}}), http.StatusBadRequest, "is not a date", `value="Gout"`)

	list := b.get("/patients/jose/problems")
	wantAll(t, "list", list, http.StatusOK, "Diabetes mellitus type 2", "SNOMED CT 44054006", "02-May-2019", "SNOMED CT 38341003",
		"Knee pain after a fall", "(uncoded)")
	ctx := context.Background()
	res, err := s.store.Search(ctx, mustQuery(t, "Condition", url.Values{"_count": {"20"}}))
	if err != nil {
		t.Fatal(err)
	}
	byText := map[string]*store.Version{}
	for _, v := range res.Matches {
		byText[conceptText(v.Resource["code"])] = v
	}
	if c := byText["Fake"]; c == nil || c.Resource["code"].(map[string]any)["coding"] != nil {
		t.Errorf("a posted code whose display is not the term coded the problem")
	}
	dm := byText["Diabetes mellitus type 2"]
	change := func(id string, version int64, status string) answer {
		return b.post("/patients/jose/problems/"+id, url.Values{"csrf": {csrf}, "version": {itoa(version)}, "status": {status}})
	}
	if a := change(dm.ID, 1, "resolved"); a.status != http.StatusSeeOther {
		t.Fatalf("resolve: %d %.2000s", a.status, a.body)
	}
	wantAll(t, "stale", change(dm.ID, 1, "inactive"), http.StatusConflict, "Someone changed this entry")
	knee := byText["Knee pain after a fall"]
	if a := change(knee.ID, 1, "entered-in-error"); a.status != http.StatusSeeOther {
		t.Fatalf("entered in error: %d", a.status)
	}
	wantAll(t, "no way back", change(knee.ID, 2, "active"), http.StatusBadRequest, "Choose a status the entry can take.")
	wantAll(t, "after", b.get("/patients/jose/problems"), http.StatusOK, "Resolved", "until 23-Nov-2026", "Entered in error")

	validator := validate.New(spec.R5())
	for _, id := range []string{dm.ID, knee.ID} {
		v, err := s.store.Read(ctx, "Condition", id)
		if err != nil {
			t.Fatal(err)
		}
		if v.VersionID != 2 {
			t.Errorf("Condition/%s is at version %d, want 2 (a status change is a new version)", id, v.VersionID)
		}
		if issues := validator.Validate(v.Resource); validate.HasErrors(issues) {
			t.Errorf("Condition is not valid R5: %v\n%s", issues, v.Resource.JSON())
		}
	}
	// The chart's summary lists only the active problems.
	chart := b.get("/patients/jose")
	if strings.Contains(chart.body, "Diabetes mellitus type 2") || !strings.Contains(chart.body, "Hypertensive disorder") {
		t.Errorf("the summary's problems are not the active ones")
	}
}

// Allergies: recorded coded with reaction and criticality, shown in the
// banner; "no known allergies" refused while one is active and refuted
// by a new one.
func TestAllergyList(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(rahim, sctFragment, rxFragment)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/rahim/allergies")
	wantAll(t, "allergies", page, http.StatusOK, "Allergies not recorded", "Record: no known allergies")
	csrf := csrfOf(t, page.body)
	if a := b.post("/patients/rahim/allergies", url.Values{"csrf": {csrf}, "nka": {"1"}}); a.status != http.StatusSeeOther {
		t.Fatalf("nka: %d %.1000s", a.status, a.body)
	}
	wantAll(t, "nka", b.get("/patients/rahim"), http.StatusOK, "No known allergies")
	a := b.post("/patients/rahim/allergies", url.Values{"csrf": {csrf}, "term": {"Amoxicillin"}, "type": {"allergy"}, "category": {"medication"},
		"criticality": {"high"}, "reaction": {"Hives"}, "severity": {"moderate"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("record: %d %.2000s", a.status, a.body)
	}
	wantAll(t, "list", b.get("/patients/rahim/allergies"), http.StatusOK, "Amoxicillin", "RxNorm 723", "Hives", "HIGH", "Refuted")
	chart := b.get("/patients/rahim")
	if !strings.Contains(chart.body, `<strong class="allergy">Amoxicillin</strong>`) || strings.Contains(chart.body, "No known allergies") {
		t.Errorf("the banner does not show the allergy alone:\n%.3000s", chart.body)
	}
	wantAll(t, "nka refused", b.post("/patients/rahim/allergies", url.Values{"csrf": {csrf}, "nka": {"1"}}), http.StatusConflict, "An allergy is recorded as active")

	ctx := context.Background()
	res, err := s.store.Search(ctx, mustQuery(t, "AllergyIntolerance", url.Values{"_count": {"20"}}))
	if err != nil {
		t.Fatal(err)
	}
	validator := validate.New(spec.R5())
	for _, v := range res.Matches {
		if issues := validator.Validate(v.Resource); validate.HasErrors(issues) {
			t.Errorf("AllergyIntolerance is not valid R5: %v\n%s", issues, v.Resource.JSON())
		}
	}
	if len(res.Matches) != 2 {
		t.Errorf("%d AllergyIntolerances, want the refuted NKA and the allergy", len(res.Matches))
	}
}

func mustQuery(t *testing.T, typ string, params url.Values) *search.Query {
	t.Helper()
	q, err := search.Parse(spec.R5(), typ, params, search.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
