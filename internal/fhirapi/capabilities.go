package fhirapi

import (
	"context"
	"net/http"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
)

// buildCapabilities describes what this server really does; it is built
// once from the same tables that dispatch uses, so it cannot drift from the
// behaviour.
func (s *Server) buildCapabilities() fhir.Resource {
	interactions := []any{}
	for _, code := range []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create"} {
		interactions = append(interactions, map[string]any{"code": code})
	}
	resources := []any{}
	for _, typ := range s.opt.Model.ResourceTypes() {
		resources = append(resources, map[string]any{
			"type":              typ,
			"interaction":       interactions,
			"versioning":        "versioned-update",
			"readHistory":       true,
			"updateCreate":      true,
			"conditionalCreate": false,
			"conditionalRead":   "full-support",
			"conditionalUpdate": false,
			"conditionalPatch":  false,
			"conditionalDelete": "not-supported",
		})
	}
	return fhir.Resource{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         time.Now().UTC().Format("2006-01-02"),
		"kind":         "instance",
		"software":     map[string]any{"name": s.opt.Software, "version": nonEmpty(s.opt.Version, "dev")},
		"implementation": map[string]any{
			"description": "emr FHIR R5 server",
		},
		"fhirVersion": "5.0.0",
		"format":      []any{mediaFHIRJSON, "json"},
		"patchFormat": []any{mediaJSONPatch, mediaFHIRJSON},
		"rest": []any{map[string]any{
			"mode":     "server",
			"resource": resources,
			"interaction": []any{
				map[string]any{"code": "transaction"},
				map[string]any{"code": "batch"},
				map[string]any{"code": "history-system"},
			},
		}},
	}
}

// metadata answers GET /metadata with the CapabilityStatement. It is public
// (clients discover the server with it) but still audited.
func (s *Server) metadata(ctx context.Context, req *request) (*response, error) {
	err := s.opt.Gate.Read(ctx, gateRequest(req, "capabilities"), func() ([]access.Touched, error) { return nil, nil })
	if err != nil {
		return nil, err
	}
	res, err := fhir.ParseResource(s.capabilities)
	if err != nil {
		return nil, err
	}
	if req.base != "" {
		res["implementation"].(map[string]any)["url"] = req.base
	}
	return &response{status: http.StatusOK, resource: res}, nil
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
