package questionnaire

import (
	"math"

	"github.com/emr-project/emr/internal/fhir"
)

// Band is a range of total scores and its severity.
type Band struct {
	Min, Max int
	Severity string
}

// Severity bands of the shipped instruments, from their scoring
// instructions.
var (
	PHQ9Bands = []Band{{0, 4, "minimal"}, {5, 9, "mild"}, {10, 14, "moderate"}, {15, 19, "moderately severe"}, {20, 27, "severe"}}
	GAD7Bands = []Band{{0, 4, "minimal"}, {5, 9, "mild"}, {10, 14, "moderate"}, {15, 21, "severe"}}
)

// The canonical URLs and total-score linkIds of the shipped instruments.
const (
	PHQ9URL   = "https://emr-project.org/fhir/Questionnaire/phq-9"
	GAD7URL   = "https://emr-project.org/fhir/Questionnaire/gad-7"
	PHQ9Total = "44261-6"
	GAD7Total = "70274-6"
	// PHQ9SelfHarm is the item on thoughts of self-harm.
	PHQ9SelfHarm = "44260-8"
)

// Interpret returns the severity of a total score of the instrument with
// url (PHQ-9 or GAD-7). It returns an error of kind fhir.KindNotFound for
// another instrument and fhir.KindInvalid for a score outside its range
// or not whole.
func Interpret(url string, score float64) (string, error) {
	var bands []Band
	switch url {
	case PHQ9URL:
		bands = PHQ9Bands
	case GAD7URL:
		bands = GAD7Bands
	default:
		return "", fhir.Errorf(fhir.KindNotFound, "questionnaire: no severity bands for %q", url)
	}
	if score != math.Trunc(score) {
		return "", fhir.Errorf(fhir.KindInvalid, "questionnaire: a total score of %v is not whole", score)
	}
	for _, b := range bands {
		if int(score) >= b.Min && int(score) <= b.Max {
			return b.Severity, nil
		}
	}
	return "", fhir.Errorf(fhir.KindInvalid, "questionnaire: a total score of %v is outside %d–%d", score, bands[0].Min, bands[len(bands)-1].Max)
}

// SelfHarmFlag reports whether a PHQ-9 result has a non-zero answer to
// item 9 (thoughts of being better off dead or of self-harm), which needs
// a clinician's attention whatever the total.
func SelfHarmFlag(q *Questionnaire, r *Result) bool {
	it := q.Item(PHQ9SelfHarm)
	if q.URL != PHQ9URL || it == nil {
		return false
	}
	for _, v := range r.Answers[PHQ9SelfHarm] {
		for _, o := range it.Options {
			if o.HasWeight && o.Weight > 0 && equal(o.Value, v) {
				return true
			}
		}
	}
	return false
}
