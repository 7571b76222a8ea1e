package fhirapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/deid"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// deidentifyPurpose is the purpose of use recorded when the caller names
// none: v3 ActReason HRESCH, healthcare research.
const deidentifyPurpose = "HRESCH"

// deidentify answers GET Patient/[id]/$deidentify: a collection Bundle of
// the patient's record (its compartment, _type narrowing it, and what it
// refers to), de-identified as emr export --deidentify writes it, with the
// server's key, so that pseudonyms agree with the exports. Only callers
// whose role lists the deidentify operation may run it (access.MayRun);
// the record is read whole, whatever else the role may read, and the
// access is audited as one operation on the patient.
func (s *Server) deidentify(ctx context.Context, req *request) (*response, error) {
	if s.opt.Deidentifier == nil {
		return nil, fhir.Errorf(fhir.KindNotSupported, "operation $deidentify is not enabled on this server (emr serve --deid-key)")
	}
	var types []string
	for name, vals := range req.query {
		if name != "_type" {
			return nil, fhir.Errorf(fhir.KindInvalid, "parameter %q is not supported by $deidentify (supported: _type)", name)
		}
		for _, v := range vals {
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" {
					types = append(types, t)
				}
			}
		}
	}
	gr := gateRequest(req, "operation")
	// MayRun decides below, not the letters of Patient read: the audit
	// record names every resource that left.
	gr.Type, gr.ID = "", ""
	gr.Query = "Patient/" + req.id + "/$deidentify?" + req.query.Encode()
	if access.PrincipalFrom(ctx) == nil || access.PrincipalFrom(ctx).Purpose == "" {
		gr.Purpose = deidentifyPurpose
	}
	if err := s.opt.Gate.MayRun(ctx, access.OperationDeidentify); err != nil {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	var record []*store.Version
	err := s.opt.Gate.Read(ctx, gr, func() ([]access.Touched, error) {
		var err error
		record, err = deid.PatientRecord(ctx, s.opt.Definitions, s.opt.Store.Search, req.id, types)
		if err != nil {
			return nil, fhir.Errorf(fhir.KindInvalid, "%v", err)
		}
		if len(record) == 0 {
			if _, err := s.opt.Store.Read(ctx, "Patient", req.id); err != nil {
				return nil, err
			}
		}
		// One audit event for the patient, naming what left.
		patient := "Patient/" + req.id
		touched := make([]access.Touched, 0, len(record))
		for _, v := range record {
			touched = append(touched, access.Touched{Type: v.Type, ID: v.ID, VersionID: v.VersionID, Patient: patient})
		}
		return touched, nil
	})
	if err != nil {
		return nil, err
	}
	entries := make([]any, 0, len(record))
	for _, v := range record {
		res, err := s.opt.Deidentifier.Resource(v.Resource, s.opt.Deidentifier.ShiftKey(v.Resource, req.id))
		if err != nil {
			return nil, err
		}
		entries = append(entries, map[string]any{"fullUrl": req.base + "/" + res.Type() + "/" + res.ID(), "resource": map[string]any(res)})
	}
	b := fhir.Resource{"resourceType": "Bundle", "type": "collection", "timestamp": fhir.FormatInstant(time.Now())}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return &response{status: http.StatusOK, resource: b}, nil
}
