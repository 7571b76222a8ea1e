// Package fhirapi is the FHIR R5 REST API: it turns HTTP requests into
// interactions (read, vread, create, update, patch, delete, history, batch,
// transaction, capabilities), runs each through the access gate and the
// store, and answers with the status codes, headers and OperationOutcomes the
// specification prescribes. Every error is translated to HTTP in one place
// (writeError).
package fhirapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/deid"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Validator checks a resource against the definitions before it is written.
type Validator interface {
	// Validate returns the problems found; any issue of severity error or
	// fatal rejects the write.
	Validate(res fhir.Resource) []fhir.Issue
}

// Model is what the API needs to know of the FHIR definitions.
type Model interface {
	// ResourceTypes lists every concrete resource type, sorted.
	ResourceTypes() []string
	// IsResource reports whether name is a concrete resource type.
	IsResource(name string) bool
	// ElementInfo describes the element at path (e.g. "Patient.contact.name",
	// "Observation.value[x]"): whether it is in the summary and its minimum
	// cardinality. ok is false for an unknown path.
	ElementInfo(path string) (summary bool, min int, ok bool)
}

// FHIRPathPatcher applies a FHIRPath Patch (a Parameters resource) and
// returns the patched copy.
type FHIRPathPatcher func(res, patch fhir.Resource) (fhir.Resource, error)

// Options configure a Server. Store, Gate, Validator and Model are required.
type Options struct {
	Store     store.Store
	Gate      *access.Gate
	Validator Validator
	Model     Model
	// Definitions drive search parameters, compartments and $everything.
	Definitions *spec.Definitions
	Patch       FHIRPathPatcher
	// PatchR4 applies a FHIRPath Patch sent through the R4 face to the R4
	// form of a resource, with R4 type information; without it the R4
	// face refuses FHIRPath Patch (JSON Patch needs no type information).
	PatchR4 FHIRPathPatcher
	// BaseURL is the public base of the API, e.g. https://emr.example.org/fhir.
	// When empty it is derived from each request's Host and scheme. The
	// R4 API (MountR4) answers at BaseURL + "/R4".
	BaseURL string
	// MaxBodyBytes bounds a request body; larger bodies answer 413.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Labeler, when set, adds the security labels of sensitive categories
	// to every resource written (access.Labeler).
	Labeler interface{ Label(fhir.Resource) }
	// OAuth, when set, declares SMART on FHIR security in the
	// CapabilityStatement, with these endpoints by name (authorize, token,
	// revoke, introspect).
	OAuth map[string]string
	// BreakGlass enables the $break-glass and $break-glass-review
	// operations; nil leaves them out.
	BreakGlass *access.BreakGlass
	// Deidentifier enables Patient/[id]/$deidentify (deidentify.go) with
	// its key; nil leaves the operation out.
	Deidentifier *deid.Deidentifier
	// Matcher enables Patient/$match and the duplicate check of every
	// Patient created (Duplicates); nil leaves both out.
	Matcher *mpi.Matcher
	// Queue enables the duplicate review queue (Patient/$duplicates and
	// $resolve-duplicate, duplicatequeue.go); nil leaves it out.
	Queue *mpi.Queue
	// Duplicates is what a create does about the matcher's candidates
	// (duplicates.go): DuplicatesWarn (the default) or DuplicatesRefuse.
	Duplicates DuplicatePolicy
	// Bulk enables the Bulk Data export ($export, bulkexport.go); the
	// jobs run in RunBulkExports. nil leaves it out.
	Bulk     *BulkExport
	Software string // name in the CapabilityStatement
	Version  string // software version
}

// DefaultMaxBodyBytes is large enough for a Synthea patient transaction
// Bundle (a few MB) with room to spare.
const DefaultMaxBodyBytes = 64 << 20

// Server serves the FHIR API. Mount it at /fhir/ with http.StripPrefix.
type Server struct {
	opt          Options
	log          *slog.Logger
	capabilities []byte
	// mergeParams are the reference parameters outside the Patient
	// compartment that $merge looks through (mergerefs.go), made once.
	mergeParams     []referenceParam
	mergeParamsOnce sync.Once
	// exportWake tells RunBulkExports of a job just accepted.
	exportWake chan struct{}
}

// New returns a Server.
func New(opt Options) *Server {
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Software == "" {
		opt.Software = "emr"
	}
	s := &Server{opt: opt, log: opt.Logger, exportWake: make(chan struct{}, 1)}
	s.capabilities = s.buildCapabilities().JSON()
	return s
}

// request is one interaction, from HTTP or from a Bundle entry.
type request struct {
	method string
	typ    string
	id     string
	vid    string
	op     string // "_history", "_search", "metadata", "$name" or ""
	// compartment is set for a compartment search (/Patient/123/Observation);
	// typ is then the type searched, "*" for every type in the compartment.
	compartment *search.CompartmentRef
	query       url.Values
	header      http.Header
	body        []byte // raw request body, nil when none
	base        string // public base URL, no trailing slash
	agent       audit.Agent
	// pretty and format preferences come from the HTTP request only.
	pretty bool
}

// response is what an interaction answers; the HTTP adapter and the Bundle
// processor both render it.
type response struct {
	status      int
	resource    fhir.Resource // body, nil for none
	version     *store.Version
	location    string // absolute Location header value
	notModified bool
	header      http.Header // further headers
	// outcome is an OperationOutcome of warnings for a successful write
	// (a created patient's possible duplicates): the body, or in a Bundle
	// entry.response.outcome.
	outcome fhir.Resource
}

// ServeHTTP serves R5, or R4 when the media types ask for
// fhirVersion=4.0 (see MountR4).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if wantsR4(r) {
		s.serveR4(w, r)
		return
	}
	s.serveR5(w, r)
}

func (s *Server) serveR5(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("fhirapi: panic", "method", r.Method, "path", r.URL.Path, "panic", p)
			s.writeError(w, r, fhir.Errorf(fhir.KindInternal, "internal error"))
		}
	}()
	if s.bulkRoute(w, r, false) {
		return
	}
	if err := negotiate(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := s.parseHTTP(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.dispatch(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Every answer, whatever produced it (read, search, history,
	// $everything, batch and transaction responses; the R4 face comes
	// through here too), leaves with the caller's masked elements hidden:
	// one place, so that no interaction forgets.
	resp.resource = s.opt.Gate.Mask(r.Context(), resp.resource)
	s.writeResponse(w, r, req, resp)
}

// parseHTTP reads the route, query and body of r.
func (s *Server) parseHTTP(w http.ResponseWriter, r *http.Request) (*request, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "malformed query string: %v", err)
	}
	// _format and _pretty are HTTP concerns handled here, not parameters.
	pretty := query.Get("_pretty") == "true"
	query.Del("_format")
	query.Del("_pretty")
	req := &request{
		method: r.Method,
		query:  query,
		header: r.Header,
		base:   s.baseURL(r),
		agent:  audit.Agent{Address: remoteAddr(r)},
		pretty: pretty,
	}
	if err := req.route(r.URL.Path); err != nil {
		return nil, err
	}
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodDelete {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, fhir.Errorf(fhir.KindTooLarge, "request body is larger than %d bytes", s.opt.MaxBodyBytes)
			}
			return nil, fhir.Errorf(fhir.KindInvalid, "could not read the request body")
		}
		if len(body) > 0 {
			req.body = body
		}
	}
	return req, nil
}

// route splits a path below the base into type, id, vid and operation.
func (req *request) route(path string) error {
	path = strings.Trim(path, "/")
	var parts []string
	if path != "" {
		parts = strings.Split(path, "/")
	}
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil || u == "" {
			return fhir.Errorf(fhir.KindNotFound, "unknown route /%s", path)
		}
		parts[i] = u
	}
	isOp := func(p string) bool { return strings.HasPrefix(p, "$") }
	switch {
	case len(parts) == 0:
	case len(parts) == 1 && (parts[0] == "metadata" || parts[0] == "_history" || parts[0] == "_search" || isOp(parts[0])):
		req.op = parts[0]
	case len(parts) == 1:
		req.typ = parts[0]
	case len(parts) == 2 && (parts[1] == "_history" || parts[1] == "_search" || isOp(parts[1])):
		req.typ, req.op = parts[0], parts[1]
	case len(parts) == 2:
		req.typ, req.id = parts[0], parts[1]
	case len(parts) == 3 && (parts[2] == "_history" || isOp(parts[2])):
		req.typ, req.id, req.op = parts[0], parts[1], parts[2]
	case len(parts) == 4 && parts[2] == "_history":
		req.typ, req.id, req.op, req.vid = parts[0], parts[1], "_history", parts[3]
	case len(parts) == 3 || (len(parts) == 4 && parts[3] == "_search"):
		// Compartment search: /Patient/123/Observation or /Patient/123/*.
		req.compartment = &search.CompartmentRef{Type: parts[0], ID: parts[1]}
		req.typ = parts[2]
		if len(parts) == 4 {
			req.op = "_search"
		}
	default:
		return fhir.Errorf(fhir.KindNotFound, "unknown route /%s", path)
	}
	return nil
}

// dispatch runs one interaction. It is the single entry point for HTTP
// requests and Bundle entries processed outside a transaction.
func (s *Server) dispatch(ctx context.Context, req *request) (*response, error) {
	if req.compartment != nil && req.typ == "AuditEvent" && req.compartment.Type == "Patient" {
		// Patient/[id]/AuditEvent: the log's search for that patient.
		return s.auditCompartment(ctx, req)
	}
	if req.compartment != nil {
		return s.compartmentSearch(ctx, req)
	}
	if req.typ != "" && !s.opt.Model.IsResource(req.typ) {
		return nil, fhir.Errorf(fhir.KindNotFound, "unknown resource type %q", req.typ)
	}
	if req.id != "" && !fhir.ValidID(req.id) {
		return nil, fhir.Errorf(fhir.KindNotFound, "%q is not a valid resource id", req.id)
	}
	m := req.method
	if m == http.MethodHead {
		m = http.MethodGet
	}
	switch {
	case req.typ == "AuditEvent":
		return s.auditEvent(ctx, req)
	case req.op == "$access-report" && req.typ == "Patient" && req.id != "":
		if m != http.MethodGet {
			return nil, methodNotAllowed(req, "GET")
		}
		return s.accessReport(ctx, req)
	case req.op == "metadata":
		if m != http.MethodGet {
			return nil, methodNotAllowed(req, "GET")
		}
		return s.metadata(ctx, req)
	case req.typ == "" && req.op == "":
		switch m {
		case http.MethodPost:
			return s.bundle(ctx, req)
		case http.MethodGet:
			return s.search(ctx, req)
		}
		return nil, methodNotAllowed(req, "GET, POST")
	case req.op == "_history":
		if m != http.MethodGet {
			return nil, methodNotAllowed(req, "GET")
		}
		if req.vid != "" {
			return s.vread(ctx, req)
		}
		return s.history(ctx, req)
	case req.op == "_search":
		if m != http.MethodPost {
			return nil, methodNotAllowed(req, "POST")
		}
		return s.search(ctx, req)
	case req.op == "$everything" && req.typ == "Patient" && req.id != "":
		if m != http.MethodGet {
			return nil, methodNotAllowed(req, "GET")
		}
		return s.everything(ctx, req)
	case req.op == "$deidentify" && req.typ == "Patient" && req.id != "":
		if m != http.MethodGet {
			return nil, methodNotAllowed(req, "GET")
		}
		return s.deidentify(ctx, req)
	case req.op == "$break-glass" && req.typ == "Patient" && req.id != "":
		return s.breakGlass(ctx, req)
	case req.op == "$match" && req.typ == "Patient" && req.id == "":
		return s.patientMatch(ctx, req)
	case req.op == "$duplicates" && req.typ == "Patient" && req.id == "":
		return s.duplicates(ctx, req)
	case req.op == "$resolve-duplicate" && req.typ == "Patient" && req.id == "":
		return s.resolveDuplicate(ctx, req)
	case (req.op == "$merge" || req.op == "$unmerge") && req.typ == "Patient" && req.id == "":
		return s.merge(ctx, req)
	case req.op == "$break-glass-review" && req.typ == "" && req.id == "":
		return s.breakGlassReview(ctx, req)
	case strings.HasPrefix(req.op, "$"):
		return nil, fhir.Errorf(fhir.KindNotSupported, "operation %s is not supported", req.op)
	case req.id == "":
		switch m {
		case http.MethodPost:
			return s.create(ctx, req)
		case http.MethodGet:
			return s.search(ctx, req)
		case http.MethodPut:
			return s.update(ctx, req)
		case http.MethodPatch:
			return s.patch(ctx, req)
		case http.MethodDelete:
			return s.conditionalDelete(ctx, req)
		}
		return nil, methodNotAllowed(req, "GET, POST, PUT, PATCH, DELETE")
	default:
		switch m {
		case http.MethodGet:
			return s.read(ctx, req)
		case http.MethodPut:
			return s.update(ctx, req)
		case http.MethodPatch:
			return s.patch(ctx, req)
		case http.MethodDelete:
			return s.delete(ctx, req)
		}
		return nil, methodNotAllowed(req, "GET, PUT, PATCH, DELETE")
	}
}

func methodNotAllowed(req *request, allowed string) error {
	return &fhir.Error{Kind: fhir.KindMethodNotAllowed, Issues: []fhir.Issue{{
		Severity: "error", Code: "not-supported",
		Diagnostics: "method " + req.method + " is not allowed here; allowed: " + allowed,
	}}}
}

// gateRequest describes req for the access gate and the audit record.
func gateRequest(req *request, interaction string) access.Request {
	return access.Request{
		Interaction: interaction,
		Type:        req.typ,
		ID:          req.id,
		Query:       req.query.Encode(),
		Agent:       req.agent,
	}
}

func (s *Server) baseURL(r *http.Request) string {
	if s.opt.BaseURL != "" {
		base := strings.TrimRight(s.opt.BaseURL, "/")
		if r.Context().Value(r4MountKey{}) != nil {
			base += "/R4"
		}
		return base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if proto := r.Header.Get("X-Forwarded-Proto"); proto == "https" || proto == "http" {
		scheme = proto
	}
	return scheme + "://" + r.Host + mountPoint(r)
}

// mountPoint is the path at which the API is mounted, recovered from the
// original request path: the part of the path StripPrefix removed.
func mountPoint(r *http.Request) string {
	if mp, ok := r.Context().Value(mountKey{}).(string); ok {
		return mp
	}
	return "/fhir"
}

type mountKey struct{}

// Mount returns a handler serving s below prefix (e.g. "/fhir").
func (s *Server) Mount(prefix string) http.Handler {
	prefix = strings.TrimRight(prefix, "/")
	strip := http.StripPrefix(prefix, s)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), mountKey{}, prefix)
		strip.ServeHTTP(w, r.WithContext(ctx))
	})
}

func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
