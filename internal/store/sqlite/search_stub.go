package sqlite

import (
	"context"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Placeholders until the search index lands (being written on branch
// sqlite-search); they keep the tree building.

func (db *DB) Search(ctx context.Context, q *search.Query) (*store.SearchResult, error) {
	return nil, fhir.Errorf(fhir.KindNotSupported, "search is not supported yet")
}

func (db *DB) Reindex(ctx context.Context, progress func(done, total int64)) error {
	return fhir.Errorf(fhir.KindNotSupported, "reindex is not supported yet")
}

func (t *txn) Search(q *search.Query) (*store.SearchResult, error) {
	return nil, fhir.Errorf(fhir.KindNotSupported, "search is not supported yet")
}
