package fhirapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// historyParams are the parameters a history interaction accepts; anything
// else is refused (handling=strict).
var historyParams = map[string]bool{"_since": true, "_at": true, "_count": true, "_cursor": true, "_summary": true, "_elements": true, "_list": false, "_sort": false}

// history answers GET [type]/[id]/_history, [type]/_history and /_history.
func (s *Server) history(ctx context.Context, req *request) (*response, error) {
	q, err := historyQuery(req)
	if err != nil {
		return nil, err
	}
	interaction := "history-system"
	switch {
	case req.id != "":
		interaction = "history-instance"
	case req.typ != "":
		interaction = "history-type"
	}
	var page *store.HistoryPage
	err = s.opt.Gate.Read(ctx, gateRequest(req, interaction), func() ([]access.Touched, error) {
		if req.id != "" {
			// Instance history of a resource that never existed is a 404.
			if _, err := s.opt.Gate.Guard(ctx, s.opt.Store).Read(ctx, req.typ, req.id); err != nil && !fhir.IsKind(err, fhir.KindGone) {
				return nil, err
			}
		}
		var err error
		page, err = s.opt.Gate.Guard(ctx, s.opt.Store).History(ctx, q)
		if err != nil {
			return nil, err
		}
		touched := make([]access.Touched, 0, len(page.Versions))
		for _, v := range page.Versions {
			touched = append(touched, access.TouchedVersion(v))
		}
		return touched, nil
	})
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, resource: s.historyBundle(req, q, page)}, nil
}

func historyQuery(req *request) (store.HistoryQuery, error) {
	q := store.HistoryQuery{Type: req.typ, ID: req.id, Count: store.DefaultPageSize}
	for name, vals := range req.query {
		if allowed, known := historyParams[name]; !known || !allowed {
			return q, fhir.Errorf(fhir.KindInvalid, "parameter %q is not supported on history", name)
		}
		if len(vals) > 1 {
			return q, fhir.Errorf(fhir.KindInvalid, "parameter %q is repeated", name)
		}
	}
	if v := req.query.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, fhir.Errorf(fhir.KindInvalid, "_count must be a non-negative integer, not %q", v)
		}
		q.Count = min(n, store.MaxPageSize)
	}
	if v := req.query.Get("_since"); v != "" {
		start, _, err := fhir.ParseDateRange(v)
		if err != nil {
			return q, fhir.Errorf(fhir.KindInvalid, "_since: %v", err)
		}
		q.Since = start
	}
	if v := req.query.Get("_at"); v != "" {
		start, end, err := fhir.ParseDateRange(v)
		if err != nil {
			return q, fhir.Errorf(fhir.KindInvalid, "_at: %v", err)
		}
		q.AtStart, q.AtEnd = start, end
	}
	if v := req.query.Get("_cursor"); v != "" {
		n, err := strconv.ParseInt(v[1:], 10, 64)
		if err != nil || n < 1 || (v[0] != 'b' && v[0] != 'a') {
			return q, fhir.Errorf(fhir.KindInvalid, "_cursor %q is not one this server issued", v)
		}
		if v[0] == 'b' {
			q.Before = n
		} else {
			q.After = n
		}
	}
	return q, nil
}

// historyBundle renders a page of versions as a history Bundle with self,
// next and previous links built on sequence cursors, which stay correct
// while new versions are written.
func (s *Server) historyBundle(req *request, q store.HistoryQuery, page *store.HistoryPage) fhir.Resource {
	path := req.base
	if req.typ != "" {
		path += "/" + req.typ
	}
	if req.id != "" {
		path += "/" + req.id
	}
	path += "/_history"
	link := func(relation, cursor string) any {
		params := url.Values{}
		for k, v := range req.query {
			if k != "_cursor" {
				params[k] = v
			}
		}
		if cursor != "" {
			params.Set("_cursor", cursor)
		}
		u := path
		if enc := params.Encode(); enc != "" {
			u += "?" + enc
		}
		return map[string]any{"relation": relation, "url": u}
	}
	links := []any{link("self", req.query.Get("_cursor"))}
	if n := len(page.Versions); n > 0 {
		if page.More {
			links = append(links, link("next", "b"+strconv.FormatInt(page.Versions[n-1].Seq, 10)))
		}
		if page.Newer {
			links = append(links, link("previous", "a"+strconv.FormatInt(page.Versions[0].Seq, 10)))
		}
	}
	entries := make([]any, 0, len(page.Versions))
	for _, v := range page.Versions {
		entries = append(entries, historyEntry(req.base, v))
	}
	b := fhir.Resource{
		"resourceType": "Bundle",
		"type":         "history",
		"timestamp":    fhir.FormatInstant(time.Now()),
		"link":         links,
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return b
}

func historyEntry(base string, v *store.Version) map[string]any {
	ref := v.Type + "/" + v.ID
	e := map[string]any{"fullUrl": base + "/" + ref}
	response := map[string]any{
		"etag":         etag(v.VersionID),
		"lastModified": fhir.FormatInstant(v.LastUpdated),
	}
	switch {
	case v.Deleted:
		e["request"] = map[string]any{"method": "DELETE", "url": ref}
		response["status"] = "204 No Content"
	case v.VersionID == 1:
		e["request"] = map[string]any{"method": "POST", "url": v.Type}
		response["status"] = "201 Created"
		e["resource"] = map[string]any(v.Resource)
	default:
		e["request"] = map[string]any{"method": "PUT", "url": ref}
		response["status"] = "200 OK"
		e["resource"] = map[string]any(v.Resource)
	}
	e["response"] = response
	return e
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
