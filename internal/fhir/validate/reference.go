package validate

import (
	"slices"
	"strings"
)

// reference checks Reference.reference and Reference.type against the
// syntax FHIR allows and the element's target profiles.
func (w *walker) reference(obj map[string]any, targets []string) {
	if typ, ok := obj["type"].(string); ok {
		n := w.push("type")
		// Reference.type may be any resource type URL; the core names are
		// the usual case and the only ones checked.
		if !strings.Contains(typ, ":") {
			if !w.defs.IsResource(typ) {
				w.errorf("invalid", "%q is not a resource type", typ)
			} else if !targetAllowed(w, targets, typ) {
				w.errorf("invalid", "a reference to a %s is not allowed here (allowed: %s)", typ, strings.Join(targets, ", "))
			}
		}
		w.pop(n)
	}
	ref, ok := obj["reference"].(string)
	if !ok || ref == "" {
		return
	}
	n := w.push("reference")
	defer w.pop(n)
	typ, ok := referenceType(ref)
	if !ok {
		w.errorf("invalid", "%q is not a valid reference: expected Type/id, Type/id/_history/vid, an absolute URL, #id or urn:uuid:/urn:oid:", truncate(ref))
		return
	}
	if typ == "" {
		return
	}
	if !w.defs.IsResource(typ) {
		if strings.Contains(ref, "://") {
			return // an absolute URL whose path only looks like Type/id
		}
		w.errorf("invalid", "%q is not a resource type in reference %q", typ, truncate(ref))
		return
	}
	if !targetAllowed(w, targets, typ) {
		w.errorf("invalid", "a reference to a %s is not allowed here (allowed: %s)", typ, strings.Join(targets, ", "))
	}
}

func targetAllowed(w *walker, targets []string, typ string) bool {
	if len(targets) == 0 || slices.Contains(targets, "Resource") {
		return true
	}
	for _, t := range targets {
		if w.defs.IsA(typ, t) {
			return true
		}
	}
	return false
}

// referenceType parses a reference string and returns the resource type it
// names ("" when it names none, as #id and urn: forms do) and whether the
// syntax is acceptable.
func referenceType(ref string) (string, bool) {
	switch {
	case strings.HasPrefix(ref, "#"):
		return "", ref == "#" || validID(ref[1:])
	case strings.HasPrefix(ref, "urn:uuid:"):
		return "", uuidRE.MatchString(ref)
	case strings.HasPrefix(ref, "urn:oid:"):
		return "", oidRE.MatchString(ref)
	case strings.ContainsFunc(ref, isSpace):
		return "", false
	}
	if i := strings.Index(ref, "://"); i > 0 {
		// Absolute: the last Type/id[/_history/vid] of the path, if any.
		rest := ref[i+3:]
		if j := strings.IndexAny(rest, "?#"); j >= 0 {
			rest = rest[:j]
		}
		parts := strings.Split(rest, "/")
		if len(parts) >= 5 && parts[len(parts)-2] == "_history" {
			parts = parts[:len(parts)-2]
		}
		if len(parts) >= 3 {
			return parts[len(parts)-2], true
		}
		return "", true
	}
	// A conditional reference (Type?search), resolved in transactions.
	if i := strings.IndexByte(ref, '?'); i > 0 {
		return ref[:i], validTypeName(ref[:i])
	}
	parts := strings.Split(ref, "/")
	switch {
	case len(parts) == 2 && validTypeName(parts[0]) && validID(parts[1]):
		return parts[0], true
	case len(parts) == 4 && validTypeName(parts[0]) && validID(parts[1]) && parts[2] == "_history" && validID(parts[3]):
		return parts[0], true
	}
	return "", false
}

func validTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
