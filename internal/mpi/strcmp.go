package mpi

// jaroWinkler returns the Jaro–Winkler similarity of two strings in [0, 1],
// with the usual prefix scale 0.1 over at most four characters. It works on
// bytes: callers pass folded names, which are ASCII for the scripts that
// are transliterated; for other scripts it is a byte-level approximation.
func jaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	if la > lb {
		a, b, la, lb = b, a, lb, la
	}
	window := lb/2 - 1
	if window < 0 {
		window = 0
	}
	// Names are short; fixed arrays avoid allocation on the hot path.
	var matchedA, matchedB [64]bool
	if lb > 64 {
		a, b = a[:min(la, 64)], b[:64]
		la, lb = len(a), len(b)
	}
	matches := 0
	for i := 0; i < la; i++ {
		lo, hi := max(0, i-window), min(lb, i+window+1)
		for j := lo; j < hi; j++ {
			if !matchedB[j] && a[i] == b[j] {
				matchedA[i], matchedB[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	transpositions, j := 0, 0
	for i := 0; i < la; i++ {
		if !matchedA[i] {
			continue
		}
		for !matchedB[j] {
			j++
		}
		if a[i] != b[j] {
			transpositions++
		}
		j++
	}
	m := float64(matches)
	jaro := (m/float64(la) + m/float64(lb) + (m-float64(transpositions/2))/m) / 3
	prefix := 0
	for prefix < min(4, la) && a[prefix] == b[prefix] {
		prefix++
	}
	sim := jaro + float64(prefix)*0.1*(1-jaro)
	return min(1, max(0, sim))
}

// osaDistance is the Damerau–Levenshtein distance in its optimal string
// alignment form: insertions, deletions, substitutions and transpositions of
// adjacent characters, each substring edited at most once. Typing errors are
// mostly of these four kinds.
func osaDistance(a, b string) int {
	la, lb := len(a), len(b)
	if la == 0 {
		return lb
	}
	if lb == 0 {
		return la
	}
	// Three rolling rows: two back for the transposition. Names fit in
	// stack arrays; longer strings allocate.
	var buf [3][33]int
	prev2, prev, cur := buf[0][:], buf[1][:], buf[2][:]
	if lb+1 > len(prev) {
		prev2, prev, cur = make([]int, lb+1), make([]int, lb+1), make([]int, lb+1)
	}
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= la; i++ {
		cur[0] = i
		for j := 1; j <= lb; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[lb]
}
