package storetest

import (
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
)

// Extractor is the search extractor backends give the store under test:
// the real one, built from the R5 definitions once and shared, plus the
// match keys of the KeyMatcher tests.
var Extractor = sync.OnceValue(func() *SuiteExtractor {
	return &SuiteExtractor{search.NewExtractor(spec.R5())}
})

// MatchKeyParam is the token parameter SuiteExtractor fills for the
// KeyMatcher tests: no client can search it, as with the keys of record
// matching.
const MatchKeyParam = "match-key"

// SuiteExtractor is the real extractor that also indexes, for a Patient,
// each of its given names in lower case as a MatchKeyParam token.
type SuiteExtractor struct {
	*search.Extractor
}

// Extract implements store.Extractor.
func (x *SuiteExtractor) Extract(res fhir.Resource) ([]search.Entry, error) {
	entries, err := x.Extractor.Extract(res)
	if err != nil || res.Type() != "Patient" {
		return entries, err
	}
	names, _ := res["name"].([]any)
	for _, n := range names {
		name, _ := n.(map[string]any)
		given, _ := name["given"].([]any)
		for _, g := range given {
			if s, _ := g.(string); s != "" {
				entries = append(entries, search.Entry{Param: MatchKeyParam, Kind: search.KindToken, Code: strings.ToLower(s)})
			}
		}
	}
	return entries, nil
}

// Version implements store.Extractor.
func (x *SuiteExtractor) Version() string { return x.Extractor.Version() + "+match-key/1" }
