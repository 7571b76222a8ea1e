package mpi

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// Estimate re-estimates the model's weights from the patients in the
// store, without labels, the way record-linkage practice does (e.g.
// Splink):
//
//   - u, how often a level occurs between two different people, is counted
//     on random pairs of the sampled patients (almost all are two people);
//   - m, how often it occurs between two records of one person, is
//     estimated by expectation–maximisation with u held fixed, once per
//     kind of blocking key (trainingSessions), over the candidate pairs
//     sharing a key of that kind, leaving out the fields the key is made
//     of (such pairs agree on them whether or not they are one person);
//     each field's m is the average over the sessions that estimate it,
//     weighted by the matches each found.
//
// Estimating m and u together by EM over candidate pairs lets the "match"
// class drift to "same household": the fields are not independent. It
// walks up to samples patients (all when samples ≤ 0); progress, when not
// nil, is told how many are done. The thresholds stay the matcher's. It
// returns the model and how many candidate pairs it learnt from.
func (s *Scanner) Estimate(ctx context.Context, samples, maxIter int, progress func(done, total int64)) (EMResult, int, error) {
	perKey, limit := s.Matcher.limits()
	var (
		sessions = make([][]Comparison, len(trainingSessions))
		persons  []Person
		done     int64
		cursor   string
		learnt   int
	)
	total, err := s.countPatients(ctx)
	if err != nil {
		return EMResult{}, 0, err
	}
	if samples > 0 {
		total = min(total, int64(samples))
	}
	for done < total {
		page, next, err := s.page(ctx, cursor)
		if err != nil {
			return EMResult{}, 0, err
		}
		for _, v := range page {
			if done >= total {
				break
			}
			a := FromPatient(v.Resource)
			persons = append(persons, a)
			keys := a.BlockingKeys()
			for i, session := range trainingSessions {
				var own []string
				for _, k := range keys {
					if strings.HasPrefix(k, session.prefix) || (session.prefix2 != "" && strings.HasPrefix(k, session.prefix2)) {
						own = append(own, k)
					}
				}
				if len(own) == 0 {
					continue
				}
				found, err := s.Matcher.Keys.MatchKeys(ctx, "Patient", KeyParam, own, perKey, limit+1)
				if err != nil {
					return EMResult{}, 0, fmt.Errorf("mpi: estimate: %w", err)
				}
				var ids []string
				for _, f := range found {
					// Each pair once: from its smaller id.
					if f.ID > v.ID && len(ids) < limit {
						ids = append(ids, f.ID)
					}
				}
				candidates, err := s.Matcher.read(ctx, s.Store, ids)
				if err != nil {
					return EMResult{}, 0, err
				}
				for _, c := range candidates {
					b := FromPatient(c.Resource)
					sessions[i] = append(sessions[i], s.Matcher.Model.Levels(&a, &b))
					learnt++
				}
			}
			done++
		}
		if progress != nil {
			progress(done, total)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if learnt == 0 {
		return EMResult{}, 0, fmt.Errorf("mpi: estimate: no candidate pairs among %d patients", done)
	}
	withU := EstimateU(randomPairs(s.Matcher.Model, persons), s.Matcher.Model)
	var mSum [NumFields][NumLevels]float64
	var mWeight [NumFields]float64
	res := EMResult{Converged: true}
	var matches, pairs float64
	for i, session := range trainingSessions {
		if len(sessions[i]) == 0 {
			continue
		}
		// The key's own fields are left out of the session, as missing.
		for j := range sessions[i] {
			for f := range NumFields {
				if session.fields[f] {
					sessions[i][j][f] = LevelMissing
				}
			}
		}
		r := EstimateEM(sessions[i], withU, EMOptions{MaxIter: maxIter, FixU: true})
		res.Iterations = max(res.Iterations, r.Iterations)
		res.Converged = res.Converged && r.Converged
		found := r.Prevalence * float64(len(sessions[i]))
		matches += found
		pairs += float64(len(sessions[i]))
		for f := range NumFields {
			if session.fields[f] {
				continue
			}
			for _, l := range fieldLevels[f] {
				mSum[f][l] += found * r.Model.Params[f][l].M
			}
			mWeight[f] += found
		}
	}
	out := *withU
	out.Prevalence = matches / pairs
	for f := range NumFields {
		for _, l := range fieldLevels[f] {
			if mWeight[f] > 0 { // a field no session estimated keeps its m
				out.Params[f][l].M = math.Max(mSum[f][l]/mWeight[f], 1e-6)
			}
		}
	}
	out.computeWeights()
	res.Model, res.Prevalence = &out, out.Prevalence
	return res, learnt, nil
}

// trainingSessions are the kinds of blocking key m is estimated under,
// each with the fields its keys are made of (left out of that session).
var trainingSessions = []struct {
	prefix, prefix2 string
	fields          [NumFields]bool
}{
	{"id:", "", fieldSet(FieldIdentifier)},
	{"ph:", "", fieldSet(FieldPhone)},
	{"em:", "", fieldSet(FieldEmail)},
	{"pd:", "", fieldSet(FieldPostcode, FieldAddress, FieldBirthDate)},
	{"nd:", "fg:", fieldSet(FieldGiven, FieldFamily, FieldBirthDate)},
	{"ny:", "nm:", fieldSet(FieldGiven, FieldFamily, FieldBirthDate)},
}

func fieldSet(fields ...Field) [NumFields]bool {
	var set [NumFields]bool
	for _, f := range fields {
		set[f] = true
	}
	return set
}

// randomPairs compares each person with two others far from it in the
// sample, in a fixed order: about 2n pairs, almost all of two people, the
// pairs u is counted on.
func randomPairs(model *Model, persons []Person) []Comparison {
	n := len(persons)
	var out []Comparison
	for i := range persons {
		for _, step := range []int{n/2 + 1, n/3 + 7} {
			if j := (i + step) % n; n > 1 && j != i {
				out = append(out, model.Levels(&persons[i], &persons[j]))
			}
		}
	}
	return out
}
