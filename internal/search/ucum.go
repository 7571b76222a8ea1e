package search

// UCUMCanonical returns the canonical unit of a UCUM unit code and the
// factor that converts a value in code to it: mass to g, length to m,
// volume to L, time to s, amount of substance to mol, and the common
// laboratory concentrations to mol/L and g/L. Units whose canonical form is
// themselves (mm[Hg], kg/m2, /min, %) are listed with factor 1 so that a
// canonical search finds them. ok is false for units the table does not
// know; they are indexed only as written. Both extraction and query parsing
// use it, so that the two agree.
func UCUMCanonical(code string) (base string, factor float64, ok bool) {
	u, ok := ucumUnits[code]
	return u.base, u.factor, ok
}

type ucumUnit struct {
	base   string
	factor float64
}

// ucumUnits is deliberately small: the units that clinical data uses most.
// Temperatures are left out (Cel to K needs an offset, not a factor).
var ucumUnits = map[string]ucumUnit{
	// mass
	"pg": {"g", 1e-12}, "ng": {"g", 1e-9}, "ug": {"g", 1e-6}, "mg": {"g", 1e-3}, "g": {"g", 1},
	"kg": {"g", 1e3}, "[lb_av]": {"g", 453.59237}, "[oz_av]": {"g", 28.349523125},
	// length
	"nm": {"m", 1e-9}, "um": {"m", 1e-6}, "mm": {"m", 1e-3}, "cm": {"m", 1e-2}, "m": {"m", 1},
	"km": {"m", 1e3}, "[in_i]": {"m", 0.0254}, "[ft_i]": {"m", 0.3048},
	// volume
	"fL": {"L", 1e-15}, "nL": {"L", 1e-9}, "uL": {"L", 1e-6}, "mL": {"L", 1e-3}, "cL": {"L", 1e-2},
	"dL": {"L", 1e-1}, "L": {"L", 1}, "l": {"L", 1}, "ml": {"L", 1e-3}, "m3": {"L", 1e3}, "cm3": {"L", 1e-3},
	// time
	"ms": {"s", 1e-3}, "s": {"s", 1}, "min": {"s", 60}, "h": {"s", 3600}, "d": {"s", 86400},
	"wk": {"s", 604800}, "mo": {"s", 2629800}, "a": {"s", 31557600},
	// amount of substance
	"pmol": {"mol", 1e-12}, "nmol": {"mol", 1e-9}, "umol": {"mol", 1e-6}, "mmol": {"mol", 1e-3}, "mol": {"mol", 1},
	// substance concentration
	"pmol/L": {"mol/L", 1e-12}, "nmol/L": {"mol/L", 1e-9}, "umol/L": {"mol/L", 1e-6},
	"mmol/L": {"mol/L", 1e-3}, "mol/L": {"mol/L", 1},
	// mass concentration
	"pg/mL": {"g/L", 1e-9}, "ng/mL": {"g/L", 1e-6}, "ng/L": {"g/L", 1e-9}, "ug/mL": {"g/L", 1e-3},
	"ug/L": {"g/L", 1e-6}, "ug/dL": {"g/L", 1e-5}, "mg/dL": {"g/L", 1e-2}, "mg/L": {"g/L", 1e-3},
	"mg/mL": {"g/L", 1}, "g/dL": {"g/L", 10}, "g/L": {"g/L", 1}, "kg/L": {"g/L", 1e3},
	// canonical as written
	"mm[Hg]": {"mm[Hg]", 1}, "kg/m2": {"kg/m2", 1}, "/min": {"/min", 1}, "{beats}/min": {"/min", 1},
	"%": {"%", 1}, "1": {"1", 1},
}
