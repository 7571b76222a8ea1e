package mpi

import "strings"

// phonetic returns a sound key for a folded (upper-case ASCII) name token.
//
// It is a small rule set in the spirit of NYSIIS and Metaphone, tuned for
// transliterated names from many languages rather than English alone:
// spellings that clerks confuse collapse to one key (MOHAMMED, MUHAMMAD,
// MOHAMAD → MHMT; YUSUF, YOUSEF → YSF; SCHMIDT, SHMIT → SMT), while names
// that merely look alike keep different keys. The first letter is kept (a
// vowel as 'A'), later vowels and H/W/Y are dropped, consonants fall into
// sound classes, and repeats collapse. Tokens in scripts without a
// transliteration are returned unchanged, so they still match themselves.
func phonetic(s string) string {
	if s == "" || !isASCII(s) {
		return s
	}
	// Multi-letter spellings of one sound, longest first.
	s = digraphs.Replace(s)
	out := make([]byte, 0, len(s))
	var last byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		var class byte
		switch c {
		case 'A', 'E', 'I', 'O', 'U', 'Y', 'H', 'W':
			if i == 0 {
				if c == 'H' || c == 'W' || c == 'Y' {
					class = c
				} else {
					class = 'A'
				}
				break
			}
			if c == 'A' || c == 'E' || c == 'I' || c == 'O' || c == 'U' || c == 'Y' {
				last = 0 // a vowel separates repeated consonants: NN but N-A-N
			}
			continue
		case 'B', 'P':
			class = 'P'
		case 'F', 'V':
			class = 'F'
		case 'D', 'T':
			class = 'T'
		case 'G', 'K', 'Q':
			class = 'K'
		case 'C':
			if i+1 < len(s) && (s[i+1] == 'E' || s[i+1] == 'I' || s[i+1] == 'Y') {
				class = 'S'
			} else {
				class = 'K'
			}
		case 'S', 'Z', 'X':
			class = 'S'
		case 'J':
			class = 'J'
		case 'M', 'N', 'L', 'R':
			class = c
		default:
			class = c // digits and anything unexpected stay as they are
		}
		if class == last {
			continue
		}
		out = append(out, class)
		last = class
	}
	if len(out) > 8 {
		out = out[:8]
	}
	return string(out)
}

// digraphs rewrites spellings of one sound before classing. The choices
// favour collisions that real registrations produce across languages:
// PH/F, CK/K, KH/K (Khan, Kan), SCH/SH/SZ/S (Schmidt, Szmit), TH/T, DH/D,
// GH/G, TZ/TS/Z, CZ/CH (Polish and Czech), DJ/DZH/J, OU/U, EE/I and X/KS
// (Alexandr, Aleksandr). CH becomes X, a class of its own.
var digraphs = strings.NewReplacer(
	"SCH", "S", "TCH", "CH", "DZH", "J", "SHCH", "S",
	"PH", "F", "CK", "K", "KH", "K", "SH", "S", "SZ", "S", "TH", "T", "DH", "D",
	"GH", "G", "TZ", "S", "TS", "S", "CZ", "CH", "DJ", "J", "DZ", "J", "ZH", "J",
	"QU", "K", "OU", "U", "EE", "I", "OO", "U", "CH", "X", "X", "KS",
)

// consonantSkeleton is the token without vowels and repeated letters; a
// second, coarser key used in comparisons of long names.
func consonantSkeleton(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i > 0 && strings.IndexByte("AEIOUYHW", c) >= 0 {
			continue
		}
		if len(out) > 0 && out[len(out)-1] == c {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}
