package fhirapi

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
)

// buildCapabilities describes what this server really does; it is built
// once from the same tables that dispatch uses, so it cannot drift from the
// behaviour.
func (s *Server) buildCapabilities() fhir.Resource {
	interactions := []any{}
	for _, code := range []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"} {
		interactions = append(interactions, map[string]any{"code": code})
	}
	resources := []any{}
	for _, typ := range s.opt.Model.ResourceTypes() {
		r := map[string]any{
			"type":              typ,
			"interaction":       interactions,
			"versioning":        "versioned-update",
			"readHistory":       true,
			"updateCreate":      true,
			"conditionalCreate": true,
			"conditionalRead":   "full-support",
			"conditionalUpdate": true,
			"conditionalPatch":  true,
			"conditionalDelete": "multiple",
			"referencePolicy":   []any{"literal", "logical"},
			"searchInclude":     []any{"*"},
			"searchRevInclude":  []any{"*"},
		}
		if params := s.searchParamsOf(typ); len(params) > 0 {
			r["searchParam"] = params
		}
		if typ == "Patient" {
			r["operation"] = []any{
				map[string]any{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
				map[string]any{"name": "access-report", "definition": "https://github.com/emr-project/emr/OperationDefinition/Patient-access-report",
					"documentation": "the audit records about the patient, newest first: for the patient and auditors (docs/api.md)"},
				map[string]any{"name": "merge", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-merge",
					"documentation": "synchronous: every reference to the source moves to the target in one transaction, recorded by a Provenance; roles with the merge operation (docs/api.md)"},
				map[string]any{"name": "unmerge", "definition": "https://github.com/emr-project/emr/OperationDefinition/Patient-unmerge",
					"documentation": "undoes a $merge named by its Provenance, keeping later edits (docs/api.md)"},
			}
			if s.opt.Matcher != nil {
				r["operation"] = append(r["operation"].([]any), map[string]any{"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match",
					"documentation": "probabilistic matching over the patients the caller may see, graded certain, probable or possible (docs/mpi.md)"})
			}
			if s.opt.Queue != nil {
				r["operation"] = append(r["operation"].([]any),
					map[string]any{"name": "duplicates", "definition": "https://github.com/emr-project/emr/OperationDefinition/Patient-duplicates",
						"documentation": "the review queue of likely duplicate pairs (emr mpi scan, imports): roles with the merge operation (docs/mpi.md)"},
					map[string]any{"name": "resolve-duplicate", "definition": "https://github.com/emr-project/emr/OperationDefinition/Patient-resolve-duplicate",
						"documentation": "a reviewer's decision on a queued pair: distinct (never proposed again) or merged (docs/mpi.md)"})
			}
		}
		if s.opt.Bulk != nil && (typ == "Patient" || typ == "Group") {
			ops, _ := r["operation"].([]any)
			r["operation"] = append(ops, map[string]any{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/" + strings.ToLower(typ) + "-export",
				"documentation": "Bulk Data export of the Patient compartment of " + map[string]string{"Patient": "every patient the caller may see", "Group": "the group's active members"}[typ] + ", asynchronous (docs/api.md)"})
		}
		if typ == "AuditEvent" {
			// The hash-chained log: read and searched, written only by
			// the server (auditevent.go).
			r = map[string]any{
				"type":          typ,
				"interaction":   []any{map[string]any{"code": "read"}, map[string]any{"code": "search-type"}},
				"documentation": "the server's tamper-evident audit log: searched by auditors, never written by clients",
				"searchParam":   auditSearchParams(),
			}
		}
		resources = append(resources, r)
	}
	rest := map[string]any{
		"mode":     "server",
		"resource": resources,
		"interaction": []any{
			map[string]any{"code": "transaction"},
			map[string]any{"code": "batch"},
			map[string]any{"code": "search-system"},
			map[string]any{"code": "history-system"},
		},
		"searchParam": s.searchParamsOf("Resource"),
	}
	if s.opt.Bulk != nil {
		rest["operation"] = []any{map[string]any{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
			"documentation": "Bulk Data export of every resource the caller may see, asynchronous, as NDJSON files (docs/api.md)"}}
	}
	if sec := s.opt.OAuth; sec != nil {
		// SMART App Launch: the service, and the endpoints as the
		// oauth-uris extension older clients read (newer ones read
		// .well-known/smart-configuration).
		var uris []any
		for _, name := range []string{"authorize", "token", "revoke", "introspect"} {
			if u := sec[name]; u != "" {
				uris = append(uris, map[string]any{"url": name, "valueUri": u})
			}
		}
		security := map[string]any{
			"service": []any{map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}}}},
			"description": "OAuth 2.0 bearer tokens from the SMART App Launch authorisation server; see .well-known/smart-configuration",
		}
		if len(uris) > 0 {
			security["extension"] = []any{map[string]any{
				"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris", "extension": uris}}
		}
		rest["security"] = security
	}
	cs := fhir.Resource{
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
		"rest":        []any{rest},
	}
	if s.opt.Bulk != nil {
		cs["instantiates"] = []any{"http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"}
	}
	return cs
}

// searchParamsOf lists the search parameters of a type as the
// CapabilityStatement describes them, sorted by name.
func (s *Server) searchParamsOf(typ string) []any {
	byCode := s.opt.Definitions.SearchParamsFor(typ)
	codes := make([]string, 0, len(byCode))
	for code := range byCode {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	out := make([]any, 0, len(codes))
	for _, code := range codes {
		sp := byCode[code]
		out = append(out, map[string]any{"name": code, "definition": sp.URL, "type": sp.Type})
	}
	return out
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

// auditSearchParams are the parameters the audit log's search takes.
func auditSearchParams() []any {
	r5 := "http://hl7.org/fhir/SearchParameter/"
	var out []any
	for _, p := range []struct{ name, def, typ string }{
		{"_id", r5 + "Resource-id", "token"},
		{"_security", r5 + "Resource-security", "token"},
		{"action", r5 + "AuditEvent-action", "token"},
		{"agent", r5 + "AuditEvent-agent", "reference"},
		{"agent-name", "", "string"},
		{"category", r5 + "AuditEvent-category", "token"},
		{"code", r5 + "clinical-code", "token"},
		{"date", r5 + "clinical-date", "date"},
		{"entity", r5 + "AuditEvent-entity", "reference"},
		{"outcome", r5 + "AuditEvent-outcome", "token"},
		{"patient", r5 + "clinical-patient", "reference"},
		{"purpose", r5 + "AuditEvent-purpose", "token"},
	} {
		sp := map[string]any{"name": p.name, "type": p.typ}
		if p.def != "" {
			sp["definition"] = p.def
		}
		out = append(out, sp)
	}
	return out
}
