package mpi

// compareFields computes the agreement vector of a pair. Names are compared
// straight and with given and family swapped; swapped wins only when it
// scores higher under w, and then counts as variant, never exact.
func compareFields(a, b *Person, w *[NumFields][NumLevels]float64) Comparison {
	var c Comparison
	c[FieldGiven] = givenLevel(a, b)
	c[FieldFamily] = familyLevel(a, b)
	if c[FieldGiven] != LevelExact || c[FieldFamily] != LevelExact {
		g, f := swappedLevels(a, b)
		if g == LevelDisagree || f == LevelDisagree {
			// Only one cross agrees: LOPEZ GUADALUPE and JOSEFINA LOPEZ
			// share a family name, not a person. Whatever agrees counts as
			// family; the given names disagree.
			g, f = LevelDisagree, min(g, f)
		}
		if w[FieldGiven][g]+w[FieldFamily][f] > w[FieldGiven][c[FieldGiven]]+w[FieldFamily][c[FieldFamily]] {
			c[FieldGiven], c[FieldFamily] = g, f
		}
	}
	c[FieldBirthDate] = birthLevel(a, b)
	c[FieldGender] = genderLevel(a.Gender, b.Gender)
	c[FieldIdentifier] = identifierLevel(a.Identifiers, b.Identifiers)
	c[FieldPhone] = anyLevel(a.Phones, b.Phones, phonesAgree)
	c[FieldEmail] = anyLevel(a.Emails, b.Emails, equal)
	c[FieldPostcode] = anyLevel(a.Postcodes, b.Postcodes, equal)
	c[FieldAddress] = addressLevel(a.Lines, b.Lines)
	return c
}

// tokenLevel compares two folded name tokens with their sound keys.
func tokenLevel(a, b, soundA, soundB string) Level {
	switch {
	case a == b:
		return LevelExact
	case nameVariants(a, b):
		return LevelVariant
	case len(a) > 1 && len(b) > 1 && soundA == soundB:
		return LevelPhonetic
	case len(a) > 1 && len(b) > 1 && (jaroWinkler(a, b) >= 0.92 || oneTypo(a, b)):
		return LevelFuzzy
	case (len(a) == 1 && b[0] == a[0]) || (len(b) == 1 && a[0] == b[0]):
		return LevelInitial
	case variantTypo(a, b):
		return LevelFuzzy
	}
	return LevelDisagree
}

// variantTypo reports a typo in a nickname or variant of the other name
// (GZREGORZ for GRZEGORZ, a variant of GREGORY): each mistake alone is
// common, so the two together are too.
func variantTypo(a, b string) bool {
	idx := loadNicknames()
	for _, pair := range [2][2]string{{a, b}, {b, a}} {
		for _, g := range idx.groups[pair[1]] {
			for _, v := range idx.members[g] {
				if v != pair[1] && oneTypo(pair[0], v) {
					return true
				}
			}
		}
	}
	return false
}

// givenLevel aligns the given names. The first names carry the identity;
// agreement through a middle name alone counts no more than an initial,
// because twins and siblings often share one. Vietnamese VAN/THI never align alone.
func givenLevel(a, b *Person) Level {
	if len(a.Given) == 0 || len(b.Given) == 0 {
		return LevelMissing
	}
	if concat(a.Given) == concat(b.Given) { // MARYANN = MARY ANN
		return LevelExact
	}
	best := LevelDisagree
	for i, x := range a.Given {
		if givenParticles[x] && i > 0 {
			continue
		}
		for j, y := range b.Given {
			if givenParticles[y] && j > 0 {
				continue
			}
			l := tokenLevel(x, y, a.givenSound[i], b.givenSound[j])
			if l == LevelDisagree && (a.givenAlt[i] == y || b.givenAlt[j] == x || (a.givenAlt[i] != "" && a.givenAlt[i] == b.givenAlt[j])) {
				l = LevelExact // JUERGEN = JÜRGEN
			}
			if (i > 0 || j > 0) && l != LevelDisagree {
				l = LevelInitial // only a middle name agrees: weak, like an initial
			}
			if rank(l) < rank(best) {
				best = l
			}
		}
	}
	// A typo that joins or splits given names (NGOCGANH for NGOC ANH) is
	// one edit of the whole: fuzzy, on names long enough that sisters
	// (NGOC ANH, NGOC LAN) stay two edits apart.
	if ca, cb := concat(a.Given), concat(b.Given); (best == LevelDisagree || best == LevelInitial) && min(len(ca), len(cb)) >= 6 && oneTypo(ca, cb) {
		best = LevelFuzzy
	}
	return best
}

// familyLevel compares current names, then former names, then parts.
func familyLevel(a, b *Person) Level {
	if len(a.Family)+len(a.Former) == 0 || len(b.Family)+len(b.Former) == 0 {
		return LevelMissing
	}
	if intersects(a.Family, b.Family) {
		return LevelExact
	}
	if intersects(a.Former, b.Family) || intersects(a.Family, b.Former) || intersects(a.Former, b.Former) {
		return LevelFormer
	}
	best := LevelDisagree
	na, nb := len(a.Family), len(b.Family)
	for i, x := range append(a.Family[:na:na], a.FamilyParts...) {
		for j, y := range append(b.Family[:nb:nb], b.FamilyParts...) {
			l := tokenLevel(x, y, a.familySound[i], b.familySound[j])
			if l == LevelInitial {
				l = LevelDisagree
			}
			if (i >= na || j >= nb) && rank(l) < rank(LevelVariant) {
				l = LevelVariant // GARCIA of GARCIA-LOPEZ: a partial agreement
			}
			if rank(l) < rank(best) {
				best = l
			}
		}
	}
	return best
}

// swappedLevels compares the given names of each with the family names of
// the other (all tokens, and the given names joined, so that a compound
// family name written as given names still meets itself). An exact cross
// agreement is LevelSwapped, a weaker one keeps its level.
func swappedLevels(a, b *Person) (given, family Level) {
	cross := func(x, y *Person) Level {
		if len(x.Given) == 0 || len(y.Family) == 0 {
			return LevelMissing
		}
		joined := concat(x.Given)
		if contains(y.Family, joined) {
			return LevelSwapped
		}
		best := LevelDisagree
		nf := len(y.Family)
		for j, f := range append(y.Family[:nf:nf], y.FamilyParts...) {
			if oneTypo(joined, f) {
				best = LevelFuzzy
			}
			for i, g := range x.Given {
				if givenParticles[g] {
					continue
				}
				l := tokenLevel(g, f, x.givenSound[i], y.familySound[j])
				if j >= nf && l == LevelExact {
					l = LevelVariant // a part of a compound family name
				}
				if rank(l) < rank(best) {
					best = l
				}
			}
		}
		switch best {
		case LevelExact:
			best = LevelSwapped
		case LevelInitial:
			best = LevelDisagree
		}
		return best
	}
	given, family = cross(a, b), cross(b, a)
	if rank(family) < rank(given) {
		// The better cross counts as the given name, whichever record was
		// swapped, so that the comparison stays symmetric.
		given, family = family, given
	}
	return given, family
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if contains(b, x) {
			return true
		}
	}
	return false
}

func concat(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	n := 0
	for _, x := range xs {
		if !givenParticles[x] {
			n += len(x)
		}
	}
	b := make([]byte, 0, n)
	for _, x := range xs {
		if !givenParticles[x] {
			b = append(b, x...)
		}
	}
	return string(b)
}

func absInt(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// oneTypo accepts one edit between names of at least three letters that
// agree on the first: clerks seldom mistype the first letter, and without
// that condition short names (MAI, LAI, TAI) would all agree.
func oneTypo(a, b string) bool {
	return min(len(a), len(b)) >= 3 && a[0] == b[0] && osaDistance(a, b) <= 1
}
