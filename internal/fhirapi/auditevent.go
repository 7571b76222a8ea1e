package fhirapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// AuditEvents are not resources of the resource store: the server writes
// them, and only it, into the hash-chained audit log (docs/audit.md). So
// /AuditEvent is routed here, to the log's own search (store.AuditSearcher),
// and every write of an AuditEvent through the API is refused: a client
// could otherwise add records the chain would then vouch for.

// errAuditWrite refuses a client's write of an AuditEvent.
func errAuditWrite(req *request) error {
	return &fhir.Error{Kind: fhir.KindMethodNotAllowed, Issues: []fhir.Issue{{
		Severity: "error", Code: "not-supported",
		Diagnostics: "method " + req.method + " is not allowed on AuditEvent: the audit log is written by the server only; allowed: GET",
	}}}
}

// auditEvent answers GET /AuditEvent?… and POST /AuditEvent/_search (the
// log's search), GET /AuditEvent/[id] (one record), and refuses the rest.
func (s *Server) auditEvent(ctx context.Context, req *request) (*response, error) {
	m := req.method
	if m == http.MethodHead {
		m = http.MethodGet
	}
	switch {
	case req.op == "_search" && m == http.MethodPost:
	case req.op == "" && m == http.MethodGet:
	case req.op == "" || req.op == "_search":
		// A caller the policy would not let write an AuditEvent anyway
		// hears that first (403), as for any other type.
		interaction := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete"}[m]
		if interaction != "" {
			gr := gateRequest(req, interaction)
			if err := s.opt.Gate.Decide(ctx, gr); err != nil {
				s.opt.Gate.RecordFailure(ctx, gr, err)
				return nil, err
			}
			s.opt.Gate.RecordFailure(ctx, gr, errAuditWrite(req))
		}
		return nil, errAuditWrite(req)
	default:
		return nil, fhir.Errorf(fhir.KindNotSupported, "%s is not supported on AuditEvent", req.op)
	}
	params, err := searchParams(req)
	if err != nil {
		return nil, err
	}
	interaction := "search-type"
	if req.id != "" {
		interaction = "read"
		if len(params) > 0 {
			return nil, fhir.Errorf(fhir.KindInvalid, "a read takes no parameters")
		}
		params = url.Values{"_id": {req.id}}
	}
	gr := gateRequest(req, interaction)
	q, raw, err := auditQuery(params, req.base)
	if err != nil {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	gr.Query = raw
	if req.id != "" {
		gr.Query = ""
	}
	// Only a caller who may search every AuditEvent (the auditor's role)
	// may search the log: its records name every patient.
	if err := s.opt.Gate.Decide(ctx, gr); err != nil {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	if acc := s.opt.Gate.Limit(ctx, 's', []string{"AuditEvent"}); !access.Unlimited(acc) {
		err := access.Denied(fhir.Errorf(fhir.KindForbidden, "searching the audit log needs the auditor role"), "AuditEvent search needs unrestricted AuditEvent access")
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	page, err := s.searchAudit(ctx, gr, q.AuditQuery)
	if err != nil {
		return nil, err
	}
	if req.id != "" {
		if len(page.Records) == 0 {
			return nil, fhir.Errorf(fhir.KindNotFound, "AuditEvent/%s is not in the audit log", req.id)
		}
		ev, err := fhir.ParseResource(page.Records[0].Event)
		if err != nil {
			return nil, err
		}
		return &response{status: http.StatusOK, resource: ev}, nil
	}
	return auditBundle(req.base, req.base+"/AuditEvent", raw, q, page)
}

// searchAudit runs q through the gate: the search is audited like any
// other (one record: who searched the log for what), and the record is
// appended after the page is read, so it is never among its own results
// and auditing an audit search does not recurse.
func (s *Server) searchAudit(ctx context.Context, gr access.Request, q store.AuditQuery, touched ...access.Touched) (*store.AuditPage, error) {
	searcher, ok := s.opt.Store.(store.AuditSearcher)
	if !ok {
		return nil, fhir.Errorf(fhir.KindNotSupported, "this store cannot search the audit log")
	}
	var page *store.AuditPage
	err := s.opt.Gate.Read(ctx, gr, func() ([]access.Touched, error) {
		var err error
		page, err = searcher.SearchAudit(ctx, q)
		return touched, err
	})
	return page, err
}

// auditBundle is the searchset of an audit page: the records as the log
// keeps them (a compact one rendered to its JSON by the store).
func auditBundle(base, path, raw string, q auditSearch, page *store.AuditPage) (*response, error) {
	b := searchsetBundle(path, raw, q.Cursor, page.Next, page.Prev, page.Total)
	if q.CountOnly {
		return &response{status: http.StatusOK, resource: b}, nil
	}
	entries := make([]any, 0, len(page.Records))
	for _, r := range page.Records {
		ev, err := fhir.ParseResource(r.Event)
		if err != nil {
			return nil, fhir.Errorf(fhir.KindInternal, "audit record %d does not parse", r.Seq)
		}
		entries = append(entries, map[string]any{
			"fullUrl":  base + "/AuditEvent/" + ev.ID(),
			"resource": map[string]any(ev),
			"search":   map[string]any{"mode": "match"},
		})
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return &response{status: http.StatusOK, resource: b}, nil
}

// auditSearch is a parsed audit search.
type auditSearch struct {
	store.AuditQuery
	CountOnly bool // _summary=count or _count=0: the total, no entries
}

// auditTokenParams are the token parameters of the audit search, by the
// name a client uses ("type" and "subtype" are R4's names of R5's
// category and code).
var auditTokenParams = map[string]string{
	"action": audit.ParamAction, "outcome": audit.ParamOutcome, "category": audit.ParamCategory,
	"type": audit.ParamCategory, "code": audit.ParamCode, "subtype": audit.ParamCode,
	"purpose": audit.ParamPurpose, "_security": audit.ParamSecurity, "_id": audit.ParamID,
}

// auditQuery parses the parameters of an audit search, and returns them
// again in a canonical form for the Bundle's links (without _cursor).
func auditQuery(params url.Values, base string) (auditSearch, string, error) {
	var q auditSearch
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	echo := url.Values{}
	for _, name := range names {
		values := params[name]
		param, modifier, _ := strings.Cut(name, ":")
		if modifier != "" && !(param == "agent" && modifier == "identifier") {
			return q, "", fhir.Errorf(fhir.KindInvalid, "modifier :%s is not supported on %s", modifier, param)
		}
		if name != "_cursor" {
			echo[name] = values
		}
		for _, value := range values {
			if value == "" {
				continue
			}
			switch param {
			case "_count":
				n, err := strconv.Atoi(value)
				if err != nil || n < 0 {
					return q, "", fhir.Errorf(fhir.KindInvalid, "_count: %q is not a count", value)
				}
				q.Count = n
				if n == 0 {
					// The total only (as _summary=count).
					q.Count, q.Total, q.CountOnly = 1, true, true
				}
			case "_summary":
				if value != "count" {
					return q, "", fhir.Errorf(fhir.KindInvalid, "_summary: the audit log answers count only")
				}
				q.Count, q.Total, q.CountOnly = 1, true, true
			case "_cursor":
				q.Cursor = value
			case "_sort":
				switch value {
				case "-date", "-_lastUpdated":
				case "date", "_lastUpdated":
					q.Ascending = true
				default:
					return q, "", fhir.Errorf(fhir.KindInvalid, "_sort: the audit log sorts by date or -date only")
				}
			case "_total":
				switch value {
				case "accurate":
					q.Total = true
				case "none", "estimate":
				default:
					return q, "", fhir.Errorf(fhir.KindInvalid, "_total: %q is not none, estimate or accurate", value)
				}
			case "date":
				var ors []store.TimeRange
				for _, v := range strings.Split(value, ",") {
					r, err := auditDate(v)
					if err != nil {
						return q, "", err
					}
					ors = append(ors, r...)
				}
				q.Recorded = append(q.Recorded, ors)
			default:
				terms, err := auditTerms(param, value, base)
				if err != nil {
					return q, "", err
				}
				q.Terms = append(q.Terms, terms)
			}
		}
	}
	return q, echo.Encode(), nil
}

// auditTerms reads one value (a comma-separated list: any of them) of a
// term parameter.
func auditTerms(param, value, base string) ([]audit.Term, error) {
	var terms []audit.Term
	for _, v := range strings.Split(value, ",") {
		if v == "" {
			return nil, fhir.Errorf(fhir.KindInvalid, "%s: an empty value", param)
		}
		switch param {
		case "patient", "entity":
			v = strings.TrimPrefix(v, base+"/")
			if param == "patient" && !strings.Contains(v, "/") {
				v = "Patient/" + v
			}
			terms = append(terms, audit.Term{Name: param, Value: v})
		case "agent":
			// A reference, or the user name or client id the record
			// names the agent by (who.identifier.value, who.display).
			terms = append(terms, audit.Term{Name: audit.ParamAgent, Value: strings.TrimPrefix(strings.TrimPrefix(v, base+"/"), "|")})
		case "agent-name":
			terms = append(terms, audit.Term{Name: audit.ParamAgentName, Value: strings.ToLower(v)})
		default:
			name, ok := auditTokenParams[param]
			if !ok {
				return nil, fhir.Errorf(fhir.KindInvalid, "AuditEvent has no search parameter %q here (supported: patient, agent, agent-name, date, action, outcome, entity, category (type), code (subtype), purpose, _security, _id, _count, _sort, _total)", param)
			}
			// "|code" is a code without a system: matched as the code.
			terms = append(terms, audit.Term{Name: name, Value: strings.TrimPrefix(v, "|")})
		}
	}
	return terms, nil
}

// auditDate turns one date value with its prefix into the ranges of
// recorded it matches (two for ne).
func auditDate(v string) ([]store.TimeRange, error) {
	prefix := "eq"
	if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix, v = v[:2], v[2:]
	}
	start, end, err := fhir.ParseDateRange(v)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "date: %v", err)
	}
	s, e := start.UnixMilli(), end.UnixMilli()
	switch prefix {
	case "eq":
		return []store.TimeRange{{From: s, To: e}}, nil
	case "ne":
		return []store.TimeRange{{To: s}, {From: e}}, nil
	case "ge":
		return []store.TimeRange{{From: s}}, nil
	case "gt", "sa":
		return []store.TimeRange{{From: e}}, nil
	case "le":
		return []store.TimeRange{{To: e}}, nil
	case "lt", "eb":
		return []store.TimeRange{{To: s}}, nil
	}
	return nil, fhir.Errorf(fhir.KindInvalid, "date: prefix %q is not supported here (eq, ne, gt, ge, lt, le, sa, eb)", prefix)
}

// auditCompartment answers Patient/[id]/AuditEvent: the audit search with
// the patient given, for the same callers.
func (s *Server) auditCompartment(ctx context.Context, req *request) (*response, error) {
	if !fhir.ValidID(req.compartment.ID) {
		return nil, fhir.Errorf(fhir.KindNotFound, "%q is not a valid resource id", req.compartment.ID)
	}
	if req.query.Has("patient") {
		return nil, fhir.Errorf(fhir.KindInvalid, "patient is given by the path")
	}
	sub := *req
	sub.query = url.Values{}
	for k, v := range req.query {
		sub.query[k] = v
	}
	sub.query.Set("patient", "Patient/"+req.compartment.ID)
	sub.compartment = nil
	return s.auditEvent(ctx, &sub)
}
