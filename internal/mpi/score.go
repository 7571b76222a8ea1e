package mpi

import "math"

// NameFrequencies tells how common a folded name is: its share of the
// register's persons, in [0, 1]. Index implements it.
type NameFrequencies interface {
	GivenShare(folded string) float64
	FamilyShare(folded string) float64
}

// FieldResult explains one field's contribution to a score.
type FieldResult struct {
	Field  Field
	Level  Level
	Weight float64
}

// Result is the outcome of comparing two persons: the total of the field
// weights, the grade, the fields, and the rule that capped the grade if one
// did ("" otherwise). Everything needed to explain the decision is here.
type Result struct {
	Score  float64
	Grade  Grade
	Fields []FieldResult
	Rule   string
}

// The rules that cap a grade at Possible whatever the score; each names a
// situation where shared evidence is strong but the people differ.
const (
	// RuleGivenDisagrees: twins, siblings and parents share family name,
	// address, phone and often email. When given names disagree (not even a
	// nickname, sound or typo) or agree only through an initial or a middle
	// name, that household evidence is not counted towards the score, and
	// the pair is at most possible.
	RuleGivenDisagrees = "given names disagree: household evidence does not count"
	// RuleGenderDisagrees: opposite-sex twins agree on everything else.
	RuleGenderDisagrees = "genders disagree"
	// RuleBirthDisagrees: a father and son of the same name share a
	// household, and siblings can share a first name with a cousin; a
	// birth date that differs by more than a typo (disagree, or only the
	// year agrees when both dates are complete) is decisive unless an
	// identifier agrees.
	RuleBirthDisagrees = "birth dates disagree"
	// RuleIdentifierDisagrees: one issuer gives one person one number.
	RuleIdentifierDisagrees = "identifiers of the same system disagree"
	// RuleUncorroborated caps a pair at probable, not possible: in a large
	// population namesakes share a name and a full birth date (two Fatima
	// Begums born 28-Feb-1980 among a million patients), so name, birth
	// date and sex alone never make a match certain; an identifier, phone,
	// e-mail or address line must agree too (a postcode is shared by too
	// many neighbours to tell namesakes apart).
	RuleUncorroborated = "only name, birth date and sex agree: not certain without an identifier, phone, e-mail or address"
)

// corroborated reports whether a pair agrees on something that namesakes
// do not share: an identifier, a phone, an e-mail or an address line.
func corroborated(c Comparison) bool {
	for _, f := range []Field{FieldIdentifier, FieldPhone, FieldEmail, FieldAddress} {
		if c[f] != LevelMissing && c[f] != LevelDisagree {
			return true
		}
	}
	return false
}

// householdField reports the fields that people living together share.
func householdField(f Field) bool {
	switch f {
	case FieldFamily, FieldPhone, FieldEmail, FieldPostcode, FieldAddress:
		return true
	}
	return false
}

// Compare scores a pair. It is symmetric up to floating point rounding.
func (m *Model) Compare(a, b Person) Result {
	c := m.Levels(&a, &b)
	return m.score(c, a.BirthPrecision == 3 && b.BirthPrecision == 3, m.nameWeights(&a, &b, c))
}

// nameWeights returns the exact-agreement weights of the given and family
// names adjusted for how common the shared name is, or nil without
// Frequencies. Two random people share a name with probability about its
// share of the register, so u is raised to that share; it is never lowered,
// so a rare name gets no more weight than the defaults give.
func (m *Model) nameWeights(a, b *Person, c Comparison) *[NumFields]float64 {
	if m.Frequencies == nil {
		return nil
	}
	var w [NumFields]float64
	for f := range NumFields {
		w[f] = m.weights[f][c[f]]
	}
	adjust := func(f Field, share float64) {
		p := m.Params[f][LevelExact]
		if share > p.U && p.M > 0 {
			w[f] = math.Log2(p.M / share)
		}
	}
	if c[FieldGiven] == LevelExact && len(a.Given) > 0 {
		adjust(FieldGiven, m.Frequencies.GivenShare(a.firstGiven()))
	}
	if c[FieldFamily] == LevelExact {
		for _, f := range a.Family {
			if contains(b.Family, f) {
				adjust(FieldFamily, m.Frequencies.FamilyShare(f))
				break
			}
		}
	}
	return &w
}

// Levels returns the agreement vector of a pair, the input of Score and of
// EstimateEM. Persons not built by FromPatient are indexed on the fly.
func (m *Model) Levels(a, b *Person) Comparison {
	if !a.indexed() {
		a.index()
	}
	if !b.indexed() {
		b.index()
	}
	return compareFields(a, b, &m.weights)
}

// Score weighs an agreement vector and applies the capping rules.
//
// precise says both birth dates were complete, which makes "only the year
// agrees" a real difference rather than missing detail; Compare sets it,
// and a caller scoring a stored vector can pass true.
func (m *Model) Score(c Comparison, precise bool) Result { return m.score(c, precise, nil) }

// score weighs c with the model's weights, or with override where given.
func (m *Model) score(c Comparison, precise bool, override *[NumFields]float64) Result {
	r := Result{Fields: make([]FieldResult, 0, NumFields)}
	givenDisagrees := c[FieldGiven] == LevelDisagree || c[FieldGiven] == LevelInitial
	for f := range NumFields {
		w := m.weights[f][c[f]]
		if override != nil {
			w = override[f]
		}
		if givenDisagrees && householdField(f) && w > 0 {
			w = 0
		}
		r.Score += w
		r.Fields = append(r.Fields, FieldResult{Field: f, Level: c[f], Weight: w})
	}
	r.Grade = m.grade(r.Score)
	switch {
	case givenDisagrees:
		r.Rule = RuleGivenDisagrees
	case c[FieldGender] == LevelDisagree:
		r.Rule = RuleGenderDisagrees
	case c[FieldIdentifier] == LevelDisagree:
		r.Rule = RuleIdentifierDisagrees
	case birthDiffers(c[FieldBirthDate], precise) && c[FieldIdentifier] != LevelExact:
		r.Rule = RuleBirthDisagrees
	}
	if r.Rule != "" && r.Grade > Possible {
		r.Grade = Possible
	} else if r.Rule != "" && r.Grade < Possible {
		r.Rule = "" // the rule changed nothing; keep explanations short
	}
	if r.Grade == Certain && !corroborated(c) {
		r.Grade, r.Rule = Probable, RuleUncorroborated
	}
	return r
}

func (m *Model) grade(score float64) Grade {
	switch t := m.Thresholds; {
	case score >= t.Certain:
		return Certain
	case score >= t.Probable:
		return Probable
	case score >= t.Possible:
		return Possible
	}
	return None
}

func birthDiffers(l Level, precise bool) bool {
	return l == LevelDisagree || (precise && l == LevelYear)
}
