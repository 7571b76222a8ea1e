// Package bench generates realistic, deterministic FHIR R5 patient records
// (patients from many naming traditions with their encounters, conditions,
// observations and medication requests), loads them into a store fast and
// resumably, and measures the latency of the FHIR API's queries against
// them. `emr bench` is its command line.
package bench

import (
	"encoding/binary"

	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Options shape the generated population. Means are per patient; the actual
// counts are skewed (most patients have few resources, some have many), as
// in a real hospital where a few chronically ill patients dominate.
type Options struct {
	Seed uint64
	// Mean counts per patient (defaults 3, 3, 25 and 3).
	Encounters, Conditions, Observations, Medications float64
	// ClinicalPatients, when above 0, gives clinical data only to patients
	// 0..ClinicalPatients-1; later patients are registered (a Patient
	// resource) without any. It lets a patient index of a million be
	// measured without loading 35 million clinical resources. The first
	// ClinicalPatients records are the same whatever its value.
	ClinicalPatients int
}

// clinical reports whether patient i has clinical data.
func (o Options) clinical(i int) bool { return o.ClinicalPatients <= 0 || i < o.ClinicalPatients }

// Generator makes patient records. Patient i depends only on the seed and
// i, so records can be generated in any order, in parallel, and again later
// (the bench regenerates a few to draw its query parameters).
type Generator struct {
	opt Options
}

// NewGenerator returns a Generator, filling in default means.
func NewGenerator(opt Options) *Generator {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opt.Encounters, 3)
	def(&opt.Conditions, 3)
	def(&opt.Observations, 25)
	def(&opt.Medications, 3)
	return &Generator{opt: opt}
}

// Record is one patient and their clinical data, Patient first, every
// resource with its id set and references resolved.
type Record struct {
	Index     int
	PatientID string
	Family    string // the first family name of the official name
	BirthDate string
	MRN       string
	Resources []fhir.Resource
	// Observations lists the code and effective time of each observation,
	// and Conditions counts the conditions: what a query may expect to find.
	Observations []ObservationKey
	Conditions   int
}

// ObservationKey is what a search for one observation needs.
type ObservationKey struct {
	ID        string
	Code      string // LOINC
	Effective time.Time
}

// referenceDate is "today" for the generated population; fixed, so output
// does not depend on when it is generated.
var referenceDate = time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)

// Patient generates patient i (0-based).
func (g *Generator) Patient(i int) *Record {
	p := &patientGen{
		g:   g,
		r:   rand.New(rand.NewPCG(g.opt.Seed, uint64(i)^0x9e3779b97f4a7c15)),
		rec: &Record{Index: i},
		idx: i,
	}
	p.generate()
	return p.rec
}

// patientGen is the state of generating one patient.
type patientGen struct {
	g   *Generator
	r   *rand.Rand
	rec *Record
	idx int
	seq int // resources made so far, for ids

	culture   *culture
	sex       string
	birth     time.Time
	deceased  time.Time // zero when alive
	ageAt     func(t time.Time) int
	encounter []encounterInfo
	conds     []int // indexes into conditionCodes
}

type encounterInfo struct {
	id         string
	start, end time.Time
	class      string
}

// newID returns a deterministic id shaped like a UUIDv7: the patient index
// takes the place of the timestamp, so ids of consecutive patients sort
// together and inserts stay at the end of the B-trees, as with store.NewID;
// unlike store.NewID it is the same on every run, which makes a reload
// rewrite the same resources (idempotent) and lets query parameters be
// derived without reading the database.
func (p *patientGen) newID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:16], p.r.Uint64())
	binary.BigEndian.PutUint16(b[0:2], uint16(uint64(p.idx)>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(p.idx))
	b[6] = 0x70 | byte(p.seq>>8)&0x0f // version 7
	b[7] = byte(p.seq)
	b[8] = (b[8] & 0x3f) | 0x80 // RFC 4122 variant
	p.seq++
	return store.FormatUUID(b)
}

func (p *patientGen) generate() {
	p.rec.PatientID = p.newID()
	patient := p.patient()
	p.rec.Resources = append(p.rec.Resources, patient)
	if !p.g.opt.clinical(p.idx) {
		return
	}

	// One complexity factor drives every count, so a patient with many
	// conditions also has many encounters and results.
	complexity := math.Exp(p.r.NormFloat64()*0.75 - 0.5) // about 1 on average, after the age factors below
	age := p.ageAt(referenceDate)
	if age > 60 {
		complexity *= 1.5
	} else if age < 18 {
		complexity *= 0.6
	}
	nEnc := p.count(p.g.opt.Encounters * complexity)
	nCond := p.count(p.g.opt.Conditions * complexity)
	nObs := p.count(p.g.opt.Observations * complexity)
	nMed := p.count(p.g.opt.Medications * complexity)
	if nEnc == 0 && nObs+nCond+nMed > 0 {
		nEnc = 1
	}
	p.encounters(nEnc)
	p.conditions(nCond)
	p.observations(nObs)
	p.medications(nMed)
}

// count draws a Poisson count with the given mean.
func (p *patientGen) count(mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 { // normal approximation
		n := int(math.Round(mean + p.r.NormFloat64()*math.Sqrt(mean)))
		return max(n, 0)
	}
	l, k, prod := math.Exp(-mean), 0, p.r.Float64()
	for prod > l {
		k++
		prod *= p.r.Float64()
	}
	return k
}

// between returns a random time in [a, b).
func (p *patientGen) between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return a.Add(time.Duration(p.r.Int64N(int64(b.Sub(a)))))
}

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// encounters makes n encounters in date order.
func (p *patientGen) encounters(n int) {
	from := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)
	if p.birth.After(from) {
		from = p.birth
	}
	to := referenceDate
	if !p.deceased.IsZero() {
		to = p.deceased
	}
	starts := make([]time.Time, n)
	for i := range starts {
		// Clinic hours: 07:00 to 19:00.
		day := p.between(from, to).Truncate(24 * time.Hour)
		starts[i] = day.Add(7*time.Hour + time.Duration(p.r.IntN(12*60))*time.Minute)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for _, start := range starts {
		e := encounterInfo{id: p.newID(), start: start}
		var typ coding
		switch x := p.r.IntN(100); {
		case x < 80:
			e.class = "AMB"
			e.end = start.Add(time.Duration(15+p.r.IntN(45)) * time.Minute)
			typ = pick(p.r, []coding{{systemSNOMED, "185349003", "Encounter for check up"}, {systemSNOMED, "185345009", "Encounter for symptom"}, {systemSNOMED, "390906007", "Follow-up encounter"}})
		case x < 93:
			e.class = "EMER"
			e.end = start.Add(time.Duration(2+p.r.IntN(10)) * time.Hour)
			typ = coding{systemSNOMED, "50849002", "Emergency room admission"}
		default:
			e.class = "IMP"
			e.end = start.Add(time.Duration(1+p.r.IntN(9)) * 24 * time.Hour)
			typ = coding{systemSNOMED, "32485007", "Hospital admission"}
		}
		p.encounter = append(p.encounter, e)
		p.rec.Resources = append(p.rec.Resources, fhir.Resource{
			"resourceType": "Encounter",
			"id":           e.id,
			"status":       "completed",
			"class":        []any{concept(coding{"http://terminology.hl7.org/CodeSystem/v3-ActCode", e.class, classDisplay[e.class]})},
			"type":         []any{concept(typ)},
			"subject":      p.subject(),
			"actualPeriod": map[string]any{"start": dateTime(e.start), "end": dateTime(e.end)},
			"serviceProvider": map[string]any{
				"display": "Example General Hospital",
			},
		})
	}
}

var classDisplay = map[string]string{"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}

func (p *patientGen) subject() map[string]any {
	return map[string]any{"reference": "Patient/" + p.rec.PatientID}
}

func (p *patientGen) encounterRef(e encounterInfo) map[string]any {
	return map[string]any{"reference": "Encounter/" + e.id}
}

// coding is a code in a system, with its display.
type coding struct{ system, code, display string }

func (c coding) json() map[string]any {
	m := map[string]any{"system": c.system, "code": c.code}
	if c.display != "" {
		m["display"] = c.display
	}
	return m
}

func concept(codings ...coding) map[string]any {
	list := make([]any, len(codings))
	for i, c := range codings {
		list[i] = c.json()
	}
	m := map[string]any{"coding": list}
	if len(codings) > 0 && codings[0].display != "" {
		m["text"] = codings[0].display
	}
	return m
}

func dateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
func date(t time.Time) string     { return t.UTC().Format("2006-01-02") }

// fhirNumber is a decimal as the JSON parser gives it, so generated trees
// are equal to parsed ones.
func fhirNumber(s string) json.Number { return json.Number(s) }
