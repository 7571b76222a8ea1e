package web

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
)

// A note's text survives its narrative: whatever the clinician types
// (markup, entities, any script) comes back with every character that is
// not white space, in order, and the narrative is one R5 accepts.
func FuzzNoteNarrative(f *testing.F) {
	for _, s := range []string{"Thirsty <often> & tired.\nWorse at night.\n\nNo weight loss.", "&lt;b&gt;", "<script>alert(1)</script>",
		"  \n\n  ", "রক্তচাপ 120/80\r\nনাড়ি 72", "a\n\n\n\nb", "]]>", "\x00"} {
		f.Add(s)
	}
	validator := validate.New(spec.R5())
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
			return // a form posts UTF-8 text; NUL is refused by the JSON layer
		}
		div := narrativeOf(text)
		back := textOf(div)
		squash := func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) {
					return -1
				}
				return r
			}, s)
		}
		if squash(back) != squash(xmlText(text)) {
			t.Fatalf("text %q came back as %q (narrative %s)", text, back, div)
		}
		if strings.TrimSpace(text) == "" {
			return
		}
		c := fhir.Resource{"resourceType": "Composition", "status": "preliminary", "date": "2026-11-23T09:00:00Z", "title": "Note",
			"type": map[string]any{"text": "Progress note"}, "author": []any{map[string]any{"display": "dr"}},
			"section": []any{map[string]any{"title": "S", "text": map[string]any{"status": "additional", "div": div}}}}
		if issues := validator.Validate(c); validate.HasErrors(issues) {
			t.Fatalf("the narrative of %q is not valid R5: %v\n%s", text, issues, div)
		}
	})
}
