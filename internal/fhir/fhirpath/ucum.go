package fhirpath

import (
	"maps"
	"math/big"
	"strconv"
	"strings"
)

// A unit in canonical form: value × factor expresses the quantity in base
// units whose exponents are dims. Only the common UCUM units are known;
// an unknown atom is kept as a dimension of its own, so it still equals
// itself.
type canonUnit struct {
	factor *big.Rat
	dims   map[string]int
}

type unitDef struct {
	factor string // relative to def
	def    string // "" for a base unit
}

// ucumAtoms are the UCUM atoms we convert between.
var ucumAtoms = map[string]unitDef{
	"g": {"1", ""}, "m": {"1", ""}, "s": {"1", ""}, "mol": {"1", ""}, "K": {"1", ""}, "A": {"1", ""}, "cd": {"1", ""},
	"1": {"1", "1"}, "%": {"1/100", "1"}, "[ppm]": {"1/1000000", "1"}, "[ppth]": {"1/1000", "1"},
	"L": {"1/1000", "m3"}, "l": {"1/1000", "m3"},
	"min": {"60", "s"}, "h": {"3600", "s"}, "d": {"86400", "s"}, "wk": {"604800", "s"},
	"a": {"31557600", "s"}, "mo": {"2629800", "s"},
	"[lb_av]": {"45359237/100000", "g"}, "[oz_av]": {"28349523125/1000000000", "g"},
	"[in_i]": {"254/10000", "m"}, "[ft_i]": {"3048/10000", "m"}, "[yd_i]": {"9144/10000", "m"}, "[mi_i]": {"1609344/1000", "m"},
	"N": {"1000", "g.m/s2"}, "Pa": {"1", "N/m2"}, "J": {"1", "N.m"}, "W": {"1", "J/s"}, "Hz": {"1", "s-1"},
	"bar": {"100000", "Pa"}, "[psi]": {"689475729/100000", "Pa"}, "mm[Hg]": {"133322387415/1000000000", "Pa"},
	"cal": {"4184/1000", "J"}, "[Cal]": {"4184", "J"}, "kat": {"1", "mol/s"}, "eq": {"1", "mol"},
	"t": {"1000000", "g"}, "ar": {"100", "m2"}, "[degF]": {"1", "[degF]"}, "Cel": {"1", "Cel"},
}

var ucumPrefixes = map[string]string{
	"Y": "1e24", "Z": "1e21", "E": "1e18", "P": "1e15", "T": "1e12", "G": "1e9", "M": "1e6", "k": "1e3",
	"h": "1e2", "da": "1e1", "d": "1e-1", "c": "1e-2", "m": "1e-3", "u": "1e-6", "n": "1e-9",
	"p": "1e-12", "f": "1e-15", "a": "1e-18",
}

// calendarToUCUM gives the definite UCUM unit of the calendar keywords that
// have one; year and month are calendar-dependent and have none.
var calendarToUCUM = map[string]string{
	"week": "wk", "day": "d", "hour": "h", "minute": "min", "second": "s", "millisecond": "ms",
}

func parseRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("fhirpath: bad unit table entry " + s)
	}
	return r
}

// canonical returns the canonical form of a UCUM unit expression; ok is
// false when the expression cannot be read.
func canonical(unit string) (canonUnit, bool) {
	if u, ok := calendarToUCUM[unit]; ok {
		unit = u
	}
	p := unitParser{s: unit}
	c, ok := p.term(0)
	if !ok || p.i != len(p.s) || c.factor.Sign() <= 0 {
		return canonUnit{}, false
	}
	return c, true
}

type unitParser struct {
	s string
	i int
}

func one() canonUnit { return canonUnit{factor: big.NewRat(1, 1), dims: map[string]int{}} }

func (c canonUnit) mul(o canonUnit, sign int) canonUnit {
	r := canonUnit{factor: new(big.Rat), dims: maps.Clone(c.dims)}
	if sign > 0 {
		r.factor.Mul(c.factor, o.factor)
	} else {
		r.factor.Quo(c.factor, o.factor)
	}
	for k, v := range o.dims {
		r.dims[k] += sign * v
		if r.dims[k] == 0 {
			delete(r.dims, k)
		}
	}
	return r
}

func (c canonUnit) pow(n int) canonUnit {
	r := one()
	for i := 0; i < n; i++ {
		r = r.mul(c, 1)
	}
	for i := 0; i > n; i-- {
		r = r.mul(c, -1)
	}
	return r
}

func (p *unitParser) term(depth int) (canonUnit, bool) {
	if depth > 20 {
		return canonUnit{}, false
	}
	r := one()
	sign := 1
	if p.i < len(p.s) && p.s[p.i] == '/' {
		p.i++
		sign = -1
	}
	for {
		c, ok := p.component(depth)
		if !ok {
			return canonUnit{}, false
		}
		r = r.mul(c, sign)
		if p.i >= len(p.s) || (p.s[p.i] != '.' && p.s[p.i] != '/') {
			return r, true
		}
		sign = 1
		if p.s[p.i] == '/' {
			sign = -1
		}
		p.i++
	}
}

func (p *unitParser) component(depth int) (canonUnit, bool) {
	if p.i >= len(p.s) {
		return canonUnit{}, false
	}
	if p.s[p.i] == '(' {
		p.i++
		c, ok := p.term(depth + 1)
		if !ok || p.i >= len(p.s) || p.s[p.i] != ')' {
			return canonUnit{}, false
		}
		p.i++
		return c, true
	}
	if p.s[p.i] == '{' { // an annotation alone is the unit 1
		end := strings.IndexByte(p.s[p.i:], '}')
		if end < 0 {
			return canonUnit{}, false
		}
		p.i += end + 1
		return one(), true
	}
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune("./(){", rune(p.s[p.i])) {
		if p.s[p.i] == '[' {
			end := strings.IndexByte(p.s[p.i:], ']')
			if end < 0 {
				return canonUnit{}, false
			}
			p.i += end + 1
			continue
		}
		p.i++
	}
	text := p.s[start:p.i]
	if p.i < len(p.s) && p.s[p.i] == '{' {
		end := strings.IndexByte(p.s[p.i:], '}')
		if end < 0 {
			return canonUnit{}, false
		}
		p.i += end + 1
	}
	if text == "" {
		return canonUnit{}, false
	}
	// 10*3 and 10^3 are numeric factors.
	if b, e, ok := strings.Cut(strings.ReplaceAll(text, "^", "*"), "*"); ok {
		base, err1 := strconv.Atoi(b)
		exp, err2 := strconv.Atoi(e)
		if err1 != nil || err2 != nil || base <= 0 || exp > 30 || exp < -30 {
			return canonUnit{}, false
		}
		r := one()
		r.factor.SetInt(new(big.Int).Exp(big.NewInt(int64(base)), big.NewInt(int64(abs(exp))), nil))
		if exp < 0 {
			r.factor.Inv(r.factor)
		}
		return r, true
	}
	if allDigits(text) {
		n, ok := new(big.Rat).SetString(text)
		if !ok || n.Sign() == 0 {
			return canonUnit{}, false
		}
		return canonUnit{factor: n, dims: map[string]int{}}, true
	}
	// trailing exponent: m2, s-1
	j := len(text)
	for j > 0 && isDigit(text[j-1]) {
		j--
	}
	if j > 0 && text[j-1] == '-' || j > 0 && text[j-1] == '+' {
		j--
	}
	exp := 1
	if j < len(text) && j > 0 {
		e, err := strconv.Atoi(text[j:])
		if err != nil || e > 10 || e < -10 {
			return canonUnit{}, false
		}
		exp = e
		text = text[:j]
	}
	a, ok := atom(text, depth)
	if !ok {
		return canonUnit{}, false
	}
	return a.pow(exp), true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func atom(text string, depth int) (canonUnit, bool) {
	if def, ok := ucumAtoms[text]; ok {
		return expand(text, def, depth)
	}
	for _, plen := range []int{2, 1} {
		if len(text) > plen {
			if f, ok := ucumPrefixes[text[:plen]]; ok {
				if def, ok := ucumAtoms[text[plen:]]; ok {
					c, ok := expand(text[plen:], def, depth)
					if !ok {
						return c, false
					}
					pf, _ := new(big.Float).SetPrec(200).SetString(f)
					pr, _ := pf.Rat(nil)
					c.factor = new(big.Rat).Mul(c.factor, pr)
					return c, true
				}
			}
		}
	}
	// Unknown atom: a dimension of its own.
	return canonUnit{factor: big.NewRat(1, 1), dims: map[string]int{text: 1}}, true
}

func expand(name string, def unitDef, depth int) (canonUnit, bool) {
	if def.def == "" || def.def == name {
		return canonUnit{factor: parseRat(def.factor), dims: map[string]int{name: 1}}, true
	}
	p := unitParser{s: def.def}
	c, ok := p.term(depth + 1)
	if !ok {
		return c, false
	}
	c.factor = new(big.Rat).Mul(c.factor, parseRat(def.factor))
	return c, true
}

// convertQuantity expresses q in unit to; ok is false when the units are
// not commensurable.
func convertQuantity(q Quantity, to string) (Quantity, bool) {
	if q.Unit == to {
		return q, true
	}
	if (q.Unit == "year" || q.Unit == "month") != (to == "year" || to == "month") {
		return q, false
	}
	if q.Unit == "year" && to == "month" {
		return Quantity{Value: q.Value.Mul(DecimalFromInt(12)), Unit: to}, true
	}
	if q.Unit == "month" && to == "year" {
		v, _ := q.Value.Div(DecimalFromInt(12))
		return Quantity{Value: v, Unit: to}, true
	}
	a, ok1 := canonical(q.Unit)
	b, ok2 := canonical(to)
	if !ok1 || !ok2 || !maps.Equal(a.dims, b.dims) {
		return q, false
	}
	r := new(big.Rat).Mul(ratOf(q.Value), a.factor)
	r.Quo(r, b.factor)
	return Quantity{Value: decimalOfRat(r, max(q.Value.scale, 0)), Unit: to}, true
}

func ratOf(d Decimal) *big.Rat {
	r := new(big.Rat).SetInt(d.int())
	if d.scale > 0 {
		r.Quo(r, new(big.Rat).SetInt(pow10(d.scale)))
	} else if d.scale < 0 {
		r.Mul(r, new(big.Rat).SetInt(pow10(-d.scale)))
	}
	return r
}

// decimalOfRat returns r exactly when it has a short decimal expansion,
// else rounded to divisionScale digits; at least minScale digits are kept.
func decimalOfRat(r *big.Rat, minScale int) Decimal {
	num := DecimalFromInt(0)
	num.unscaled = new(big.Int).Set(r.Num())
	den := Decimal{unscaled: new(big.Int).Set(r.Denom())}
	q, _ := num.Div(den)
	if q.scale < minScale {
		q = q.rescale(minScale)
	}
	return q
}
