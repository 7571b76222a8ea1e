package sqlstore

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
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

// TestFullTextOnce: content holds each string of the resource once; the
// narrative, bookkeeping, references, URIs and dates not at all.
func TestFullTextOnce(t *testing.T) {
	res, err := fhir.ParseResource([]byte(`{"resourceType":"Observation","id":"o1","meta":{"versionId":"2"},
		"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Glucose <b>high</b></div>"},
		"code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"},{"system":"http://loinc.org","code":"2339-0","display":"Glucose"}],"text":"Glucose"},
		"status":"final","subject":{"reference":"Patient/6b0f1a2e-0d4c-4b8a-9d2e-1f2a3b4c5d6e","display":"Ann Lee"},
		"effectiveDateTime":"2019-02-13T08:14:34+00:00","issued":"2019-02-13T08:14:34.245Z",
		"note":[{"text":"seen 2019, recheck in 2019-03"}],"valueString":"2019",
		"extension":[{"url":"http://example.org/ext","valueUri":"urn:oid:1.2.3"},{"url":"x","valueTime":"08:15:00"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	narrative, content := fullText(res)
	if narrative != "Glucose high" {
		t.Errorf("narrative %q", narrative)
	}
	words := strings.Fields(content)
	slices.Sort(words)
	want := []string{"2019", "2019,", "2019-03", "2339-0", "2345-7", "Ann", "Glucose", "Lee", "final", "generated", "in", "recheck", "seen", "x"}
	if !slices.Equal(words, want) {
		t.Errorf("content words %q, want %q", words, want)
	}
}

// BenchmarkFullText makes the full text of every Synthea resource, as a
// write does (fullText, then ftsWords of each part); the figure is per
// resource.
func BenchmarkFullText(b *testing.B) {
	var rs []fhir.Resource
	for _, ex := range sharedtest.SyntheaR4(b) {
		r, err := fhir.ParseResource(ex.Body)
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, r := range rs {
			narrative, content := fullText(r)
			_, _ = ftsWords(narrative), ftsWords(content)
			n++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/resource")
}
