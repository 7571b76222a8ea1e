package mpi

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// corruption is one way a re-registration differs from the first record,
// with its relative frequency. The mix follows what duplicate studies of
// hospital registers report: typos, nicknames and missing fields dominate;
// swapped names and dates are rarer but systematic.
type corruption struct {
	name   string
	weight int
	apply  func(g *generator, p *person) bool // false if it does not apply
}

var corruptions = []corruption{
	{"typo", 18, (*generator).typo},
	{"nickname", 12, (*generator).nickname},
	{"swap-names", 5, func(g *generator, p *person) bool {
		if len(p.given) == 0 || p.family == "" {
			return false
		}
		p.given, p.family = []string{p.family}, p.given[0]
		return true
	}},
	{"swap-day-month", 6, func(g *generator, p *person) bool {
		if p.d > 12 || p.d == p.m || p.birthYearOnly {
			return false
		}
		p.d, p.m = p.m, p.d
		return true
	}},
	{"birth-near", 8, func(g *generator, p *person) bool {
		switch g.rng.IntN(3) {
		case 0:
			p.d = max(1, min(28, p.d+[]int{-1, 1}[g.rng.IntN(2)]))
		case 1:
			p.y += []int{-1, 1}[g.rng.IntN(2)] // one digit of the year
		default:
			// One wrong digit in the day: 05→15, 19→09.
			if p.d <= 18 {
				p.d += 10
			} else {
				p.d -= 10
			}
		}
		return true
	}},
	{"no-phone", 8, func(g *generator, p *person) bool { ok := p.phone != ""; p.phone = ""; return ok }},
	{"no-address", 8, func(g *generator, p *person) bool { ok := p.street != ""; p.street = ""; return ok }},
	{"no-identifier", 10, func(g *generator, p *person) bool { ok := p.nationalID != ""; p.nationalID = ""; return ok }},
	{"no-email", 4, func(g *generator, p *person) bool { ok := p.email != ""; p.email = ""; return ok }},
	{"no-gender", 2, func(g *generator, p *person) bool { p.noGender = true; return true }},
	{"new-phone", 6, func(g *generator, p *person) bool {
		nh := &person{cult: p.cult}
		g.home(nh)
		p.phone = nh.phone
		return p.phone != ""
	}},
	{"new-address", 8, func(g *generator, p *person) bool {
		nh := &person{cult: p.cult}
		g.home(nh)
		p.number, p.street, p.suffix, p.postcode = nh.number, nh.street, nh.suffix, nh.postcode
		return p.street != ""
	}},
	{"married-name", 8, func(g *generator, p *person) bool {
		if p.gender != "female" || p.y < 1965 || p.y > 2005 {
			return false
		}
		old := p.family
		p.family = g.pick(p.cult.family)
		p.maiden = ""
		if g.rng.Float64() < 0.4 {
			p.maiden = old
		}
		return p.family != old
	}},
	{"accents-dropped", 12, func(g *generator, p *person) bool {
		if p.cyrillic {
			// Transliterated by a clerk: the Latin spelling of the list,
			// or our transliteration of a name already changed.
			p.cyrillic = false
			for i, s := range p.given {
				if !strings.Contains(s, "/") && !isASCII(s) {
					p.given[i] = titleCase(foldName(s, false))
				}
			}
			if !strings.Contains(p.family, "/") && !isASCII(p.family) {
				p.family = titleCase(foldName(p.family, false))
			}
			return true
		}
		changed := false
		for i, s := range p.given {
			if t := stripAccents(s); t != s {
				p.given[i], changed = t, true
			}
		}
		if t := stripAccents(p.family); t != p.family {
			p.family, changed = t, true
		}
		return changed
	}},
	{"compound-partial", 4, func(g *generator, p *person) bool {
		first, _, ok := strings.Cut(strings.ReplaceAll(p.family, "-", " "), " ")
		if !ok || len(first) < 3 {
			return false // "Al" of Al-Hassan is a particle, not a part
		}
		p.family = first
		return true
	}},
	{"particle", 3, func(g *generator, p *person) bool {
		rest, ok := strings.CutPrefix(p.family, "Al-")
		if !ok {
			rest, ok = strings.CutPrefix(p.family, "El-")
		}
		if !ok {
			return false
		}
		p.family = []string{"Al" + strings.ToLower(rest), rest, "al " + rest}[g.rng.IntN(3)]
		return true
	}},
}

// corrupt copies p and applies one to three corruptions.
func (g *generator) corrupt(orig *person) (*person, []string) {
	p := *orig
	p.given = append([]string(nil), orig.given...)
	total := 0
	for _, c := range corruptions {
		total += c.weight
	}
	n := 1
	if g.rng.Float64() < 0.45 {
		n++
	}
	if g.rng.Float64() < 0.15 {
		n++
	}
	var what []string
	for tries := 0; len(what) < n && tries < 20; tries++ {
		x := g.rng.IntN(total)
		for _, c := range corruptions {
			if x >= c.weight {
				x -= c.weight
				continue
			}
			if !contains(what, c.name) && c.apply(g, &p) {
				what = append(what, c.name)
			}
			break
		}
	}
	return &p, what
}

// typo makes one edit (substitution, deletion, insertion or adjacent
// transposition) in the given or the family name.
func (g *generator) typo(p *person) bool {
	target := &p.family
	if g.rng.IntN(2) == 0 && len(p.given) > 0 {
		target = &p.given[0]
	}
	s := script(*target, p.cyrillic)
	r := []rune(s)
	if len(r) < 3 {
		return false
	}
	i := 1 + g.rng.IntN(len(r)-1) // clerks rarely miss the first letter
	letter := rune('a' + g.rng.IntN(26))
	if !isASCII(s) && unicode.Is(unicode.Cyrillic, r[0]) {
		letter = rune('а' + g.rng.IntN(32))
	}
	switch g.rng.IntN(4) {
	case 0:
		r[i] = letter
	case 1:
		r = append(r[:i], r[i+1:]...)
	case 2:
		r = append(r[:i], append([]rune{letter}, r[i:]...)...)
	default:
		if i+1 < len(r) {
			r[i], r[i+1] = r[i+1], r[i]
		} else {
			r[i-1], r[i] = r[i], r[i-1]
		}
	}
	*target = string(r)
	return utf8.ValidString(*target)
}

// nickname replaces the first given name with another of its group.
func (g *generator) nickname(p *person) bool {
	if len(p.given) == 0 {
		return false
	}
	first := script(p.given[0], p.cyrillic)
	folded := foldName(first, false)
	groups := loadNicknames().groups[folded]
	if len(groups) == 0 {
		return false
	}
	var others []string
	for _, n := range loadNicknames().members[groups[0]] {
		if n != folded {
			others = append(others, n)
		}
	}
	if len(others) == 0 {
		return false
	}
	n := others[g.rng.IntN(len(others))]
	p.given[0] = titleCase(n)
	p.cyrillic = false
	return true
}

// titleCase writes an upper-case folded name as a clerk would: Aleksandr.
func titleCase(s string) string {
	r := []rune(strings.ToLower(s))
	for i := range r {
		if i == 0 || r[i-1] == ' ' {
			r[i] = unicode.ToUpper(r[i])
		}
	}
	return string(r)
}
