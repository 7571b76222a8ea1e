package web

import (
	"strings"
	"testing"
)

func TestPluralCategory(t *testing.T) {
	en, bn := localeByTag("en"), localeByTag("bn")
	for _, tc := range []struct {
		l    *Locale
		n    string
		want string
	}{
		{en, "1", "one"}, {en, "0", "other"}, {en, "2", "other"}, {en, "11", "other"},
		{en, "1.0", "other"}, {en, "1.5", "other"}, {en, "01", "one"}, {en, "-1", "one"},
		{bn, "0", "one"}, {bn, "1", "one"}, {bn, "0.5", "one"}, {bn, "1.0", "one"},
		{bn, "1.5", "other"}, {bn, "2", "other"}, {bn, "10", "other"},
	} {
		if got := tc.l.PluralCategory(tc.n); got != tc.want {
			t.Errorf("%s: category of %s is %q, want %q", tc.l.Tag, tc.n, got, tc.want)
		}
	}
}

func TestPlural(t *testing.T) {
	en, bn := localeByTag("en"), localeByTag("bn")
	for _, tc := range []struct {
		got, want string
	}{
		{en.Count("finder.count", 1), "1 patient found"},
		{en.Count("finder.count", 2), "2 patients found"},
		{en.Count("finder.count", 0), "0 patients found"},
		{bn.Count("finder.count", 1), "১ জন রোগী পাওয়া গেছে"},
		{en.Plural("unit.d", "1"), "1 day"},
		{en.Plural("unit.d", "7"), "7 days"},
		{en.Plural("unit.d", "1.5"), "1.5 days"},
		{en.Plural("unit.h", "1"), "1 hour"},
		{bn.Plural("unit.wk", "2"), "২ সপ্তাহ"},
		{en.Plural("med.every-hours", "1"), "every hour"},
		{en.Plural("med.every-hours", "8"), "every 8 hours"},
		// A key no catalog has shows as itself, never blank.
		{en.Count("no.such", 1), "no.such"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// A locale missing a message speaks English, in English's category:
	// Bengali's "one" covers 0, English's does not.
	bnOnly := &Locale{Tag: "bn", messages: map[string]string{}, fallback: en}
	if got := bnOnly.Count("finder.count", 0); got != "0 patients found" {
		t.Errorf("falling back to English for 0: %q", got)
	}
}

// TestPluralCatalogs: every message in plural forms (English has its
// "one") has its "other" form in each catalog, which is what a category
// the catalog lacks falls back to, and each form shows the count (English
// may say "every hour" for one).
func TestPluralCatalogs(t *testing.T) {
	en := localeByTag("en")
	plurals := 0
	for key := range en.messages {
		base, ok := strings.CutSuffix(key, ".one")
		if !ok {
			continue
		}
		plurals++
		for _, l := range Locales {
			if _, ok := l.messages[base+".other"]; !ok {
				t.Errorf("%s: %s has no %s.other", l.Tag, key, base)
			}
			for _, cat := range []string{"zero", "one", "two", "few", "many", "other"} {
				msg, ok := l.messages[base+"."+cat]
				if ok && !strings.Contains(msg, "{0}") && !(l.Tag == "en" && cat == "one") {
					t.Errorf("%s: %s.%s does not show the count: %q", l.Tag, base, cat, msg)
				}
			}
		}
	}
	if plurals == 0 {
		t.Error("no message in plural forms")
	}
}

func TestIdleWarning(t *testing.T) {
	for _, tc := range []struct {
		tag     string
		seconds int
		want    string
	}{
		{"en", 900, "You will be signed out in 2 minutes for inactivity."},
		{"en", 150, "You will be signed out in 1 minute for inactivity."},
		{"en", 4, "You will be signed out in 2 seconds for inactivity."},
		{"en", 2, "You will be signed out in 1 second for inactivity."},
		{"bn", 900, "নিষ্ক্রিয়তার কারণে ২ মিনিটের মধ্যে আপনাকে সাইন আউট করা হবে।"},
	} {
		v := &view{Locale: localeByTag(tc.tag), IdleSeconds: tc.seconds}
		if got := v.IdleWarning(); got != tc.want {
			t.Errorf("%s, idle %d s: %q, want %q", tc.tag, tc.seconds, got, tc.want)
		}
	}
}
