package fhirapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// Break-glass operations (see access.BreakGlass):
//
//	POST Patient/[id]/$break-glass   Parameters: reason (string), minutes (integer, optional)
//	GET  $break-glass-review[?all=true]  the review queue, for privacy officers
//	POST $break-glass-review          Parameters: id (string), note (string)
//
// Each answers a Parameters resource.

func (s *Server) breakGlass(ctx context.Context, req *request) (*response, error) {
	if s.opt.BreakGlass == nil {
		return nil, fhir.Errorf(fhir.KindNotSupported, "operation $break-glass is not enabled")
	}
	if req.method != http.MethodPost {
		return nil, methodNotAllowed(req, "POST")
	}
	params, err := operationParameters(req)
	if err != nil {
		return nil, err
	}
	reason, _ := params["reason"].(string)
	var d time.Duration
	if m, ok := params["minutes"].(int64); ok {
		d = time.Duration(m) * time.Minute
	}
	e, err := s.opt.BreakGlass.Declare(ctx, req.id, reason, d, req.agent.Address)
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, resource: parametersOf(
		"id", "valueString", e.ID,
		"patient", "valueReference", map[string]any{"reference": "Patient/" + e.Patient},
		"until", "valueInstant", e.Until.UTC().Format(time.RFC3339),
	)}, nil
}

func (s *Server) breakGlassReview(ctx context.Context, req *request) (*response, error) {
	if s.opt.BreakGlass == nil {
		return nil, fhir.Errorf(fhir.KindNotSupported, "operation $break-glass-review is not enabled")
	}
	switch req.method {
	case http.MethodGet, http.MethodHead:
		queue, err := s.opt.BreakGlass.Queue(ctx, req.query.Get("all") == "true")
		if err != nil {
			return nil, err
		}
		out := fhir.Resource{"resourceType": "Parameters"}
		var ps []any
		for _, e := range queue {
			parts := []any{
				part("id", "valueString", e.ID), part("user", "valueString", e.User), part("role", "valueString", e.Role),
				part("patient", "valueReference", map[string]any{"reference": "Patient/" + e.Patient}),
				part("reason", "valueString", e.Reason),
				part("declared", "valueInstant", e.Declared.UTC().Format(time.RFC3339)),
				part("until", "valueInstant", e.Until.UTC().Format(time.RFC3339)),
			}
			if r := e.Reviewed; r != nil {
				parts = append(parts, part("reviewedBy", "valueString", r.By),
					part("reviewed", "valueInstant", r.At.UTC().Format(time.RFC3339)), part("note", "valueString", r.Note))
			}
			ps = append(ps, map[string]any{"name": "emergency", "part": parts})
		}
		if len(ps) > 0 {
			out["parameter"] = ps
		}
		return &response{status: http.StatusOK, resource: out}, nil
	case http.MethodPost:
		params, err := operationParameters(req)
		if err != nil {
			return nil, err
		}
		id, _ := params["id"].(string)
		note, _ := params["note"].(string)
		e, err := s.opt.BreakGlass.MarkReviewed(ctx, id, note)
		if err != nil {
			return nil, err
		}
		return &response{status: http.StatusOK, resource: parametersOf(
			"id", "valueString", e.ID, "reviewedBy", "valueString", e.Reviewed.By)}, nil
	}
	return nil, methodNotAllowed(req, "GET, POST")
}

// operationParameters reads a Parameters body's simple values by name:
// strings as string, integers as int64.
func operationParameters(req *request) (map[string]any, error) {
	list, err := parametersBody(req)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, m := range list {
		name, _ := m["name"].(string)
		switch {
		case m["valueString"] != nil:
			out[name], _ = m["valueString"].(string)
		case m["valueInteger"] != nil:
			if num, ok := m["valueInteger"].(json.Number); ok {
				if n, err := num.Int64(); err == nil {
					out[name] = n
				}
			}
		}
	}
	return out, nil
}

func part(name, key string, value any) map[string]any {
	return map[string]any{"name": name, key: value}
}

// parametersOf builds a Parameters resource from (name, value key, value)
// triples.
func parametersOf(triples ...any) fhir.Resource {
	var ps []any
	for i := 0; i+2 < len(triples); i += 3 {
		ps = append(ps, part(triples[i].(string), triples[i+1].(string), triples[i+2]))
	}
	return fhir.Resource{"resourceType": "Parameters", "parameter": ps}
}
