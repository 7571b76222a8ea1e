package fhirapi

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/emr-project/emr/internal/fhir"
)

// subsettedTag marks a resource returned with elements left out, as the
// specification requires for _summary and _elements.
var subsettedTag = map[string]any{
	"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
	"code":   "SUBSETTED",
}

// shape applies _summary and _elements to a resource about to be returned.
// The stored resource is never modified: a subset is a copy.
func (s *Server) shape(res fhir.Resource, query url.Values) (fhir.Resource, error) {
	summary := query.Get("_summary")
	elements := query.Get("_elements")
	if summary != "" && elements != "" {
		return nil, fhir.Errorf(fhir.KindInvalid, "_summary and _elements cannot be used together")
	}
	switch summary {
	case "", "false":
	case "true":
		return markSubsetted(s.summarize(res, res.Type(), map[string]any(res))), nil
	case "text":
		return markSubsetted(s.keep(res, func(key string) bool { return key == "text" || key == "id" || key == "meta" })), nil
	case "data":
		out := fhir.Resource{}
		for k, v := range res {
			if k != "text" {
				out[k] = v
			}
		}
		return markSubsetted(out), nil
	case "count":
		return nil, fhir.Errorf(fhir.KindInvalid, "_summary=count applies to searches only")
	default:
		return nil, fhir.Errorf(fhir.KindInvalid, "_summary must be true, text, data, count or false, not %q", summary)
	}
	if elements != "" {
		want := map[string]bool{}
		for _, e := range strings.Split(elements, ",") {
			e = strings.TrimSpace(e)
			if i := strings.IndexByte(e, '.'); i >= 0 { // Type.element form
				e = e[i+1:]
			}
			if e != "" {
				want[e] = true
			}
		}
		return markSubsetted(s.keep(res, func(key string) bool { return want[key] || want[choiceBase(key)] })), nil
	}
	return res, nil
}

// keep copies the top-level elements of res that pass want, plus
// resourceType, id, meta and every mandatory element.
func (s *Server) keep(res fhir.Resource, want func(string) bool) fhir.Resource {
	out := fhir.Resource{"resourceType": res.Type()}
	for k, v := range res {
		switch {
		case k == "resourceType":
		case k == "id" || k == "meta" || want(strings.TrimPrefix(k, "_")):
			out[k] = v
		default:
			if _, min, ok := s.elementInfo(res.Type(), res.Type(), k); ok && min > 0 {
				out[k] = v
			}
		}
	}
	return out
}

// summarize keeps the elements marked isSummary, recursing into backbone
// elements so that their non-summary children go too.
func (s *Server) summarize(res fhir.Resource, path string, obj map[string]any) fhir.Resource {
	out := fhir.Resource{}
	for k, v := range obj {
		if k == "resourceType" || (path == res.Type() && (k == "id" || k == "meta")) {
			out[k] = v
			continue
		}
		summary, min, ok := s.elementInfo(res.Type(), path, k)
		if !ok || (!summary && min == 0) {
			continue
		}
		elemPath := path + "." + strings.TrimPrefix(k, "_")
		switch v := v.(type) {
		case map[string]any:
			if s.isBackbone(elemPath) {
				out[k] = map[string]any(s.summarize(res, elemPath, v))
				continue
			}
		case []any:
			if s.isBackbone(elemPath) {
				list := make([]any, len(v))
				for i, e := range v {
					if m, ok := e.(map[string]any); ok {
						list[i] = map[string]any(s.summarize(res, elemPath, m))
					} else {
						list[i] = e
					}
				}
				out[k] = list
				continue
			}
		}
		out[k] = v
	}
	return out
}

// isBackbone reports whether path has children of its own in the definition
// (a backbone element), probed by the always-present id child.
func (s *Server) isBackbone(path string) bool {
	_, _, ok := s.opt.Model.ElementInfo(path + ".id")
	return ok
}

// elementInfo finds the definition of JSON property key below path,
// handling choice types (valueQuantity → value[x]) and _primitive siblings.
func (s *Server) elementInfo(typ, path, key string) (summary bool, min int, ok bool) {
	key = strings.TrimPrefix(key, "_")
	if summary, min, ok = s.opt.Model.ElementInfo(path + "." + key); ok {
		return
	}
	return s.opt.Model.ElementInfo(path + "." + choiceBase(key) + "[x]")
}

// choiceBase strips a type suffix from a choice element's JSON name:
// valueQuantity → value. Names without an upper-case letter come back as they are.
func choiceBase(key string) string {
	for i, r := range key {
		if i > 0 && unicode.IsUpper(r) {
			return key[:i]
		}
	}
	return key
}

func markSubsetted(res fhir.Resource) fhir.Resource {
	meta := map[string]any{}
	if m, ok := res["meta"].(map[string]any); ok {
		for k, v := range m {
			meta[k] = v
		}
	}
	tags, _ := meta["tag"].([]any)
	meta["tag"] = append(append([]any(nil), tags...), subsettedTag)
	res["meta"] = meta
	return res
}
