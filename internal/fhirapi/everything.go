package fhirapi

import (
	"context"
	"net/url"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
)

// everythingParams are the parameters of Patient/$everything we honour.
var everythingParams = map[string]bool{"_since": true, "_type": true, "_count": true, "_cursor": true}

// everything answers GET Patient/[id]/$everything: the patient and every
// resource in its compartment (R5 CompartmentDefinition Patient), paged,
// narrowed by _since and _type, with the resources they refer to included.
func (s *Server) everything(ctx context.Context, req *request) (*response, error) {
	for name := range req.query {
		if !everythingParams[name] {
			return nil, fhir.Errorf(fhir.KindInvalid, "parameter %q is not supported by $everything (supported: _since, _type, _count)", name)
		}
	}
	comp := s.opt.Definitions.Compartments["Patient"]
	members := map[string]bool{"Patient": true}
	for _, r := range comp.Resources {
		if len(r.Params) > 0 {
			members[r.Code] = true
		}
	}
	types := make([]string, 0, len(members))
	if t := req.query.Get("_type"); t != "" {
		for _, typ := range strings.Split(t, ",") {
			if !members[typ] {
				return nil, fhir.Errorf(fhir.KindInvalid, "_type: %q is not a type in the Patient compartment", typ)
			}
			types = append(types, typ)
		}
	} else {
		for typ := range members {
			types = append(types, typ)
		}
	}
	sort.Strings(types)
	params := url.Values{"_type": {strings.Join(types, ",")}}
	if since := req.query.Get("_since"); since != "" {
		if _, _, err := fhir.ParseDateRange(since); err != nil {
			return nil, fhir.Errorf(fhir.KindInvalid, "_since: %v", err)
		}
		params.Set("_lastUpdated", "ge"+since)
	}
	for _, k := range []string{"_count", "_cursor"} {
		if v := req.query.Get(k); v != "" {
			params.Set(k, v)
		}
	}
	q, err := search.Parse(s.opt.Definitions, "", params, search.ParseOptions{Base: req.base, Compartment: &search.CompartmentRef{Type: "Patient", ID: req.id}})
	if err != nil {
		return nil, err
	}
	// Resources the compartment's resources refer to (their Practitioner,
	// Organization, Medication, Location …) come as includes, as the
	// operation's definition asks.
	for _, typ := range types {
		q.Includes = append(q.Includes, search.Include{SourceType: typ, Param: "*"})
	}
	// Links repeat what the client asked, not the expanded type list.
	echo := url.Values{}
	for k, v := range req.query {
		if k != "_cursor" {
			echo[k] = v
		}
	}
	q.Raw = echo.Encode()
	gr := gateRequest(req, "operation")
	gr.Query = "$everything?" + q.Raw
	// The patient must exist: 404 or 410 rather than an empty Bundle.
	if _, err := s.opt.Gate.Guard(ctx, s.opt.Store).Read(ctx, "Patient", req.id); err != nil {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	res, err := s.runSearch(ctx, gr, q)
	if err != nil {
		return nil, err
	}
	return s.searchBundle(req, q, res, req.base+"/Patient/"+req.id+"/$everything")
}
