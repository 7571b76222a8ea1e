package mpi

import (
	"encoding/json"
	"fmt"
	"math"
)

// Grade is the decision a score leads to.
type Grade int

// The grades, weakest first.
const (
	None     Grade = iota // not the same person, as far as the data shows
	Possible              // worth a human look; never merged automatically
	Probable              // very likely the same person; a human confirms
	Certain               // the same person; safe to link automatically
)

func (g Grade) String() string {
	switch g {
	case Certain:
		return "certain"
	case Probable:
		return "probable"
	case Possible:
		return "possible"
	}
	return "none"
}

// MU is a Fellegi–Sunter parameter pair for one field and level: M is the
// probability of the level among pairs of records of one person, U among
// pairs of different people. The weight is log2(M/U).
type MU struct {
	M float64 `json:"m"`
	U float64 `json:"u"`
}

// Thresholds are the lowest scores of each grade.
type Thresholds struct {
	Certain  float64 `json:"certain"`
	Probable float64 `json:"probable"`
	Possible float64 `json:"possible"`
}

// Model holds the parameters of the matcher. Build it with DefaultModel or
// by unmarshalling JSON (which starts from the defaults, so a file need
// only list what it changes); call Compare from any number of goroutines.
type Model struct {
	// Params[field][level]; the Missing level is always weight 0.
	Params     [NumFields][NumLevels]MU
	Thresholds Thresholds
	// Prevalence is the share of compared pairs that are matches, as EM
	// estimated it; informative only, scoring does not use it.
	Prevalence float64
	// Frequencies, when set, lowers the weight of an exact agreement on a
	// common name (Smith, Maria) to what its frequency warrants. It is not
	// part of the JSON form; the caller wires it (an Index, or the store).
	Frequencies NameFrequencies

	weights [NumFields][NumLevels]float64
}

// DefaultModel returns the built-in parameters. They were set from what is
// known of registration errors (a duplicate's birth date is exact about 90%
// of the time, its given name 85%) and of the population (two random people
// share a birth date about 1 in 2,000 pairs when ages cluster, a family name
// 1 in 200), then checked with Evaluate on generated data; docs/mpi.md has
// the table.
func DefaultModel() *Model {
	m := &Model{Thresholds: Thresholds{Certain: 26, Probable: 17, Possible: 9}}
	set := func(f Field, l Level, mp, up float64) { m.Params[f][l] = MU{mp, up} }
	set(FieldGiven, LevelExact, 0.86, 0.01)
	set(FieldGiven, LevelVariant, 0.05, 0.004)
	set(FieldGiven, LevelPhonetic, 0.03, 0.004)
	set(FieldGiven, LevelFuzzy, 0.03, 0.006)
	set(FieldGiven, LevelInitial, 0.005, 0.01)
	set(FieldGiven, LevelSwapped, 0.04, 0.0005)
	set(FieldGiven, LevelDisagree, 0.01, 0.966)
	set(FieldFamily, LevelExact, 0.85, 0.005)
	set(FieldFamily, LevelFormer, 0.04, 0.001)
	set(FieldFamily, LevelVariant, 0.03, 0.002)
	set(FieldFamily, LevelPhonetic, 0.02, 0.003)
	set(FieldFamily, LevelFuzzy, 0.02, 0.004)
	set(FieldFamily, LevelSwapped, 0.04, 0.0005)
	set(FieldFamily, LevelDisagree, 0.04, 0.985)
	set(FieldBirthDate, LevelExact, 0.88, 0.0005)
	set(FieldBirthDate, LevelSwapped, 0.02, 0.0001)
	set(FieldBirthDate, LevelNear, 0.05, 0.0006)
	set(FieldBirthDate, LevelYear, 0.02, 0.015)
	set(FieldBirthDate, LevelDisagree, 0.03, 0.98)
	set(FieldGender, LevelExact, 0.98, 0.5)
	set(FieldGender, LevelDisagree, 0.02, 0.5)
	set(FieldIdentifier, LevelExact, 0.99, 0.000001)
	set(FieldIdentifier, LevelDisagree, 0.01, 0.999999)
	set(FieldPhone, LevelExact, 0.7, 0.002)
	set(FieldPhone, LevelDisagree, 0.3, 0.998)
	set(FieldEmail, LevelExact, 0.7, 0.0005)
	set(FieldEmail, LevelDisagree, 0.3, 0.9995)
	set(FieldPostcode, LevelExact, 0.75, 0.01)
	set(FieldPostcode, LevelDisagree, 0.25, 0.99)
	set(FieldAddress, LevelExact, 0.65, 0.002)
	set(FieldAddress, LevelFuzzy, 0.1, 0.004)
	set(FieldAddress, LevelDisagree, 0.25, 0.994)
	m.computeWeights()
	return m
}

// computeWeights turns m/u into log2 weights, clamping probabilities away
// from 0 and 1 so a level never seen in training cannot give ±Inf.
func (m *Model) computeWeights() {
	for f := range NumFields {
		for _, l := range fieldLevels[f] {
			p := m.Params[f][l]
			mp := math.Min(math.Max(p.M, 1e-9), 1)
			up := math.Min(math.Max(p.U, 1e-9), 1)
			m.weights[f][l] = math.Log2(mp / up)
		}
		m.weights[f][LevelMissing] = 0
	}
}

// Weight returns the log2 weight of a field at a level.
func (m *Model) Weight(f Field, l Level) float64 {
	if f >= NumFields || l >= NumLevels {
		return 0
	}
	return m.weights[f][l]
}

// modelJSON is the file form: field and level names as keys.
type modelJSON struct {
	Thresholds Thresholds               `json:"thresholds"`
	Prevalence float64                  `json:"prevalence,omitempty"`
	Fields     map[string]map[string]MU `json:"fields"`
}

// MarshalJSON writes the parameters with field and level names.
func (m *Model) MarshalJSON() ([]byte, error) {
	out := modelJSON{Thresholds: m.Thresholds, Prevalence: m.Prevalence, Fields: map[string]map[string]MU{}}
	for f := range NumFields {
		levels := map[string]MU{}
		for _, l := range fieldLevels[f] {
			levels[l.String()] = m.Params[f][l]
		}
		out.Fields[f.String()] = levels
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads parameters over the defaults; unknown field or level
// names, and probabilities outside (0, 1], are errors, since a typo in a
// weights file would otherwise silently change who gets merged.
func (m *Model) UnmarshalJSON(data []byte) error {
	def := DefaultModel()
	in := modelJSON{Thresholds: def.Thresholds}
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("mpi: model: %w", err)
	}
	def.Thresholds, def.Prevalence = in.Thresholds, in.Prevalence
	for fname, levels := range in.Fields {
		f, ok := fieldByName(fname)
		if !ok {
			return fmt.Errorf("mpi: model: unknown field %q", fname)
		}
		for lname, mu := range levels {
			l, ok := levelOf(f, lname)
			if !ok {
				return fmt.Errorf("mpi: model: field %s has no level %q", fname, lname)
			}
			if !(mu.M > 0 && mu.M <= 1 && mu.U > 0 && mu.U <= 1) {
				return fmt.Errorf("mpi: model: %s.%s: m and u must be in (0, 1]", fname, lname)
			}
			def.Params[f][l] = mu
		}
	}
	t := def.Thresholds
	if !(t.Certain >= t.Probable && t.Probable >= t.Possible) {
		return fmt.Errorf("mpi: model: thresholds must satisfy certain ≥ probable ≥ possible")
	}
	def.computeWeights()
	*m = *def
	return nil
}

func fieldByName(s string) (Field, bool) {
	for f := range NumFields {
		if f.String() == s {
			return f, true
		}
	}
	return 0, false
}

func levelOf(f Field, s string) (Level, bool) {
	for _, l := range fieldLevels[f] {
		if l.String() == s {
			return l, true
		}
	}
	return 0, false
}
