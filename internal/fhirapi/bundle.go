package fhirapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// entry is one Bundle entry prepared for processing.
type entry struct {
	index    int
	fullURL  string
	resource fhir.Resource // nil when none
	sub      *request      // the entry's request as an interaction
	// patchType and patchBody carry a PATCH entry's payload.
	patchType string
	patchBody []byte
	// existing is the match of a conditional create that found one: the
	// entry writes nothing and answers 200 with it.
	existing *store.Version
	// deleteIDs are the resources a conditional delete matched.
	deleteIDs []string
}

// bundle answers POST / with a batch or transaction Bundle.
func (s *Server) bundle(ctx context.Context, req *request) (*response, error) {
	if req.body == nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "POST to the base needs a batch or transaction Bundle")
	}
	b, err := parseBody(req.body)
	if err != nil {
		return nil, err
	}
	if b.Type() != "Bundle" {
		return nil, fhir.At(fhir.KindInvalid, "invalid", b.Type(), "POST to the base takes a Bundle, not %s", b.Type())
	}
	kind, _ := b["type"].(string)
	if kind != "batch" && kind != "transaction" {
		return nil, fhir.At(fhir.KindInvalid, "invalid", "Bundle.type", "Bundle.type must be batch or transaction, not %q", kind)
	}
	entries, err := s.prepareEntries(req, b)
	if err != nil {
		return nil, err
	}
	if kind == "batch" {
		return s.batch(ctx, req, entries), nil
	}
	return s.transaction(ctx, req, entries)
}

// prepareEntries reads every entry's request into a sub-request.
func (s *Server) prepareEntries(req *request, b fhir.Resource) ([]*entry, error) {
	raw, _ := b["entry"].([]any)
	if _, ok := b["entry"]; ok && raw == nil {
		return nil, fhir.At(fhir.KindInvalid, "structure", "Bundle.entry", "Bundle.entry must be an array")
	}
	entries := make([]*entry, 0, len(raw))
	for i, item := range raw {
		at := fmt.Sprintf("Bundle.entry[%d]", i)
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fhir.At(fhir.KindInvalid, "structure", at, "a Bundle entry must be an object")
		}
		e := &entry{index: i}
		e.fullURL, _ = obj["fullUrl"].(string)
		if r, ok := obj["resource"].(map[string]any); ok {
			e.resource = fhir.Resource(r)
			if e.resource.Type() == "" {
				return nil, fhir.At(fhir.KindInvalid, "structure", at+".resource", "the entry's resource has no resourceType")
			}
		} else if _, present := obj["resource"]; present {
			return nil, fhir.At(fhir.KindInvalid, "structure", at+".resource", "the entry's resource must be an object")
		}
		rq, ok := obj["request"].(map[string]any)
		if !ok {
			return nil, fhir.At(fhir.KindInvalid, "required", at+".request", "each entry of a batch or transaction needs a request")
		}
		method, _ := rq["method"].(string)
		rawURL, _ := rq["url"].(string)
		if rawURL == "" {
			return nil, fhir.At(fhir.KindInvalid, "required", at+".request.url", "the entry's request has no url")
		}
		sub, err := s.entryRequest(req, method, rawURL, rq)
		if err != nil {
			return nil, prefixed(err, at+".request")
		}
		e.sub = sub
		switch sub.method {
		case http.MethodPost, http.MethodPut:
			if e.resource == nil {
				return nil, fhir.At(fhir.KindInvalid, "required", at+".resource", "a %s entry needs a resource", sub.method)
			}
			if sub.typ != "" && e.resource.Type() != sub.typ {
				return nil, fhir.At(fhir.KindInvalid, "invalid", at+".resource", "the resource is a %s but the url is for %s", e.resource.Type(), sub.typ)
			}
		case http.MethodPatch:
			if err := e.readPatch(at); err != nil {
				return nil, err
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// entryRequest turns entry.request into a sub-request.
func (s *Server) entryRequest(parent *request, method, rawURL string, rq map[string]any) (*request, error) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil, fhir.At(fhir.KindInvalid, "code-invalid", "method", "request.method %q is not GET, HEAD, POST, PUT, PATCH or DELETE", method)
	}
	rel := rawURL
	if strings.Contains(rawURL, "://") {
		var ok bool
		if rel, ok = strings.CutPrefix(rawURL, parent.base+"/"); !ok {
			return nil, fhir.At(fhir.KindInvalid, "value", "url", "request.url %q is not on this server", rawURL)
		}
	}
	path, rawQuery, _ := strings.Cut(rel, "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fhir.At(fhir.KindInvalid, "value", "url", "request.url %q has a malformed query", rawURL)
	}
	sub := &request{method: method, query: query, header: http.Header{}, base: parent.base, agent: parent.agent}
	if err := sub.route(path); err != nil {
		return nil, fhir.At(fhir.KindInvalid, "value", "url", "request.url %q is not a FHIR route", rawURL)
	}
	if sub.typ != "" && !s.opt.Model.IsResource(sub.typ) {
		return nil, fhir.At(fhir.KindInvalid, "value", "url", "request.url %q names no resource type", rawURL)
	}
	if sub.id != "" && !fhir.ValidID(sub.id) {
		return nil, fhir.At(fhir.KindInvalid, "value", "url", "request.url %q has an invalid id", rawURL)
	}
	if sub.typ == "AuditEvent" && method != http.MethodGet && method != http.MethodHead {
		return nil, fhir.At(fhir.KindInvalid, "not-supported", "url", "request.url %q: the audit log is written by the server only", rawURL)
	}
	for field, header := range map[string]string{"ifMatch": "If-Match", "ifNoneMatch": "If-None-Match", "ifModifiedSince": "If-Modified-Since", "ifNoneExist": "If-None-Exist"} {
		if v, ok := rq[field].(string); ok && v != "" {
			sub.header.Set(header, v)
		}
	}
	return sub, nil
}

// readPatch takes a PATCH entry's payload: a Binary holding a JSON Patch or
// a Parameters resource holding a FHIRPath Patch.
func (e *entry) readPatch(at string) error {
	switch {
	case e.resource == nil:
		return fhir.At(fhir.KindInvalid, "required", at+".resource", "a PATCH entry needs a Binary (JSON Patch) or Parameters (FHIRPath Patch) resource")
	case e.resource.Type() == "Parameters":
		e.patchType, e.patchBody = mediaFHIRJSON, e.resource.JSON()
	case e.resource.Type() == "Binary":
		ct, _ := e.resource["contentType"].(string)
		data, _ := e.resource["data"].(string)
		body, err := base64.StdEncoding.DecodeString(data)
		if err != nil || ct != mediaJSONPatch {
			return fhir.At(fhir.KindInvalid, "value", at+".resource", "a Binary PATCH entry needs contentType %s and base64 data", mediaJSONPatch)
		}
		e.patchType, e.patchBody = mediaJSONPatch, body
	default:
		return fhir.At(fhir.KindInvalid, "invalid", at+".resource", "a PATCH entry carries Binary or Parameters, not %s", e.resource.Type())
	}
	return nil
}

// batch processes each entry on its own: one failing entry does not affect
// the others.
func (s *Server) batch(ctx context.Context, req *request, entries []*entry) *response {
	out := make([]any, len(entries))
	for i, e := range entries {
		sub := e.sub
		switch {
		case e.patchBody != nil:
			sub.body = e.patchBody
			sub.header.Set("Content-Type", e.patchType)
		case e.resource != nil:
			sub.body = e.resource.JSON()
		}
		sub.header.Set("Prefer", "return="+nonEmpty(preferReturn(req.header), "minimal"))
		if r := req.header.Get(ReviewedHeader); r != "" {
			sub.header.Set(ReviewedHeader, r)
		}
		resp, err := s.dispatch(ctx, sub)
		if err != nil {
			out[i] = s.errorEntry(err)
			continue
		}
		out[i] = responseEntry(req, sub, resp)
	}
	return &response{status: http.StatusOK, resource: fhir.Resource{
		"resourceType": "Bundle", "type": "batch-response", "entry": out,
	}}
}

// transactionOrder is the processing order the specification prescribes.
var transactionOrder = map[string]int{http.MethodDelete: 0, http.MethodPost: 1, http.MethodPut: 2, http.MethodPatch: 2, http.MethodGet: 3, http.MethodHead: 3}

// transaction processes every entry in one store transaction: all succeed
// and commit together, or nothing is written and the first failure is the
// answer.
func (s *Server) transaction(ctx context.Context, req *request, entries []*entry) (*response, error) {
	order := make([]*entry, len(entries))
	copy(order, entries)
	sort.SliceStable(order, func(i, j int) bool {
		return transactionOrder[order[i].sub.method] < transactionOrder[order[j].sub.method]
	})
	// Patients the transaction creates are checked for duplicates before
	// it starts: the matcher reads, and the writer must not wait on reads.
	dups := map[int]*duplicateCheck{}
	for _, e := range entries {
		if e.sub.method != http.MethodPost || e.resource == nil || e.sub.header.Get("If-None-Exist") != "" {
			continue
		}
		at := fmt.Sprintf("Bundle.entry[%d].resource", e.index)
		check, err := s.checkDuplicates(ctx, e.resource, req.header, at)
		if err != nil {
			return nil, err
		}
		dups[e.index] = check
	}
	out := make([]any, len(entries))
	err := s.opt.Gate.Write(ctx, gateRequest(req, "transaction"), func(tx store.Tx) ([]access.Touched, error) {
		tx = s.restoring(ctx, tx)
		// Conditional entries and references are resolved against the data
		// as the transaction sees it, before any entry runs.
		if err := s.resolveTransaction(tx, req.base, entries); err != nil {
			return nil, err
		}
		for _, e := range order {
			resp, err := s.transactionEntry(ctx, tx, req, e)
			if err != nil {
				return nil, prefixed(err, fmt.Sprintf("Bundle.entry[%d]", e.index))
			}
			if resp.status == http.StatusCreated {
				dups[e.index].report(e.sub, resp, fmt.Sprintf("Bundle.entry[%d].resource", e.index))
			}
			out[e.index] = responseEntry(req, e.sub, resp)
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, resource: fhir.Resource{
		"resourceType": "Bundle", "type": "transaction-response", "entry": out,
	}}, nil
}

// resolveTransaction settles every entry's target before anything is
// written: conditional creates find their match or get a new id,
// conditional updates, patches and deletes find the resources they act on,
// and every reference to an entry's fullUrl (urn:uuid: or otherwise) or a
// conditional reference (Patient?identifier=…) is rewritten to Type/id, so
// entries may refer to each other in any order.
func (s *Server) resolveTransaction(tx store.Tx, base string, entries []*entry) error {
	targets := map[string]string{} // fullUrl → Type/id
	touched := map[string]int{}    // Type/id → entry index, for double writes
	claim := func(e *entry, key string) error {
		if prev, dup := touched[key]; dup {
			return fhir.At(fhir.KindInvalid, "invalid", fmt.Sprintf("Bundle.entry[%d].request.url", e.index), "%s is changed by entry %d and entry %d of one transaction", key, prev, e.index)
		}
		touched[key] = e.index
		return nil
	}
	for _, e := range entries {
		at := fmt.Sprintf("Bundle.entry[%d]", e.index)
		sub := e.sub
		if (sub.op != "" || sub.typ == "") && sub.method != http.MethodGet && sub.method != http.MethodHead {
			return fhir.At(fhir.KindNotSupported, "not-supported", at+".request.url", "%s to %q is not supported in a transaction", sub.method, sub.op)
		}
		conditional := sub.id == "" && len(sub.query) > 0
		switch sub.method {
		case http.MethodPost:
			if sub.id != "" || sub.op != "" {
				return fhir.At(fhir.KindInvalid, "value", at+".request.url", "a POST entry's url is the resource type")
			}
			if ine := sub.header.Get("If-None-Exist"); ine != "" {
				criteria, err := criteriaOf(ine)
				if err != nil {
					return prefixed(err, at+".request.ifNoneExist")
				}
				matches, err := s.matchesIn(tx, sub.base, sub.typ, criteria, 2)
				if err != nil {
					return prefixed(err, at+".request.ifNoneExist")
				}
				switch len(matches) {
				case 0:
				case 1:
					e.existing = matches[0]
					if e.fullURL != "" {
						targets[e.fullURL] = sub.typ + "/" + matches[0].ID
					}
					continue
				default:
					return fhir.At(fhir.KindPreconditionFailed, "multiple-matches", at+".request.ifNoneExist", "ifNoneExist %q matches more than one %s", ine, sub.typ)
				}
			}
			e.resource.SetID(store.NewID())
			if e.fullURL != "" {
				targets[e.fullURL] = sub.typ + "/" + e.resource.ID()
			}
		case http.MethodPut, http.MethodPatch:
			if conditional {
				matches, err := s.matchesIn(tx, sub.base, sub.typ, sub.query, 2)
				if err != nil {
					return prefixed(err, at+".request.url")
				}
				switch {
				case len(matches) > 1:
					return fhir.At(fhir.KindPreconditionFailed, "multiple-matches", at+".request.url", "the criteria match more than one %s", sub.typ)
				case len(matches) == 1:
					sub.id = matches[0].ID
					if sub.method == http.MethodPut {
						if bodyID := e.resource.ID(); bodyID != "" && bodyID != sub.id {
							return fhir.At(fhir.KindInvalid, "invalid", at+".resource.id", "the resource id %q is not the id %q of the resource the criteria match", bodyID, sub.id)
						}
					}
				case sub.method == http.MethodPatch:
					return fhir.At(fhir.KindNotFound, "not-found", at+".request.url", "no %s matches the criteria", sub.typ)
				case e.resource.ID() != "":
					sub.id = e.resource.ID()
					if _, err := tx.Read(sub.typ, sub.id); err == nil {
						return fhir.At(fhir.KindConflict, "conflict", at+".resource.id", "no %s matches the criteria, but %s/%s exists", sub.typ, sub.typ, sub.id)
					}
				default:
					sub.id = store.NewID()
				}
				if sub.method == http.MethodPut {
					e.resource.SetID(sub.id)
				}
			} else if sub.id == "" {
				return fhir.At(fhir.KindInvalid, "value", at+".request.url", "%s needs Type/id or search criteria", sub.method)
			}
			key := sub.typ + "/" + sub.id
			if err := claim(e, key); err != nil {
				return err
			}
			if e.fullURL != "" {
				targets[e.fullURL] = key
			}
		case http.MethodDelete:
			if conditional {
				matches, err := s.matchesIn(tx, sub.base, sub.typ, sub.query, maxConditionalDeletes+1)
				if err != nil {
					return prefixed(err, at+".request.url")
				}
				if len(matches) > maxConditionalDeletes {
					return fhir.At(fhir.KindPreconditionFailed, "too-costly", at+".request.url", "the criteria match more than %d %s resources", maxConditionalDeletes, sub.typ)
				}
				e.deleteIDs = make([]string, 0, len(matches))
				for _, m := range matches {
					if err := claim(e, sub.typ+"/"+m.ID); err != nil {
						return err
					}
					e.deleteIDs = append(e.deleteIDs, m.ID)
				}
				continue
			}
			if sub.id == "" {
				return fhir.At(fhir.KindInvalid, "value", at+".request.url", "DELETE needs Type/id or search criteria")
			}
			if err := claim(e, sub.typ+"/"+sub.id); err != nil {
				return err
			}
		}
	}
	resolve := func(ref, at string) (string, error) {
		if t, ok := targets[ref]; ok {
			return t, nil
		}
		if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
			return "", fhir.At(fhir.KindInvalid, "not-found", at, "reference %q names no entry of the transaction", ref)
		}
		typ, rawCriteria, conditional := strings.Cut(ref, "?")
		if !conditional || strings.Contains(typ, "/") {
			return ref, nil
		}
		if !s.opt.Model.IsResource(typ) {
			return "", fhir.At(fhir.KindInvalid, "value", at, "conditional reference %q names no resource type", ref)
		}
		criteria, err := criteriaOf(rawCriteria)
		if err != nil {
			return "", prefixed(err, at)
		}
		matches, err := s.matchesIn(tx, base, typ, criteria, 2)
		if err != nil {
			return "", prefixed(err, at)
		}
		switch len(matches) {
		case 0:
			return "", fhir.At(fhir.KindNotFound, "not-found", at, "conditional reference %q matches no resource", ref)
		case 1:
			targets[ref] = typ + "/" + matches[0].ID
			return targets[ref], nil
		default:
			return "", fhir.At(fhir.KindPreconditionFailed, "multiple-matches", at, "conditional reference %q matches more than one resource", ref)
		}
	}
	for _, e := range entries {
		if e.resource == nil || e.sub.method == http.MethodPatch || e.existing != nil {
			continue
		}
		if err := rewriteReferences(map[string]any(e.resource), targets, resolve, fmt.Sprintf("Bundle.entry[%d].resource", e.index)); err != nil {
			return err
		}
	}
	return nil
}

// rewriteReferences replaces, everywhere in v, Reference.reference values
// that name a fullUrl of the Bundle or a conditional reference, and links to
// the Bundle's fullUrls in narrative.
func rewriteReferences(v any, targets map[string]string, resolve func(ref, at string) (string, error), at string) error {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			switch str, isString := child.(string); {
			case isString && k == "reference":
				t, err := resolve(str, at+".reference")
				if err != nil {
					return err
				}
				v[k] = t
			case isString && k == "div":
				for from, to := range targets {
					if strings.Contains(str, from) {
						str = strings.ReplaceAll(str, `"`+from+`"`, `"`+to+`"`)
					}
				}
				v[k] = str
			default:
				if err := rewriteReferences(child, targets, resolve, at+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		for i, child := range v {
			if err := rewriteReferences(child, targets, resolve, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// transactionEntry runs one entry inside the transaction.
func (s *Server) transactionEntry(ctx context.Context, tx store.Tx, parent *request, e *entry) (*response, error) {
	sub := e.sub
	prefix := fmt.Sprintf("Bundle.entry[%d].resource", e.index)
	var resp *response
	switch sub.method {
	case http.MethodPost:
		err := s.opt.Gate.Within(ctx, tx, gateRequest(sub, "create"), func() ([]access.Touched, error) {
			if e.existing != nil {
				resp = &response{status: http.StatusOK, version: e.existing}
				return []access.Touched{access.TouchedVersion(e.existing)}, nil
			}
			if err := s.validate(e.resource, prefix); err != nil {
				return nil, err
			}
			v, _, err := tx.Update(e.resource, 0)
			if err != nil {
				return nil, err
			}
			resp = &response{status: http.StatusCreated, version: v}
			return []access.Touched{access.TouchedVersion(v)}, nil
		})
		return resp, err
	case http.MethodPut:
		ifMatch, err := ifMatchOf(sub)
		if err != nil {
			return nil, err
		}
		err = s.opt.Gate.Within(ctx, tx, gateRequest(sub, "update"), func() ([]access.Touched, error) {
			v, created, err := s.updateIn(tx, sub.id, e.resource, ifMatch, prefix)
			if err != nil {
				return nil, err
			}
			resp = &response{status: http.StatusOK, version: v}
			if created {
				resp.status = http.StatusCreated
			}
			return []access.Touched{access.TouchedVersion(v)}, nil
		})
		return resp, err
	case http.MethodPatch:
		ifMatch, err := ifMatchOf(sub)
		if err != nil {
			return nil, err
		}
		apply, err := s.patchFunc(ctx, e.patchType, e.patchBody)
		if err != nil {
			return nil, err
		}
		err = s.opt.Gate.Within(ctx, tx, gateRequest(sub, "patch"), func() ([]access.Touched, error) {
			v, err := s.patchIn(tx, sub.typ, sub.id, apply, ifMatch, prefix)
			if err != nil {
				return nil, err
			}
			resp = &response{status: http.StatusOK, version: v}
			return []access.Touched{access.TouchedVersion(v)}, nil
		})
		return resp, err
	case http.MethodDelete:
		ifMatch, err := ifMatchOf(sub)
		if err != nil {
			return nil, err
		}
		err = s.opt.Gate.Within(ctx, tx, gateRequest(sub, "delete"), func() ([]access.Touched, error) {
			if e.deleteIDs != nil {
				resp = &response{status: http.StatusNoContent}
				touched := make([]access.Touched, 0, len(e.deleteIDs))
				for _, id := range e.deleteIDs {
					v, err := tx.Delete(sub.typ, id, 0)
					if err != nil {
						return nil, err
					}
					touched = append(touched, access.Touched{Type: sub.typ, ID: id, VersionID: versionOf(v)})
				}
				return touched, nil
			}
			v, err := tx.Delete(sub.typ, sub.id, ifMatch)
			if err != nil {
				return nil, err
			}
			resp = &response{status: http.StatusNoContent, version: v}
			return []access.Touched{{Type: sub.typ, ID: sub.id, VersionID: versionOf(v)}}, nil
		})
		return resp, err
	default: // GET, HEAD
		if sub.typ == "AuditEvent" {
			// The audit log is not in the transaction's store: search it
			// outside (a batch, or GET /AuditEvent).
			return nil, fhir.Errorf(fhir.KindNotSupported, "inside a transaction, GET entries cannot read the audit log")
		}
		if sub.typ != "" && sub.id == "" && sub.op == "" {
			return s.searchIn(ctx, tx, sub)
		}
		if sub.typ == "" || sub.id == "" || sub.op != "" {
			return nil, fhir.Errorf(fhir.KindNotSupported, "inside a transaction, GET entries read (Type/id) or search (Type?…); %s is not supported", sub.op)
		}
		err := s.opt.Gate.Within(ctx, tx, gateRequest(sub, "read"), func() ([]access.Touched, error) {
			v, err := tx.Read(sub.typ, sub.id)
			if err != nil {
				return nil, err
			}
			resp, err = s.readResponse(sub, v)
			return []access.Touched{access.TouchedVersion(v)}, err
		})
		return resp, err
	}
}

// responseEntry renders an interaction's result as a response Bundle entry.
func responseEntry(parent, sub *request, resp *response) map[string]any {
	r := map[string]any{"status": fmt.Sprintf("%d %s", resp.status, http.StatusText(resp.status))}
	e := map[string]any{"response": r}
	if v := resp.version; v != nil {
		r["etag"] = etag(v.VersionID)
		r["lastModified"] = fhir.FormatInstant(v.LastUpdated)
		if resp.status == http.StatusCreated {
			r["location"] = v.Type + "/" + v.ID + "/_history/" + itoa(v.VersionID)
		}
		e["fullUrl"] = parent.base + "/" + v.Type + "/" + v.ID
	}
	isRead := sub.method == http.MethodGet || sub.method == http.MethodHead
	switch {
	case resp.resource != nil && (isRead || sub.op != ""):
		e["resource"] = map[string]any(resp.resource)
	case preferReturn(parent.header) == "representation" && resp.version != nil && resp.version.Resource != nil:
		e["resource"] = map[string]any(resp.version.Resource)
	case preferReturn(parent.header) == "OperationOutcome":
		r["outcome"] = map[string]any(fhir.OperationOutcome(fhir.Issue{Severity: "information", Code: "informational", Diagnostics: "processed"}))
	}
	if resp.outcome != nil {
		r["outcome"] = map[string]any(resp.outcome)
	}
	return e
}

// errorEntry renders a failed batch entry.
func (s *Server) errorEntry(err error) map[string]any {
	kind := fhir.KindOf(err)
	status := statusOf(kind)
	var oo fhir.Resource
	if fe, ok := asFHIRError(err); ok && kind != fhir.KindInternal {
		oo = fhir.OperationOutcome(fe.Issues...)
	} else {
		s.log.Error("fhirapi: batch entry failed", "err", err)
		oo = fhir.OperationOutcome(fhir.Issue{Severity: "fatal", Code: "exception", Diagnostics: "internal server error"})
	}
	return map[string]any{"response": map[string]any{
		"status":  fmt.Sprintf("%d %s", status, http.StatusText(status)),
		"outcome": map[string]any(oo),
	}}
}

// prefixed returns err with each issue expression placed under at (e.g.
// "Bundle.entry[3]"), and an expression of at where there was none.
func prefixed(err error, at string) error {
	fe, ok := asFHIRError(err)
	if !ok {
		return err
	}
	out := &fhir.Error{Kind: fe.Kind, Cause: fe.Cause}
	for _, is := range fe.Issues {
		exprs := make([]string, 0, len(is.Expression))
		for _, e := range is.Expression {
			if !strings.HasPrefix(e, "Bundle.") {
				e = at + "." + e
			}
			exprs = append(exprs, e)
		}
		if len(exprs) == 0 {
			exprs = []string{at}
		}
		is.Expression = exprs
		is.Diagnostics = strings.TrimSpace(is.Diagnostics)
		out.Issues = append(out.Issues, is)
	}
	return out
}
