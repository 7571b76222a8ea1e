package sqlstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// slowWords is ftsWords without its fast path: the rule itself.
func slowWords(text string) string {
	var kept []string
	for _, w := range foldWords(text) {
		if len(w) <= maxWordBytes {
			kept = append(kept, w)
		}
	}
	return strings.Join(kept, " ")
}

func TestFTSWords(t *testing.T) {
	for _, in := range []string{
		"", "  ", "Hello, World!", "see http://loinc.org/glucose and 5.4 mmol/L",
		"Jürgen Müller, Zürich", "Straße Ærøskøbing Łukasiewicz Παπαδόπουλος", "a—b", "a \u0301b",
		"x\u00a0y", "½ cup", "e-mail: a.b@example.org", "日本語のテキスト", "ﬁne", "İstanbul",
		strings.Repeat("a", maxWordBytes+1) + " ok", strings.Repeat("é", maxWordBytes) + " ok",
	} {
		if got, want := ftsWords(in), slowWords(in); got != want {
			t.Errorf("ftsWords(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzFTSWords(f *testing.F) {
	for _, s := range []string{"Hello, World!", "Jürgen Müller", "a—b", "½", "Straße"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) {
			t.Skip("resources are valid UTF-8 (fhir.ParseJSON checks)")
		}
		if got, want := ftsWords(in), slowWords(in); got != want {
			t.Errorf("ftsWords(%q) = %q, want %q", in, got, want)
		}
	})
}
