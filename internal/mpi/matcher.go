package mpi

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Matcher is the one matching service every path that creates or looks up
// a Patient uses (the API's $match and create, transactions, imports, the
// duplicate scan): it selects candidates through the store's index of
// blocking keys (KeyParam, filled by KeyExtractor) and scores each with the
// Model. It is safe for concurrent use.
type Matcher struct {
	Model *Model
	// Keys finds the patients sharing blocking keys; the store the server
	// runs on.
	Keys store.KeyMatcher
	// Definitions parse the candidate read (a search by _id).
	Definitions *spec.Definitions
	// PerKey bounds the patients taken for one key and Candidates the
	// patients scored (DefaultPerKey, DefaultCandidates when 0): a query
	// costs a few index seeks and at most Candidates comparisons whatever
	// the population.
	PerKey, Candidates int
}

// Default candidate bounds (Matcher.PerKey, Matcher.Candidates).
const (
	DefaultPerKey     = 50
	DefaultCandidates = 80
)

func (m *Matcher) limits() (perKey, candidates int) {
	return cmp.Or(m.PerKey, DefaultPerKey), cmp.Or(m.Candidates, DefaultCandidates)
}

// Match is a patient found by the Matcher, with the evidence.
type Match struct {
	Version *store.Version
	Result
}

// Query says what Match looks for.
type Query struct {
	// Min is the weakest grade returned (Possible when zero).
	Min Grade
	// Count bounds the answer (all found when 0).
	Count int
	// Exclude is a patient id left out (the patient itself, when checking
	// a stored patient for duplicates).
	Exclude string
}

// Match returns the patients that may be the same person as patient, best
// first (by score, then id). Candidates are read through read, the
// caller's store: given the access gate's guarded store, a patient the
// caller may not see is never a candidate, and nothing about it shows.
func (m *Matcher) Match(ctx context.Context, read store.Store, patient fhir.Resource, q Query) ([]Match, error) {
	person := FromPatient(patient)
	keys := person.BlockingKeys()
	if len(keys) == 0 {
		return nil, nil
	}
	perKey, limit := m.limits()
	found, err := m.Keys.MatchKeys(ctx, "Patient", KeyParam, keys, perKey, limit+1)
	if err != nil {
		return nil, fmt.Errorf("mpi: candidates: %w", err)
	}
	ids := make([]string, 0, len(found))
	for _, f := range found {
		if f.ID != q.Exclude && len(ids) < limit {
			ids = append(ids, f.ID)
		}
	}
	candidates, err := m.read(ctx, read, ids)
	if err != nil {
		return nil, err
	}
	min := max(q.Min, Possible)
	var matches []Match
	for _, v := range candidates {
		if replaced(v.Resource) {
			continue // merged into another patient, who is matched in its place
		}
		r := m.Model.Compare(person, FromPatient(v.Resource))
		if r.Grade >= min {
			matches = append(matches, Match{Version: v, Result: r})
		}
	}
	slices.SortFunc(matches, func(a, b Match) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.Version.ID, b.Version.ID))
	})
	if q.Count > 0 && len(matches) > q.Count {
		matches = matches[:q.Count]
	}
	return matches, nil
}

// read fetches the current versions of the patients ids through st, in
// one search by _id (which the access gate limits like any other).
func (m *Matcher) read(ctx context.Context, st store.Store, ids []string) ([]*store.Version, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	q, err := search.Parse(m.Definitions, "Patient", url.Values{
		"_id":    {strings.Join(ids, ",")},
		"_count": {strconv.Itoa(len(ids))},
		"_total": {"none"},
	}, search.ParseOptions{})
	if err != nil {
		return nil, fmt.Errorf("mpi: candidates: %w", err)
	}
	res, err := st.Search(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("mpi: candidates: %w", err)
	}
	return res.Matches, nil
}

// Score turns a match's log2-odds score into the 0..1 that a searchset
// entry's search.score carries: the probability that the pair is one
// person, were the pair as likely one person as not before the evidence.
func Score(logOdds float64) float64 {
	p := 1 / (1 + math.Exp2(-logOdds))
	return math.Round(p*10000) / 10000
}
