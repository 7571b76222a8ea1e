package storetest

import (
	"sync"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
)

// Extractor is the search extractor backends give the store under test:
// the real one, built from the R5 definitions once and shared.
var Extractor = sync.OnceValue(func() *search.Extractor { return search.NewExtractor(spec.R5()) })
