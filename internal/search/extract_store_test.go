package search_test

import (
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// The Extractor is the store's: backends call it on every write.
var _ store.Extractor = (*search.Extractor)(nil)
