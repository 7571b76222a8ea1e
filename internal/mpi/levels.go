package mpi

import "fmt"

// Field is one kind of evidence that Compare weighs.
type Field uint8

// The fields, in the order of a Comparison vector.
const (
	FieldGiven Field = iota
	FieldFamily
	FieldBirthDate
	FieldGender
	FieldIdentifier
	FieldPhone
	FieldEmail
	FieldPostcode
	FieldAddress
	NumFields
)

var fieldNames = [NumFields]string{"given", "family", "birthDate", "gender", "identifier", "phone", "email", "postcode", "address"}

func (f Field) String() string {
	if f < NumFields {
		return fieldNames[f]
	}
	return fmt.Sprintf("field(%d)", f)
}

// Level is how well one field agrees between two persons. Each field uses
// a subset; the order is from strongest agreement to disagreement, with
// Missing (no evidence either way) first.
type Level uint8

// The agreement levels.
const (
	LevelMissing  Level = iota // one side or both lack the field: weight 0
	LevelExact                 // same value after normalisation
	LevelFormer                // family: a maiden or old name agrees
	LevelVariant               // names: nickname, spelling variant, part of a compound, swapped given/family
	LevelPhonetic              // names: same sound key
	LevelFuzzy                 // names: Jaro–Winkler ≥ 0.92 or one edit; address: similar line
	LevelInitial               // given: an initial agrees with a name
	LevelSwapped               // birth date: day and month swapped; names: given and family swapped
	LevelNear                  // birth date: one digit wrong, or one day apart
	LevelYear                  // birth date: only the year agrees
	LevelDisagree              // the field disagrees
	NumLevels
)

var levelNames = [NumLevels]string{"missing", "exact", "former", "variant", "phonetic", "fuzzy", "initial", "swapped", "near", "year", "disagree"}

func (l Level) String() string {
	if l < NumLevels {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", l)
}

// fieldLevels lists the levels each field can take, missing excepted; the
// model's parameter table and EM use it.
var fieldLevels = [NumFields][]Level{
	FieldGiven:      {LevelExact, LevelVariant, LevelPhonetic, LevelFuzzy, LevelInitial, LevelSwapped, LevelDisagree},
	FieldFamily:     {LevelExact, LevelFormer, LevelVariant, LevelPhonetic, LevelFuzzy, LevelSwapped, LevelDisagree},
	FieldBirthDate:  {LevelExact, LevelSwapped, LevelNear, LevelYear, LevelDisagree},
	FieldGender:     {LevelExact, LevelDisagree},
	FieldIdentifier: {LevelExact, LevelDisagree},
	FieldPhone:      {LevelExact, LevelDisagree},
	FieldEmail:      {LevelExact, LevelDisagree},
	FieldPostcode:   {LevelExact, LevelDisagree},
	FieldAddress:    {LevelExact, LevelFuzzy, LevelDisagree},
}

// Comparison is the agreement level of every field for one pair: the
// vector Fellegi–Sunter weighs and EM learns from.
type Comparison [NumFields]Level

// rank orders name levels by strength for best-of choices (lower is better).
func rank(l Level) int {
	if l == LevelMissing {
		return int(NumLevels) + 1
	}
	return int(l)
}
