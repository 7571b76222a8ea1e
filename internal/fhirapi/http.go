package fhirapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

const (
	mediaFHIRJSON  = "application/fhir+json"
	mediaJSON      = "application/json"
	mediaJSONPatch = "application/json-patch+json"
)

// negotiate checks that the client can read JSON and, when it sends a body,
// that the body is in a media type we read. Only R5 is served here: a
// fhirVersion other than 5.0 is refused.
func negotiate(r *http.Request) error {
	if f := r.URL.Query().Get("_format"); f != "" {
		switch f {
		case "json", mediaJSON, mediaFHIRJSON, "application/fhir+json; fhirVersion=5.0":
		case "xml", "text/xml", "application/xml", "application/fhir+xml":
			return fhir.Errorf(fhir.KindNotAcceptable, "_format %q is not supported: this server speaks JSON", f)
		default:
			return fhir.Errorf(fhir.KindNotAcceptable, "unknown _format %q", f)
		}
	} else if accept := r.Header.Get("Accept"); accept != "" && !acceptsJSON(accept) {
		return fhir.Errorf(fhir.KindNotAcceptable, "cannot answer in %q: this server speaks application/fhir+json", accept)
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody &&
		r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodDelete {
		ct := r.Header.Get("Content-Type")
		mt, params, err := mime.ParseMediaType(ct)
		if ct == "" || err != nil {
			return fhir.Errorf(fhir.KindUnsupportedMedia, "the request body needs a Content-Type of %s", mediaFHIRJSON)
		}
		switch mt {
		case mediaFHIRJSON, mediaJSON:
		case mediaJSONPatch:
			if r.Method != http.MethodPatch {
				return fhir.Errorf(fhir.KindUnsupportedMedia, "%s is only accepted for PATCH", mt)
			}
		case "application/x-www-form-urlencoded":
			if !strings.HasSuffix(r.URL.Path, "/_search") {
				return fhir.Errorf(fhir.KindUnsupportedMedia, "Content-Type %s is only accepted for _search; send resources as %s", mt, mediaFHIRJSON)
			}
		default:
			return fhir.Errorf(fhir.KindUnsupportedMedia, "Content-Type %q is not supported; send %s", mt, mediaFHIRJSON)
		}
		if v := params["fhirversion"]; v != "" && v != "5.0" {
			return fhir.Errorf(fhir.KindUnsupportedMedia, "fhirVersion %s is not supported on this endpoint; it serves FHIR 5.0", v)
		}
	}
	return nil
}

// acceptsJSON reports whether an Accept header admits a JSON answer in R5.
func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if v := params["fhirversion"]; v != "" && v != "5.0" {
			continue
		}
		if q := params["q"]; q == "0" || q == "0.0" {
			continue
		}
		switch mt {
		case "*/*", "application/*", mediaFHIRJSON, mediaJSON, "text/*", "text/plain", "text/html":
			return true
		}
	}
	return false
}

// responseMediaType echoes application/json to clients that asked only for
// it, and otherwise answers application/fhir+json.
func responseMediaType(r *http.Request) string {
	if f := r.URL.Query().Get("_format"); f == mediaJSON {
		return mediaJSON + "; charset=utf-8"
	}
	if a := r.Header.Get("Accept"); strings.Contains(a, mediaJSON) && !strings.Contains(a, mediaFHIRJSON) {
		return mediaJSON + "; charset=utf-8"
	}
	return mediaFHIRJSON + "; charset=utf-8"
}

// preferReturn reads Prefer: return=… ("minimal", "representation",
// "OperationOutcome"), "" when absent.
func preferReturn(h http.Header) string {
	for _, v := range h.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if r, ok := strings.CutPrefix(part, "return="); ok {
				return strings.Trim(r, `"`)
			}
		}
	}
	return ""
}

func etag(vid int64) string { return `W/"` + strconv.FormatInt(vid, 10) + `"` }

// parseETag reads a version from an If-Match style value: W/"3", "3" or 3.
func parseETag(s string) (int64, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.Trim(s, `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fhir.Errorf(fhir.KindInvalid, "%q is not a version ETag such as W/\"3\"", s)
	}
	return n, nil
}

func (s *Server) writeResponse(w http.ResponseWriter, r *http.Request, req *request, resp *response) {
	h := w.Header()
	if v := resp.version; v != nil {
		h.Set("ETag", etag(v.VersionID))
		h.Set("Last-Modified", v.LastUpdated.UTC().Format(http.TimeFormat))
	}
	if resp.location != "" {
		h.Set("Location", resp.location)
		if resp.status == http.StatusCreated {
			h.Set("Content-Location", resp.location)
		}
	}
	for k, v := range resp.header {
		h[k] = v
	}
	if resp.notModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if resp.resource == nil {
		w.WriteHeader(resp.status)
		return
	}
	body := fhir.AppendJSON(make([]byte, 0, 1024), map[string]any(resp.resource))
	if req.pretty {
		body = indent(body)
	}
	h.Set("Content-Type", responseMediaType(r))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// statusOf maps an error kind to its HTTP status.
func statusOf(k fhir.Kind) int {
	switch k {
	case fhir.KindInvalid:
		return http.StatusBadRequest
	case fhir.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case fhir.KindNotFound:
		return http.StatusNotFound
	case fhir.KindGone:
		return http.StatusGone
	case fhir.KindConflict:
		return http.StatusConflict
	case fhir.KindPreconditionFailed:
		return http.StatusPreconditionFailed
	case fhir.KindForbidden:
		return http.StatusForbidden
	case fhir.KindUnauthorized:
		return http.StatusUnauthorized
	case fhir.KindNotSupported:
		return http.StatusNotImplemented
	case fhir.KindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case fhir.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case fhir.KindUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case fhir.KindNotAcceptable:
		return http.StatusNotAcceptable
	default:
		return http.StatusInternalServerError
	}
}

// outcomeOf turns any error into its status and OperationOutcome. Internal
// errors are logged with their cause and answered without it.
func (s *Server) outcomeOf(r *http.Request, err error) (int, fhir.Resource) {
	kind := fhir.KindOf(err)
	status := statusOf(kind)
	if kind == fhir.KindInternal {
		s.log.Error("fhirapi: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		return status, fhir.OperationOutcome(fhir.Issue{Severity: "fatal", Code: "exception", Diagnostics: "internal server error; the details are in the server log"})
	}
	var issues []fhir.Issue
	if e, ok := asFHIRError(err); ok {
		issues = e.Issues
	}
	if len(issues) == 0 {
		issues = []fhir.Issue{{Severity: "error", Code: "processing", Diagnostics: err.Error()}}
	}
	return status, fhir.OperationOutcome(issues...)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, oo := s.outcomeOf(r, err)
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", allowedFrom(err))
	}
	writeJSON(w, r, status, mediaFHIRJSON, oo.JSON())
}

// writeJSON answers status with body of contentType, without the body for HEAD.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType+"; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func allowedFrom(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "allowed: "); i >= 0 {
		return msg[i+len("allowed: "):]
	}
	return ""
}

func asFHIRError(err error) (*fhir.Error, bool) {
	var fe *fhir.Error
	ok := errors.As(err, &fe)
	return fe, ok
}

// indent pretty-prints JSON for _pretty=true.
func indent(body []byte) []byte {
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		return body
	}
	return buf.Bytes()
}

// httpDate parses an HTTP date (If-Modified-Since).
func httpDate(s string) (time.Time, bool) {
	t, err := http.ParseTime(s)
	return t, err == nil
}
