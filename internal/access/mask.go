package access

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// Masks hide elements from a role in what it is answered, while the store
// keeps them: minimum necessary below the level of resource types. A role
// of the roles file lists them as
//
//	"masks": [
//	  {"paths": ["*.text", "Observation.note"]},
//	  {"paths": ["Patient.extension"], "urls": ["http://hl7.org/fhir/StructureDefinition/patient-religion"]},
//	  {"paths": ["Encounter.reason"], "replace": [{"concept": {"text": "redacted"}}]}
//	]
//
// Each path is a simple FHIR path, Type.element.child (choices as
// value[x]; * for every DomainResource), checked against the R5
// definitions when the roles are loaded. The element is removed, or its
// value replaced by "replace" (JSON, used as it is); "urls" narrows a mask
// on an extension element to the extensions with those URLs. A resource
// that lost anything to a mask carries the meta.security label REDACTED
// (RedactedLabel), so that a client knows it does not see everything.

// RedactedLabel is the meta.security coding of a masked resource.
var RedactedLabel = map[string]any{
	"system":  "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
	"code":    "REDACTED",
	"display": "redacted",
}

// fileMask is a mask entry of the roles file.
type fileMask struct {
	Paths   []string `json:"paths"`
	URLs    []string `json:"urls,omitempty"`
	Replace any      `json:"replace,omitempty"`
}

// mask is one compiled path.
type mask struct {
	typ     string   // resource type, or "*" for every DomainResource
	segs    []string // the element names below the type; "value[x]" for a choice
	urls    map[string]bool
	replace any
}

// compileMasks checks and compiles a role's masks.
func compileMasks(defs *spec.Definitions, role string, fms []fileMask) ([]*mask, error) {
	var out []*mask
	for _, fm := range fms {
		if len(fm.Paths) == 0 {
			return nil, fmt.Errorf("role %s: a mask has no paths", role)
		}
		for _, p := range fm.Paths {
			typ, rest, ok := strings.Cut(p, ".")
			if !ok || rest == "" {
				return nil, fmt.Errorf("role %s: mask %q: a path is Type.element", role, p)
			}
			defType := typ
			if typ == "*" {
				defType = "DomainResource"
			} else if !defs.IsResource(typ) {
				return nil, fmt.Errorf("role %s: mask %q: %s is not an R5 resource type", role, p, typ)
			}
			el := defs.Element(defType, defType+"."+rest)
			if el == nil {
				return nil, fmt.Errorf("role %s: mask %q: no such element in the R5 definitions", role, p)
			}
			m := &mask{typ: typ, segs: strings.Split(rest, "."), replace: fm.Replace}
			if len(fm.URLs) > 0 {
				if len(el.Types) != 1 || el.Types[0].Code != "Extension" {
					return nil, fmt.Errorf("role %s: mask %q: urls apply to extension elements only", role, p)
				}
				if fm.Replace != nil {
					return nil, fmt.Errorf("role %s: mask %q: urls and replace do not go together", role, p)
				}
				m.urls = map[string]bool{}
				for _, u := range fm.URLs {
					m.urls[u] = true
				}
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// Masker is a Policy that also hides elements from some callers (see
// Masks).
type Masker interface {
	// Mask returns res as the caller of ctx may see it, and whether
	// anything was hidden. res is never modified: a masked resource is a
	// copy sharing the untouched parts.
	Mask(ctx context.Context, res fhir.Resource) (fhir.Resource, bool)
}

// Mask implements Masker by the caller's role.
func (p *RolePolicy) Mask(ctx context.Context, res fhir.Resource) (fhir.Resource, bool) {
	pr := PrincipalFrom(ctx)
	if pr == nil {
		return res, false
	}
	role, ok := p.roles.Role(pr.Role)
	if !ok || len(role.masks) == 0 {
		return res, false
	}
	return role.Mask(p.defs, res)
}

// Mask returns res, and the resources it holds (contained, Bundle entries,
// Parameters), with the caller's masked elements hidden; see Masker. With
// a policy that masks nothing it is res itself.
func (g *Gate) Mask(ctx context.Context, res fhir.Resource) fhir.Resource {
	m, ok := g.policy.(Masker)
	if !ok || res == nil {
		return res
	}
	out, _ := m.Mask(ctx, res)
	return out
}

// HasMasks reports whether the role hides any element.
func (r *Role) HasMasks() bool { return len(r.masks) > 0 }

// Mask returns res as the role may see it, and whether anything was
// hidden in it or the resources it holds.
func (r *Role) Mask(defs *spec.Definitions, res fhir.Resource) (fhir.Resource, bool) {
	out, changed := r.maskNested(defs, map[string]any(res))
	return fhir.Resource(out), changed
}

func (r *Role) maskNested(defs *spec.Definitions, obj map[string]any) (map[string]any, bool) {
	typ, _ := obj["resourceType"].(string)
	out, own := obj, false
	for _, m := range r.masks {
		if m.typ != typ && (m.typ != "*" || !defs.IsA(typ, "DomainResource")) {
			continue
		}
		if v, changed := m.apply(out, m.segs); changed {
			out, own = v.(map[string]any), true
		}
	}
	if own {
		out = labelRedacted(out)
	}
	// Resources inside resources: contained, Bundle.entry.resource,
	// Parameters.parameter.resource (and parts).
	nestedChanged := false
	for _, key := range []string{"contained", "entry", "parameter"} {
		list, ok := out[key].([]any)
		if !ok {
			continue
		}
		var copied []any
		for i, item := range list {
			obj, ok := item.(map[string]any)
			if !ok {
				continue
			}
			var masked map[string]any
			var changed bool
			switch key {
			case "contained":
				masked, changed = r.maskNested(defs, obj)
			default:
				masked, changed = r.maskHolder(defs, obj)
			}
			if changed {
				if copied == nil {
					copied = slices.Clone(list)
				}
				copied[i] = masked
			}
		}
		if copied != nil {
			if !own && !nestedChanged {
				out = shallowCopy(out)
			}
			out[key], nestedChanged = copied, true
			if key == "contained" && !own {
				// What a resource contains is part of it: it is redacted
				// too. (A Bundle the server builds around its answers is
				// not labelled.)
				out, own = labelRedacted(out), true
			}
		}
	}
	return out, own || nestedChanged
}

// maskHolder masks the resource of a Bundle entry or a Parameters
// parameter (and, for parameters, of its parts).
func (r *Role) maskHolder(defs *spec.Definitions, obj map[string]any) (map[string]any, bool) {
	out, changed := obj, false
	if res, ok := obj["resource"].(map[string]any); ok {
		if masked, c := r.maskNested(defs, res); c {
			out = shallowCopy(obj)
			out["resource"], changed = masked, true
		}
	}
	if parts, ok := obj["part"].([]any); ok {
		var copied []any
		for i, p := range parts {
			if pm, ok := p.(map[string]any); ok {
				if masked, c := r.maskHolder(defs, pm); c {
					if copied == nil {
						copied = slices.Clone(parts)
					}
					copied[i] = masked
				}
			}
		}
		if copied != nil {
			if !changed {
				out = shallowCopy(obj)
			}
			out["part"], changed = copied, true
		}
	}
	return out, changed
}

// apply hides the element segs names below v, copying what it changes;
// changed is false (and v returned as it is) when nothing matched.
func (m *mask) apply(v any, segs []string) (any, bool) {
	switch v := v.(type) {
	case []any:
		var copied []any
		for i, item := range v {
			if nv, ok := m.apply(item, segs); ok {
				if copied == nil {
					copied = slices.Clone(v)
				}
				copied[i] = nv
			}
		}
		if copied == nil {
			return v, false
		}
		return copied, true
	case map[string]any:
		var out map[string]any
		for key, child := range v {
			if !matchSegment(key, segs[0]) {
				continue
			}
			if len(segs) > 1 {
				if nv, ok := m.apply(child, segs[1:]); ok {
					if out == nil {
						out = shallowCopy(v)
					}
					out[key] = nv
				}
				continue
			}
			nv, keep, ok := m.hide(key, child)
			if !ok {
				continue
			}
			if out == nil {
				out = shallowCopy(v)
			}
			if keep {
				out[key] = nv
			} else {
				delete(out, key)
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	}
	return v, false
}

// hide applies the mask to the value of the element it names: the new
// value (keep false to remove the property), or ok false when nothing is
// hidden.
func (m *mask) hide(key string, v any) (nv any, keep, ok bool) {
	if m.urls != nil {
		list, isList := v.([]any)
		if !isList {
			return v, true, false
		}
		kept := make([]any, 0, len(list))
		for _, item := range list {
			if ext, ok := item.(map[string]any); ok {
				if u, _ := ext["url"].(string); m.urls[u] {
					continue
				}
			}
			kept = append(kept, item)
		}
		switch {
		case len(kept) == len(list):
			return v, true, false
		case len(kept) == 0:
			return nil, false, true
		}
		return kept, true, true
	}
	if m.replace != nil && !strings.HasPrefix(key, "_") {
		return m.replace, true, true
	}
	return nil, false, true
}

// matchSegment reports whether JSON property key is the element seg names:
// the name itself or its primitive extension "_name"; for a choice
// (value[x]) any typed name (valueQuantity, _valueString).
func matchSegment(key, seg string) bool {
	key = strings.TrimPrefix(key, "_")
	if stem, ok := strings.CutSuffix(seg, "[x]"); ok {
		rest, ok := strings.CutPrefix(key, stem)
		return ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z'
	}
	return key == seg
}

// labelRedacted adds the REDACTED security label to a masked resource
// (already a copy), once.
func labelRedacted(res map[string]any) map[string]any {
	meta := map[string]any{}
	if m, ok := res["meta"].(map[string]any); ok {
		meta = shallowCopy(m)
	}
	labels, _ := meta["security"].([]any)
	for _, l := range labels {
		if c, ok := l.(map[string]any); ok && c["code"] == RedactedLabel["code"] && c["system"] == RedactedLabel["system"] {
			res["meta"] = meta
			return res
		}
	}
	meta["security"] = append(slices.Clip(labels), map[string]any{
		"system": RedactedLabel["system"], "code": RedactedLabel["code"], "display": RedactedLabel["display"]})
	res["meta"] = meta
	return res
}

func shallowCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Restore returns incoming, a new version written by the caller of ctx,
// with what the caller's masks hid of stored (the current version) carried
// over: a role that never saw an element cannot erase it by writing back
// what it was shown. It fails (conflict) when a hidden element cannot be
// placed because the lists around it changed length; such a change needs
// a role that sees the element, or a PATCH.
func (g *Gate) Restore(ctx context.Context, incoming, stored fhir.Resource) (fhir.Resource, error) {
	p, ok := g.policy.(*RolePolicy)
	if !ok || stored == nil {
		return incoming, nil
	}
	pr := PrincipalFrom(ctx)
	if pr == nil {
		return incoming, nil
	}
	role, ok := p.roles.Role(pr.Role)
	if !ok || len(role.masks) == 0 {
		return incoming, nil
	}
	return role.Restore(p.defs, incoming, stored)
}

// Restore is Gate.Restore for the role.
func (r *Role) Restore(defs *spec.Definitions, incoming, stored fhir.Resource) (fhir.Resource, error) {
	typ := incoming.Type()
	if stored.Type() != typ {
		return incoming, nil
	}
	out := unlabelRedacted(map[string]any(incoming))
	for _, m := range r.masks {
		if m.typ != typ && (m.typ != "*" || !defs.IsA(typ, "DomainResource")) {
			continue
		}
		v, err := m.restore(out, map[string]any(stored), m.segs)
		if err != nil {
			return nil, fhir.Errorf(fhir.KindConflict, "%s.%s is hidden from the %s role and cannot be kept: %v; send a PATCH instead", typ, strings.Join(m.segs, "."), r.Name, err)
		}
		out = v.(map[string]any)
	}
	return fhir.Resource(out), nil
}

func (m *mask) restore(in, st any, segs []string) (any, error) {
	switch st := st.(type) {
	case []any:
		inList, ok := in.([]any)
		if !ok || len(inList) != len(st) {
			if _, hidden := m.apply(st, segs); hidden {
				return nil, fmt.Errorf("the list holding it changed")
			}
			return in, nil
		}
		out := slices.Clone(inList)
		for i := range st {
			v, err := m.restore(inList[i], st[i], segs)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case map[string]any:
		inObj, ok := in.(map[string]any)
		if !ok {
			return in, nil // the caller removed what held it: its right
		}
		out := shallowCopy(inObj)
		for key, sv := range st {
			if !matchSegment(key, segs[0]) {
				continue
			}
			if len(segs) > 1 {
				iv, present := inObj[key]
				if !present {
					continue
				}
				v, err := m.restore(iv, sv, segs[1:])
				if err != nil {
					return nil, err
				}
				out[key] = v
				continue
			}
			iv, present := inObj[key]
			switch {
			case m.urls != nil:
				list, _ := sv.([]any)
				inList, _ := iv.([]any)
				merged := slices.Clone(inList)
				for _, item := range list {
					if ext, ok := item.(map[string]any); ok {
						if u, _ := ext["url"].(string); m.urls[u] {
							merged = append(merged, item)
						}
					}
				}
				if len(merged) > 0 {
					out[key] = merged
				}
			case !present:
				out[key] = sv
			case m.replace != nil && jsonEqual(iv, m.replace):
				out[key] = sv // the placeholder came back
			}
		}
		return out, nil
	}
	return in, nil
}

func jsonEqual(a, b any) bool {
	return string(fhir.AppendJSON(nil, a)) == string(fhir.AppendJSON(nil, b))
}

// unlabelRedacted removes the REDACTED label a client sent back with what
// it was shown: the version stored is whole again.
func unlabelRedacted(res map[string]any) map[string]any {
	meta, ok := res["meta"].(map[string]any)
	if !ok {
		return res
	}
	labels, _ := meta["security"].([]any)
	kept := slices.DeleteFunc(slices.Clone(labels), func(l any) bool {
		c, ok := l.(map[string]any)
		return ok && c["code"] == RedactedLabel["code"] && c["system"] == RedactedLabel["system"]
	})
	if len(kept) == len(labels) {
		return res
	}
	meta = shallowCopy(meta)
	if len(kept) == 0 {
		delete(meta, "security")
	} else {
		meta["security"] = kept
	}
	out := shallowCopy(res)
	if len(meta) == 0 {
		delete(out, "meta")
	} else {
		out["meta"] = meta
	}
	return out
}

// MaskedPath is an element hidden from a caller: Type "*" for every
// DomainResource, Path below the type with choices as "value[x]", URLs
// set when only the extensions with those URLs are hidden.
type MaskedPath struct {
	Type, Path string
	URLs       []string
}

// MaskedPaths lists what is hidden from the caller of ctx, for the checks
// that keep searches from matching on it; nil for a caller who sees all.
func (g *Gate) MaskedPaths(ctx context.Context) []MaskedPath {
	p, ok := g.policy.(*RolePolicy)
	if !ok {
		return nil
	}
	pr := PrincipalFrom(ctx)
	if pr == nil {
		return nil
	}
	role, ok := p.roles.Role(pr.Role)
	if !ok {
		return nil
	}
	var out []MaskedPath
	for _, m := range role.masks {
		mp := MaskedPath{Type: m.typ, Path: strings.Join(m.segs, ".")}
		for u := range m.urls {
			mp.URLs = append(mp.URLs, u)
		}
		slices.Sort(mp.URLs)
		out = append(out, mp)
	}
	return out
}
