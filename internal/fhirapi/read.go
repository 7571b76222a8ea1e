package fhirapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// read answers GET [type]/[id], with If-None-Match and If-Modified-Since.
func (s *Server) read(ctx context.Context, req *request) (*response, error) {
	var v *store.Version
	err := s.opt.Gate.Read(ctx, gateRequest(req, "read"), func() ([]access.Touched, error) {
		var err error
		v, err = s.opt.Gate.Guard(ctx, s.opt.Store).Read(ctx, req.typ, req.id)
		if err != nil {
			return nil, err
		}
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	if err != nil {
		return nil, err
	}
	return s.readResponse(req, v)
}

// vread answers GET [type]/[id]/_history/[vid].
func (s *Server) vread(ctx context.Context, req *request) (*response, error) {
	vid, err := strconv.ParseInt(req.vid, 10, 64)
	if err != nil || vid < 1 {
		return nil, fhir.Errorf(fhir.KindNotFound, "%q is not a version id of %s/%s", req.vid, req.typ, req.id)
	}
	var v *store.Version
	err = s.opt.Gate.Read(ctx, gateRequest(req, "vread"), func() ([]access.Touched, error) {
		var err error
		v, err = s.opt.Gate.Guard(ctx, s.opt.Store).VRead(ctx, req.typ, req.id, vid)
		if err != nil {
			return nil, err
		}
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	if err != nil {
		return nil, err
	}
	if v.Deleted {
		return nil, fhir.Errorf(fhir.KindGone, "version %d of %s/%s is a deletion", vid, req.typ, req.id)
	}
	return s.readResponse(req, v)
}

// readResponse renders a read, honouring conditional read headers and
// _summary/_elements.
func (s *Server) readResponse(req *request, v *store.Version) (*response, error) {
	if inm := req.header.Get("If-None-Match"); inm != "" {
		if vid, err := parseETag(inm); err == nil && vid == v.VersionID {
			return &response{status: http.StatusNotModified, version: v, notModified: true}, nil
		}
	}
	if ims := req.header.Get("If-Modified-Since"); ims != "" {
		if t, ok := httpDate(ims); ok && !v.LastUpdated.Truncate(1e9).After(t) {
			return &response{status: http.StatusNotModified, version: v, notModified: true}, nil
		}
	}
	res, err := s.shape(v.Resource, req.query)
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, resource: res, version: v}, nil
}
