package mpi

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// nationalIDSystem is a person-level identifier (one number per person for
// life), which is what the identifier field's strong disagreement assumes.
// Per-registration MRNs are deliberately not generated: a duplicate
// registration gets a new one, so they are no evidence either way.
const nationalIDSystem = "urn:oid:2.16.840.1.113883.4.1"

// resource writes the person as an R5 Patient. Formatting varies per record
// the way different clerks and systems write the same facts: phone
// punctuation and country prefix, identifier dashes, street suffixes.
func (p *person) resource(rng *rand.Rand, seq int) fhir.Resource {
	res := fhir.Resource{"resourceType": "Patient", "id": "p" + strconv.Itoa(10_000_000 + seq)[1:]}
	given := make([]any, 0, len(p.given))
	for _, g := range p.given {
		given = append(given, script(g, p.cyrillic))
	}
	name := map[string]any{"use": "official", "given": given}
	if p.family != "" {
		name["family"] = p.familyName(p.family)
	}
	names := []any{name}
	if p.maiden != "" {
		names = append(names, map[string]any{"use": "maiden", "family": p.familyName(p.maiden)})
	}
	res["name"] = names
	if p.y > 0 {
		if p.birthYearOnly {
			res["birthDate"] = strconv.Itoa(p.y)
		} else {
			res["birthDate"] = strconv.Itoa(p.y) + "-" + itoa2(p.m) + "-" + itoa2(p.d)
		}
	}
	if !p.noGender {
		res["gender"] = p.gender
	}
	if p.nationalID != "" {
		v := p.nationalID
		if rng.IntN(3) == 0 {
			v = strings.ReplaceAll(v, "-", "")
		}
		res["identifier"] = []any{map[string]any{"system": nationalIDSystem, "value": v}}
	}
	var telecom []any
	if p.phone != "" {
		telecom = append(telecom, map[string]any{"system": "phone", "value": formatPhone(p.phone, p.cult.phoneCountry, rng.IntN(4))})
	}
	if p.email != "" {
		e := p.email
		if rng.IntN(5) == 0 {
			e = strings.ToUpper(e[:1]) + e[1:]
		}
		telecom = append(telecom, map[string]any{"system": "email", "value": e})
	}
	if telecom != nil {
		res["telecom"] = telecom
	}
	if p.street != "" {
		suffix := p.suffix
		if alt, ok := suffixSpellings[suffix]; ok && rng.IntN(2) == 0 {
			suffix = alt
		}
		res["address"] = []any{map[string]any{
			"line":       []any{strconv.Itoa(p.number) + " " + p.street + " " + suffix},
			"city":       p.cult.city,
			"postalCode": p.postcode,
		}}
	}
	return res
}

var suffixSpellings = map[string]string{"Street": "St.", "St": "Street", "Road": "Rd", "Rd": "Road", "Avenue": "Ave", "Ave": "Avenue", "Lane": "Ln", "Drive": "Dr"}

// familyName writes a family name in the person's script, with the
// feminine ending Slavic names take.
func (p *person) familyName(s string) string {
	f := script(s, p.cyrillic)
	if !p.cult.gendered || p.gender != "female" {
		return f
	}
	switch {
	case strings.HasSuffix(f, "ski"):
		return strings.TrimSuffix(f, "ski") + "ska"
	case strings.HasSuffix(f, "ov"), strings.HasSuffix(f, "ev"), strings.HasSuffix(f, "ёв"),
		strings.HasSuffix(f, "ов"), strings.HasSuffix(f, "ев"):
		if isASCII(f) {
			return f + "a"
		}
		return f + "а" // Cyrillic a

	}
	return f
}

// script picks the Latin or the Cyrillic half of "Ivan/Иван".
func script(s string, cyrillic bool) string {
	latin, cyr, ok := strings.Cut(s, "/")
	if !ok {
		return s
	}
	if cyrillic {
		return cyr
	}
	return latin
}

// formatPhone writes ten national digits in one of four styles.
func formatPhone(d, country string, style int) string {
	switch style {
	case 0:
		return country + " " + d[:3] + " " + d[3:6] + " " + d[6:]
	case 1:
		return "(" + d[:3] + ") " + d[3:6] + "-" + d[6:]
	case 2:
		return d[:3] + "-" + d[3:6] + "-" + d[6:]
	}
	return d
}
