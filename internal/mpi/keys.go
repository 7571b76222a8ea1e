package mpi

import (
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// KeyParam is the token parameter under which a Patient's blocking keys are
// indexed. No SearchParameter of that name exists, so no client can search
// by it: the keys are the matcher's, found through store.KeyMatcher.
const KeyParam = "mpi-key"

// keysVersion names the blocking-key rules; bump it when BlockingKeys
// changes what it gives, so that stored indexes are rebuilt (emr reindex).
const keysVersion = "mpi-keys/1"

// KeyExtractor is a store.Extractor that also indexes every Patient's
// blocking keys under KeyParam, in the transaction that writes the patient:
// the keys are never behind the record, and an update or delete replaces
// them with the rest of the patient's index.
type KeyExtractor struct {
	store.Extractor
}

// WithKeys wraps x (the search extractor) to index blocking keys too.
func WithKeys(x store.Extractor) *KeyExtractor { return &KeyExtractor{x} }

// Extract implements store.Extractor.
func (x *KeyExtractor) Extract(res fhir.Resource) ([]search.Entry, error) {
	entries, err := x.Extractor.Extract(res)
	if err != nil || res.Type() != "Patient" {
		return entries, err
	}
	for _, k := range FromPatient(res).BlockingKeys() {
		entries = append(entries, search.Entry{Param: KeyParam, Kind: search.KindToken, Code: k})
	}
	return entries, nil
}

// Version implements store.Extractor.
func (x *KeyExtractor) Version() string { return x.Extractor.Version() + "+" + keysVersion }
