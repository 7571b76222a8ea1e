package fhirapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
)

// accessReportParams are the parameters Patient/[id]/$access-report takes.
var accessReportParams = map[string]bool{"date": true, "action": true, "_count": true, "_cursor": true, "_total": true, "_sort": true}

// accessReport answers GET Patient/[id]/$access-report: the audit records
// about the patient (reads, searches, writes, break-glass, and views of
// this report), newest first, paged: "who saw my record". Neither R5 nor
// IHE BALP names such an operation (BALP defines the records, and an
// auditor's AuditEvent?patient= search); the EMR's own, documented in
// docs/api.md. The patient themself (a caller bound to the patient:
// Principal.Patient) and auditors may ask; anyone else is told the
// patient does not exist, as for a patient they cannot see.
func (s *Server) accessReport(ctx context.Context, req *request) (*response, error) {
	gr := gateRequest(req, "operation")
	for name := range req.query {
		if !accessReportParams[name] {
			err := fhir.Errorf(fhir.KindInvalid, "parameter %q is not supported by $access-report (supported: date, action, _count, _cursor, _total, _sort)", name)
			s.opt.Gate.RecordFailure(ctx, gr, err)
			return nil, err
		}
	}
	params := url.Values{}
	for k, v := range req.query {
		params[k] = v
	}
	params.Set("patient", "Patient/"+req.id)
	q, raw, err := auditQuery(params, req.base)
	if err != nil {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	// The links repeat what the client asked, without the patient.
	echo := url.Values{}
	for k, v := range req.query {
		if k != "_cursor" {
			echo[k] = v
		}
	}
	raw = echo.Encode()
	gr.Query = "$access-report"
	if raw != "" {
		gr.Query += "?" + raw
	}
	p := access.PrincipalFrom(ctx)
	own := p != nil && p.Patient != "" && p.Patient == req.id
	auditor := access.Unlimited(s.opt.Gate.Limit(ctx, 's', []string{"AuditEvent"}))
	if !own && !auditor {
		err := access.Denied(fhir.Errorf(fhir.KindNotFound, "Patient/%s is not known", req.id), "access report of another patient")
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	// A report of a patient who never existed is a mistake; one of a
	// deleted patient is still owed.
	if _, err := s.opt.Store.Read(ctx, "Patient", req.id); err != nil && fhir.KindOf(err) != fhir.KindGone {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	// The report's own record names the patient: the patient sees that
	// their report was looked at, and by whom.
	gr.Type, gr.ID = "Patient", req.id
	page, err := s.searchAudit(ctx, gr, q.AuditQuery, access.Touched{Type: "Patient", ID: req.id, Patient: "Patient/" + req.id})
	if err != nil {
		return nil, err
	}
	resp, err := auditBundle(req.base, req.base+"/Patient/"+req.id+"/$access-report", raw, q, page)
	if err == nil {
		resp.status = http.StatusOK
	}
	return resp, err
}
