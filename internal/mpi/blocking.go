package mpi

import "strings"

// BlockingKeys returns the keys under which a store indexes this person
// and by which it looks up candidates: two records are compared only if
// they share at least one key, so a lookup is a few index probes, never a
// scan. There are typically 8–11 keys and never more than 16, each
// selective on its own:
//
//	id:<system>|<value>   each identifier (at most 2): survives any change of name
//	ph:<last 9 digits>    each phone (at most 2)
//	em:<email>            the first email
//	nd:<sound>|<date>     sound of each family name (current and former, at
//	                      most 3) and of the canonical first given name, with
//	                      the full birth date: one name may change (marriage,
//	                      typo, nickname, given and family swapped) and the
//	                      other still meets its twin key
//	ny:<sound>|<YYYY-MM>  the first family name and the given name, each with
//	                      year and month: survives a typo in the other name
//	                      together with a wrong day
//	nm:<sound>|<MM-DD>    the same with month and day: survives a typo in
//	                      the other name together with a wrong year
//	fg:<sound>|<sound>|<year>  the sorted pair of family and canonical given
//	                      sounds with the birth year: survives a corrupted or
//	                      swapped day and month
//	pd:<postcode>|<date>  postcode with full birth date: survives both names
//	                      changing at once
//
// The given name is mapped to its nickname group's canonical form before
// its sound is taken, so Bill and William share keys. Family and given
// sounds share the nd, ny and nm key spaces so that swapped names still
// meet.
func (p Person) BlockingKeys() []string {
	keys := make([]string, 0, 12)
	for i, id := range p.Identifiers {
		if i == 2 {
			break
		}
		keys = append(keys, "id:"+id)
	}
	for i, ph := range p.Phones {
		if i == 2 {
			break
		}
		if len(ph) > 9 {
			ph = ph[len(ph)-9:]
		}
		keys = append(keys, "ph:"+ph)
	}
	for i, e := range p.Emails {
		if i == 1 {
			break
		}
		keys = append(keys, "em:"+e)
	}
	given := ""
	if g := p.firstGiven(); g != "" {
		given = phonetic(canonicalGiven(g))
	}
	var families []string
	for _, f := range append(p.Family[:len(p.Family):len(p.Family)], p.Former...) {
		families = appendUnique(families, phonetic(f))
		if len(families) == 3 {
			break
		}
	}
	if date := p.birthKey(); p.BirthPrecision == 3 {
		for _, f := range append(families, given) {
			if f != "" {
				keys = append(keys, "nd:"+f+"|"+date)
			}
		}
		if len(p.Postcodes) > 0 {
			keys = append(keys, "pd:"+p.Postcodes[0]+"|"+date)
		}
		for _, f := range []string{first(families), given} {
			if f != "" {
				keys = append(keys, "ny:"+f+"|"+date[:7], "nm:"+f+"|"+date[5:])
			}
		}
	}
	if given != "" && len(families) > 0 {
		pair := families[0] + "|" + given
		if given < families[0] {
			pair = given + "|" + families[0]
		}
		if p.BirthPrecision >= 1 {
			keys = append(keys, "fg:"+pair+"|"+itoa4(p.BirthYear))
		}
	}
	return dedupe(keys)
}

// firstGiven is the first given name that is not a Vietnamese gender
// middle name.
func (p *Person) firstGiven() string {
	for _, g := range p.Given {
		if !givenParticles[g] {
			return g
		}
	}
	if len(p.Given) > 0 {
		return p.Given[0]
	}
	return ""
}

func dedupe(keys []string) []string {
	out := keys[:0]
	for _, k := range keys {
		if !contains(out, k) && !strings.HasSuffix(k, "|") {
			out = append(out, k)
		}
	}
	return out
}

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}
