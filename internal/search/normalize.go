package search

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/emr-project/emr/internal/fhir"
)

// Normalize folds a string for string search: case- and accent-insensitive,
// as the specification asks. Letters are decomposed (NFKD), combining marks
// dropped, and case folded; a few letters that do not decompose (ß, æ, ø, ł,
// đ, ı, œ, þ) are spelled out. Runs of white space become one space.
func Normalize(s string) string {
	// Fast path: plain ASCII needs only lower-casing and space folding.
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return normalizeASCII(s)
	}
	return normalizeUnicode(s)
}

// normalizeUnicode is Normalize's rule in full.
func normalizeUnicode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	put := func(r rune) {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			return
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	for _, r := range norm.NFKD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if spelled, ok := unfoldable[r]; ok {
			for _, x := range spelled {
				put(x)
			}
			continue
		}
		put(unicode.ToLower(unicode.ToUpper(r)))
	}
	return b.String()
}

// normalizeASCII is Normalize for ASCII text: lower case, and each run of
// white space (the ASCII characters unicode.IsSpace names) one space
// between words. The text comes back as it is when that changes nothing.
func normalizeASCII(s string) string {
	isSpace := func(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' }
	same := true
	for i := 0; i < len(s) && same; i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			same = false
		case isSpace(c):
			same = c == ' ' && i > 0 && i < len(s)-1 && !isSpace(s[i+1])
		}
	}
	if same {
		return s
	}
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpace(c) {
			space = len(b) > 0
			continue
		}
		if space {
			b = append(b, ' ')
			space = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// unfoldable spells out letters that Unicode does not decompose into a base
// letter and an accent.
var unfoldable = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l",
	'đ': "d", 'Đ': "d", 'ı': "i", 'œ': "oe", 'Œ': "oe", 'þ': "th", 'Þ': "th", 'ð': "d", 'Ð': "d",
}

// NumberRange returns the implicit range [low, high) of a decimal as
// written, from its precision: "100" is [99.5, 100.5), "100.00" is
// [99.995, 100.005) — half a unit of the last significant digit either
// side — and "1e2" is [95, 105), as the specification's table says.
func NumberRange(s string) (value, low, high float64, err error) {
	value, err = strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(value, 0) || math.IsNaN(value) {
		return 0, 0, 0, fmt.Errorf("%q is not a number", s)
	}
	mantissa, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mantissa = s[:i]
		if exp, err = strconv.Atoi(strings.TrimPrefix(s[i+1:], "+")); err != nil {
			return 0, 0, 0, fmt.Errorf("%q is not a number", s)
		}
	}
	decimals := 0
	if i := strings.IndexByte(mantissa, '.'); i >= 0 {
		decimals = len(mantissa) - i - 1
	}
	half := 0.5 * math.Pow(10, float64(exp-decimals))
	if strings.ContainsAny(s, "eE") {
		// The specification reads 1e2 as [95, 105): one digit finer than
		// the mantissa's precision.
		half = 0.5 * math.Pow(10, float64(exp-decimals-1))
	}
	return value, value - half, value + half, nil
}

// DateRange returns the range a FHIR date, dateTime or instant covers,
// [low, high) in unix milliseconds.
func DateRange(s string) (low, high int64, err error) {
	start, end, err := fhir.ParseDateRange(s)
	if err != nil {
		return 0, 0, err
	}
	return start.UnixMilli(), end.UnixMilli(), nil
}
