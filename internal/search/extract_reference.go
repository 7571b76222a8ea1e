package search

import (
	"strings"

	"github.com/emr-project/emr/internal/fhir/fhirpath"
)

// addReference indexes a Reference (its reference and its identifier), a
// CodeableReference's reference, a canonical or uri (RefURL, with the
// version after '|' in RefVersion) and an embedded resource (its type and
// id, for the resource-typed parameters of Bundle).
func (ex *extraction) addReference(param string, n fhirpath.Node) {
	m, ok := n.Value.(map[string]any)
	if !ok {
		if s, ok := n.Value.(string); ok {
			ex.putCanonical(param, s)
		}
		return
	}
	if rt := str(m, "resourceType"); rt != "" {
		if id := str(m, "id"); id != "" {
			ex.out = append(ex.out, Entry{Param: param, Kind: KindReference, RefType: rt, RefID: id})
		}
		return
	}
	switch n.Type {
	case "CodeableReference":
		if r := obj(m, "reference"); r != nil {
			ex.putReference(param, r)
		}
	case "Reference", "":
		ex.putReference(param, m)
	}
}

func (ex *extraction) putReference(param string, m map[string]any) {
	if ref := str(m, "reference"); ref != "" {
		if e, ok := ex.parseReference(ref); ok {
			e.Param = param
			ex.out = append(ex.out, e)
		}
	}
	if id := obj(m, "identifier"); id != nil {
		sys, val := str(id, "system"), str(id, "value")
		if sys != "" || val != "" {
			ex.out = append(ex.out, Entry{Param: param, Kind: KindReference, System: sys, Code: val})
		}
	}
}

// putCanonical indexes a canonical or uri value. A relative one (Type/id)
// is a local reference.
func (ex *extraction) putCanonical(param, s string) {
	if s == "" || s[0] == '#' {
		return
	}
	url, version, _ := strings.Cut(s, "|")
	if isAbsolute(url) {
		ex.out = append(ex.out, Entry{Param: param, Kind: KindReference, RefURL: url, RefVersion: version})
		return
	}
	if e, ok := ex.parseReference(url); ok {
		e.Param = param
		if version != "" {
			e.RefVersion = version
		}
		ex.out = append(ex.out, e)
	}
}

// parseReference reads Reference.reference: Type/id[/_history/v] is local;
// an absolute URL (urn:uuid and urn:oid included) is RefURL only. A reference to a contained resource (#id) is not indexed: it
// names nothing a search could ask for.
func (ex *extraction) parseReference(ref string) (Entry, bool) {
	e := Entry{Kind: KindReference}
	if ref == "" || ref[0] == '#' {
		return e, false
	}
	if strings.HasPrefix(ref, "urn:") {
		e.RefURL = ref
		return e, true
	}
	// An absolute URL is matched only as the URL it is. Reading its last
	// two segments as a local Type/id would let subject=Patient/1 find
	// records that point at another server's Patient/1: a different person.
	if isAbsolute(ref) {
		e.RefURL = ref
		return e, true
	}
	path := ref
	if i := strings.Index(path, "/_history/"); i >= 0 {
		e.RefVersion = path[i+len("/_history/"):]
		path = path[:i]
	}
	path = strings.TrimSuffix(path, "/")
	// The last two segments are Type/id.
	slash := strings.LastIndexByte(path, '/')
	if slash <= 0 {
		return e, e.RefURL != ""
	}
	id := path[slash+1:]
	typ := path[:slash]
	if j := strings.LastIndexByte(typ, '/'); j >= 0 {
		if e.RefURL == "" {
			// A relative reference has exactly two segments.
			return e, false
		}
		typ = typ[j+1:]
	}
	if id == "" || !ex.x.defs.IsResource(typ) {
		if e.RefURL == "" {
			return e, false
		}
		e.RefVersion = ""
		return e, true
	}
	e.RefType, e.RefID = typ, id
	return e, true
}
