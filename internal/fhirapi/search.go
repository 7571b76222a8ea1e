package fhirapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// search answers GET [type]?…, POST [type]/_search, GET [base]?… and POST
// [base]/_search with a searchset Bundle.
func (s *Server) search(ctx context.Context, req *request) (*response, error) {
	params, err := searchParams(req)
	if err != nil {
		return nil, err
	}
	q, err := s.parseQuery(req.base, req.typ, params, req.header, req.compartment)
	if err != nil {
		return nil, err
	}
	if err := s.checkMaskedSearch(ctx, q); err != nil {
		return nil, err
	}
	interaction := "search-type"
	switch {
	case req.compartment != nil:
		interaction = "search-compartment"
	case req.typ == "":
		interaction = "search-system"
	}
	gr := gateRequest(req, interaction)
	gr.Query = q.Raw
	res, err := s.runSearch(ctx, gr, q)
	if err != nil {
		return nil, err
	}
	return s.searchBundle(req, q, res, s.searchPath(req))
}

// searchIn runs a search entry of a transaction inside tx, so that it sees
// the transaction's own writes (GET entries run last).
func (s *Server) searchIn(ctx context.Context, tx store.Tx, req *request) (*response, error) {
	q, err := s.parseQuery(req.base, req.typ, req.query, req.header, nil)
	if err != nil {
		return nil, err
	}
	if err := s.checkMaskedSearch(ctx, q); err != nil {
		return nil, err
	}
	gr := gateRequest(req, "search-type")
	gr.Query = q.Raw
	var res *store.SearchResult
	err = s.opt.Gate.Within(ctx, tx, gr, func() ([]access.Touched, error) {
		var err error
		if res, err = tx.Search(q); err != nil {
			return nil, err
		}
		touched := make([]access.Touched, 0, len(res.Matches)+len(res.Included))
		for _, v := range append(res.Matches, res.Included...) {
			touched = append(touched, access.TouchedVersion(v))
		}
		return touched, nil
	})
	if err != nil {
		return nil, err
	}
	return s.searchBundle(req, q, res, s.searchPath(req))
}

// compartmentSearch answers /[Compartment]/[id]/[type] and /[Compartment]/[id]/*.
func (s *Server) compartmentSearch(ctx context.Context, req *request) (*response, error) {
	comp := s.opt.Definitions.Compartments[req.compartment.Type]
	if comp == nil {
		return nil, fhir.Errorf(fhir.KindNotFound, "%s is not a compartment", req.compartment.Type)
	}
	if !fhir.ValidID(req.compartment.ID) {
		return nil, fhir.Errorf(fhir.KindNotFound, "%q is not a valid resource id", req.compartment.ID)
	}
	m := req.method
	if m != http.MethodGet && m != http.MethodHead && !(m == http.MethodPost && req.op == "_search") {
		return nil, methodNotAllowed(req, "GET")
	}
	if req.typ == "*" {
		req.typ = ""
	} else {
		if !s.opt.Model.IsResource(req.typ) {
			return nil, fhir.Errorf(fhir.KindNotFound, "unknown resource type %q", req.typ)
		}
		if len(comp.Params(req.typ)) == 0 && req.typ != req.compartment.Type {
			return nil, fhir.Errorf(fhir.KindInvalid, "%s resources are not in the %s compartment", req.typ, comp.Code)
		}
	}
	return s.search(ctx, req)
}

// searchParams returns the query parameters, with a POST _search's form
// body added to those of the URL.
func searchParams(req *request) (url.Values, error) {
	params := url.Values{}
	for k, v := range req.query {
		params[k] = append([]string(nil), v...)
	}
	if req.op == "_search" && req.body != nil {
		form, err := url.ParseQuery(string(req.body))
		if err != nil {
			return nil, fhir.Errorf(fhir.KindInvalid, "the _search body is not application/x-www-form-urlencoded: %v", err)
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	return params, nil
}

// parseQuery parses search parameters, strictly unless the client prefers
// lenient handling.
func (s *Server) parseQuery(base, typ string, params url.Values, h http.Header, comp *search.CompartmentRef) (*search.Query, error) {
	opts := search.ParseOptions{Lenient: preferHandling(h) == "lenient", Compartment: comp, Base: base}
	return search.Parse(s.opt.Definitions, typ, params, opts)
}

// runSearch runs q through the gate, auditing every resource returned.
func (s *Server) runSearch(ctx context.Context, gr access.Request, q *search.Query) (*store.SearchResult, error) {
	var res *store.SearchResult
	err := s.opt.Gate.Read(ctx, gr, func() ([]access.Touched, error) {
		var err error
		res, err = s.opt.Gate.Guard(ctx, s.opt.Store).Search(ctx, q)
		if err != nil {
			return nil, err
		}
		touched := make([]access.Touched, 0, len(res.Matches)+len(res.Included))
		for _, v := range res.Matches {
			touched = append(touched, access.TouchedVersion(v))
		}
		for _, v := range res.Included {
			touched = append(touched, access.TouchedVersion(v))
		}
		return touched, nil
	})
	return res, err
}

// searchPath is the URL a search's links are built on (without query).
func (s *Server) searchPath(req *request) string {
	p := req.base
	if c := req.compartment; c != nil {
		p += "/" + c.Type + "/" + c.ID
		if req.typ == "" {
			return p + "/*"
		}
	}
	if req.typ != "" {
		p += "/" + req.typ
	}
	return p
}

// searchBundle renders a page as a searchset Bundle: matches, then
// includes, with total and self/next/previous links built on the store's
// cursors.
func (s *Server) searchBundle(req *request, q *search.Query, res *store.SearchResult, path string) (*response, error) {
	b := searchsetBundle(path, q.Raw, q.Cursor, res.Next, res.Prev, res.Total)
	if q.Summary == "count" {
		return &response{status: http.StatusOK, resource: b}, nil
	}
	shapeParams := url.Values{}
	if q.Summary != "" {
		shapeParams.Set("_summary", q.Summary)
	}
	if len(q.Elements) > 0 {
		shapeParams.Set("_elements", strings.Join(q.Elements, ","))
	}
	entries := make([]any, 0, len(res.Matches)+len(res.Included)+1)
	add := func(v *store.Version, mode string) error {
		shaped, err := s.shape(v.Resource, shapeParams)
		if err != nil {
			return err
		}
		entries = append(entries, map[string]any{
			"fullUrl":  req.base + "/" + v.Type + "/" + v.ID,
			"resource": map[string]any(shaped),
			"search":   map[string]any{"mode": mode},
		})
		return nil
	}
	for _, v := range res.Matches {
		if err := add(v, "match"); err != nil {
			return nil, err
		}
	}
	for _, v := range res.Included {
		if err := add(v, "include"); err != nil {
			return nil, err
		}
	}
	if len(q.Ignored) > 0 {
		entries = append(entries, map[string]any{
			"resource": map[string]any(fhir.OperationOutcome(fhir.Issue{Severity: "warning", Code: "not-supported",
				Diagnostics: "parameters ignored (Prefer: handling=lenient): " + strings.Join(q.Ignored, ", ")})),
			"search": map[string]any{"mode": "outcome"},
		})
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return &response{status: http.StatusOK, resource: b}, nil
}

// preferHandling reads Prefer: handling=strict|lenient ("" when absent).
func preferHandling(h http.Header) string {
	for _, v := range h.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			if r, ok := strings.CutPrefix(strings.TrimSpace(part), "handling="); ok {
				return strings.Trim(r, `"`)
			}
		}
	}
	return ""
}

// searchsetBundle starts a searchset Bundle: its self, next and previous
// links (path and the echoed query raw, with the page's cursor) and its
// total when counted (total < 0: not counted).
func searchsetBundle(path, raw, self, next, prev string, total int64) fhir.Resource {
	link := func(relation, cursor string) any {
		u, r := path, raw
		if cursor != "" {
			if r != "" {
				r += "&"
			}
			r += "_cursor=" + url.QueryEscape(cursor)
		}
		if r != "" {
			u += "?" + r
		}
		return map[string]any{"relation": relation, "url": u}
	}
	links := []any{link("self", self)}
	if next != "" {
		links = append(links, link("next", next))
	}
	if prev != "" {
		links = append(links, link("previous", prev))
	}
	b := fhir.Resource{"resourceType": "Bundle", "type": "searchset", "link": links}
	if total >= 0 {
		b["total"] = total
	}
	return b
}
