package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emr-project/emr/internal/fhir"
)

// Query is one request and how to judge its answer.
type Query struct {
	Method, Path string
	Body         []byte
	// Check returns an error when the answer is wrong: a bad status, or
	// fewer results than the data guarantees.
	Check func(status int, body []byte) error
}

// Kind is one kind of query the bench measures.
type Kind struct {
	Name        string
	Description string
	// Page says the query is a page of the workspace, sent with a
	// signed-in user's session rather than to the FHIR API.
	Page bool
	// Make returns the i-th query of the kind; the same pool and i give the
	// same query.
	Make func(p *Pool, i int) Query
}

// Kinds are the query kinds, in the order the bench runs them (reads
// first, creates last so they do not change what the searches find).
var Kinds = []Kind{
	{"read", "GET Patient/{id}", false, readQuery},
	{"name-birthdate", "GET Patient?name={3-5 letters of family}&birthdate={date}", false, nameQuery},
	{"identifier", "GET Patient?identifier={mrn system}|{mrn}", false, identifierQuery},
	{"observations", "GET Observation?patient={id}&code=http://loinc.org|{code}&date=ge{date}&_sort=-date", false, observationQuery},
	{"conditions", "GET Condition?patient={id}", false, conditionQuery},
	{"everything", "GET Patient/{id}/$everything", false, everythingQuery},
	{"ui-finder", "GET /?q={3-5 letters of family} {birth date as 09-Mar-1984} (the workspace's finder page)", true, finderPageQuery},
	{"ui-chart", "GET /patients/{id} (the workspace's chart page)", true, chartPageQuery},
	{"create", "POST Observation", false, createQuery},
}

// KindByName returns the kind called name.
func KindByName(name string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Pool is a deterministic sample of loaded patients that query parameters
// are drawn from. Regenerating them costs far less than reading them back.
type Pool struct {
	records []*Record
	// withConditions indexes records that have at least one condition.
	withConditions []int
	seed           uint64
}

// NewPool samples size of the first patients patients of g, deterministically,
// among those with clinical data (Options.ClinicalPatients), so that every
// kind of query has something to find.
func NewPool(g *Generator, patients, size int) *Pool {
	p := &Pool{seed: g.opt.Seed}
	patients = clinicalUpTo(g.opt, patients)
	if patients <= 0 {
		return p
	}
	r := rand.New(rand.NewPCG(g.opt.Seed, 0x5eed_0f_9e7))
	size = min(size, patients)
	seen := map[int]bool{}
	for len(p.records) < size {
		i := r.IntN(patients)
		if seen[i] {
			continue
		}
		seen[i] = true
		rec := g.Patient(i)
		if rec.Conditions > 0 {
			p.withConditions = append(p.withConditions, len(p.records))
		}
		p.records = append(p.records, rec)
	}
	return p
}

// Len is the number of sampled patients.
func (p *Pool) Len() int { return len(p.records) }

func (p *Pool) record(i int) *Record { return p.records[i%len(p.records)] }

// rand returns a generator private to query i.
func (p *Pool) rand(i int) *rand.Rand { return rand.New(rand.NewPCG(p.seed^0xb0b, uint64(i))) }

func readQuery(p *Pool, i int) Query {
	rec := p.record(i)
	return Query{Method: "GET", Path: "/fhir/Patient/" + rec.PatientID, Check: func(status int, body []byte) error {
		if status != http.StatusOK {
			return statusError(status, body)
		}
		res, err := fhir.ParseResource(body)
		if err != nil {
			return err
		}
		if res.ID() != rec.PatientID {
			return fmt.Errorf("read Patient/%s answered Patient/%s", rec.PatientID, res.ID())
		}
		return nil
	}}
}

func nameQuery(p *Pool, i int) Query {
	rec := p.record(i)
	n := 3 + p.rand(i).IntN(3)
	prefix := rec.Family
	if utf8.RuneCountInString(prefix) > n {
		prefix = string([]rune(prefix)[:n])
	}
	q := url.Values{"name": {strings.TrimSpace(prefix)}, "birthdate": {rec.BirthDate}}
	return Query{Method: "GET", Path: "/fhir/Patient?" + q.Encode(), Check: searchCheck(1, "Patient", rec.PatientID)}
}

func identifierQuery(p *Pool, i int) Query {
	rec := p.record(i)
	q := url.Values{"identifier": {MRNSystem + "|" + rec.MRN}}
	return Query{Method: "GET", Path: "/fhir/Patient?" + q.Encode(), Check: func(status int, body []byte) error {
		b, err := parseBundle(status, body)
		if err != nil {
			return err
		}
		if ids := b.matches("Patient"); len(ids) != 1 || ids[0] != rec.PatientID {
			return fmt.Errorf("MRN %s: got patients %v, want exactly %s", rec.MRN, ids, rec.PatientID)
		}
		return nil
	}}
}

func observationQuery(p *Pool, i int) Query {
	r := p.rand(i)
	rec := p.record(i)
	for k := 0; len(rec.Observations) == 0 && k < p.Len(); k++ {
		rec = p.record(i + k + 1)
	}
	if len(rec.Observations) == 0 {
		return readQuery(p, i) // a pool without observations: nothing to search
	}
	obs := rec.Observations[r.IntN(len(rec.Observations))]
	q := url.Values{
		"patient": {rec.PatientID},
		"code":    {systemLOINC + "|" + obs.Code},
		"date":    {"ge" + date(obs.Effective)},
		"_sort":   {"-date"},
	}
	return Query{Method: "GET", Path: "/fhir/Observation?" + q.Encode(), Check: func(status int, body []byte) error {
		if err := searchCheck(1, "Observation", obs.ID)(status, body); err != nil {
			return err
		}
		b, _ := parseBundle(status, body)
		var dates []string
		for _, e := range b.Entry {
			if d, ok := e.Resource["effectiveDateTime"].(string); ok && e.Resource.Type() == "Observation" {
				dates = append(dates, d)
			}
		}
		if !slices.IsSortedFunc(dates, func(a, b string) int { return strings.Compare(b, a) }) {
			return fmt.Errorf("_sort=-date: dates not in descending order: %v", dates)
		}
		return nil
	}}
}

func conditionQuery(p *Pool, i int) Query {
	rec := p.record(i)
	if len(p.withConditions) > 0 {
		rec = p.records[p.withConditions[i%len(p.withConditions)]]
	}
	q := url.Values{"patient": {rec.PatientID}}
	want := min(rec.Conditions, 1)
	return Query{Method: "GET", Path: "/fhir/Condition?" + q.Encode(), Check: searchCheck(want, "Condition", "")}
}

func everythingQuery(p *Pool, i int) Query {
	rec := p.record(i)
	return Query{Method: "GET", Path: "/fhir/Patient/" + rec.PatientID + "/$everything", Check: func(status int, body []byte) error {
		b, err := parseBundle(status, body)
		if err != nil {
			return err
		}
		if len(b.Entry) < min(len(rec.Resources), 2) {
			return fmt.Errorf("$everything of a patient with %d resources: got %d entries", len(rec.Resources), len(b.Entry))
		}
		return nil
	}}
}

func createQuery(p *Pool, i int) Query {
	rec := p.record(i)
	r := p.rand(i)
	q := vitalCodes[0] // heart rate, taken at the bedside
	obs := fhir.Resource{
		"resourceType":      "Observation",
		"status":            "final",
		"category":          []any{concept(vitalCategory)},
		"code":              concept(coding{systemLOINC, q.loinc, q.display}),
		"subject":           map[string]any{"reference": "Patient/" + rec.PatientID},
		"effectiveDateTime": dateTime(referenceDate.Add(timeMinutes(r.IntN(60 * 24 * 30)))),
		"valueQuantity":     quantity(q, float64(55+r.IntN(50))),
	}
	return Query{Method: "POST", Path: "/fhir/Observation", Body: obs.JSON(), Check: func(status int, body []byte) error {
		if status != http.StatusCreated {
			return statusError(status, body)
		}
		return nil
	}}
}

// bundle is as much of a search Bundle as the checks read.
type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        *int64 `json:"total"`
	Entry        []struct {
		Resource fhir.Resource `json:"resource"`
		Search   struct {
			Mode string `json:"mode"`
		} `json:"search"`
	} `json:"entry"`
}

// matches returns the ids of the entries of type typ that are matches (not
// includes or outcomes).
func (b *bundle) matches(typ string) []string {
	var ids []string
	for _, e := range b.Entry {
		if e.Resource.Type() == typ && (e.Search.Mode == "" || e.Search.Mode == "match") {
			ids = append(ids, e.Resource.ID())
		}
	}
	return ids
}

func parseBundle(status int, body []byte) (*bundle, error) {
	if status != http.StatusOK {
		return nil, statusError(status, body)
	}
	var b bundle
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("answer is not JSON: %v", err)
	}
	if b.ResourceType != "Bundle" {
		return nil, fmt.Errorf("answer is a %q, not a Bundle", b.ResourceType)
	}
	return &b, nil
}

// searchCheck wants a 200 search Bundle with at least want matches of typ
// and, when id is not "" and the results fit one page, id among them.
func searchCheck(want int, typ, id string) func(int, []byte) error {
	return func(status int, body []byte) error {
		b, err := parseBundle(status, body)
		if err != nil {
			return err
		}
		ids := b.matches(typ)
		if len(ids) < want {
			return fmt.Errorf("got %d %s matches, want at least %d", len(ids), typ, want)
		}
		if id != "" && b.Total != nil && int(*b.Total) == len(ids) && !slices.Contains(ids, id) {
			return fmt.Errorf("%s/%s is missing from the %d matches", typ, id, len(ids))
		}
		return nil
	}
}

// statusError describes an unexpected answer, with the OperationOutcome's
// first diagnostics when there is one.
func statusError(status int, body []byte) error {
	var oo struct {
		Issue []struct {
			Code        string `json:"code"`
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	msg := ""
	if json.Unmarshal(body, &oo) == nil && len(oo.Issue) > 0 {
		msg = ": " + oo.Issue[0].Diagnostics
		if msg == ": " {
			msg = ": " + oo.Issue[0].Code
		}
	}
	return fmt.Errorf("HTTP %d%s", status, msg)
}

func timeMinutes(n int) time.Duration { return time.Duration(n) * time.Minute }

func finderPageQuery(p *Pool, i int) Query {
	rec := p.record(i)
	n := 3 + p.rand(i).IntN(3)
	prefix := []rune(rec.Family)
	if len(prefix) > n {
		prefix = prefix[:n]
	}
	born, _ := time.Parse("2006-01-02", rec.BirthDate)
	q := url.Values{"q": {string(prefix) + " " + born.Format("02-Jan-2006")}}
	return Query{Method: "GET", Path: "/?" + q.Encode(), Check: func(status int, body []byte) error {
		if status != http.StatusOK {
			return statusError(status, body)
		}
		if !strings.Contains(string(body), "/patients/"+rec.PatientID+`"`) {
			return fmt.Errorf("finder %q: Patient/%s not listed", q.Get("q"), rec.PatientID)
		}
		return nil
	}}
}

func chartPageQuery(p *Pool, i int) Query {
	rec := p.record(i)
	return Query{Method: "GET", Path: "/patients/" + rec.PatientID, Check: func(status int, body []byte) error {
		if status != http.StatusOK {
			return statusError(status, body)
		}
		if !strings.Contains(string(body), `class="banner`) {
			return fmt.Errorf("chart of Patient/%s has no banner", rec.PatientID)
		}
		return nil
	}}
}
