package papers

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// The core PDF fonts (Helvetica here) cover Windows-1252 only, and fpdf
// prints any other character as ".". Rather than embed a Unicode font
// (hundreds of kilobytes per script, and still not every script), every
// string goes through latinText first:
//   - characters of Windows-1252 are kept (é, ñ, ß, €, –, ’);
//   - letters with accents it lacks lose the accent (ő→o, č→c, ș→s) by
//     Unicode decomposition, and a few letters and signs without one are
//     spelled out (ł→l, đ→d, ≤→<=, →→->);
//   - anything else (Bengali, Arabic, Chinese, emoji) becomes "?", and
//     the paper says that characters were replaced, so nobody reads a
//     replaced name as the name: the identifiers printed beside it stay
//     the way to match paper and patient.
//   - control characters become spaces.

// spelled are replacements for characters with no Windows-1252 form and no
// decomposition to one.
var spelled = map[rune]string{
	'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D", 'ħ': "h", 'Ħ': "H", 'ı': "i", 'ŀ': "l", 'Ŀ': "L",
	'ŧ': "t", 'Ŧ': "T", 'ə': "e", 'Ə': "E", 'ŋ': "ng", 'Ŋ': "NG", 'ĸ': "k",
	'≤': "<=", '≥': ">=", '≠': "!=", '→': "->", '←': "<-", '−': "-", '‐': "-", '‑': "-",
	'′': "'", '″': "\"", '✓': "v", '✔': "v", '\u2009': " ", '\u202f': " ", '\u200b': "",
}

// latin holds the runes above 0x7f that Windows-1252 can print.
var latin = func() map[rune]bool {
	m := map[rune]bool{}
	for r := rune(0xa0); r <= 0xff; r++ {
		m[r] = true
	}
	for _, r := range "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ" {
		m[r] = true
	}
	return m
}()

// printable reports whether the core fonts print r.
func printable(r rune) bool { return (r >= 0x20 && r < 0x7f) || latin[r] }

// latinText returns s with every character the core fonts cannot print
// replaced, and whether any was replaced by "?".
func latinText(s string) (string, bool) {
	var b strings.Builder
	lost := false
	for _, r := range s {
		switch {
		case printable(r):
			b.WriteRune(r)
		case r == '\n' || r == '\t' || unicode.IsControl(r):
			b.WriteByte(' ')
		case spelled[r] != "" || r == '\u200b':
			b.WriteString(spelled[r])
		default:
			if base, ok := stripMarks(r); ok {
				b.WriteString(base)
			} else {
				b.WriteByte('?')
				lost = true
			}
		}
	}
	return b.String(), lost
}

// stripMarks decomposes r and drops its combining marks; ok when what is
// left prints.
func stripMarks(r rune) (string, bool) {
	var b strings.Builder
	for _, d := range norm.NFD.String(string(r)) {
		if unicode.Is(unicode.Mn, d) {
			continue
		}
		if !printable(d) {
			return "", false
		}
		b.WriteRune(d)
	}
	return b.String(), b.Len() > 0
}
