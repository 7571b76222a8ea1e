package dosage

import (
	"strings"

	"github.com/emr-project/emr/internal/clinical/datatype"
)

// doseUnit is a unit a dose is written in.
type doseUnit struct {
	code       string // UCUM code stored in the data
	one, other string // English words, for the catalog
	countable  bool   // a dose in it is a number of things to dispense
}

// doseUnits are the units prescribing offers, by UCUM code. Countable
// forms use UCUM annotations ({tablet}), which UCUM reads as the unit 1.
var doseUnits = []doseUnit{
	{"mg", "mg", "mg", false},
	{"g", "g", "g", false},
	{"ug", "mcg", "mcg", false}, // never µg: misread as mg
	{"ng", "nanogram", "nanograms", false},
	{"mL", "mL", "mL", false},
	{"L", "L", "L", false},
	{"mmol", "mmol", "mmol", false},
	{"[iU]", "unit", "units", false}, // never IU or U
	{"{tablet}", "tablet", "tablets", true},
	{"{capsule}", "capsule", "capsules", true},
	{"{puff}", "puff", "puffs", true},
	{"[drp]", "drop", "drops", true},
	{"{spray}", "spray", "sprays", true},
	{"{patch}", "patch", "patches", true},
	{"{suppository}", "suppository", "suppositories", true},
	{"{sachet}", "sachet", "sachets", true},
	{"{application}", "application", "applications", true},
	{"{lozenge}", "lozenge", "lozenges", true},
}

// unitAliases map what people and other systems write to a UCUM code.
var unitAliases = map[string]string{
	"mcg": "ug", "µg": "ug", "μg": "ug", "microgram": "ug", "micrograms": "ug",
	"milligram": "mg", "milligrams": "mg", "gram": "g", "grams": "g",
	"ml": "mL", "millilitre": "mL", "milliliter": "mL", "millilitres": "mL", "milliliters": "mL", "l": "L",
	"iu": "[iU]", "[iu]": "[iU]", "u": "[iU]", "unit": "[iU]", "units": "[iU]", "[IU]": "[iU]",
	"tab": "{tablet}", "tabs": "{tablet}", "tablet": "{tablet}", "tablets": "{tablet}", "{tbl}": "{tablet}",
	"cap": "{capsule}", "caps": "{capsule}", "capsule": "{capsule}", "capsules": "{capsule}",
	"puff": "{puff}", "puffs": "{puff}", "drop": "[drp]", "drops": "[drp]", "gtt": "[drp]",
	"spray": "{spray}", "sprays": "{spray}", "patch": "{patch}", "patches": "{patch}",
	"suppository": "{suppository}", "suppositories": "{suppository}", "sachet": "{sachet}", "sachets": "{sachet}",
	"application": "{application}", "applications": "{application}", "lozenge": "{lozenge}", "lozenges": "{lozenge}",
}

func init() {
	for _, u := range doseUnits {
		English["unit."+u.code+".one"] = u.one
		English["unit."+u.code+".other"] = u.other
	}
}

// lookupUnit finds a dose unit by UCUM code or alias.
func lookupUnit(s string) (doseUnit, bool) {
	s = strings.TrimSpace(s)
	if c, ok := unitAliases[s]; ok {
		s = c
	} else if c, ok := unitAliases[strings.ToLower(s)]; ok {
		s = c
	}
	for _, u := range doseUnits {
		if u.code == s {
			return u, true
		}
	}
	return doseUnit{}, false
}

// unitOf returns the dose unit of a quantity: its UCUM code, else its
// unit text read as an alias; ok is false for a unit the table lacks.
func unitOf(q datatype.Quantity) (doseUnit, bool) {
	if q.System == datatype.UCUM && q.Code != "" {
		if u, ok := lookupUnit(q.Code); ok {
			return u, true
		}
	}
	if u, ok := lookupUnit(q.Code); ok && q.Code != "" {
		return u, true
	}
	return lookupUnit(q.Unit)
}

// unitWord is the message for the unit of q with value n: a catalog entry
// for a known unit, else the unit as written (a forbidden abbreviation
// replaced by its word).
func unitWord(q datatype.Quantity, n float64) any {
	if u, ok := unitOf(q); ok {
		return msg("unit." + u.code + plural(n))
	}
	return q.UnitText()
}

// plural picks the English form: one for 1 and for a fraction of one
// ("0.5 tablet"), other for more.
func plural(n float64) string {
	if n <= 1 {
		return ".one"
	}
	return ".other"
}

// route is a route of administration prescribing offers.
type route struct {
	key     string // the form's short name, and the catalog's route.<key>
	snomed  string // SNOMED CT route code
	display string // SNOMED CT preferred term
	verb    string // catalog id of the verb
}

var routes = []route{
	{"oral", "26643006", "Oral route", "verb.take"},
	{"sublingual", "37839007", "Sublingual route", "verb.take"},
	{"topical", "6064005", "Topical route", "verb.apply"},
	{"transdermal", "45890007", "Transdermal route", "verb.apply"},
	{"inhaled", "447694001", "Respiratory tract route", "verb.inhale"},
	{"nasal", "46713006", "Nasal route", "verb.use"},
	{"ophthalmic", "54485002", "Ophthalmic route", "verb.instil"},
	{"otic", "10547007", "Otic route", "verb.instil"},
	{"rectal", "37161004", "Rectal route", "verb.insert"},
	{"vaginal", "16857009", "Vaginal route", "verb.insert"},
	{"subcutaneous", "34206005", "Subcutaneous route", "verb.inject"},
	{"intramuscular", "78421000", "Intramuscular route", "verb.inject"},
	{"intravenous", "47625008", "Intravenous route", "verb.give"},
}

// routeAliases are other names a form may send for a route.
var routeAliases = map[string]string{
	"po": "oral", "by mouth": "oral", "mouth": "oral", "sl": "sublingual", "inhalation": "inhaled",
	"sc": "subcutaneous", "subcut": "subcutaneous", "im": "intramuscular", "iv": "intravenous",
	"pr": "rectal", "pv": "vaginal", "eye": "ophthalmic", "ear": "otic", "nose": "nasal", "skin": "topical",
}

// lookupRoute finds a route by key, alias or SNOMED CT code.
func lookupRoute(s string) (route, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if k, ok := routeAliases[s]; ok {
		s = k
	}
	for _, r := range routes {
		if r.key == s || r.snomed == s {
			return r, true
		}
	}
	return route{}, false
}
