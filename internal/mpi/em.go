package mpi

import "math"

// EMOptions tunes EstimateEM.
type EMOptions struct {
	MaxIter int
	// FixU keeps the u probabilities of start and learns only m and the
	// prevalence.
	FixU bool
}

// EMResult reports an EM run.
type EMResult struct {
	Model      *Model
	Prevalence float64 // estimated share of matches among the pairs
	Iterations int
	Converged  bool
}

// EstimateEM estimates m and u for every field and level, and the match
// prevalence, from unlabelled agreement vectors by expectation–maximisation
// under the Fellegi–Sunter assumption that fields agree independently
// given match status. Missing levels carry no information and are left out
// of both steps.
//
// start supplies the initial parameters (DefaultModel if nil) and the
// thresholds, which are copied unchanged; starting from sensible values is
// what keeps EM's "match" class the matches rather than the non-matches.
// It stops after opt.MaxIter iterations (100 if 0) or when no parameter
// moves by more than 1e-6.
//
// Candidate pairs from blocking contain households, whose members agree on
// family name, address and phone together: that breaks conditional
// independence, and unconstrained EM then learns "same household" instead
// of "same person". Fix u (opt.FixU) at values measured on random pairs
// (EstimateU), where nearly every pair is a non-match, and let EM learn m
// and the prevalence; TestEMOnCandidates shows the difference.
func EstimateEM(pairs []Comparison, start *Model, opt EMOptions) EMResult {
	maxIter := opt.MaxIter
	if maxIter == 0 {
		maxIter = 100
	}
	if start == nil {
		start = DefaultModel()
	}
	// Identical vectors are few (thousands of patterns for millions of
	// pairs), so the work is done on patterns with counts.
	counts := make(map[Comparison]float64)
	for _, c := range pairs {
		counts[c]++
	}
	type pattern struct {
		c Comparison
		n float64
	}
	patterns := make([]pattern, 0, len(counts))
	for c, n := range counts {
		patterns = append(patterns, pattern{c, n})
	}

	var m, u [NumFields][NumLevels]float64
	for f := range NumFields {
		for _, l := range fieldLevels[f] {
			m[f][l], u[f][l] = start.Params[f][l].M, start.Params[f][l].U
		}
		normalise(&m[f], fieldLevels[f])
		normalise(&u[f], fieldLevels[f])
	}
	p := start.Prevalence
	if p <= 0 || p >= 1 {
		p = 0.1
	}
	res := EMResult{}
	for res.Iterations < maxIter && len(patterns) > 0 {
		res.Iterations++
		var mSum, uSum [NumFields][NumLevels]float64
		var gTotal, total float64
		for _, pt := range patterns {
			lm, lu := math.Log(p), math.Log(1-p)
			for f := range NumFields {
				if l := pt.c[f]; l != LevelMissing && l < NumLevels {
					lm += math.Log(math.Max(m[f][l], 1e-12))
					lu += math.Log(math.Max(u[f][l], 1e-12))
				}
			}
			g := 1 / (1 + math.Exp(lu-lm)) // probability the pattern is a match
			gTotal += g * pt.n
			total += pt.n
			for f := range NumFields {
				if l := pt.c[f]; l != LevelMissing && l < NumLevels {
					mSum[f][l] += g * pt.n
					uSum[f][l] += (1 - g) * pt.n
				}
			}
		}
		change := math.Abs(gTotal/total - p)
		p = gTotal / total
		for f := range NumFields {
			normalise(&mSum[f], fieldLevels[f])
			normalise(&uSum[f], fieldLevels[f])
			for _, l := range fieldLevels[f] {
				change = math.Max(change, math.Abs(mSum[f][l]-m[f][l]))
				change = math.Max(change, math.Abs(uSum[f][l]-u[f][l]))
			}
		}
		if opt.FixU {
			uSum = u
		}
		m, u = mSum, uSum
		if change < 1e-6 {
			res.Converged = true
			break
		}
	}
	out := &Model{Thresholds: start.Thresholds, Prevalence: p}
	for f := range NumFields {
		for _, l := range fieldLevels[f] {
			// A level never observed keeps a tiny probability rather than
			// zero, so its weight stays finite.
			out.Params[f][l] = MU{M: math.Max(m[f][l], 1e-6), U: math.Max(u[f][l], 1e-6)}
		}
	}
	out.computeWeights()
	res.Model, res.Prevalence = out, p
	return res
}

// normalise scales the given levels of one field to sum to 1; a field with
// no mass (never observed) gets a uniform distribution.
func normalise(v *[NumLevels]float64, levels []Level) {
	sum := 0.0
	for _, l := range levels {
		sum += v[l]
	}
	for _, l := range levels {
		if sum > 0 {
			v[l] /= sum
		} else {
			v[l] = 1 / float64(len(levels))
		}
	}
}

// EstimateU returns a copy of start whose u probabilities are the level
// frequencies among random pairs of records, which are almost all pairs of
// different people. Missing levels are left out; a level never seen keeps
// a small floor so that its weight stays finite.
func EstimateU(random []Comparison, start *Model) *Model {
	if start == nil {
		start = DefaultModel()
	}
	var counts [NumFields][NumLevels]float64
	for _, c := range random {
		for f := range NumFields {
			if l := c[f]; l != LevelMissing && l < NumLevels {
				counts[f][l]++
			}
		}
	}
	out := *start
	for f := range NumFields {
		normalise(&counts[f], fieldLevels[f])
		for _, l := range fieldLevels[f] {
			out.Params[f][l].U = math.Max(counts[f][l], 1e-6)
		}
	}
	out.computeWeights()
	return &out
}
