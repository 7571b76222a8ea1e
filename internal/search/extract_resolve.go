package search

import (
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpath"
)

// A third of the parameters filter references by their target's type:
// "Observation.subject.where(resolve() is Patient)". Through FHIRPath
// each reference is resolved to a stub resource by a regular expression;
// reading the type from the reference text directly is several times
// faster and gives the same answer outside Bundles (where resolve() also
// looks at the entries, and the full expression is evaluated).

const resolveIsSuffix = ".where(resolve() is "

// splitResolveIs splits "X.where(resolve() is T)" into X and T; ok is false
// for any other form.
func splitResolveIs(src string) (prefix, typ string, ok bool) {
	if !strings.HasSuffix(src, ")") {
		return "", "", false
	}
	i := strings.LastIndex(src, resolveIsSuffix)
	if i <= 0 {
		return "", "", false
	}
	typ = src[i+len(resolveIsSuffix) : len(src)-1]
	if typ == "" || leadingName(typ) != typ {
		return "", "", false
	}
	return src[:i], typ, true
}

// filterResolveIs keeps the nodes whose reference resolve() would type as
// typ (or a type derived from it), in place.
func (ex *extraction) filterResolveIs(nodes []fhirpath.Node, typ string) []fhirpath.Node {
	out := nodes[:0]
	for _, n := range nodes {
		ref := ""
		switch v := n.Value.(type) {
		case string:
			ref = v
		case map[string]any:
			ref, _ = v["reference"].(string)
		}
		if ref == "" {
			continue
		}
		if t := ex.referenceTarget(ref); t != "" && ex.x.defs.IsA(t, typ) {
			out = append(out, n)
		}
	}
	return out
}

// referenceTarget returns the type resolve() gives a reference outside a
// Bundle: a contained resource's type for "#id" (or a bare id), else the
// Type of a trailing Type/id[/_history/v].
func (ex *extraction) referenceTarget(ref string) string {
	if id, ok := strings.CutPrefix(ref, "#"); ok || !strings.Contains(ref, "/") {
		contained, _ := ex.res["contained"].([]any)
		for _, c := range contained {
			if m, ok := c.(map[string]any); ok && m["id"] == id {
				return fhir.Resource(m).Type()
			}
		}
	}
	path := ref
	if i := strings.LastIndex(path, "/_history/"); i >= 0 {
		if !validID(path[i+len("/_history/"):]) {
			return ""
		}
		path = path[:i]
	}
	slash := strings.LastIndexByte(path, '/')
	if slash < 0 || !validID(path[slash+1:]) {
		return ""
	}
	typ := path[:slash]
	if j := strings.LastIndexByte(typ, '/'); j >= 0 {
		typ = typ[j+1:]
	}
	if len(typ) < 2 || typ[0] < 'A' || typ[0] > 'Z' {
		return ""
	}
	for i := 1; i < len(typ); i++ {
		if c := typ[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return ""
		}
	}
	return typ
}

// validID reports whether s is a FHIR id: 1 to 64 letters, digits, '-'
// and '.'.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
