package bench

import (
	"math"
	"strconv"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// conditions makes n distinct conditions, each diagnosed at one of the
// patient's encounters; chronic ones stay active, acute ones resolve.
func (p *patientGen) conditions(n int) {
	total := 0
	for _, c := range conditionCodes {
		total += c.weight
	}
	seen := map[int]bool{}
	for tries := 0; len(p.conds) < n && tries < 4*n+8; tries++ {
		x, ci := p.r.IntN(total), 0
		for ci = range conditionCodes {
			if x < conditionCodes[ci].weight {
				break
			}
			x -= conditionCodes[ci].weight
		}
		cc := conditionCodes[ci]
		e := pick(p.r, p.encounter)
		if seen[ci] || p.ageAt(e.start) < cc.minAge {
			continue
		}
		seen[ci] = true
		p.conds = append(p.conds, ci)

		onset := e.start
		if cc.chronic && p.r.IntN(100) < 40 {
			// Known before this encounter: onset months or years earlier.
			from := e.start.AddDate(-10, 0, 0)
			if from.Before(p.birth) {
				from = p.birth
			}
			onset = p.between(from, e.start)
		}
		category, clinical := "encounter-diagnosis", "active"
		if cc.chronic {
			category = "problem-list-item"
		}
		res := fhir.Resource{
			"resourceType":       "Condition",
			"id":                 p.newID(),
			"clinicalStatus":     concept(coding{"http://terminology.hl7.org/CodeSystem/condition-clinical", clinical, ""}),
			"verificationStatus": concept(coding{"http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", ""}),
			"category":           []any{concept(coding{"http://terminology.hl7.org/CodeSystem/condition-category", category, ""})},
			"code":               concept(coding{systemSNOMED, cc.snomed, cc.display}, coding{systemICD10, cc.icd10, cc.display}),
			"subject":            p.subject(),
			"encounter":          p.encounterRef(e),
			"onsetDateTime":      dateTime(onset),
			"recordedDate":       dateTime(e.start),
		}
		if !cc.chronic {
			res["clinicalStatus"] = concept(coding{"http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved", ""})
			res["abatementDateTime"] = dateTime(e.start.AddDate(0, 0, 5+p.r.IntN(25)))
		}
		p.rec.Resources = append(p.rec.Resources, res)
		p.rec.Conditions++
	}
}

// observations makes n observations spread over the encounters: mostly
// vital signs, and labs chosen to follow up the patient's conditions.
func (p *patientGen) observations(n int) {
	var followUp []int
	for _, ci := range p.conds {
		followUp = append(followUp, conditionCodes[ci].labs...)
	}
	for range n {
		e := pick(p.r, p.encounter)
		at := p.between(e.start, e.end).Truncate(time.Minute)
		if p.r.IntN(100) < 55 {
			p.vital(e, at)
			continue
		}
		li := p.r.IntN(len(labCodes))
		abnormal := false
		if len(followUp) > 0 && p.r.IntN(100) < 60 {
			li, abnormal = pick(p.r, followUp), true
		}
		p.lab(e, at.Add(30*time.Minute), li, abnormal)
	}
}

func (p *patientGen) observation(e encounterInfo, at time.Time, category coding, code coding) fhir.Resource {
	id := p.newID()
	p.rec.Observations = append(p.rec.Observations, ObservationKey{ID: id, Code: code.code, Effective: at})
	return fhir.Resource{
		"resourceType":      "Observation",
		"id":                id,
		"status":            "final",
		"category":          []any{concept(category)},
		"code":              concept(code),
		"subject":           p.subject(),
		"encounter":         p.encounterRef(e),
		"effectiveDateTime": dateTime(at),
		"issued":            at.Add(time.Duration(5+p.r.IntN(120)) * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"),
	}
}

var (
	vitalCategory = coding{"http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs"}
	labCategory   = coding{"http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory"}
)

func (p *patientGen) vital(e encounterInfo, at time.Time) {
	k := p.r.IntN(len(vitalCodes) + 2) // blood pressure twice as likely as each other sign
	if k >= len(vitalCodes) {
		res := p.observation(e, at, vitalCategory, coding{systemLOINC, bpPanelLOINC, bpPanelDisplay})
		var comps []any
		for _, q := range bpComponents {
			comps = append(comps, map[string]any{
				"code":          concept(coding{systemLOINC, q.loinc, q.display}),
				"valueQuantity": quantity(q, p.value(q, 1)),
			})
		}
		res["component"] = comps
		p.rec.Resources = append(p.rec.Resources, res)
		return
	}
	q := vitalCodes[k]
	scale := 1.0
	if age := p.ageAt(at); age < 18 && (q.loinc == "29463-7" || q.loinc == "8302-2") {
		// Children are smaller: scale weight and height towards birth size.
		scale = 0.3 + 0.7*float64(age)/18
		if q.loinc == "29463-7" {
			scale *= scale
		}
	}
	res := p.observation(e, at, vitalCategory, coding{systemLOINC, q.loinc, q.display})
	res["valueQuantity"] = quantity(q, p.value(q, scale))
	p.rec.Resources = append(p.rec.Resources, res)
}

func (p *patientGen) lab(e encounterInfo, at time.Time, li int, abnormal bool) {
	q := labCodes[li]
	res := p.observation(e, at, labCategory, coding{systemLOINC, q.loinc, q.display})
	mean := q.mean
	if abnormal { // a condition moves its markers
		if q.loinc == "33914-3" || q.loinc == "718-7" || q.loinc == "2085-9" {
			mean -= 2 * q.sd
		} else {
			mean += 2 * q.sd
		}
	}
	v := round(max(mean+p.r.NormFloat64()*q.sd, q.mean/10), q.decimals)
	res["valueQuantity"] = quantity(q, v)
	rr := map[string]any{"high": quantity(q, q.high)}
	if q.low > 0 {
		rr["low"] = quantity(q, q.low)
	}
	res["referenceRange"] = []any{rr}
	flag := coding{"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "N", "Normal"}
	switch {
	case v > q.high:
		flag = coding{"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "H", "High"}
	case v < q.low:
		flag = coding{"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "L", "Low"}
	}
	res["interpretation"] = []any{concept(flag)}
	p.rec.Resources = append(p.rec.Resources, res)
}

func (p *patientGen) value(q quantityCode, scale float64) float64 {
	v := (q.mean + p.r.NormFloat64()*q.sd) * scale
	if q.loinc == "59408-5" {
		v = min(v, 100)
	}
	return round(max(v, q.mean*scale/4), q.decimals)
}

func round(v float64, decimals int) float64 {
	f := math.Pow(10, float64(decimals))
	return math.Round(v*f) / f
}

// quantity is a UCUM valueQuantity; the value keeps its decimals as FHIR
// decimals do ("36.0", not "36").
func quantity(q quantityCode, v float64) map[string]any {
	return map[string]any{
		"value":  fhirNumber(strconv.FormatFloat(v, 'f', q.decimals, 64)),
		"unit":   q.unit,
		"system": systemUCUM,
		"code":   q.ucum,
	}
}

// medications makes n medication requests: long-term prescriptions for the
// chronic conditions, short courses for the acute ones, a few others.
func (p *patientGen) medications(n int) {
	var candidates []int
	for _, ci := range p.conds {
		candidates = append(candidates, conditionCodes[ci].meds...)
	}
	for range n {
		mi := p.r.IntN(len(medicationCodes))
		if len(candidates) > 0 && p.r.IntN(100) < 80 {
			mi = pick(p.r, candidates)
		}
		m := medicationCodes[mi]
		e := pick(p.r, p.encounter)
		status := "completed"
		if m.chronic && p.deceased.IsZero() && p.r.IntN(100) < 75 {
			status = "active"
		}
		p.rec.Resources = append(p.rec.Resources, fhir.Resource{
			"resourceType": "MedicationRequest",
			"id":           p.newID(),
			"status":       status,
			"intent":       "order",
			"medication": map[string]any{
				"concept": concept(coding{systemRxNorm, m.rxnorm, m.display}),
			},
			"subject":             p.subject(),
			"encounter":           p.encounterRef(e),
			"authoredOn":          dateTime(e.start.Add(20 * time.Minute)),
			"dosageInstruction":   []any{map[string]any{"text": m.dosage}},
			"courseOfTherapyType": concept(courseOfTherapy(m.chronic)),
		})
	}
}

func courseOfTherapy(chronic bool) coding {
	if chronic {
		return coding{"http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "continuous", "Continuous long term therapy"}
	}
	return coding{"http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "acute", "Short course (acute) therapy"}
}
