package fhirpath

import (
	"errors"
	"math/big"
	"strings"
)

// Decimal is an exact decimal number: Unscaled × 10^-Scale. The scale keeps
// the precision the number was written with, so 1.0 and 1.00 are equal but
// print differently and have different precision().
type Decimal struct {
	unscaled *big.Int
	scale    int
}

// divisionScale is the number of fractional digits kept by division.
const divisionScale = 16

// maxDecimalDigits bounds the size of decimals built from expressions so a
// hostile power() or literal cannot allocate without limit.
const maxDecimalDigits = 4000

var errBadDecimal = errors.New("invalid decimal")

// ParseDecimal reads a decimal in FHIR/FHIRPath syntax (optional sign,
// digits, optional fraction; an exponent is accepted as in FHIR JSON).
func ParseDecimal(s string) (Decimal, error) {
	if s == "" || len(s) > maxDecimalDigits {
		return Decimal{}, errBadDecimal
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, ok := parseInteger(strings.TrimPrefix(s[i+1:], "+"))
		if !ok || e > maxDecimalDigits || e < -maxDecimalDigits {
			return Decimal{}, errBadDecimal
		}
		exp = int(e)
		s = s[:i]
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return Decimal{}, errBadDecimal
	}
	u, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return Decimal{}, errBadDecimal
	}
	if neg {
		u.Neg(u)
	}
	d := Decimal{unscaled: u, scale: len(frac)}
	if exp != 0 {
		d.scale -= exp
		if d.scale < 0 {
			d.unscaled.Mul(d.unscaled, pow10(-d.scale))
			d.scale = 0
		}
	}
	return d, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// DecimalFromInt returns n as a decimal with no fractional digits.
func DecimalFromInt(n int64) Decimal { return Decimal{unscaled: big.NewInt(n)} }

func (d Decimal) int() *big.Int {
	if d.unscaled == nil {
		return new(big.Int)
	}
	return d.unscaled
}

// Scale returns the number of fractional digits.
func (d Decimal) Scale() int { return d.scale }

// rescale returns d with the given scale, rounding half away from zero when
// digits are dropped.
func (d Decimal) rescale(scale int) Decimal {
	u := d.int()
	switch {
	case scale == d.scale:
		return d
	case scale > d.scale:
		return Decimal{new(big.Int).Mul(u, pow10(scale-d.scale)), scale}
	}
	div := pow10(d.scale - scale)
	q, r := new(big.Int).QuoRem(u, div, new(big.Int))
	r.Abs(r).Mul(r, big.NewInt(2))
	if r.Cmp(div) >= 0 {
		if u.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return Decimal{q, scale}
}

// truncateTo drops digits beyond scale, rounding toward negative infinity
// when floor is set and toward zero otherwise.
func (d Decimal) truncateTo(scale int, floor bool) Decimal {
	if scale >= d.scale {
		return d.rescale(scale)
	}
	div := pow10(d.scale - scale)
	q, r := new(big.Int).QuoRem(d.int(), div, new(big.Int))
	if floor && r.Sign() < 0 {
		q.Sub(q, big.NewInt(1))
	}
	return Decimal{q, scale}
}

func align(a, b Decimal) (*big.Int, *big.Int, int) {
	s := max(a.scale, b.scale)
	return a.rescale(s).int(), b.rescale(s).int(), s
}

// Cmp compares a and b numerically.
func (d Decimal) Cmp(o Decimal) int {
	x, y, _ := align(d, o)
	return x.Cmp(y)
}

func (d Decimal) Add(o Decimal) Decimal {
	x, y, s := align(d, o)
	return Decimal{new(big.Int).Add(x, y), s}
}

func (d Decimal) Sub(o Decimal) Decimal {
	x, y, s := align(d, o)
	return Decimal{new(big.Int).Sub(x, y), s}
}

func (d Decimal) Mul(o Decimal) Decimal {
	return Decimal{new(big.Int).Mul(d.int(), o.int()), d.scale + o.scale}
}

// Div divides with divisionScale fractional digits, then drops trailing
// zeros beyond the operands' own scale. ok is false for division by zero.
func (d Decimal) Div(o Decimal) (Decimal, bool) {
	if o.int().Sign() == 0 {
		return Decimal{}, false
	}
	// d/o = (du × 10^(os - ds + S)) / ou × 10^-S
	shift := o.scale - d.scale + divisionScale + 1
	num := new(big.Int).Set(d.int())
	if shift >= 0 {
		num.Mul(num, pow10(shift))
	} else {
		num.Quo(num, pow10(-shift))
	}
	q := Decimal{new(big.Int).Quo(num, o.int()), divisionScale + 1}.rescale(divisionScale)
	return q.trimZeros(max(d.scale, o.scale)), true
}

// trimZeros removes trailing fractional zeros but keeps at least minScale digits.
func (d Decimal) trimZeros(minScale int) Decimal {
	u := new(big.Int).Set(d.int())
	s := d.scale
	ten := big.NewInt(10)
	r := new(big.Int)
	for s > minScale {
		q, rem := new(big.Int).QuoRem(u, ten, r)
		if rem.Sign() != 0 {
			break
		}
		u = q
		s--
	}
	return Decimal{u, s}
}

func (d Decimal) Neg() Decimal { return Decimal{new(big.Int).Neg(d.int()), d.scale} }
func (d Decimal) Sign() int    { return d.int().Sign() }
func (d Decimal) Abs() Decimal { return Decimal{new(big.Int).Abs(d.int()), d.scale} }

// IsInteger reports whether d has no fractional value.
func (d Decimal) IsInteger() bool {
	if d.scale <= 0 {
		return true
	}
	return new(big.Int).Rem(d.int(), pow10(d.scale)).Sign() == 0
}

// Int64 returns the integer part of d and whether it fits.
func (d Decimal) Int64() (int64, bool) {
	t := d.truncateTo(0, false).int()
	return t.Int64(), t.IsInt64()
}

// Float64 approximates d, for the functions (exp, ln, sqrt...) that are
// inexact by nature.
func (d Decimal) Float64() float64 {
	f, _ := new(big.Float).SetInt(d.int()).Float64()
	for i := 0; i < d.scale; i++ {
		f /= 10
	}
	return f
}

func (d Decimal) String() string {
	u := d.int()
	neg := u.Sign() < 0
	digits := new(big.Int).Abs(u).String()
	if d.scale > 0 {
		if len(digits) <= d.scale {
			digits = strings.Repeat("0", d.scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-d.scale] + "." + digits[len(digits)-d.scale:]
	} else if d.scale < 0 {
		digits += strings.Repeat("0", -d.scale)
	}
	if neg {
		return "-" + digits
	}
	return digits
}

func parseInteger(s string) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}
