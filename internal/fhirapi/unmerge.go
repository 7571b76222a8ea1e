package fhirapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// POST Patient/$unmerge (our operation: FHIR defines none) undoes a
// $merge, named by its Provenance (parameter provenance) or by its two
// patients (source-patient and target-patient: the latest merge of the
// one into the other). In one transaction:
//
//   - each resource the merge moved gets the references it moved set back
//     to the source, on its current version: what was edited since the
//     merge stays. Only the references the merge moved go back (found by
//     comparing the versions before and after the merge); one that was
//     since changed to name someone else is left, and said so;
//   - the source gets its active and link as they were before the merge,
//     the target its link, and loses the identifiers the merge gave it;
//   - a Provenance (activity UPDATE, "unmerge", its entity the merge's
//     Provenance) and one AuditEvent record it.
//
// Resources created after the merge that refer to the target stay with
// the target: nothing says which person they were about. A merge is
// undone once (409 after); a target that was itself merged since must be
// unmerged first (409).

const unmergeText = "Patient unmerge"

func (s *Server) unmerge(ctx context.Context, req *request, gr access.Request) (*response, error) {
	params, err := operationBody(req)
	if err == nil {
		gr.Query += "?" + unmergeQuery(params)
	}
	var provenance, source, target string
	if err == nil {
		provenance, source, target, err = parseUnmerge(params)
	}
	if err != nil {
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return nil, err
	}
	var out *unmergeOutcome
	err = s.opt.Gate.WriteOperation(ctx, gr, access.OperationMerge, false, func(tx store.Tx) ([]access.Touched, error) {
		var err error
		out, err = s.unmergeIn(ctx, tx, req.base, provenance, source, target)
		if err != nil {
			return nil, err
		}
		return out.touched, nil
	})
	if err != nil {
		return nil, err
	}
	issues := []fhir.Issue{{Severity: "information", Code: "informational", Diagnostics: fmt.Sprintf(
		"the merge %s of Patient/%s into Patient/%s is undone: %d resources moved back", out.merge, out.source, out.target, out.movedBack)}}
	for _, w := range out.warnings {
		issues = append(issues, fhir.Issue{Severity: "warning", Code: "conflict", Diagnostics: w})
	}
	return &response{status: http.StatusOK, resource: fhir.Resource{"resourceType": "Parameters", "parameter": []any{
		map[string]any{"name": "outcome", "resource": map[string]any(fhir.OperationOutcome(issues...))},
		map[string]any{"name": "result", "resource": map[string]any(out.result)},
		part("provenance", "valueReference", map[string]any{"reference": "Provenance/" + out.provenance}),
	}}}, nil
}

// parseUnmerge reads the merge named: a Provenance id, or the patients.
func parseUnmerge(params fhir.Resource) (provenance, source, target string, err error) {
	list, _ := params["parameter"].([]any)
	for i, p := range list {
		m, _ := p.(map[string]any)
		name, _ := m["name"].(string)
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		switch name {
		case "provenance":
			ref, _ := m["valueReference"].(map[string]any)
			s, _ := ref["reference"].(string)
			if i := strings.LastIndex(s, "Provenance/"); i >= 0 {
				s = s[i:]
			}
			id, ok := strings.CutPrefix(s, "Provenance/")
			if !ok || !fhir.ValidID(id) {
				return "", "", "", fhir.At(fhir.KindInvalid, "invalid", at+".valueReference", "provenance must reference the merge's Provenance, not %q", s)
			}
			provenance = id
		case "source-patient", "target-patient":
			ref, err := patientReference(m, at)
			if err != nil {
				return "", "", "", err
			}
			if name == "source-patient" {
				source = strings.TrimPrefix(ref, "Patient/")
			} else {
				target = strings.TrimPrefix(ref, "Patient/")
			}
		default:
			return "", "", "", fhir.At(fhir.KindInvalid, "not-supported", at+".name", "unknown parameter %q of $unmerge", name)
		}
	}
	if provenance == "" && (source == "" || target == "") {
		return "", "", "", fhir.At(fhir.KindInvalid, "required", "Parameters.parameter", "$unmerge needs provenance (the merge's Provenance), or source-patient and target-patient")
	}
	return provenance, source, target, nil
}

func unmergeQuery(params fhir.Resource) string {
	v := url.Values{}
	list, _ := params["parameter"].([]any)
	for _, p := range list {
		m, _ := p.(map[string]any)
		name, _ := m["name"].(string)
		ref, _ := m["valueReference"].(map[string]any)
		s, _ := ref["reference"].(string)
		v.Add(name, s)
	}
	return v.Encode()
}

type unmergeOutcome struct {
	merge, provenance string // "Provenance/id" of the merge; id of the unmerge's
	source, target    string
	result            fhir.Resource
	movedBack         int
	warnings          []string
	touched           []access.Touched
}

// mergeRecord is what a merge's Provenance says (merge.go writes it).
type mergeRecord struct {
	id             string
	source, target versioned // the patients' versions the merge wrote
	moved          []versioned
}

type versioned struct {
	typ, id string
	version int64
}

func (s *Server) unmergeIn(ctx context.Context, tx store.Tx, base, provenanceID, sourceID, targetID string) (*unmergeOutcome, error) {
	rec, err := s.findMerge(tx, base, provenanceID, sourceID, targetID)
	if err != nil {
		return nil, err
	}
	out := &unmergeOutcome{merge: "Provenance/" + rec.id, source: rec.source.id, target: rec.target.id}
	// Undone already? The unmerge's Provenance names the merge's.
	q, err := search.Parse(s.opt.Definitions, "Provenance", url.Values{"entity": {"Provenance/" + rec.id}, "_count": {"1"}, "_total": {"none"}}, search.ParseOptions{Base: base})
	if err != nil {
		return nil, err
	}
	res, err := tx.Search(q)
	if err != nil {
		return nil, err
	}
	if len(res.Matches) > 0 {
		return nil, fhir.Errorf(fhir.KindConflict, "the merge Provenance/%s was already undone (Provenance/%s)", rec.id, res.Matches[0].ID)
	}
	source, err := s.mergePatient(ctx, tx, "source", rec.source.id)
	if err != nil {
		return nil, err
	}
	target, err := s.mergePatient(ctx, tx, "target", rec.target.id)
	if err != nil {
		return nil, err
	}
	from, to := refsTo(base, rec.target.id), refsTo(base, rec.source.id) // back: target → source
	if !hasLink(source.Resource, "replaced-by", from) {
		return nil, fhir.Errorf(fhir.KindConflict, "Patient/%s no longer says it was replaced by Patient/%s; the merge cannot be undone", rec.source.id, rec.target.id)
	}
	if later := linkOf(target.Resource, "replaced-by"); later != "" {
		return nil, fhir.Errorf(fhir.KindConflict, "Patient/%s was since merged into %s; undo that merge first", rec.target.id, later)
	}
	// Versions once written never change, so the versions before and after
	// the merge are read from the store, outside the transaction (a Tx has
	// no vread); only current versions are read, and written, in it. (A
	// read replica lagging behind a merge written by another server
	// answers not found: the unmerge then fails whole and can be retried.)
	vread := func(v versioned, version int64) (fhir.Resource, error) {
		got, err := s.opt.Store.VRead(ctx, v.typ, v.id, version)
		if err != nil {
			return nil, fmt.Errorf("unmerge: vread %s/%s/_history/%d: %w", v.typ, v.id, version, err)
		}
		return got.Resource, nil
	}
	var touched []access.Touched
	var targets []any
	for _, m := range rec.moved {
		before, err := vread(m, m.version-1)
		if err != nil {
			return nil, err
		}
		after, err := vread(m, m.version)
		if err != nil {
			return nil, err
		}
		var paths []refPath
		movedPaths(map[string]any(before), map[string]any(after), to, from, nil, &paths)
		cur, err := tx.Read(m.typ, m.id)
		if fhir.IsKind(err, fhir.KindGone) {
			out.warnings = append(out.warnings, fmt.Sprintf("%s/%s was deleted since the merge and is left as it is", m.typ, m.id))
			continue
		}
		if err != nil {
			return nil, err
		}
		res := cur.Resource.Clone()
		n, missed := moveBack(map[string]any(res), paths, from, to)
		for _, p := range missed {
			out.warnings = append(out.warnings, fmt.Sprintf("%s/%s: %s was changed since the merge and no longer refers to Patient/%s; left as it is", m.typ, m.id, p, rec.target.id))
		}
		if n == 0 {
			continue
		}
		nv, _, err := tx.Update(res, cur.VersionID)
		if err != nil {
			return nil, err
		}
		out.movedBack++
		targets = append(targets, versionRef(nv))
		touched = append(touched, access.Touched{Type: nv.Type, ID: nv.ID, VersionID: nv.VersionID})
	}

	// The source: active and link as before the merge.
	sourceBefore, err := vread(rec.source, rec.source.version-1)
	if err != nil {
		return nil, err
	}
	newSource := source.Resource.Clone()
	restoreElement(newSource, sourceBefore, "active")
	restoreElement(newSource, sourceBefore, "link")
	// The target: link as before, without the identifiers the merge added.
	targetBefore, err := vread(rec.target, rec.target.version-1)
	if err != nil {
		return nil, err
	}
	targetAfter, err := vread(rec.target, rec.target.version)
	if err != nil {
		return nil, err
	}
	newTarget := target.Resource.Clone()
	restoreElement(newTarget, targetBefore, "link")
	removeAddedIdentifiers(newTarget, targetBefore, targetAfter)

	sv, _, err := tx.Update(newSource, source.VersionID)
	if err != nil {
		return nil, err
	}
	tv, _, err := tx.Update(newTarget, target.VersionID)
	if err != nil {
		return nil, err
	}
	pv, err := s.recordMerge(ctx, tx, append([]any{versionRef(sv), versionRef(tv)}, targets...), "UPDATE", "revise", unmergeText, to.relative,
		[]any{map[string]any{"role": "revision", "what": map[string]any{"reference": "Provenance/" + rec.id}}})
	if err != nil {
		return nil, err
	}
	out.result, out.provenance = sv.Resource, pv.ID
	out.touched = append([]access.Touched{
		{Type: "Patient", ID: rec.source.id, VersionID: sv.VersionID, Patient: to.relative},
		{Type: "Patient", ID: rec.target.id, VersionID: tv.VersionID},
		{Type: "Provenance", ID: pv.ID, VersionID: pv.VersionID},
		{Type: "Provenance", ID: rec.id},
	}, touched...)
	return out, nil
}

// findMerge reads the merge record: the Provenance named, or the latest
// merge of source into target.
func (s *Server) findMerge(tx store.Tx, base, provenanceID, sourceID, targetID string) (*mergeRecord, error) {
	if provenanceID != "" {
		v, err := tx.Read("Provenance", provenanceID)
		if err != nil {
			if fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone) {
				return nil, fhir.Errorf(fhir.KindNotFound, "Provenance/%s is not known", provenanceID)
			}
			return nil, err
		}
		rec, ok := readMergeRecord(v.Resource)
		if !ok {
			return nil, fhir.Errorf(fhir.KindUnprocessable, "Provenance/%s is not the record of a Patient merge", provenanceID)
		}
		if (sourceID != "" && rec.source.id != sourceID) || (targetID != "" && rec.target.id != targetID) {
			return nil, fhir.Errorf(fhir.KindUnprocessable, "Provenance/%s records the merge of Patient/%s into Patient/%s, not the patients given", provenanceID, rec.source.id, rec.target.id)
		}
		return rec, nil
	}
	q, err := search.Parse(s.opt.Definitions, "Provenance", url.Values{
		"target":   {"Patient/" + sourceID},
		"activity": {dataOperation + "|MERGE"},
		"patient":  {"Patient/" + targetID},
		"_count":   {strconv.Itoa(store.MaxPageSize)},
		"_total":   {"none"},
	}, search.ParseOptions{Base: base})
	if err != nil {
		return nil, err
	}
	res, err := tx.Search(q)
	if err != nil {
		return nil, err
	}
	var latest *mergeRecord
	var latestSeq int64
	for _, v := range res.Matches {
		if rec, ok := readMergeRecord(v.Resource); ok && rec.source.id == sourceID && rec.target.id == targetID && v.Seq >= latestSeq {
			latest, latestSeq = rec, v.Seq
		}
	}
	if latest == nil {
		return nil, fhir.Errorf(fhir.KindNotFound, "no merge of Patient/%s into Patient/%s is recorded", sourceID, targetID)
	}
	return latest, nil
}

// readMergeRecord reads a Provenance merge.go wrote: activity MERGE, its
// targets the source's version, the target's version, then each moved
// resource's version.
func readMergeRecord(p fhir.Resource) (*mergeRecord, bool) {
	activity, _ := p["activity"].(map[string]any)
	codings, _ := activity["coding"].([]any)
	isMerge := false
	for _, c := range codings {
		m, _ := c.(map[string]any)
		isMerge = isMerge || (m["system"] == dataOperation && m["code"] == "MERGE")
	}
	targets, _ := p["target"].([]any)
	if !isMerge || len(targets) < 2 {
		return nil, false
	}
	rec := &mergeRecord{id: p.ID()}
	for i, t := range targets {
		m, _ := t.(map[string]any)
		ref, _ := m["reference"].(string)
		parts := strings.Split(ref, "/")
		if len(parts) != 4 || parts[2] != "_history" {
			return nil, false
		}
		n, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil || n < 2 {
			return nil, false
		}
		v := versioned{typ: parts[0], id: parts[1], version: n}
		switch i {
		case 0:
			rec.source = v
		case 1:
			rec.target = v
		default:
			rec.moved = append(rec.moved, v)
		}
	}
	if rec.source.typ != "Patient" || rec.target.typ != "Patient" {
		return nil, false
	}
	return rec, true
}

// restoreElement sets element name of res to its value in before, or
// removes it when before had none.
func restoreElement(res, before fhir.Resource, name string) {
	if v, ok := before[name]; ok {
		res[name] = fhir.CloneValue(v)
	} else {
		delete(res, name)
	}
}

// removeAddedIdentifiers removes from res the identifiers after has and
// before had not: those the merge added.
func removeAddedIdentifiers(res, before, after fhir.Resource) {
	had, _ := before["identifier"].([]any)
	got, _ := after["identifier"].([]any)
	cur, _ := res["identifier"].([]any)
	var kept []any
	for _, id := range cur {
		if containsIdentifier(got, id) && !containsIdentifier(had, id) {
			continue
		}
		kept = append(kept, id)
	}
	if len(kept) == 0 {
		delete(res, "identifier")
	} else {
		res["identifier"] = kept
	}
}
