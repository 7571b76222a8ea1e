package mpi

import (
	"slices"
	"sync"
)

// Index is an in-memory blocking index: persons filed under their
// BlockingKeys. It stands in for the store's database index in tests and
// evaluation; it is safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	ids     []string
	persons []Person
	byKey   map[string][]int32
	// given and family count persons by first given name and by family
	// name, for NameFrequencies.
	given, family map[string]int
	// MaxBlock bounds the records read per key: a key shared by thousands
	// (a care home's phone, a clinic's email) selects nothing and would
	// make every lookup slow, so beyond this size it is skipped.
	MaxBlock int
}

// NewIndex returns an empty index with MaxBlock 500.
func NewIndex() *Index {
	return &Index{byKey: make(map[string][]int32), given: map[string]int{}, family: map[string]int{}, MaxBlock: 500}
}

// Add files a person under id. Adding the same id twice files it twice;
// the caller owns identity.
func (ix *Index) Add(id string, p Person) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := int32(len(ix.ids))
	ix.ids = append(ix.ids, id)
	ix.persons = append(ix.persons, p)
	for _, k := range p.BlockingKeys() {
		ix.byKey[k] = append(ix.byKey[k], n)
	}
	if g := p.firstGiven(); g != "" {
		ix.given[g]++
	}
	for _, f := range p.Family {
		ix.family[f]++
	}
}

// GivenShare returns the share of persons whose first given name is name.
// With fewer than 1,000 persons it returns 0: shares of a small register
// say more about chance than about the population.
func (ix *Index) GivenShare(name string) float64 { return ix.share(ix.given, name) }

// FamilyShare returns the share of persons with the family name name.
func (ix *Index) FamilyShare(name string) float64 { return ix.share(ix.family, name) }

func (ix *Index) share(counts map[string]int, name string) float64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if len(ix.ids) < 1000 {
		return 0
	}
	return float64(counts[name]) / float64(len(ix.ids))
}

// Len returns the number of persons added.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.ids)
}

// Candidate is one record that shares keys with a query.
type Candidate struct {
	ID     string
	Person Person
	Shared int // number of blocking keys in common
}

// Candidates returns at most limit persons sharing a blocking key with p,
// those sharing the most keys first (ties in insertion order).
func (ix *Index) Candidates(p Person, limit int) []Candidate {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	counts := make(map[int32]int, 32)
	for _, k := range p.BlockingKeys() {
		block := ix.byKey[k]
		if ix.MaxBlock > 0 && len(block) > ix.MaxBlock {
			continue
		}
		for _, n := range block {
			counts[n]++
		}
	}
	found := make([]int32, 0, len(counts))
	for n := range counts {
		found = append(found, n)
	}
	slices.SortFunc(found, func(x, y int32) int {
		if counts[x] != counts[y] {
			return counts[y] - counts[x]
		}
		return int(x - y)
	})
	if limit > 0 && len(found) > limit {
		found = found[:limit]
	}
	out := make([]Candidate, len(found))
	for i, n := range found {
		out[i] = Candidate{ID: ix.ids[n], Person: ix.persons[n], Shared: counts[n]}
	}
	return out
}
