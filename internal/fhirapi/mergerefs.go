package fhirapi

import (
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// patientRefs are the ways a resource of ours spells a reference to one
// patient: relative ("Patient/123") or absolute under the server's base.
// A versioned reference ("Patient/123/_history/2") names one version of
// the record, as a Provenance or a merge record does, and is never moved.
type patientRefs struct{ relative, absolute string }

func refsTo(base, id string) patientRefs {
	return patientRefs{relative: "Patient/" + id, absolute: base + "/Patient/" + id}
}

func (p patientRefs) matches(ref string) bool { return ref == p.relative || ref == p.absolute }

// same is to's spelling of ref, a reference to p: absolute stays absolute.
func (p patientRefs) same(ref string, to patientRefs) string {
	if ref == p.absolute {
		return to.absolute
	}
	return to.relative
}

// rewriteRefs replaces every Reference.reference to from in v, at any
// depth (contained resources, extensions, elements no search parameter
// indexes), by the same reference to to, and says how many it replaced.
func rewriteRefs(v any, from, to patientRefs) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			if s, ok := val.(string); ok && k == "reference" && from.matches(s) {
				v[k] = from.same(s, to)
				n++
				continue
			}
			n += rewriteRefs(val, from, to)
		}
	case []any:
		for _, val := range v {
			n += rewriteRefs(val, from, to)
		}
	}
	return n
}

// refPath locates an element: object keys (string) and list indexes (int).
type refPath []any

// movedPaths lists where before held a reference to from and after, the
// same element, one to to: the references a merge moved, found by
// comparing the version it replaced with the one it wrote (a merge changes
// nothing else, so both have the same shape).
func movedPaths(before, after any, from, to patientRefs, at refPath, out *[]refPath) {
	switch b := before.(type) {
	case map[string]any:
		a, _ := after.(map[string]any)
		for k, bv := range b {
			av := a[k]
			if bs, ok := bv.(string); ok && k == "reference" && from.matches(bs) {
				if as, ok := av.(string); ok && to.matches(as) {
					*out = append(*out, append(slices.Clip(at), k))
				}
				continue
			}
			movedPaths(bv, av, from, to, append(slices.Clip(at), k), out)
		}
	case []any:
		a, _ := after.([]any)
		for i, bv := range b {
			if i < len(a) {
				movedPaths(bv, a[i], from, to, append(slices.Clip(at), i), out)
			}
		}
	}
}

// moveBack sets each reference at paths in cur that still names from back
// to to; it returns how many it moved and the paths it could not (the
// element was since changed, removed or moved within a list).
func moveBack(cur map[string]any, paths []refPath, from, to patientRefs) (moved int, missed []string) {
	for _, p := range paths {
		var parent any = cur
		for _, step := range p[:len(p)-1] {
			parent = child(parent, step)
		}
		m, _ := parent.(map[string]any)
		last, _ := p[len(p)-1].(string)
		if s, ok := m[last].(string); ok && from.matches(s) {
			m[last] = from.same(s, to)
			moved++
			continue
		}
		missed = append(missed, p.String())
	}
	return moved, missed
}

func child(v any, step any) any {
	switch step := step.(type) {
	case string:
		m, _ := v.(map[string]any)
		return m[step]
	case int:
		l, _ := v.([]any)
		if step < len(l) {
			return l[step]
		}
	}
	return nil
}

// String renders the path as a FHIRPath-like expression, for messages.
func (p refPath) String() string {
	var b strings.Builder
	for _, step := range p {
		switch step := step.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(step)
		case int:
			b.WriteString("[" + strconv.Itoa(step) + "]")
		}
	}
	return b.String()
}

// referenceParam is a reference search parameter of a type that may
// point at a Patient; inCompartment when it is one of the Patient
// compartment's parameters for that type.
type referenceParam struct {
	typ, code     string
	inCompartment bool
}

// patientReferenceParams lists, for every resource type, the reference
// search parameters that may target a Patient, sorted.
func patientReferenceParams(defs *spec.Definitions, types []string) []referenceParam {
	comp := defs.Compartments["Patient"]
	var out []referenceParam
	for _, typ := range types {
		var inComp []string
		if comp != nil {
			inComp = comp.Params(typ)
		}
		for code, sp := range defs.SearchParamsFor(typ) {
			if sp.Type == "reference" && slices.Contains(sp.Target, "Patient") {
				out = append(out, referenceParam{typ, code, slices.Contains(inComp, code)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].typ != out[j].typ {
			return out[i].typ < out[j].typ
		}
		return out[i].code < out[j].code
	})
	return out
}

// referrers returns the current version of every resource that refers to
// Patient/id, read in tx, in a stable order (type, id), the patient itself
// left out. It finds them through the search index, never by reading
// every resource:
//
//   - the Patient compartment (R5 CompartmentDefinition Patient, as
//     $everything finds its members): every resource whose compartment
//     parameters (subject, patient, performer, author, …) name the patient;
//   - the reference index rows of every other reference search parameter
//     that may target a Patient (Provenance.target, Task.owner,
//     Person.link, …), one indexed lookup each;
//   - absolute references under the server's base
//     (https://emr.example.org/fhir/Patient/123): the index keeps them as
//     URLs, not as local references, so the compartment misses them; they
//     are looked up by URL through every reference parameter that may
//     target a Patient (with the previous lookup where it is one).
//
// What this cannot see is a resource whose only reference to the patient
// sits in an element no search parameter indexes: Observation.note.author,
// a reference inside a contained resource, an extension, or an identifier-only
// Reference (no literal reference at all). Those elements are still moved
// when the resource is found by another reference (the caller rewrites the
// whole JSON of each candidate, contained resources included); a resource
// referring to the patient through such elements alone stays behind. Since
// clinical resources name their patient in an indexed subject or patient
// element, that is rare; finding them all would take reading every
// resource of the store.
func (s *Server) referrers(tx store.Tx, base, id string) ([]*store.Version, error) {
	seen := map[string]bool{"Patient/" + id: true}
	var found []*store.Version
	collect := func(q *search.Query) error {
		for {
			res, err := tx.Search(q)
			if err != nil {
				return err
			}
			for _, v := range res.Matches {
				if key := v.Type + "/" + v.ID; !seen[key] {
					seen[key] = true
					found = append(found, v)
				}
			}
			if res.Next == "" {
				return nil
			}
			q.Cursor = res.Next
		}
	}
	page := strconv.Itoa(store.MaxPageSize)
	var members []string
	for _, r := range s.opt.Definitions.Compartments["Patient"].Resources {
		if len(r.Params) > 0 && s.opt.Model.IsResource(r.Code) {
			members = append(members, r.Code)
		}
	}
	sort.Strings(members)
	q, err := search.Parse(s.opt.Definitions, "", url.Values{"_type": {strings.Join(members, ",")}, "_count": {page}, "_total": {"none"}},
		search.ParseOptions{Base: base, Compartment: &search.CompartmentRef{Type: "Patient", ID: id}})
	if err != nil {
		return nil, err
	}
	if err := collect(q); err != nil {
		return nil, err
	}
	s.mergeParamsOnce.Do(func() { s.mergeParams = patientReferenceParams(s.opt.Definitions, s.opt.Model.ResourceTypes()) })
	refs := refsTo(base, id)
	for _, p := range s.mergeParams {
		values := []string{escapeReference(refs.absolute)}
		if !p.inCompartment {
			values = append(values, refs.relative)
		}
		// No Base: the absolute URL must stay a URL, as it is indexed.
		q, err := search.Parse(s.opt.Definitions, p.typ, url.Values{p.code: {strings.Join(values, ",")}, "_count": {page}, "_total": {"none"}}, search.ParseOptions{})
		if err != nil {
			return nil, err
		}
		if err := collect(q); err != nil {
			return nil, err
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].Type != found[j].Type {
			return found[i].Type < found[j].Type
		}
		return found[i].ID < found[j].ID
	})
	return found, nil
}

// escapeReference escapes the characters a reference search value gives
// meaning to.
func escapeReference(s string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `$`, `\$`, `|`, `\|`).Replace(s)
}
