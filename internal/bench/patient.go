package bench

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emr-project/emr/internal/fhir"
)

// nationalIDs is the identifier system of a country's personal numbers.
var nationalIDs = map[string]struct{ system, format string }{
	"US": {"http://hl7.org/fhir/sid/us-ssn", "9##-##-####"}, // 9xx: never issued, safe for test data
	"DE": {"http://fhir.de/sid/gkv/kvid-10", "X#########"},
	"PL": {"urn:oid:2.16.840.1.113883.3.4424.1.1.616", "###########"},
	"GR": {"urn:oid:2.16.300.1.1.1.1.1", "###########"},
	"FR": {"urn:oid:1.2.250.1.213.1.4.8", "#############"},
}

// patient makes the Patient resource and fills in the record's search keys.
func (p *patientGen) patient() fhir.Resource {
	r := p.r
	x := r.IntN(cultureTotal)
	for i := range cultures {
		if x < cultures[i].weight {
			p.culture = &cultures[i]
			break
		}
		x -= cultures[i].weight
	}
	c := p.culture

	// A hospital population is older than the general one: most birth
	// dates fall 1935–1985, the rest anywhere in 1920–2024.
	lo, hi := time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if r.IntN(100) < 55 {
		lo, hi = time.Date(1935, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1986, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	p.birth = p.between(lo, hi).Truncate(24 * time.Hour)
	p.ageAt = func(t time.Time) int {
		age := t.Year() - p.birth.Year()
		if t.YearDay() < p.birth.YearDay() {
			age--
		}
		return age
	}
	if age := p.ageAt(referenceDate); age > 70 && r.IntN(100) < (age-70)*2 {
		p.deceased = p.between(referenceDate.AddDate(-3, 0, 0), referenceDate)
	}

	gender := "female"
	givens := c.female
	switch x := r.IntN(1000); {
	case x < 490:
		gender, givens = "male", c.male
	case x < 995:
	case x < 998:
		gender = "other"
	default:
		gender = "unknown"
	}
	p.sex = gender

	given := []any{pick(r, givens)}
	if r.IntN(100) < 30 {
		given = append(given, pick(r, givens))
		if given[1] == given[0] {
			given = given[:1]
		}
	}
	family := pick(r, c.family)
	fullFamily := family
	if c.twoFamilies {
		second := pick(r, c.family)
		if second != family {
			fullFamily = family + " " + second
		}
	}
	givenText := make([]string, len(given))
	for i, g := range given {
		givenText[i] = g.(string)
	}
	text := strings.Join(givenText, " ") + " " + fullFamily
	if c.familyFirst {
		text = fullFamily + " " + strings.Join(givenText, " ")
	}
	names := []any{map[string]any{"use": "official", "family": fullFamily, "given": given, "text": text}}
	// Married women of some traditions keep their birth name on record.
	if gender == "female" && !c.twoFamilies && !c.familyFirst && p.ageAt(referenceDate) > 25 && r.IntN(100) < 20 {
		names = append(names, map[string]any{"use": "maiden", "family": pick(r, c.family), "given": given})
	}

	mrn := fmt.Sprintf("%08d", (uint64(p.idx)*48271+p.g.opt.Seed*7919)%100_000_000)
	if p.idx >= 100_000_000 {
		mrn = fmt.Sprintf("%d", 100_000_000+p.idx) // beyond the permuted range, still unique
	}
	identifiers := []any{map[string]any{
		"use":    "usual",
		"type":   concept(coding{"http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number"}),
		"system": MRNSystem,
		"value":  mrn,
	}}
	if nid, ok := nationalIDs[c.country]; ok && r.IntN(100) < 60 {
		identifiers = append(identifiers, map[string]any{
			"use":    "official",
			"type":   concept(coding{"http://terminology.hl7.org/CodeSystem/v2-0203", "NI", "National unique individual identifier"}),
			"system": nid.system,
			"value":  p.digits(nid.format),
		})
	}

	telecom := []any{map[string]any{
		"system": "phone", "use": pick(r, []string{"home", "mobile", "mobile", "work"}),
		"value": c.phonePrefix + " " + p.digits("###-###-####"),
	}}
	if r.IntN(100) < 65 {
		telecom = append(telecom, map[string]any{
			"system": "email", "use": "home",
			"value": fmt.Sprintf("%s.%s%d@%s", asciiFold(givenText[0]), asciiFold(family), r.IntN(100),
				pick(r, []string{"example.org", "example.com", "mail.example.net"})),
		})
	}

	place := pick(r, c.places)
	line := fmt.Sprintf("%d %s", 1+r.IntN(2400), pick(r, c.streets))
	if c.country == "DE" || c.country == "PL" || c.country == "GR" {
		line = fmt.Sprintf("%s %d", pick(r, c.streets), 1+r.IntN(180))
	}
	lines := []any{line}
	if r.IntN(100) < 20 {
		lines = append(lines, fmt.Sprintf("Apt %d", 1+r.IntN(40)))
	}

	address := map[string]any{
		"use": "home", "type": "both", "line": lines, "city": place.city,
		"postalCode": p.digits(place.postal), "country": c.country,
	}
	if state := usStates[place.city]; c.country == "US" && state != "" {
		address["state"] = state
	}
	res := fhir.Resource{
		"resourceType": "Patient",
		"id":           p.rec.PatientID,
		"identifier":   identifiers,
		"active":       true,
		"name":         names,
		"telecom":      telecom,
		"gender":       gender,
		"birthDate":    date(p.birth),
		"address":      []any{address},
		"communication": []any{map[string]any{
			"language":  concept(coding{"urn:ietf:bcp:47", languages[c.name], ""}),
			"preferred": true,
		}},
	}
	if !p.deceased.IsZero() {
		res["deceasedDateTime"] = dateTime(p.deceased)
	}
	p.rec.Family = family
	p.rec.BirthDate = date(p.birth)
	p.rec.MRN = mrn
	return res
}

// usStates is the state of each US city of the tables.
var usStates = map[string]string{
	"Springfield": "MA", "Boston": "MA", "Chicago": "IL", "Columbus": "OH", "Portland": "OR", "Denver": "CO",
	"Nashville": "TN", "Atlanta": "GA", "Los Angeles": "CA", "San Antonio": "TX", "Miami": "FL", "El Paso": "TX",
	"Houston": "TX", "Phoenix": "AZ", "San Jose": "CA", "Westminster": "CA", "San Francisco": "CA", "New York": "NY",
	"Flushing": "NY", "Dearborn": "MI", "Paterson": "NJ", "Anaheim": "CA", "Silver Spring": "MD", "Edison": "NJ",
	"Fremont": "CA", "Jersey City": "NJ", "Sugar Land": "TX", "Fort Lee": "NJ", "Brooklyn": "NY", "Sacramento": "CA",
}

var languages = map[string]string{
	"anglo": "en", "hispanic": "es", "german": "de", "vietnamese": "vi", "chinese": "zh",
	"arabic": "ar", "nigerian": "en", "indian": "en", "polish": "pl", "greek": "el",
	"french": "fr", "korean": "ko", "russian": "ru", "turkish": "tr", "irish-gaelic": "ga",
}

// digits replaces each '#' in pattern with a random digit.
func (p *patientGen) digits(pattern string) string {
	b := []byte(pattern)
	for i, c := range b {
		if c == '#' {
			b[i] = byte('0' + p.r.IntN(10))
		}
	}
	return string(b)
}

// folds maps the letters of the name tables to ASCII for e-mail addresses.
var folds = map[rune]string{
	'á': "a", 'à': "a", 'â': "a", 'ä': "ae", 'ã': "a", 'å': "a", 'ą': "a", 'ă': "a", 'ạ': "a", 'ả': "a", 'ấ': "a", 'ầ': "a", 'ẩ': "a", 'ậ': "a", 'ắ': "a", 'ằ': "a", 'ẳ': "a", 'ặ': "a",
	'é': "e", 'è': "e", 'ê': "e", 'ë': "e", 'ę': "e", 'ế': "e", 'ề': "e", 'ể': "e", 'ễ': "e", 'ệ': "e",
	'í': "i", 'ì': "i", 'î': "i", 'ï': "i", 'ı': "i", 'ị': "i", 'ỉ': "i", 'İ': "i",
	'ó': "o", 'ò': "o", 'ô': "o", 'ö': "oe", 'õ': "o", 'ø': "o", 'ơ': "o", 'ố': "o", 'ồ': "o", 'ổ': "o", 'ỗ': "o", 'ộ': "o", 'ớ': "o", 'ờ': "o", 'ở': "o", 'ỡ': "o", 'ợ': "o", 'ọ': "o", 'ỏ': "o",
	'ú': "u", 'ù': "u", 'û': "u", 'ü': "ue", 'ư': "u", 'ứ': "u", 'ừ': "u", 'ử': "u", 'ữ': "u", 'ự': "u", 'ụ': "u", 'ủ': "u", 'ũ': "u",
	'ý': "y", 'ỳ': "y", 'ỹ': "y", 'ỵ': "y", 'ỷ': "y",
	'ñ': "n", 'ń': "n", 'ç': "c", 'ć': "c", 'č': "c", 'ł': "l", 'ś': "s", 'š': "s", 'ş': "s", 'ż': "z", 'ź': "z", 'ž': "z",
	'ß': "ss", 'đ': "d", 'Đ': "d", 'ğ': "g", 'Ó': "o", 'Á': "a", 'É': "e",
}

// asciiFold lowercases s and folds it to ASCII letters and digits, for the
// local part of an e-mail address.
func asciiFold(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
		case c < utf8.RuneSelf:
			// drop spaces, apostrophes and hyphens
		default:
			b.WriteString(folds[c])
		}
	}
	if b.Len() == 0 {
		return "patient"
	}
	return b.String()
}
