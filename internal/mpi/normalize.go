package mpi

import (
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// FromPatient normalises a FHIR Patient (or anything shaped like one) into a
// Person. It never fails: elements of the wrong JSON type are ignored, so a
// damaged record still contributes what it can.
func FromPatient(res fhir.Resource) Person {
	p := Person{ID: res.ID()}
	p.addNames(res["name"])
	p.setBirthDate(str(res["birthDate"]))
	p.index()
	p.Gender = strings.ToLower(strings.TrimSpace(str(res["gender"])))
	for _, v := range list(res["identifier"]) {
		id, _ := v.(map[string]any)
		if value := normalizeIdentifier(str(id["value"])); value != "" {
			p.Identifiers = appendUnique(p.Identifiers, strings.TrimSpace(str(id["system"]))+"|"+value)
		}
	}
	for _, v := range list(res["telecom"]) {
		t, _ := v.(map[string]any)
		value := strings.TrimSpace(str(t["value"]))
		switch str(t["system"]) {
		case "email":
			if value != "" {
				p.Emails = appendUnique(p.Emails, strings.ToLower(value))
			}
		case "phone", "sms", "":
			if d := normalizePhone(value); d != "" {
				p.Phones = appendUnique(p.Phones, d)
			}
		}
	}
	for _, v := range list(res["address"]) {
		a, _ := v.(map[string]any)
		if pc := normalizePostcode(str(a["postalCode"])); pc != "" {
			p.Postcodes = appendUnique(p.Postcodes, pc)
		}
		var parts []string
		for _, l := range list(a["line"]) {
			parts = append(parts, str(l))
		}
		if line := normalizeLine(strings.Join(parts, " ")); line != "" {
			p.Lines = appendUnique(p.Lines, line)
		}
	}
	return p
}

// addNames reads every HumanName. Current names (official, usual, no use,
// nickname, temp) give Given and Family; maiden and old names give Former
// family names and still contribute their given names, which rarely change.
func (p *Person) addNames(v any) {
	names := list(v)
	// The official name goes first so that Given[0] is the registered first
	// name when several names are present.
	ordered := make([]map[string]any, 0, len(names))
	for _, n := range names {
		if m, ok := n.(map[string]any); ok {
			if str(m["use"]) == "official" {
				ordered = append([]map[string]any{m}, ordered...)
			} else {
				ordered = append(ordered, m)
			}
		}
	}
	var weak []string // VAN and THI, kept after the meaningful names
	for _, n := range ordered {
		former := false
		switch str(n["use"]) {
		case "maiden", "old":
			former = true
		}
		for _, g := range list(n["given"]) {
			plain := strings.Fields(foldName(str(g), false))
			alt := strings.Fields(foldName(str(g), true))
			for i, tok := range plain {
				if givenParticles[tok] {
					weak = appendUnique(weak, tok)
					continue
				}
				if contains(p.Given, tok) {
					continue
				}
				p.Given = append(p.Given, tok)
				a := ""
				if len(alt) == len(plain) && alt[i] != tok {
					a = alt[i]
				}
				p.givenAlt = append(p.givenAlt, a)
			}
		}
		whole, parts := familyForms(str(n["family"]), false)
		wholeAlt, partsAlt := familyForms(str(n["family"]), true)
		forms := []string{whole, wholeAlt}
		for _, w := range forms {
			if w == "" {
				continue
			}
			if former {
				p.Former = appendUnique(p.Former, w)
			} else {
				p.Family = appendUnique(p.Family, w)
			}
		}
		for _, part := range append(parts, partsAlt...) {
			if former {
				p.Former = appendUnique(p.Former, part)
			} else if !contains(p.Family, part) {
				p.FamilyParts = appendUnique(p.FamilyParts, part)
			}
		}
	}
	for _, w := range weak {
		if !contains(p.Given, w) {
			p.Given = append(p.Given, w)
			p.givenAlt = append(p.givenAlt, "")
		}
	}
	// A current family name listed again as old says nothing new.
	p.Former = without(p.Former, p.Family)
}

// index fills the caches derived from the names. Persons built by hand
// (in tests, or by other packages) get them lazily through Compare.
func (p *Person) index() {
	for len(p.givenAlt) < len(p.Given) {
		p.givenAlt = append(p.givenAlt, "")
	}
	p.givenSound = p.givenSound[:0]
	for _, g := range p.Given {
		p.givenSound = append(p.givenSound, phonetic(g))
	}
	p.familySound = p.familySound[:0]
	for _, f := range p.Family {
		p.familySound = append(p.familySound, phonetic(f))
	}
	for _, f := range p.FamilyParts {
		p.familySound = append(p.familySound, phonetic(f))
	}
}

// indexed reports whether the caches match the names.
func (p *Person) indexed() bool {
	return len(p.givenAlt) == len(p.Given) && len(p.givenSound) == len(p.Given) &&
		len(p.familySound) == len(p.Family)+len(p.FamilyParts)
}

// familyForms returns the family name whole (tokens joined, particles kept
// so VAN DER BERG = VANDERBERG) and its meaningful parts (particles dropped,
// an attached AL/EL prefix split off: ALHASSAN gives HASSAN). Parts are
// returned only for compound names; a single-token name is only whole.
func familyForms(s string, german bool) (whole string, parts []string) {
	toks := strings.Fields(foldName(s, german))
	if len(toks) == 0 {
		return "", nil
	}
	whole = strings.Join(toks, "")
	for _, t := range toks {
		if !familyParticles[t] && t != whole {
			parts = appendUnique(parts, t)
		}
	}
	for _, pre := range []string{"AL", "EL"} {
		if len(toks) == 1 && strings.HasPrefix(whole, pre) && len(whole) >= len(pre)+4 {
			parts = appendUnique(parts, whole[len(pre):])
		}
	}
	if len(parts) == 1 && parts[0] == whole {
		parts = nil
	}
	return whole, parts
}

// familyParticles are the prepositions and articles of family names in the
// languages the index meets; alone they identify no one.
var familyParticles = map[string]bool{
	"VAN": true, "DER": true, "DEN": true, "DE": true, "LA": true, "LE": true, "DEL": true,
	"DA": true, "DI": true, "DO": true, "DOS": true, "DAS": true, "DU": true, "VON": true,
	"Y": true, "E": true, "BIN": true, "BINT": true, "IBN": true, "BEN": true, "AL": true,
	"EL": true, "ABU": true, "MAC": false, "TER": true, "TEN": true, "ST": true, "SAINT": true,
}

// givenParticles are Vietnamese middle names that mark gender (Văn, Thị)
// and are shared by millions; they are kept but placed last.
var givenParticles = map[string]bool{"VAN": true, "THI": true}
