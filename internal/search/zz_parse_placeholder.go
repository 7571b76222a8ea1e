package search

import (
	"net/url"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// Placeholder until the parser lands from branch search-parse; deleted then.

// ParseOptions tune Parse.
type ParseOptions struct {
	Lenient     bool
	Compartment *CompartmentRef
}

// Parse parses a search query.
func Parse(defs *spec.Definitions, resourceType string, params url.Values, opts ParseOptions) (*Query, error) {
	q := &Query{Type: resourceType, Compartment: opts.Compartment}
	for name := range params {
		switch name {
		case "_count", "_cursor", "_total", "_summary":
		default:
			return nil, fhir.Errorf(fhir.KindInvalid, "unknown search parameter %q", name)
		}
	}
	q.Cursor = params.Get("_cursor")
	q.Total = params.Get("_total")
	q.Summary = params.Get("_summary")
	return q, nil
}
