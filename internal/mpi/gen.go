package mpi

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// Record is one generated Patient with its ground truth.
type Record struct {
	// PersonID identifies the real person: records with the same PersonID
	// are duplicates of one another, all others are different people.
	PersonID int
	// Kind says how the record came about: "original", "duplicate", or the
	// hard non-match it was made as ("twin", "household", "namesake").
	Kind string
	// Corruptions lists what was changed in a duplicate (e.g. "typo",
	// "nickname"); evaluation reports use it to explain misses.
	Corruptions []string
	Patient     fhir.Resource
}

// Dataset is a deterministic synthetic population: the same seed and size
// give the same records, in the same order, on every machine. Records are
// generated as Each walks them, so a million patients need no more memory
// than one household.
type Dataset struct {
	Seed int64
	N    int
	// DuplicateRate is the probability that an original is registered
	// again (at most twice more); 0.18 gives about 15% duplicate records.
	DuplicateRate float64
}

// Generate describes a dataset of n records; nothing is generated until
// Each is called.
func Generate(seed int64, n int) *Dataset {
	return &Dataset{Seed: seed, N: n, DuplicateRate: 0.18}
}

// Each calls fn for every record in order. Duplicates follow their
// original closely, as re-registrations do.
func (d *Dataset) Each(fn func(Record)) {
	g := &generator{rng: rand.New(rand.NewPCG(uint64(d.Seed), 0x9e3779b97f4a7c15)), seed: d.Seed}
	emitted := 0
	for emitted < d.N {
		for _, p := range g.household() {
			if emitted == d.N {
				return
			}
			fn(Record{PersonID: p.pid, Kind: p.kind, Patient: p.resource(g.rng, emitted)})
			emitted++
			for dups := 0; dups < 2 && emitted < d.N && g.rng.Float64() < d.DuplicateRate/float64(1+4*dups); dups++ {
				dup, what := g.corrupt(p)
				fn(Record{PersonID: p.pid, Kind: "duplicate", Corruptions: what, Patient: dup.resource(g.rng, emitted)})
				emitted++
			}
		}
	}
}

// person is the generator's view of someone, before it becomes FHIR.
type person struct {
	pid            int
	kind           string
	cult           *culture
	given          []string // as written, one element per given[] entry
	family         string
	maiden         string // a former family name written as use=maiden
	cyrillic       bool   // write Slavic names in Cyrillic
	gender         string
	y, m, d        int
	birthYearOnly  bool
	nationalID     string
	phone          string // ten national digits, "" for none
	email          string
	number         int
	street, suffix string
	postcode       string
	noGender       bool
}

type generator struct {
	rng     *rand.Rand
	seed    int64
	nextPID int
}

// pick chooses from a list with a skew towards the front (u² sampling),
// so the first names are common and the last rare.
func (g *generator) pick(xs []string) string {
	u := g.rng.Float64()
	return xs[int(u*u*float64(len(xs)))]
}

func (g *generator) culture() *culture {
	total := 0
	for _, c := range cultures {
		total += c.weight
	}
	x := g.rng.IntN(total)
	for i := range cultures {
		if x < cultures[i].weight {
			return &cultures[i]
		}
		x -= cultures[i].weight
	}
	return &cultures[0]
}

// newPerson draws an adult or a child of a culture, with its own contacts.
func (g *generator) newPerson(c *culture, gender string, minAge, maxAge int) *person {
	g.nextPID++
	p := &person{pid: g.nextPID, kind: "original", cult: c, gender: gender}
	if p.gender == "" {
		p.gender = []string{"male", "female"}[g.rng.IntN(2)]
	}
	p.given = []string{g.givenName(c, p.gender)}
	if c.name == "english" && g.rng.Float64() < 0.3 {
		p.given = append(p.given, g.givenName(c, p.gender))
	}
	p.family = g.pick(c.family)
	if c.compound && g.rng.Float64() < 0.4 {
		sep := []string{" ", "-"}[g.rng.IntN(2)]
		p.family += sep + g.pick(c.family)
	}
	p.cyrillic = c.name == "slavic" && g.rng.Float64() < 0.35
	age := minAge + g.rng.IntN(maxAge-minAge+1)
	p.y, p.m, p.d = 2025-age, 1+g.rng.IntN(12), 1+g.rng.IntN(28)
	p.birthYearOnly = g.rng.Float64() < 0.005
	if g.rng.Float64() < 0.5 {
		// Unique per person: a multiplier coprime with 10⁹ spreads the
		// sequence over nine digits without collisions.
		v := (int64(p.pid)*7919 + g.seed*104729) % 1_000_000_000
		if v < 0 {
			v = -v
		}
		s := strconv.FormatInt(1_000_000_000+v, 10)[1:]
		p.nationalID = s[:3] + "-" + s[3:5] + "-" + s[5:]
	}
	if g.rng.Float64() < 0.35 {
		p.email = emailFor(p, g.rng.IntN(100))
	}
	p.noGender = g.rng.Float64() < 0.02
	return p
}

func (g *generator) givenName(c *culture, gender string) string {
	if gender == "female" {
		return strings.ReplaceAll(g.pick(c.female), "_", " ")
	}
	return strings.ReplaceAll(g.pick(c.male), "_", " ")
}

// home gives a household its shared phone and address.
func (g *generator) home(p *person) {
	if g.rng.Float64() < 0.85 {
		p.phone = strconv.Itoa(200+g.rng.IntN(800)) + strconv.Itoa(1_000_000+g.rng.IntN(9_000_000))
	}
	if g.rng.Float64() < 0.85 {
		p.number = 1 + g.rng.IntN(400)
		p.street = g.pick(streets)
		p.suffix = g.pick(streetSuffixes)
		p.postcode = p.cult.postcode + strconv.Itoa(100+g.rng.IntN(900))
	}
}

func (g *generator) sameHome(p, from *person) {
	p.phone, p.number, p.street, p.suffix, p.postcode = from.phone, from.number, from.street, from.suffix, from.postcode
}

var streets = split("Oak Maple Cedar Elm Pine Washington Lake Hill Park Main Church Station Mill Victoria King Queen Garden River Spring Forest Sunset Highland Meadow Bridge")
var streetSuffixes = split("Street Road Avenue Lane Drive St Rd Ave")

// household returns the people of one address: mostly one person; some
// couples with children, among them twins and juniors named after a
// parent; and a few namesakes with very common names. Everyone except the
// first is a hard non-match for the others.
func (g *generator) household() []*person {
	c := g.culture()
	x := g.rng.Float64()
	switch {
	case x < 0.02:
		// A namesake: a very common name with a birth year shared by many.
		n := namesakes[g.rng.IntN(len(namesakes))]
		p := g.newPerson(cultureNamed(n.culture), n.gender, 18, 80)
		p.given, p.family, p.y, p.kind = []string{n.given}, n.family, 1980, "namesake"
		p.cyrillic = false
		g.home(p)
		return []*person{p}
	case x < 0.75:
		p := g.newPerson(c, "", 18, 95)
		g.home(p)
		return []*person{p}
	}
	parent := g.newPerson(c, "", 25, 70)
	g.home(parent)
	people := []*person{parent}
	spouse := g.newPerson(c, otherGender(parent.gender), 25, 70)
	spouse.kind = "household"
	if spouse.gender == "female" && g.rng.Float64() < 0.6 {
		spouse.maiden = spouse.family
		spouse.family = parent.family
		if g.rng.Float64() < 0.7 {
			spouse.maiden = "" // most registrations never record the maiden name
		}
	}
	g.sameHome(spouse, parent)
	people = append(people, spouse)
	kids := g.rng.IntN(3)
	for i := 0; i < kids; i++ {
		kid := g.newPerson(c, "", 0, 20)
		kid.kind, kid.family, kid.cyrillic = "household", parent.family, parent.cyrillic
		g.sameHome(kid, parent)
		for tries := 0; tries < 20 && !distinctName(kid, people); tries++ {
			kid.given = []string{g.givenName(c, kid.gender)} // parents do not reuse a sibling's name
		}
		if parent.gender == kid.gender && g.rng.Float64() < 0.05 {
			kid.given = append([]string(nil), parent.given...) // a junior
		}
		people = append(people, kid)
		if g.rng.Float64() < 0.08 {
			twin := g.newPerson(c, "", 0, 1)
			twin.kind, twin.family, twin.cyrillic = "twin", kid.family, kid.cyrillic
			twin.y, twin.m, twin.d = kid.y, kid.m, kid.d
			g.sameHome(twin, kid)
			for tries := 0; tries < 20 && !clearlyDifferent(twin.given[0], kid.given[0]); tries++ {
				twin.given = []string{g.givenName(c, twin.gender)}
			}
			if !clearlyDifferent(twin.given[0], kid.given[0]) {
				continue // parents rarely name twins alike; drop this one
			}
			people = append(people, twin)
		}
	}
	return people
}

// clearlyDifferent reports whether two given names disagree for the
// matcher: twins called Anna and Hanna cannot be told apart by names, and
// no matcher without identifiers would; the generator does not make them.
func clearlyDifferent(a, b string) bool {
	x, y := strings.Fields(foldName(a, false)), strings.Fields(foldName(b, false))
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	for _, s := range x {
		for _, t := range y {
			if tokenLevel(s, t, phonetic(s), phonetic(t)) != LevelDisagree && !givenParticles[s] {
				return false
			}
		}
	}
	return true
}

// distinctName reports whether p's first name differs clearly from every
// first name in the household so far.
func distinctName(p *person, household []*person) bool {
	for _, o := range household {
		if !clearlyDifferent(p.given[0], o.given[0]) {
			return false
		}
	}
	return true
}

type namesake struct{ given, family, gender, culture string }

var namesakes = []namesake{
	{"María", "García", "female", "hispanic"}, {"Mohammed", "Khan", "male", "southasian"},
	{"Văn Anh", "Nguyễn", "male", "vietnamese"}, {"John", "Smith", "male", "english"},
	{"Wei", "Wang", "male", "chinese"}, {"Fatima", "Begum", "female", "southasian"},
}

func cultureNamed(name string) *culture {
	for i := range cultures {
		if cultures[i].name == name {
			return &cultures[i]
		}
	}
	return &cultures[0]
}

func otherGender(g string) string {
	if g == "male" {
		return "female"
	}
	return "male"
}

func emailFor(p *person, n int) string {
	local := strings.ToLower(strings.ReplaceAll(foldName(p.given[0], false), " ", "")) + "." +
		strings.ToLower(strings.ReplaceAll(foldName(p.family, false), " ", ""))
	if !isASCII(local) {
		local = "user"
	}
	return local + strconv.Itoa(n) + "@example.org"
}
