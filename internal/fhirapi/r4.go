package fhirapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/inproc"
)

// The R4 face serves the same API and store in FHIR R4 (4.0.1), below its
// own base (MountR4, /fhir/R4) or on the R5 base when the client asks for
// application/fhir+json; fhirVersion=4.0. It is a translation around the R5
// server, not a second server: a request is converted to R5 (bodies with
// package r4, search parameters renamed, media types stripped of their
// fhirVersion), served by the R5 code path, and its answer converted back.
// Status codes and headers pass through; URLs in answers already carry the
// R4 base, because the R5 code builds them from the base of the request.
//
// A PATCH applies to the R4 form of the resource (r4Patch), so its paths
// name R4 elements. Search parameters are renamed at every link of a chain
// or _has, and for the types of _type at system level (renameR4Query).

const mediaFHIRJSONR4 = mediaFHIRJSON + "; fhirVersion=4.0"

// r4MountKey marks a request that came in below the R4 base.
type r4MountKey struct{}

// MountR4 returns a handler serving the API in FHIR R4 below prefix, e.g.
// "/fhir/R4". With Options.BaseURL set, the R4 base is BaseURL + "/R4".
func (s *Server) MountR4(prefix string) http.Handler {
	prefix = strings.TrimRight(prefix, "/")
	strip := http.StripPrefix(prefix, http.HandlerFunc(s.serveR4))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), mountKey{}, prefix)
		ctx = context.WithValue(ctx, r4MountKey{}, true)
		strip.ServeHTTP(w, r.WithContext(ctx))
	})
}

// wantsR4 reports whether a request on the R5 base asks for R4 through its
// media types.
func wantsR4(r *http.Request) bool {
	has := func(v string) bool { return strings.Contains(strings.ToLower(v), "fhirversion=4.0") }
	return has(r.Header.Get("Accept")) || has(r.Header.Get("Content-Type")) || has(r.URL.Query().Get("_format"))
}

func (s *Server) serveR4(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("fhirapi: panic in the R4 face", "method", r.Method, "path", r.URL.Path, "panic", p)
			s.writeR4Error(w, r, fhir.Errorf(fhir.KindInternal, "internal error"))
		}
	}()
	if s.bulkRoute(w, r, true) {
		return
	}
	inner, err := s.requestToR5(w, r)
	if err != nil {
		s.writeR4Error(w, r, err)
		return
	}
	// HEAD runs as GET so that Content-Length is that of the R4 body;
	// relayR4 leaves the body out.
	head := r.Method == http.MethodHead
	if head {
		inner.Method = http.MethodGet
	}
	answer := inproc.NewResponse()
	s.serveR5(answer, inner)
	if head {
		inner.Method = http.MethodHead
	}
	s.relayR4(w, inner, answer)
}

// requestToR5 returns the R5 form of an R4 request.
func (s *Server) requestToR5(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	inner := r.Clone(context.WithValue(r.Context(), r4FaceKey{}, true))
	if err := r4MediaTypes(inner); err != nil {
		return nil, err
	}
	route := &request{}
	if route.route(r.URL.Path) == nil && route.typ != "" && route.typ != "*" &&
		s.opt.Model.IsResource(route.typ) && !r4Convertible(route.typ) {
		return nil, &fhir.Error{Kind: fhir.KindNotFound, Issues: []fhir.Issue{{Severity: "error", Code: "not-supported",
			Diagnostics: "resource type " + route.typ + " has no R4 conversion and is not served on the R4 API; use the R5 API"}}}
	}
	if query, err := url.ParseQuery(inner.URL.RawQuery); err == nil {
		query.Del("_format") // negotiated above; the R5 path answers JSON
		if elements := query.Get("_elements"); elements != "" {
			if query.Get("_summary") != "" {
				return nil, fhir.Errorf(fhir.KindInvalid, "_summary and _elements cannot be used together")
			}
			query.Del("_elements")
			inner = inner.WithContext(context.WithValue(inner.Context(), r4ElementsKey{}, elements))
		}
		query, err = renameR4Query(s.opt.Definitions, route.typ, query, r.Header)
		if err != nil {
			return nil, err
		}
		inner.URL.RawQuery = query.Encode()
	}
	if crit := inner.Header.Get("If-None-Exist"); crit != "" {
		if q, err := url.ParseQuery(crit); err == nil {
			q, err = renameR4Query(s.opt.Definitions, route.typ, q, r.Header)
			if err != nil {
				return nil, err
			}
			inner.Header.Set("If-None-Exist", q.Encode())
		}
	}
	if r.Body == nil || r.Body == http.NoBody || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodDelete {
		return inner, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, fhir.Errorf(fhir.KindTooLarge, "request body is larger than %d bytes", s.opt.MaxBodyBytes)
		}
		return nil, fhir.Errorf(fhir.KindInvalid, "could not read the request body")
	}
	mt, _, _ := mime.ParseMediaType(inner.Header.Get("Content-Type"))
	switch {
	case r.Method == http.MethodPatch:
		// A patch names R4 elements and applies to the R4 form (r4Patch):
		// its values stay R4.
	case mt == mediaFHIRJSON || mt == mediaJSON:
		// A body that does not parse goes through as it is: the R5 path
		// answers for it as for any malformed body.
		if res, err := fhir.ParseResource(body); err == nil {
			conv, err := requestToR5(res)
			if err != nil {
				return nil, err
			}
			if conv.Type() == "Bundle" {
				if err := renameEntryQueries(s.opt.Definitions, conv, r.Header); err != nil {
					return nil, err
				}
			}
			body = conv.JSON()
		}
	case mt == "application/x-www-form-urlencoded":
		if form, err := url.ParseQuery(string(body)); err == nil {
			form, err = renameR4Query(s.opt.Definitions, route.typ, form, r.Header)
			if err != nil {
				return nil, err
			}
			body = []byte(form.Encode())
		}
	}
	inner.Body = io.NopCloser(bytes.NewReader(body))
	inner.ContentLength = int64(len(body))
	inner.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return inner, nil
}

// r4MediaTypes checks that the request's media types admit R4 and strips
// their fhirVersion, leaving what the R5 negotiation reads.
func r4MediaTypes(r *http.Request) error {
	if f := r.URL.Query().Get("_format"); f != "" {
		if _, params, err := mime.ParseMediaType(f); err == nil {
			if v := params["fhirversion"]; v != "" && v != "4.0" {
				return fhir.Errorf(fhir.KindNotAcceptable, "_format fhirVersion %s is not served on the R4 API", v)
			}
		}
		switch f {
		case "xml", "text/xml", "application/xml", "application/fhir+xml":
			return fhir.Errorf(fhir.KindNotAcceptable, "_format %q is not supported: this server speaks JSON", f)
		}
	}
	if accept := r.Header.Get("Accept"); accept != "" {
		var kept []string
		for _, part := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if v := params["fhirversion"]; v != "" && v != "4.0" {
				continue
			}
			delete(params, "fhirversion")
			kept = append(kept, mime.FormatMediaType(mt, params))
		}
		if len(kept) == 0 {
			return fhir.Errorf(fhir.KindNotAcceptable, "cannot answer in %q: this API serves %s", accept, mediaFHIRJSONR4)
		}
		r.Header.Set("Accept", strings.Join(kept, ", "))
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err == nil {
			if v := params["fhirversion"]; v != "" && v != "4.0" {
				return fhir.Errorf(fhir.KindUnsupportedMedia, "fhirVersion %s is not accepted on the R4 API; send %s", v, mediaFHIRJSONR4)
			}
			delete(params, "fhirversion")
			r.Header.Set("Content-Type", mime.FormatMediaType(mt, params))
		}
	}
	return nil
}

// renameEntryQueries renames the R4 search parameters in the request URLs
// and ifNoneExist criteria of a batch or transaction.
func renameEntryQueries(defs *spec.Definitions, bundle fhir.Resource, header http.Header) error {
	entries, _ := bundle["entry"].([]any)
	for _, e := range entries {
		entry, _ := e.(map[string]any)
		req, _ := entry["request"].(map[string]any)
		if req == nil {
			continue
		}
		u, _ := req["url"].(string)
		path, rawQuery, hasQuery := strings.Cut(u, "?")
		typ, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		for key, raw := range map[string]string{"url": rawQuery, "ifNoneExist": ""} {
			if key == "url" && !hasQuery {
				continue
			}
			if key == "ifNoneExist" {
				s, ok := req[key].(string)
				if !ok {
					continue
				}
				raw = s
			}
			q, err := url.ParseQuery(raw)
			if err != nil {
				continue // the R5 path reports it
			}
			q, err = renameR4Query(defs, typ, q, header)
			if err != nil {
				return err
			}
			if key == "url" {
				req[key] = path + "?" + q.Encode()
			} else {
				req[key] = q.Encode()
			}
		}
	}
	return nil
}

// relayR4 writes the R5 answer in R4: the body converted, the status and
// headers as they are but for the media type and length.
func (s *Server) relayR4(w http.ResponseWriter, inner *http.Request, answer *inproc.Response) {
	status := answer.Status
	if status == 0 {
		status = http.StatusOK
	}
	body := answer.Body.Bytes()
	mt, _, _ := mime.ParseMediaType(answer.Header().Get("Content-Type"))
	isFHIR := len(body) > 0 && (mt == mediaFHIRJSON || mt == mediaJSON)
	if isFHIR {
		conv, err := s.answerBodyToR4(inner, status, body)
		if err != nil {
			// Nothing of the R5 answer is sent: its headers would describe
			// a resource the client does not get.
			s.log.Error("fhirapi: R5 answer without an R4 form", "method", inner.Method, "path", inner.URL.Path, "err", err)
			s.writeR4Error(w, inner, fhir.Errorf(fhir.KindInternal, "internal error"))
			return
		}
		if conv != nil {
			body = conv
		}
	}
	h := w.Header()
	for k, v := range answer.Header() {
		h[k] = v
	}
	if isFHIR {
		h.Set("Content-Type", mediaFHIRJSONR4+"; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if inner.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// answerBodyToR4 converts an R5 answer body; nil with a nil error leaves
// a body that is not a resource as it is.
func (s *Server) answerBodyToR4(inner *http.Request, status int, body []byte) ([]byte, error) {
	res, err := fhir.ParseResource(body)
	if err != nil {
		return nil, nil
	}
	var conv fhir.Resource
	if res.Type() == "CapabilityStatement" {
		conv = capabilitiesToR4(res)
	} else if conv, err = answerToR4(s.opt.Definitions, res, s.baseURL(inner)); err != nil {
		return nil, err
	}
	if elements, ok := inner.Context().Value(r4ElementsKey{}).(string); ok && status < 300 {
		conv = applyR4Elements(conv, parseR4Elements(elements))
		addToLinks(conv, "_elements", elements)
	}
	out := fhir.AppendJSON(make([]byte, 0, len(body)), map[string]any(conv))
	if inner.URL.Query().Get("_pretty") == "true" {
		out = indent(out)
	}
	return out, nil
}

// writeR4Error answers err with an OperationOutcome, as writeError does,
// in the R4 media type.
func (s *Server) writeR4Error(w http.ResponseWriter, r *http.Request, err error) {
	answer := inproc.NewResponse()
	s.writeError(answer, r, err)
	s.relayR4(w, r, answer)
}
