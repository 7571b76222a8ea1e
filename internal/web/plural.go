package web

import (
	"strconv"
	"strings"
)

// Plural forms. A count changes the words around it ("1 minute",
// "2 minutes"), and languages differ in how: the catalogs hold a message
// per plural category of the Unicode CLDR rules (key.one, key.other …),
// and the locale picks the category for the number. English has one (the
// integer 1) and other; Bengali has one (a number under 1, or 1) and
// other. A catalog that lacks a category's message uses its key.other.

// pluralRules are the CLDR cardinal rules of the locales shipped, by tag,
// from the integer digits and the visible fraction digits of a number.
var pluralRules = map[string]func(integer, fraction string) string{
	// one: i = 1 and v = 0
	"en": func(i, f string) string {
		if i == "1" && f == "" {
			return "one"
		}
		return "other"
	},
	// one: i = 0 or n = 1
	"bn": func(i, f string) string {
		if i == "0" || (i == "1" && strings.Trim(f, "0") == "") {
			return "one"
		}
		return "other"
	},
}

// PluralCategory is the CLDR plural category ("one", "other" …) of n, a
// decimal as written ("1", "2.5", "1.0": visible zeros count in English).
func (l *Locale) PluralCategory(n string) string {
	rule := pluralRules[l.Tag]
	if rule == nil {
		return "other"
	}
	n = strings.TrimPrefix(n, "-")
	i, f, _ := strings.Cut(n, ".")
	i = strings.TrimLeft(i, "0")
	if i == "" {
		i = "0"
	}
	return rule(i, f)
}

// Plural returns the message key.<category> for the count n (a decimal
// as written) with n, in the locale's digits, as {0} and args from {1}.
// The locale's own catalog is asked first (its category, then its
// key.other); a locale without the message speaks English, with English's
// category for n.
func (l *Locale) Plural(key, n string, args ...any) string {
	for loc := l; loc != nil; loc = loc.fallback {
		for _, k := range []string{key + "." + loc.PluralCategory(n), key + ".other"} {
			if msg, ok := loc.messages[k]; ok {
				return l.format(msg, append([]any{l.Decimal(n)}, args...))
			}
		}
	}
	return key
}

// Count is Plural for an integer.
func (l *Locale) Count(key string, n int, args ...any) string {
	return l.Plural(key, strconv.Itoa(n), args...)
}
