package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Every word the workspace shows comes from a message catalog
// (locales/<lang>/*.json, one file per page group, merged: key → text,
// with {0}, {1} … for arguments), so a
// locale changes the words and the digits, never the unambiguous order of
// a date (09-Mar-1984) or a name (OKAFOR, Chidinma). English is complete;
// every other catalog falls back to English for a key it lacks, and a test
// lists what each lacks.

//go:embed locales
var localeFS embed.FS

// Locale is one language of the workspace.
type Locale struct {
	Tag      string // BCP 47: "en", "bn"
	Name     string // the language's own name, for the language menu
	messages map[string]string
	fallback *Locale
	// months are the short month names, January first; digits the ten
	// digits (nil: ASCII).
	months [12]string
	digits []rune
}

// Locales are the catalogs shipped, English first.
var Locales = mustLoadLocales("en", "bn")

func mustLoadLocales(tags ...string) []*Locale {
	var out []*Locale
	for _, tag := range tags {
		files, err := fs.Glob(localeFS, "locales/"+tag+"/*.json")
		if err != nil || len(files) == 0 {
			panic(fmt.Sprintf("no catalog for locale %s", tag))
		}
		msgs := map[string]string{}
		for _, name := range files {
			data, err := localeFS.ReadFile(name)
			if err != nil {
				panic(err)
			}
			part := map[string]string{}
			if err := json.Unmarshal(data, &part); err != nil {
				panic(fmt.Sprintf("%s: %v", name, err))
			}
			for k, v := range part {
				if _, dup := msgs[k]; dup {
					panic(fmt.Sprintf("%s: key %q is also in another file", name, k))
				}
				msgs[k] = v
			}
		}
		l := &Locale{Tag: tag, Name: msgs["locale.name"], messages: msgs}
		for i := range l.months {
			l.months[i] = msgs["month."+strconv.Itoa(i+1)]
		}
		if d := msgs["locale.digits"]; d != "" {
			l.digits = []rune(d)
		}
		if len(out) > 0 {
			l.fallback = out[0]
			for i, m := range l.months {
				if m == "" {
					l.months[i] = out[0].months[i]
				}
			}
		}
		out = append(out, l)
	}
	return out
}

// LocaleFor picks the request's locale: the emr_lang cookie, else the
// first language of Accept-Language we have, else English.
func LocaleFor(r *http.Request) *Locale {
	if c, err := r.Cookie("emr_lang"); err == nil {
		if l := localeByTag(c.Value); l != nil {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag, _, _ = strings.Cut(strings.ToLower(tag), "-")
		if l := localeByTag(tag); l != nil {
			return l
		}
	}
	return Locales[0]
}

func localeByTag(tag string) *Locale {
	for _, l := range Locales {
		if l.Tag == tag {
			return l
		}
	}
	return nil
}

// T returns the message key with its arguments; a key no catalog has is
// shown as itself, so a missing text is visible, never blank.
func (l *Locale) T(key string, args ...any) string {
	msg, ok := l.messages[key]
	if !ok && l.fallback != nil {
		msg, ok = l.fallback.messages[key]
	}
	if !ok {
		return key
	}
	return l.format(msg, args)
}

// format puts args into msg at {0}, {1} …, integers in the locale's
// digits.
func (l *Locale) format(msg string, args []any) string {
	for i, a := range args {
		var s string
		switch v := a.(type) {
		case int:
			s = l.Number(int64(v))
		case int64:
			s = l.Number(v)
		default:
			s = fmt.Sprint(v)
		}
		msg = strings.ReplaceAll(msg, "{"+strconv.Itoa(i)+"}", s)
	}
	return msg
}

// Has reports whether the locale's own catalog has key.
func (l *Locale) Has(key string) bool { _, ok := l.messages[key]; return ok }

// Number writes an integer in the locale's digits.
func (l *Locale) Number(n int64) string { return l.localDigits(strconv.FormatInt(n, 10)) }

// Decimal writes a decimal as given (its precision is data: 5.0 and 5
// differ in a result) in the locale's digits.
func (l *Locale) Decimal(s string) string { return l.localDigits(s) }

func (l *Locale) localDigits(s string) string {
	if l.digits == nil {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			r = l.digits[r-'0']
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Date writes a date as DD-Mon-YYYY (09-Mar-1984): day, month name and
// year can never be taken for one another. A FHIR date of lower precision
// keeps it (Mar-1984, 1984); an unknown date says so.
func (l *Locale) Date(fhirDate string) string {
	if fhirDate == "" {
		return l.T("value.unknown")
	}
	if len(fhirDate) > 10 {
		fhirDate = fhirDate[:10]
	}
	parts := strings.Split(fhirDate, "-")
	switch len(parts) {
	case 1:
		return l.localDigits(parts[0])
	case 2:
		return l.month(parts[1]) + "-" + l.localDigits(parts[0])
	}
	return l.localDigits(parts[2]) + "-" + l.month(parts[1]) + "-" + l.localDigits(parts[0])
}

// DateTime writes an instant in the server's zone as DD-Mon-YYYY HH:MM
// (24 hours).
func (l *Locale) DateTime(t time.Time) string {
	if t.IsZero() {
		return l.T("value.unknown")
	}
	return l.Date(t.Format("2006-01-02")) + " " + l.localDigits(t.Format("15:04"))
}

func (l *Locale) month(mm string) string {
	n, err := strconv.Atoi(mm)
	if err != nil || n < 1 || n > 12 {
		return mm
	}
	return l.months[n-1]
}

// Age is a person's age on a day: whole years from two years on, months
// and weeks before ("1y 3m", "6w", in the locale's words), from a FHIR
// birth date of any precision ("" when it cannot be told).
func (l *Locale) Age(birthDate string, on time.Time) string {
	if len(birthDate) < 4 {
		return ""
	}
	if len(birthDate) == 4 {
		birthDate += "-07-01" // a year alone: the middle of it
	} else if len(birthDate) == 7 {
		birthDate += "-15"
	}
	born, err := time.Parse("2006-01-02", birthDate[:10])
	if err != nil || born.After(on) {
		return ""
	}
	years := on.Year() - born.Year()
	if on.YearDay() < born.YearDay() && !(on.Month() == born.Month() && on.Day() >= born.Day()) {
		years--
	}
	if years >= 2 {
		return l.T("age.years", years)
	}
	months := (on.Year()-born.Year())*12 + int(on.Month()) - int(born.Month())
	if on.Day() < born.Day() {
		months--
	}
	if months >= 3 {
		if months >= 12 {
			return l.T("age.years-months", months/12, months%12)
		}
		return l.T("age.months", months)
	}
	return l.T("age.weeks", int(on.Sub(born).Hours()/(24*7)))
}
