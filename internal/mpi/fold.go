package mpi

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldName folds a name for matching: upper case, diacritics removed,
// Cyrillic and Greek transliterated to Latin, apostrophes and dots removed
// (O'Brien = OBRIEN), and every other separator (space, hyphen, comma)
// turned into a single space so that callers can split tokens.
//
// When german is true the umlauts and a few Nordic letters are spelled the
// way they are written without the letter (ü→UE, ö→OE, ä→AE, ø→OE, å→AA),
// which gives the second spelling a registration clerk may have typed;
// otherwise they lose their accent (ü→U). Callers keep both forms.
//
// Scripts without a transliteration here (Arabic, Bengali, Chinese …) stay
// as upper-cased Unicode letters with optional Arabic vowel marks removed:
// the same spelling in the same script matches exactly, but an Arabic and a
// Latin spelling of the same name do not; that is a documented limit.
func foldName(s string, german bool) string {
	var b strings.Builder
	b.Grow(len(s) + 4)
	space := false
	put := func(r rune) {
		if b.Len() > 0 && space {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	putString := func(x string) {
		for _, r := range x {
			put(r)
		}
	}
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case 'a' <= c && c <= 'z':
				put(rune(c - 'a' + 'A'))
			case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
				put(rune(c))
			case c == '\'' || c == '.' || c == '`':
				// Dropped without a break: O'Brien, St.John.
			default:
				space = true
			}
		}
		return b.String()
	}
	var base rune // the last base letter, to decide which marks to drop
	var one [16]byte
	for _, orig := range s {
		// Tables are looked up on the letter as written: NFD would turn
		// й into и plus a breve and ü into u plus a diaeresis.
		if german {
			if x, ok := germanSpelling[orig]; ok {
				putString(x)
				base = 'A'
				continue
			}
		}
		if x, ok := spelledOut[orig]; ok {
			putString(x)
			base = 'A'
			continue
		}
		if x, ok := cyrillic[unicode.ToLower(orig)]; ok {
			putString(x)
			base = 'A'
			continue
		}
		n := utf8.EncodeRune(one[:], orig)
		for _, r := range norm.NFD.String(string(one[:n])) {
			if unicode.Is(unicode.Mn, r) {
				if base < 0x0590 || (r >= 0x064B && r <= 0x065F) || r == 0x0670 {
					// Latin, Greek and Cyrillic accents and Arabic harakat
					// are optional in names; Indic vowel signs are not.
					continue
				}
				put(r)
				continue
			}
			base = r
			if x, ok := greek[unicode.ToLower(r)]; ok {
				putString(x)
				continue
			}
			switch {
			case r == '\'' || r == '’' || r == 'ʼ' || r == '`' || r == '.' || r == 'ʻ' || r == '´':
			case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mc, r):
				put(unicode.ToUpper(r))
			default:
				space = true
			}
		}
	}
	// Recompose what NFD split and was kept (Bengali ো is ে + া), so
	// the key equals the NFC text other systems store.
	return norm.NFC.String(b.String())
}

// germanSpelling is applied before decomposition, so the precomposed
// letters are listed; decomposed input (u + U+0308) folds to U only.
var germanSpelling = map[rune]string{
	'ä': "AE", 'Ä': "AE", 'ö': "OE", 'Ö': "OE", 'ü': "UE", 'Ü': "UE",
	'ø': "OE", 'Ø': "OE", 'å': "AA", 'Å': "AA",
}

// spelledOut lists Latin letters that Unicode does not decompose into a base
// letter and a mark, so NFD leaves them alone.
var spelledOut = map[rune]string{
	'ß': "SS", 'ẞ': "SS", 'æ': "AE", 'Æ': "AE", 'ø': "O", 'Ø': "O", 'ł': "L", 'Ł': "L",
	'đ': "D", 'Đ': "D", 'ı': "I", 'œ': "OE", 'Œ': "OE", 'þ': "TH", 'Þ': "TH", 'ð': "D",
	'Ð': "D", 'ŋ': "NG", 'Ŋ': "NG", 'ħ': "H", 'Ħ': "H",
}

// cyrillic is a practical passport-style transliteration (close to ICAO
// 9303 for Russian, with common Ukrainian, Belarusian and Serbian letters),
// chosen because patients' Latin documents use it.
var cyrillic = map[rune]string{
	'а': "A", 'б': "B", 'в': "V", 'г': "G", 'ґ': "G", 'д': "D", 'е': "E", 'ё': "E", 'є': "YE",
	'ж': "ZH", 'з': "Z", 'и': "I", 'і': "I", 'ї': "YI", 'й': "Y", 'к': "K", 'л': "L", 'м': "M",
	'н': "N", 'о': "O", 'п': "P", 'р': "R", 'с': "S", 'т': "T", 'у': "U", 'ў': "U", 'ф': "F",
	'х': "KH", 'ц': "TS", 'ч': "CH", 'ш': "SH", 'щ': "SHCH", 'ъ': "", 'ы': "Y", 'ь': "",
	'э': "E", 'ю': "YU", 'я': "YA", 'ђ': "DJ", 'ј': "J", 'љ': "LJ", 'њ': "NJ", 'ћ': "C",
	'џ': "DZ",
}

// greek follows ELOT 743 / ISO 843 simplified to single readings.
var greek = map[rune]string{
	'α': "A", 'β': "V", 'γ': "G", 'δ': "D", 'ε': "E", 'ζ': "Z", 'η': "I", 'θ': "TH",
	'ι': "I", 'κ': "K", 'λ': "L", 'μ': "M", 'ν': "N", 'ξ': "X", 'ο': "O", 'π': "P",
	'ρ': "R", 'σ': "S", 'ς': "S", 'τ': "T", 'υ': "Y", 'φ': "F", 'χ': "CH", 'ψ': "PS",
	'ω': "O",
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// stripAccents removes diacritics but keeps case and letters: the generator
// uses it to imitate a keyboard without accents.
func stripAccents(s string) string {
	if isASCII(s) {
		return s
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}
