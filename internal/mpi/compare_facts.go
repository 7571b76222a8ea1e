package mpi

// birthLevel compares birth dates at the precision both have.
func birthLevel(a, b *Person) Level {
	if a.BirthPrecision == 0 || b.BirthPrecision == 0 {
		return LevelMissing
	}
	if a.BirthPrecision < 3 || b.BirthPrecision < 3 {
		switch {
		case a.BirthYear != b.BirthYear:
			return LevelDisagree
		case a.BirthPrecision >= 2 && b.BirthPrecision >= 2 && a.BirthMonth != b.BirthMonth:
			return LevelYear
		case a.BirthPrecision >= 2 && b.BirthPrecision >= 2:
			return LevelNear
		}
		return LevelYear
	}
	if a.BirthYear == b.BirthYear && a.BirthMonth == b.BirthMonth && a.BirthDay == b.BirthDay {
		return LevelExact
	}
	if a.BirthYear == b.BirthYear && a.BirthDay == b.BirthMonth && a.BirthMonth == b.BirthDay {
		return LevelSwapped
	}
	if nearDate(a.BirthYear, a.BirthMonth, a.BirthDay, b.BirthYear, b.BirthMonth, b.BirthDay) ||
		nearDate(a.BirthYear, a.BirthDay, a.BirthMonth, b.BirthYear, b.BirthMonth, b.BirthDay) {
		// The second test is a swap of day and month plus one slip: two
		// errors, but each common in re-registrations.
		return LevelNear
	}
	if a.BirthYear == b.BirthYear {
		return LevelYear
	}
	return LevelDisagree
}

// genderLevel treats unknown as missing: it records that nobody asked.
func genderLevel(a, b string) Level {
	if a == "" || b == "" || a == "unknown" || b == "unknown" {
		return LevelMissing
	}
	if a == b {
		return LevelExact
	}
	return LevelDisagree
}

// identifierLevel compares identifiers only within a system: the same value
// agrees strongly; a different value in the same system disagrees strongly
// (one person has one number per issuer); identifiers of different systems
// say nothing. Values without a system agree when equal and are otherwise
// no evidence.
func identifierLevel(a, b []string) Level {
	level := LevelMissing
	for _, x := range a {
		sx, vx := splitIdentifier(x)
		for _, y := range b {
			sy, vy := splitIdentifier(y)
			switch {
			case sx != sy:
			case vx == vy:
				return LevelExact
			case sx != "":
				level = LevelDisagree
			}
		}
	}
	return level
}

func splitIdentifier(s string) (system, value string) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '|' {
			return s[:i], s[i+1:]
		}
	}
	return "", s
}

// anyLevel is exact when any pair of values agrees, disagree when both have
// values and none agrees.
func anyLevel(a, b []string, same func(x, y string) bool) Level {
	if len(a) == 0 || len(b) == 0 {
		return LevelMissing
	}
	for _, x := range a {
		for _, y := range b {
			if same(x, y) {
				return LevelExact
			}
		}
	}
	return LevelDisagree
}

// addressLevel allows a near line (a typo, a missing flat number).
func addressLevel(a, b []string) Level {
	if len(a) == 0 || len(b) == 0 {
		return LevelMissing
	}
	best := LevelDisagree
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return LevelExact
			}
			if jaroWinkler(x, y) >= 0.9 {
				best = LevelFuzzy
			}
		}
	}
	return best
}

func equal(a, b string) bool { return a == b }

// nearDate reports one wrong digit, one day apart in the same month, or one
// year apart on the same day (1969 and 1970 differ in two digits but are
// one slip of the mind).
func nearDate(y1, m1, d1, y2, m2, d2 int) bool {
	diff := 0
	for _, pair := range [][2]int{{y1 / 1000, y2 / 1000}, {y1 / 100 % 10, y2 / 100 % 10}, {y1 / 10 % 10, y2 / 10 % 10},
		{y1 % 10, y2 % 10}, {m1 / 10, m2 / 10}, {m1 % 10, m2 % 10}, {d1 / 10, d2 / 10}, {d1 % 10, d2 % 10}} {
		if pair[0] != pair[1] {
			diff++
		}
	}
	return diff == 1 ||
		(y1 == y2 && m1 == m2 && absInt(d1-d2) == 1) ||
		(m1 == m2 && d1 == d2 && absInt(y1-y2) == 1)
}
