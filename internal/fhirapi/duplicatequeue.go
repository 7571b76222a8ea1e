package fhirapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/store"
)

// The review queue of likely duplicate patients (mpi.Queue, filled by emr
// mpi scan and by imports) is served by two operations of ours, for the
// roles that may merge (access.OperationMerge):
//
//	GET  Patient/$duplicates?status=open&grade=probable   the pairs, best first
//	POST Patient/$resolve-duplicate                       a reviewer's decision
//
// A pair is resolved as "distinct" (not the same person: never proposed
// again) or "merged" (once Patient/$merge has merged them; a $merge of a
// queued pair resolves it by itself).

// duplicates answers GET Patient/$duplicates: a Parameters with one "pair"
// per queued pair of the status asked (open by default) at the grade asked
// (probable and better by default), best first. Only pairs of patients the
// caller may see are listed.
func (s *Server) duplicates(ctx context.Context, req *request) (*response, error) {
	if req.method != http.MethodGet {
		return nil, methodNotAllowed(req, "GET")
	}
	gr := gateRequest(req, "operation")
	gr.Query = "Patient/$duplicates?" + req.query.Encode()
	if err := s.queueUsable(ctx, gr); err != nil {
		return nil, err
	}
	status := req.query.Get("status")
	switch status {
	case "":
		status = mpi.PairOpen
	case mpi.PairOpen, mpi.PairMerged, mpi.PairDistinct:
	default:
		return nil, fhir.At(fhir.KindInvalid, "value", "status", "status is open, merged or distinct, not %q", status)
	}
	min := mpi.Probable
	if g := req.query.Get("grade"); g != "" {
		var err error
		if min, err = mpi.ParseGrade(g); err != nil || min == mpi.None {
			return nil, fhir.At(fhir.KindInvalid, "value", "grade", "grade is certain, probable or possible, not %q", g)
		}
	}
	for name := range req.query {
		if name != "status" && name != "grade" {
			return nil, fhir.At(fhir.KindInvalid, "not-supported", name, "Patient/$duplicates takes status and grade, not %q", name)
		}
	}
	var params []any
	err := s.opt.Gate.Read(ctx, gr, func() ([]access.Touched, error) {
		pairs, err := s.opt.Queue.List(ctx, status, min)
		if err != nil {
			return nil, err
		}
		guard := s.opt.Gate.Guard(ctx, s.opt.Store)
		var touched []access.Touched
		for _, p := range pairs {
			a, errA := guard.Read(ctx, "Patient", p.A)
			b, errB := guard.Read(ctx, "Patient", p.B)
			if errA != nil || errB != nil {
				continue // a patient hidden from the caller, or gone
			}
			touched = append(touched, access.TouchedVersion(a), access.TouchedVersion(b))
			params = append(params, map[string]any{"name": "pair", "part": pairParts(p)})
		}
		return touched, nil
	})
	if err != nil {
		return nil, err
	}
	out := fhir.Resource{"resourceType": "Parameters"}
	if len(params) > 0 {
		out["parameter"] = params
	}
	return &response{status: http.StatusOK, resource: out}, nil
}

// pairParts renders a pair as the parts of a "pair" parameter.
func pairParts(p *mpi.Pair) []any {
	parts := []any{
		part("patient", "valueReference", map[string]any{"reference": "Patient/" + p.A}),
		part("patient", "valueReference", map[string]any{"reference": "Patient/" + p.B}),
		part("grade", "valueCode", p.Grade.String()),
		part("score", "valueDecimal", mpi.Score(p.Score)),
		part("status", "valueCode", p.Status),
		part("found", "valueDateTime", fhir.FormatInstant(p.Found)),
	}
	for field, level := range p.Evidence {
		parts = append(parts, map[string]any{"name": "evidence", "part": []any{
			part("field", "valueString", field), part("level", "valueCode", level)}})
	}
	if p.Rule != "" {
		parts = append(parts, part("rule", "valueCode", p.Rule))
	}
	if p.ResolvedBy != "" {
		parts = append(parts, part("resolved-by", "valueString", p.ResolvedBy),
			part("resolved", "valueDateTime", fhir.FormatInstant(p.ResolvedAt)))
	}
	if p.Note != "" {
		parts = append(parts, part("note", "valueString", p.Note))
	}
	return parts
}

// resolveDuplicate answers POST Patient/$resolve-duplicate with two
// "patient" references, "resolution" (distinct or merged) and an optional
// "note": the reviewer's decision on the queued pair. "merged" is accepted
// only once one patient has been merged into the other.
func (s *Server) resolveDuplicate(ctx context.Context, req *request) (*response, error) {
	if req.method != http.MethodPost {
		return nil, methodNotAllowed(req, "POST")
	}
	gr := gateRequest(req, "operation")
	gr.Query = "Patient/$resolve-duplicate"
	if err := s.queueUsable(ctx, gr); err != nil {
		return nil, err
	}
	params, err := parametersBody(req)
	if err != nil {
		return nil, err
	}
	var ids []string
	var resolution, note string
	for i, p := range params {
		at := "Parameters.parameter[" + itoa(int64(i)) + "]"
		switch p["name"] {
		case "patient":
			ref, err := patientReference(p, at)
			if err != nil {
				return nil, err
			}
			ids = append(ids, strings.TrimPrefix(ref, "Patient/"))
		case "resolution":
			resolution, _ = p["valueCode"].(string)
			if resolution != mpi.PairDistinct && resolution != mpi.PairMerged {
				return nil, fhir.At(fhir.KindInvalid, "value", at+".valueCode", "resolution is distinct or merged")
			}
		case "note":
			note, _ = p["valueString"].(string)
		default:
			return nil, fhir.At(fhir.KindInvalid, "not-supported", at+".name", "$resolve-duplicate takes patient (twice), resolution and note, not %q", p["name"])
		}
	}
	if len(ids) != 2 || resolution == "" {
		return nil, fhir.At(fhir.KindInvalid, "required", "Parameters.parameter", "$resolve-duplicate needs two patient references and a resolution")
	}
	var pair *mpi.Pair
	err = s.opt.Gate.Read(ctx, gr, func() ([]access.Touched, error) {
		guard := s.opt.Gate.Guard(ctx, s.opt.Store)
		var touched []access.Touched
		var versions []*store.Version
		for _, id := range ids {
			v, err := guard.Read(ctx, "Patient", id)
			if err != nil && !fhir.IsKind(err, fhir.KindGone) {
				return nil, err
			}
			versions = append(versions, v)
			touched = append(touched, access.TouchedVersion(v))
		}
		if resolution == mpi.PairMerged && !mergedInto(versions[0], versions[1]) && !mergedInto(versions[1], versions[0]) {
			return nil, fhir.At(fhir.KindUnprocessable, "business-rule", "Parameters.parameter", "Patient/%s and Patient/%s are not merged: merge them with Patient/$merge (which resolves the pair) or resolve the pair as distinct", ids[0], ids[1])
		}
		var err error
		pair, err = s.opt.Queue.Resolve(ctx, ids[0], ids[1], resolution, callerName(ctx), note, time.Now())
		return touched, err
	})
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, resource: fhir.Resource{"resourceType": "Parameters",
		"parameter": []any{map[string]any{"name": "pair", "part": pairParts(pair)}}}}, nil
}

// queueUsable checks that the queue exists and that the caller may merge.
func (s *Server) queueUsable(ctx context.Context, gr access.Request) error {
	if s.opt.Queue == nil {
		return fhir.Errorf(fhir.KindNotSupported, "the duplicate review queue is not enabled on this server")
	}
	if err := s.opt.Gate.MayRun(ctx, access.OperationMerge); err != nil {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return err
	}
	return nil
}

// mergedInto reports whether source was merged into target.
func mergedInto(source, target *store.Version) bool {
	return source != nil && target != nil && linkOf(source.Resource, "replaced-by") == "Patient/"+target.ID
}

// resolveMergedPair marks the queued pair of a merge as merged, if it was
// queued and open: a $merge is the decision.
func (s *Server) resolveMergedPair(ctx context.Context, source, target string) {
	if s.opt.Queue == nil {
		return
	}
	if _, err := s.opt.Queue.Resolve(ctx, source, target, mpi.PairMerged, callerName(ctx), "Patient/$merge", time.Now()); err != nil &&
		!fhir.IsKind(err, fhir.KindNotFound) && !fhir.IsKind(err, fhir.KindConflict) {
		s.log.Warn("the merged pair stays open in the duplicate review queue", "source", source, "target", target, "error", err)
	}
}

// callerName names the caller of ctx for the queue's records.
func callerName(ctx context.Context) string {
	p := access.PrincipalFrom(ctx)
	switch {
	case p == nil:
		return "anonymous"
	case p.User != "":
		return p.User
	}
	return "client:" + p.Client
}
