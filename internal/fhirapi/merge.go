package fhirapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// POST Patient/$merge (R5 OperationDefinition Patient-merge) makes one
// patient record of two: every resource that refers to the source patient
// is moved to the target, as a new version of each; the source stays,
// inactive, with a replaced-by link to the target; the target gets a
// replaces link to the source (and, without result-patient, the source's
// identifiers). All of it, with the merge record (a Provenance) and its
// AuditEvent, commits in one transaction or not at all. Patient/$unmerge
// (unmerge.go) undoes it from the Provenance.

// dataOperation is the v3 DataOperation code system of Provenance.activity.
const dataOperation = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"

// mergeRequest is the Parameters of a $merge, read.
type mergeRequest struct {
	input                fhir.Resource // as sent: the output's "input"
	source, target       string        // "Patient/id" references, or ""
	sourceIDs, targetIDs []any         // Identifiers, when given instead
	result               fhir.Resource // result-patient, or nil
	preview              bool
}

func (s *Server) merge(ctx context.Context, req *request) (*response, error) {
	if ctx.Value(r4FaceKey{}) != nil {
		return nil, &fhir.Error{Kind: fhir.KindNotFound, Issues: []fhir.Issue{{Severity: "error", Code: "not-supported",
			Diagnostics: "Patient/" + req.op + " is an R5 operation (FHIR R4 defines no Patient merge); use the R5 API at /fhir"}}}
	}
	if req.method != http.MethodPost {
		return nil, methodNotAllowed(req, "POST")
	}
	gr := gateRequest(req, "operation")
	gr.Query = "Patient/" + req.op
	// A caller without the right learns nothing more, not even what is
	// wrong with its parameters.
	if err := s.opt.Gate.MayRun(ctx, access.OperationMerge); err != nil {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	if req.op == "$unmerge" {
		return s.unmerge(ctx, req, gr)
	}
	in, err := parseMerge(req)
	if err != nil {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	if in.preview {
		gr.Query += "?preview=true"
	}
	var out *mergeOutcome
	err = s.opt.Gate.WriteOperation(ctx, gr, access.OperationMerge, in.preview, func(tx store.Tx) ([]access.Touched, error) {
		var err error
		out, err = s.mergeIn(ctx, tx, req.base, in)
		if err != nil {
			return nil, err
		}
		return out.touched, nil
	})
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("Patient/%s merged into Patient/%s: %s", out.source, out.target, out.summary())
	if in.preview {
		text = fmt.Sprintf("Preview only, nothing was changed: merging Patient/%s into Patient/%s would move %s", out.source, out.target, out.summary())
	}
	params := []any{
		map[string]any{"name": "input", "resource": map[string]any(in.input)},
		map[string]any{"name": "outcome", "resource": map[string]any(fhir.OperationOutcome(fhir.Issue{Severity: "information", Code: "informational", Diagnostics: text}))},
		map[string]any{"name": "result", "resource": map[string]any(out.result)},
	}
	if !in.preview {
		params = append(params, part("provenance", "valueReference", map[string]any{"reference": "Provenance/" + out.provenance}))
		s.resolveMergedPair(ctx, out.source, out.target)
	}
	return &response{status: http.StatusOK, resource: fhir.Resource{"resourceType": "Parameters", "parameter": params}}, nil
}

// parseMerge reads the Parameters body of a $merge.
func parseMerge(req *request) (*mergeRequest, error) {
	params, err := operationBody(req)
	if err != nil {
		return nil, err
	}
	in := &mergeRequest{input: params}
	list, _ := params["parameter"].([]any)
	for i, p := range list {
		m, _ := p.(map[string]any)
		name, _ := m["name"].(string)
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		switch name {
		case "source-patient", "target-patient":
			ref, err := patientReference(m, at)
			if err != nil {
				return nil, err
			}
			if name == "source-patient" {
				in.source = ref
			} else {
				in.target = ref
			}
		case "source-patient-identifier", "target-patient-identifier":
			id, ok := m["valueIdentifier"].(map[string]any)
			if !ok || id["value"] == nil {
				return nil, fhir.At(fhir.KindInvalid, "required", at+".valueIdentifier", "%s needs a valueIdentifier with a value", name)
			}
			if name == "source-patient-identifier" {
				in.sourceIDs = append(in.sourceIDs, id)
			} else {
				in.targetIDs = append(in.targetIDs, id)
			}
		case "result-patient":
			res, _ := m["resource"].(map[string]any)
			if fhir.Resource(res).Type() != "Patient" {
				return nil, fhir.At(fhir.KindInvalid, "invalid", at+".resource", "result-patient must be a Patient resource")
			}
			in.result = fhir.Resource(res).Clone()
		case "preview":
			b, ok := m["valueBoolean"].(bool)
			if !ok {
				return nil, fhir.At(fhir.KindInvalid, "invalid", at, "preview needs a valueBoolean")
			}
			in.preview = b
		default:
			return nil, fhir.At(fhir.KindInvalid, "not-supported", at+".name", "unknown parameter %q of $merge", name)
		}
	}
	for _, side := range []struct {
		name string
		ref  string
		ids  []any
	}{{"source-patient", in.source, in.sourceIDs}, {"target-patient", in.target, in.targetIDs}} {
		switch {
		case side.ref == "" && len(side.ids) == 0:
			return nil, fhir.At(fhir.KindInvalid, "required", "Parameters.parameter", "$merge needs %s or %s-identifier", side.name, side.name)
		case side.ref != "" && len(side.ids) > 0:
			return nil, fhir.At(fhir.KindInvalid, "invalid", "Parameters.parameter", "give %s or %s-identifier, not both", side.name, side.name)
		}
	}
	return in, nil
}

// operationBody parses the body of an operation as a Parameters resource.
func operationBody(req *request) (fhir.Resource, error) {
	if req.body == nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "the operation needs a Parameters body")
	}
	res, err := parseBody(req.body)
	if err != nil {
		return nil, err
	}
	if res.Type() != "Parameters" {
		return nil, fhir.Errorf(fhir.KindInvalid, "the operation needs a Parameters body, not %s", res.Type())
	}
	return res, nil
}

// patientReference reads a parameter's valueReference as "Patient/id".
func patientReference(m map[string]any, at string) (string, error) {
	ref, _ := m["valueReference"].(map[string]any)
	s, _ := ref["reference"].(string)
	if i := strings.LastIndex(s, "Patient/"); i >= 0 {
		s = s[i:]
	}
	id, ok := strings.CutPrefix(s, "Patient/")
	if !ok || !fhir.ValidID(id) {
		return "", fhir.At(fhir.KindInvalid, "invalid", at+".valueReference", "a Patient reference (Patient/[id]) is needed, not %q", s)
	}
	return s, nil
}

// mergeOutcome is what a merge did (or, previewed, would do).
type mergeOutcome struct {
	source, target string // ids
	result         fhir.Resource
	provenance     string
	moved          map[string]int // resources moved, by type
	references     int
	touched        []access.Touched
}

func (o *mergeOutcome) summary() string {
	types := make([]string, 0, len(o.moved))
	total := 0
	for typ, n := range o.moved {
		types = append(types, fmt.Sprintf("%s %d", typ, n))
		total += n
	}
	sort.Strings(types)
	if total == 0 {
		return "no resource referred to the source patient"
	}
	return fmt.Sprintf("%d references in %d resources (%s)", o.references, total, strings.Join(types, ", "))
}

// mergeIn does the merge inside tx, on the store's own transaction (the
// operation is granted by name, see access.WriteOperation): it checks
// itself that the caller sees both patients.
func (s *Server) mergeIn(ctx context.Context, tx store.Tx, base string, in *mergeRequest) (*mergeOutcome, error) {
	sourceID, err := s.resolvePatient(tx, base, "source", in.source, in.sourceIDs)
	if err != nil {
		return nil, err
	}
	targetID, err := s.resolvePatient(tx, base, "target", in.target, in.targetIDs)
	if err != nil {
		return nil, err
	}
	if sourceID == targetID {
		return nil, fhir.At(fhir.KindInvalid, "invalid", "Parameters.parameter", "the source and target patients are the same (Patient/%s)", sourceID)
	}
	source, err := s.mergePatient(ctx, tx, "source", sourceID)
	if err != nil {
		return nil, err
	}
	target, err := s.mergePatient(ctx, tx, "target", targetID)
	if err != nil {
		return nil, err
	}
	if to := linkOf(source.Resource, "replaced-by"); to != "" {
		return nil, fhir.Errorf(fhir.KindUnprocessable, "the source Patient/%s was already merged into %s (its link replaced-by); it cannot be merged again", sourceID, to)
	}
	if to := linkOf(target.Resource, "replaced-by"); to != "" {
		return nil, fhir.Errorf(fhir.KindUnprocessable, "the target Patient/%s was itself merged into %s; merge into that patient instead", targetID, to)
	}
	from, to := refsTo(base, sourceID), refsTo(base, targetID)

	// The target as it will be: result-patient, or the current target
	// with the source's identifiers; with the replaces link either way.
	newTarget := target.Resource.Clone()
	if in.result != nil {
		if in.result.ID() != targetID {
			return nil, fhir.At(fhir.KindInvalid, "invalid", "Parameters.parameter.resource.id", "result-patient must have the id of the target patient (%s), not %q", targetID, in.result.ID())
		}
		if !hasLink(in.result, "replaces", from) {
			return nil, fhir.At(fhir.KindInvalid, "required", "Parameters.parameter.resource.link", "result-patient must include a link of type replaces to Patient/%s", sourceID)
		}
		newTarget = in.result.Clone()
		delete(newTarget, "meta")
		if err := s.validate(newTarget, "Parameters.parameter.resource"); err != nil {
			return nil, err
		}
	} else {
		copyIdentifiers(newTarget, source.Resource)
		addLink(newTarget, "replaces", from.relative)
	}
	newSource := source.Resource.Clone()
	newSource["active"] = false
	addLink(newSource, "replaced-by", to.relative)

	out := &mergeOutcome{source: sourceID, target: targetID, moved: map[string]int{}}
	referrers, err := s.referrers(tx, base, sourceID)
	if err != nil {
		return nil, err
	}
	var movedTargets []any
	var movedTouched []access.Touched
	for _, v := range referrers {
		if v.Type == "Patient" && v.ID == targetID {
			continue // its link to the source is the merge's own
		}
		res := v.Resource.Clone()
		n := rewriteRefs(map[string]any(res), from, to)
		if n == 0 {
			continue // found through a versioned reference only
		}
		// Each resource moves from the version just read, in this
		// transaction: no write can come between, and If-Match says so.
		nv, _, err := tx.Update(res, v.VersionID)
		if err != nil {
			return nil, err
		}
		out.moved[v.Type]++
		out.references += n
		movedTargets = append(movedTargets, versionRef(nv))
		movedTouched = append(movedTouched, access.Touched{Type: nv.Type, ID: nv.ID, VersionID: recorded(in, v, nv), Patient: to.relative})
	}
	sv, _, err := tx.Update(newSource, source.VersionID)
	if err != nil {
		return nil, err
	}
	// A result-patient is what the caller saw of the target: elements its
	// role does not see (masks) are carried over, as on any update.
	targetTx := tx
	if in.result != nil {
		targetTx = s.restoring(ctx, tx)
	}
	tv, _, err := targetTx.Update(newTarget, target.VersionID)
	if err != nil {
		return nil, err
	}
	// The merge record. Its targets are, in this order, the source's and
	// the target's new versions and each moved resource's new version:
	// $unmerge reads the version before each from it (one less, as each
	// was written once here). Versioned references are never moved by a
	// later merge, so the record keeps saying what this one did.
	pv, err := s.recordMerge(ctx, tx, append([]any{versionRef(sv), versionRef(tv)}, movedTargets...), "MERGE", "merge", "Patient merge", to.relative, nil)
	if err != nil {
		return nil, err
	}
	out.result, out.provenance = tv.Resource, pv.ID
	out.touched = []access.Touched{
		{Type: "Patient", ID: targetID, VersionID: recorded(in, target, tv), Patient: to.relative},
		{Type: "Patient", ID: sourceID, VersionID: recorded(in, source, sv)},
	}
	if !in.preview {
		out.touched = append(out.touched, access.Touched{Type: "Provenance", ID: pv.ID, VersionID: pv.VersionID})
	}
	out.touched = append(out.touched, movedTouched...)
	return out, nil
}

// recordMerge stores the Provenance of a merge or unmerge: its targets
// (order matters to $unmerge), the v3-DataOperation activity, the patient
// kept, the user as agent, and the entities it revises.
func (s *Server) recordMerge(ctx context.Context, tx store.Tx, targets []any, code, display, text, patient string, entity []any) (*store.Version, error) {
	prov := fhir.Resource{
		"resourceType": "Provenance",
		"target":       targets,
		"recorded":     fhir.FormatInstant(tx.Now()),
		"activity": map[string]any{"coding": []any{map[string]any{"system": dataOperation, "code": code, "display": display}},
			"text": text},
		"patient": map[string]any{"reference": patient},
		"agent":   []any{provenanceAgent(ctx)},
	}
	if entity != nil {
		prov["entity"] = entity
	}
	return s.createIn(tx, prov)
}

// recorded is the version of a resource the audit record names: the one
// written, or for a preview (rolled back) the one read.
func recorded(in *mergeRequest, read, written *store.Version) int64 {
	if in.preview {
		return read.VersionID
	}
	return written.VersionID
}

// resolvePatient returns the id of the patient a $merge parameter names,
// by reference or by identifiers (which must match exactly one patient).
func (s *Server) resolvePatient(tx store.Tx, base, side, ref string, ids []any) (string, error) {
	if ref != "" {
		return strings.TrimPrefix(ref, "Patient/"), nil
	}
	var values []string
	for _, id := range ids {
		m := id.(map[string]any)
		system, _ := m["system"].(string)
		value, _ := m["value"].(string)
		values = append(values, escapeToken(system)+"|"+escapeToken(value))
	}
	q, err := search.Parse(s.opt.Definitions, "Patient", url.Values{"identifier": values, "_count": {"2"}, "_total": {"none"}}, search.ParseOptions{Base: base})
	if err != nil {
		return "", err
	}
	res, err := tx.Search(q)
	if err != nil {
		return "", err
	}
	if len(res.Matches) != 1 {
		what := "no patient"
		if len(res.Matches) > 1 {
			what = "more than one patient"
		}
		return "", fhir.At(fhir.KindUnprocessable, "not-found", "Parameters.parameter", "the %s-patient-identifier parameters match %s; they must identify exactly one", side, what)
	}
	return res.Matches[0].ID, nil
}

// mergePatient reads one of the two patients of a merge, as the caller
// may see it: a patient hidden from the caller (role, consent) answers
// as a missing one, as the gate answers for any hidden resource.
func (s *Server) mergePatient(ctx context.Context, tx store.Tx, side, id string) (*store.Version, error) {
	v, err := tx.Read("Patient", id)
	switch {
	case fhir.IsKind(err, fhir.KindNotFound):
		return nil, fhir.Errorf(fhir.KindNotFound, "the %s patient Patient/%s is not known", side, id)
	case fhir.IsKind(err, fhir.KindGone):
		return nil, fhir.Errorf(fhir.KindGone, "the %s patient Patient/%s is deleted", side, id)
	case err != nil:
		return nil, err
	}
	ok, err := s.opt.Gate.Visible(ctx, access.TxSearcher(tx), 'r', "Patient", id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, access.Denied(fhir.Errorf(fhir.KindNotFound, "the %s patient Patient/%s is not known", side, id),
			fmt.Sprintf("Patient/%s is outside the caller's access", id))
	}
	return v, nil
}

// linkOf returns the reference of the patient's first link of type typ.
func linkOf(p fhir.Resource, typ string) string {
	links, _ := p["link"].([]any)
	for _, l := range links {
		m, _ := l.(map[string]any)
		if m["type"] == typ {
			other, _ := m["other"].(map[string]any)
			ref, _ := other["reference"].(string)
			return ref
		}
	}
	return ""
}

func hasLink(p fhir.Resource, typ string, to patientRefs) bool {
	links, _ := p["link"].([]any)
	for _, l := range links {
		m, _ := l.(map[string]any)
		other, _ := m["other"].(map[string]any)
		ref, _ := other["reference"].(string)
		if m["type"] == typ && to.matches(ref) {
			return true
		}
	}
	return false
}

func addLink(p fhir.Resource, typ, ref string) {
	links, _ := p["link"].([]any)
	p["link"] = append(links, map[string]any{"other": map[string]any{"reference": ref}, "type": typ})
}

// copyIdentifiers adds to target the identifiers of source it lacks, as
// the operation asks when no result-patient is given, so the person is
// still found by the numbers of the duplicate record.
func copyIdentifiers(target, source fhir.Resource) {
	have, _ := target["identifier"].([]any)
	from, _ := source["identifier"].([]any)
	for _, id := range from {
		if !containsIdentifier(have, id) {
			have = append(have, fhir.CloneValue(id))
		}
	}
	if len(have) > 0 {
		target["identifier"] = have
	}
}

func containsIdentifier(list []any, id any) bool {
	m, _ := id.(map[string]any)
	for _, o := range list {
		om, _ := o.(map[string]any)
		if om["system"] == m["system"] && om["value"] == m["value"] {
			return true
		}
	}
	return false
}

func versionRef(v *store.Version) map[string]any {
	return map[string]any{"reference": v.Type + "/" + v.ID + "/_history/" + itoa(v.VersionID)}
}

// provenanceAgent is the Provenance.agent of the caller: its FHIR user
// (Practitioner/…) when the account is linked to one, else the account.
func provenanceAgent(ctx context.Context) map[string]any {
	agent := map[string]any{"type": map[string]any{"coding": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author", "display": "Author"}}}}
	p := access.PrincipalFrom(ctx)
	switch {
	case p == nil:
		agent["who"] = map[string]any{"display": "system"}
	case p.FHIRUser != "":
		agent["who"] = map[string]any{"reference": p.FHIRUser, "display": p.User}
	case p.User != "":
		agent["who"] = map[string]any{"identifier": map[string]any{"system": audit.UserSystem, "value": p.User}, "display": p.User}
	default:
		agent["who"] = map[string]any{"identifier": map[string]any{"system": audit.ClientSystem, "value": p.Client}, "display": "client " + p.Client}
	}
	return agent
}

// escapeToken escapes the characters a token search value gives meaning to.
func escapeToken(s string) string {
	return strings.NewReplacer(`\`, `\\`, `|`, `\|`, `,`, `\,`, `$`, `\$`).Replace(s)
}
