package fhirapi

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// create answers POST [type], conditionally with If-None-Exist.
func (s *Server) create(ctx context.Context, req *request) (*response, error) {
	res, err := s.bodyResource(req)
	if err != nil {
		return nil, err
	}
	ifNoneExist := req.header.Get("If-None-Exist")
	// A conditional create stays exact: its criteria, not the matcher,
	// decide whether the patient exists.
	var dups *duplicateCheck
	if ifNoneExist == "" {
		if dups, err = s.checkDuplicates(ctx, res, req.header, res.Type()); err != nil {
			return nil, err
		}
	}
	var v *store.Version
	created := true
	err = s.opt.Gate.Write(ctx, gateRequest(req, "create"), func(tx store.Tx) ([]access.Touched, error) {
		var err error
		if ifNoneExist != "" {
			delete(res, "id") // a create never keeps the client's id
			v, created, err = s.conditionalCreateIn(tx, req.base, res, ifNoneExist, "")
		} else {
			v, err = s.createIn(tx, res)
		}
		if err != nil {
			return nil, err
		}
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	if err != nil {
		return nil, err
	}
	if !created {
		return s.writeResult(req, v, http.StatusOK), nil
	}
	resp := s.writeResult(req, v, http.StatusCreated)
	dups.report(req, resp, v.Type)
	return resp, nil
}

// createIn validates and stores a new resource with a fresh id.
func (s *Server) createIn(tx store.Tx, res fhir.Resource) (*store.Version, error) {
	res.SetID(store.NewID())
	if err := s.validate(res, ""); err != nil {
		return nil, err
	}
	v, _, err := tx.Update(res, 0)
	return v, err
}

// update answers PUT [type]/[id], creating the resource with the client's id
// when it does not exist, and PUT [type]?criteria (conditional update).
func (s *Server) update(ctx context.Context, req *request) (*response, error) {
	res, err := s.bodyResource(req)
	if err != nil {
		return nil, err
	}
	ifMatch, err := ifMatchOf(req)
	if err != nil {
		return nil, err
	}
	var v *store.Version
	var created bool
	err = s.opt.Gate.Write(ctx, gateRequest(req, "update"), func(tx store.Tx) ([]access.Touched, error) {
		tx = s.restoring(ctx, tx)
		var err error
		if req.id == "" {
			v, created, err = s.conditionalUpdateIn(tx, req.base, req.typ, req.query, res, ifMatch, "")
		} else {
			v, created, err = s.updateIn(tx, req.id, res, ifMatch, "")
		}
		if err != nil {
			return nil, err
		}
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	if err != nil {
		return nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return s.writeResult(req, v, status), nil
}

// updateIn checks the id, validates and stores res as the next version of
// its resource. prefix locates res in a Bundle for error expressions.
func (s *Server) updateIn(tx store.Tx, id string, res fhir.Resource, ifMatch int64, prefix string) (*store.Version, bool, error) {
	switch bodyID := res.ID(); {
	case bodyID == "":
		return nil, false, fhir.At(fhir.KindInvalid, "required", exprIn(prefix, res.Type(), ".id"), "the resource has no id; an update must carry the id of the URL (%s)", id)
	case bodyID != id:
		return nil, false, fhir.At(fhir.KindInvalid, "invalid", exprIn(prefix, res.Type(), ".id"), "the resource id %q does not match the id %q in the URL", bodyID, id)
	}
	if err := s.validate(res, prefix); err != nil {
		return nil, false, err
	}
	return tx.Update(res, ifMatch)
}

// delete answers DELETE [type]/[id]: a tombstone version, 204 No Content.
func (s *Server) delete(ctx context.Context, req *request) (*response, error) {
	ifMatch, err := ifMatchOf(req)
	if err != nil {
		return nil, err
	}
	var v *store.Version
	err = s.opt.Gate.Write(ctx, gateRequest(req, "delete"), func(tx store.Tx) ([]access.Touched, error) {
		var err error
		v, err = tx.Delete(req.typ, req.id, ifMatch)
		if err != nil {
			return nil, err
		}
		return []access.Touched{{Type: req.typ, ID: req.id, VersionID: versionOf(v)}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusNoContent, version: v}, nil
}

// patch answers PATCH [type]/[id], and PATCH [type]?criteria (exactly one
// match), with a JSON Patch or a FHIRPath Patch.
func (s *Server) patch(ctx context.Context, req *request) (*response, error) {
	if req.body == nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "PATCH needs a body: a JSON Patch (%s) or a FHIRPath Patch Parameters resource (%s)", mediaJSONPatch, mediaFHIRJSON)
	}
	apply, err := s.patchFunc(ctx, mediaTypeOf(req), req.body)
	if err != nil {
		return nil, err
	}
	ifMatch, err := ifMatchOf(req)
	if err != nil {
		return nil, err
	}
	var v *store.Version
	err = s.opt.Gate.Write(ctx, gateRequest(req, "patch"), func(tx store.Tx) ([]access.Touched, error) {
		tx = s.restoring(ctx, tx)
		id := req.id
		if id == "" { // PATCH [type]?criteria: exactly one match
			var err error
			if id, err = s.singleMatchIn(tx, req.base, req.typ, req.query); err != nil {
				return nil, err
			}
		}
		var err error
		v, err = s.patchIn(tx, req.typ, id, apply, ifMatch, "")
		if err != nil {
			return nil, err
		}
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	if err != nil {
		return nil, err
	}
	return s.writeResult(req, v, http.StatusOK), nil
}

// mediaTypeOf is the request body's media type without parameters.
func mediaTypeOf(req *request) string {
	mt, _, _ := mime.ParseMediaType(req.header.Get("Content-Type"))
	return mt
}

// patchFunc returns the patch to apply for a body of media type mt. A
// patch that came through the R4 face applies to the R4 form of the
// resource (see r4Patch).
func (s *Server) patchFunc(ctx context.Context, mt string, body []byte) (func(fhir.Resource) (fhir.Resource, error), error) {
	onR4 := ctx.Value(r4FaceKey{}) != nil
	fhirPathPatch := s.opt.Patch
	if onR4 {
		fhirPathPatch = s.opt.PatchR4
	}
	switch mt {
	case mediaJSONPatch:
		ops, err := parseJSONPatch(body)
		if err != nil {
			return nil, err
		}
		apply := func(res fhir.Resource) (fhir.Resource, error) { return applyJSONPatch(res, ops) }
		if onR4 {
			return r4Patch(apply), nil
		}
		return apply, nil
	case mediaFHIRJSON, mediaJSON, "":
		params, err := fhir.ParseResource(body)
		if err != nil {
			return nil, fhir.Errorf(fhir.KindInvalid, "the FHIRPath Patch body is not a resource: %v", err)
		}
		if params.Type() != "Parameters" {
			return nil, fhir.Errorf(fhir.KindInvalid, "a FHIRPath Patch is a Parameters resource, not %s; a JSON Patch needs Content-Type %s", params.Type(), mediaJSONPatch)
		}
		if fhirPathPatch == nil {
			return nil, fhir.Errorf(fhir.KindNotSupported, "FHIRPath Patch is not available")
		}
		apply := func(res fhir.Resource) (fhir.Resource, error) { return fhirPathPatch(res, params) }
		if onR4 {
			return r4Patch(apply), nil
		}
		return apply, nil
	default:
		return nil, fhir.Errorf(fhir.KindUnsupportedMedia, "PATCH accepts %s or %s, not %q", mediaJSONPatch, mediaFHIRJSON, mt)
	}
}

// patchIn reads the current version inside tx, applies the patch, checks
// that type and id are unchanged, validates and stores the result.
func (s *Server) patchIn(tx store.Tx, typ, id string, apply func(fhir.Resource) (fhir.Resource, error), ifMatch int64, prefix string) (*store.Version, error) {
	cur, err := tx.Read(typ, id)
	if err != nil {
		return nil, err
	}
	if ifMatch != 0 && cur.VersionID != ifMatch {
		return nil, fhir.Errorf(fhir.KindPreconditionFailed, "%s/%s is at version %d, not %d", typ, id, cur.VersionID, ifMatch)
	}
	patched, err := apply(cur.Resource.Clone())
	if err != nil {
		if fhir.KindOf(err) == fhir.KindInternal {
			return nil, fhir.Errorf(fhir.KindUnprocessable, "the patch cannot be applied: %v", err)
		}
		return nil, err
	}
	if patched.Type() != typ || patched.ID() != id {
		return nil, fhir.Errorf(fhir.KindUnprocessable, "a patch may not change the resource type or id")
	}
	if err := s.validate(patched, prefix); err != nil {
		return nil, err
	}
	v, _, err := tx.Update(patched, cur.VersionID)
	return v, err
}

// bodyResource parses the request body as a resource of the request's type.
func (s *Server) bodyResource(req *request) (fhir.Resource, error) {
	if req.body == nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "the request has no body; send a %s resource as %s", req.typ, mediaFHIRJSON)
	}
	res, err := parseBody(req.body)
	if err != nil {
		return nil, err
	}
	if res.Type() != req.typ {
		return nil, fhir.At(fhir.KindInvalid, "invalid", res.Type(), "the body is a %s but the URL is for %s", res.Type(), req.typ)
	}
	return res, nil
}

// parseBody parses a resource, answering bad JSON with a clear 400.
func parseBody(body []byte) (fhir.Resource, error) {
	res, err := fhir.ParseResource(body)
	if err != nil {
		var syn *fhir.SyntaxError
		if errors.As(err, &syn) {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Issues: []fhir.Issue{{Severity: "error", Code: "structure", Diagnostics: "the body is not valid JSON: " + syn.Error()}}}
		}
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Issues: []fhir.Issue{{Severity: "error", Code: "structure", Diagnostics: err.Error()}}}
	}
	return res, nil
}

// validate runs the validator and turns its errors into one *fhir.Error.
// Structural problems answer 400; rule (invariant) failures 422. prefix, when
// set (e.g. "Bundle.entry[2].resource"), replaces the resource type at the
// start of each expression so that it points into the Bundle.
func (s *Server) validate(res fhir.Resource, prefix string) error {
	if s.opt.Labeler != nil {
		s.opt.Labeler.Label(res) // sensitive categories, before it is checked and stored
	}
	var errs []fhir.Issue
	onlyRules := true
	for _, is := range s.opt.Validator.Validate(res) {
		if is.Severity != "error" && is.Severity != "fatal" {
			continue
		}
		if is.Code != "invariant" && is.Code != "business-rule" {
			onlyRules = false
		}
		if prefix != "" {
			exprs := make([]string, len(is.Expression))
			for i, e := range is.Expression {
				exprs[i] = prefix + strings.TrimPrefix(e, res.Type())
			}
			is.Expression = exprs
		}
		errs = append(errs, is)
	}
	if len(errs) == 0 {
		return nil
	}
	kind := fhir.KindInvalid
	if onlyRules {
		kind = fhir.KindUnprocessable
	}
	return &fhir.Error{Kind: kind, Issues: errs}
}

// exprIn is the expression of element rest of a resource of type typ, placed
// under prefix when the resource sits in a Bundle.
func exprIn(prefix, typ, rest string) string {
	if prefix != "" {
		return prefix + rest
	}
	return typ + rest
}

func ifMatchOf(req *request) (int64, error) {
	im := req.header.Get("If-Match")
	if im == "" {
		return 0, nil
	}
	return parseETag(im)
}

func versionOf(v *store.Version) int64 {
	if v == nil {
		return 0
	}
	return v.VersionID
}

// writeResult renders a successful write per Prefer: return=.
func (s *Server) writeResult(req *request, v *store.Version, status int) *response {
	resp := &response{status: status, version: v}
	if status == http.StatusCreated {
		resp.location = req.base + "/" + v.Type + "/" + v.ID + "/_history/" + itoa(v.VersionID)
	}
	switch preferReturn(req.header) {
	case "minimal":
	case "OperationOutcome":
		resp.resource = fhir.OperationOutcome(fhir.Issue{Severity: "information", Code: "informational",
			Diagnostics: v.Type + "/" + v.ID + " version " + itoa(v.VersionID) + " stored"})
	default:
		resp.resource = v.Resource
	}
	return resp
}
