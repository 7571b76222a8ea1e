package validate

import (
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// Natively evaluated invariants. A handful of constraints sit on elements
// every resource is full of (each Coding, each Reference, each Period) or
// on every resource (dom-2 to dom-6): through FHIRPath they were three
// quarters of what the invariants cost an import. Each is evaluated here in Go
// instead, but only while its definition's expression is, character for
// character, the one this code implements: another version of the
// definitions falls back to FHIRPath. TestNativeInvariants checks each
// against FHIRPath on every site of the official examples and of Synthea.

// nativeInvariant evaluates one constraint at a site. decided false
// leaves the constraint to FHIRPath (dom-3 decides only the common case).
type nativeInvariant struct {
	expression string
	eval       func(at InvariantSite) (holds, decided bool)
}

var nativeInvariants = map[string]nativeInvariant{
	"cod-1": {
		expression: `code.exists().not() implies display.exists().not()`,
		eval: func(at InvariantSite) (bool, bool) {
			return has(at.Node, "code") || !has(at.Node, "display"), true
		},
	},
	"ref-2": {
		expression: `reference.exists() or identifier.exists() or display.exists() or extension.exists()`,
		eval: func(at InvariantSite) (bool, bool) {
			n := at.Node
			return has(n, "reference") || has(n, "identifier") || has(n, "display") || has(n, "extension"), true
		},
	},
	"ref-1": {
		expression: `reference.exists()  implies (reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids')) or (reference='#' and %rootResource!=%resource))`,
		eval:       localReferenceResolves,
	},
	// The constraints on contained resources hold, without evaluating,
	// when there are none (nearly always); otherwise FHIRPath decides.
	"dom-2": {
		expression: `contained.contained.empty()`,
		eval:       noContained,
	},
	"dom-4": {
		expression: `contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()`,
		eval:       noContained,
	},
	"dom-5": {
		expression: `contained.meta.security.empty()`,
		eval:       noContained,
	},
	"dom-6": {
		expression: "text.`div`.exists()",
		eval: func(at InvariantSite) (bool, bool) {
			text, ok := at.Node["text"].(map[string]any)
			if !ok {
				return false, !has(at.Node, "text")
			}
			return has(text, "div"), true
		},
	},
	"ext-1": {
		expression: `extension.exists() != value.exists()`,
		eval: func(at InvariantSite) (bool, bool) {
			return has(at.Node, "extension") != hasChoice(at.Node, "value"), true
		},
	},
	"qty-3": {
		expression: `code.empty() or system.exists()`,
		eval: func(at InvariantSite) (bool, bool) {
			return !has(at.Node, "code") || has(at.Node, "system"), true
		},
	},
	"ident-1": {
		expression: `value.exists()`,
		eval: func(at InvariantSite) (bool, bool) {
			return has(at.Node, "value"), true
		},
	},
	"obs-6": {
		expression: `dataAbsentReason.empty() or value.empty()`,
		eval: func(at InvariantSite) (bool, bool) {
			return !has(at.Node, "dataAbsentReason") || !hasChoice(at.Node, "value"), true
		},
	},
	// Holds when the Observation has no value or no component, which is
	// nearly always; otherwise FHIRPath compares the codings.
	"obs-7": {
		expression: `value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()`,
		eval: func(at InvariantSite) (bool, bool) {
			return true, !hasChoice(at.Node, "value") || !has(at.Node, "component")
		},
	},
	"enc-1": {
		expression: `actor.exists() or type.exists()`,
		eval: func(at InvariantSite) (bool, bool) {
			return has(at.Node, "actor") || has(at.Node, "type"), true
		},
	},
	// Holds without a type or an actor, or with an actor that a relative
	// reference names as neither a Patient nor a Group (a practitioner,
	// nearly always); otherwise FHIRPath resolves the actor.
	"enc-2": {
		expression: `actor.exists(resolve() is Patient or resolve() is Group) implies type.exists().not()`,
		eval: func(at InvariantSite) (bool, bool) {
			if !has(at.Node, "type") || !has(at.Node, "actor") {
				return true, true
			}
			actor, _ := at.Node["actor"].(map[string]any)
			ref, _ := actor["reference"].(string)
			typ, id, ok := strings.Cut(ref, "/")
			if !ok || typ == "Patient" || typ == "Group" || !isTypeName(typ) || !fhir.ValidID(id) {
				return false, false
			}
			return true, true
		},
	},
	"obs-8": {
		expression: `bodySite.exists() implies bodyStructure.empty()`,
		eval: func(at InvariantSite) (bool, bool) {
			return !has(at.Node, "bodySite") || !has(at.Node, "bodyStructure"), true
		},
	},
	"per-1": {
		expression: `start.hasValue().not() or end.hasValue().not() or (start.lowBoundary() <= end.highBoundary())`,
		eval:       periodInOrder,
	},
	"dom-3": {
		expression: `contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | %resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or descendants().where(ofType(canonical) = '#').exists() or descendants().where(ofType(canonical) = '#').exists()).not()).trace('unmatched', id).empty()`,
		eval:       containedReferenced,
	},
}

// noContained holds a constraint on the contained resources of a
// resource that has none, and leaves the others to FHIRPath.
func noContained(at InvariantSite) (bool, bool) {
	return true, !has(at.Node, "contained")
}

// hasChoice is FHIRPath's name.exists() for a choice element name[x]:
// any property name + a type (valueQuantity), or its extensions alone.
func hasChoice(obj map[string]any, name string) bool {
	for k := range obj {
		k = strings.TrimPrefix(k, "_")
		if len(k) > len(name) && strings.HasPrefix(k, name) && 'A' <= k[len(name)] && k[len(name)] <= 'Z' {
			return true
		}
	}
	return false
}

// periodInOrder decides per-1 where a Period lacks a start or an end
// value (it holds), or has both to the second with a zone, as nearly all
// do: the start's low boundary is itself, the end's high boundary its
// last millisecond. Other precisions leave it to FHIRPath.
func periodInOrder(at InvariantSite) (bool, bool) {
	start, ok := at.Node["start"].(string)
	if !ok {
		return true, true
	}
	end, ok := at.Node["end"].(string)
	if !ok {
		return true, true
	}
	s, ok1 := secondsWithZone(start)
	e, ok2 := secondsWithZone(end)
	if !ok1 || !ok2 {
		return false, false
	}
	return !s.After(e.Add(999 * time.Millisecond)), true
}

// secondsWithZone parses a dateTime given to the second with a zone,
// and nothing else: 2020-01-01T10:00:00Z or 2020-01-01T10:00:00+01:00.
func secondsWithZone(v string) (time.Time, bool) {
	if (len(v) != 20 || v[19] != 'Z') && (len(v) != 25 || v[19] != '+' && v[19] != '-') {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// has is FHIRPath's name.exists() on a JSON object whose structure the
// walk found valid: a value, or a primitive's extensions alone.
func has(obj map[string]any, name string) bool {
	if _, ok := obj[name]; ok {
		return true
	}
	_, ok := obj["_"+name]
	return ok
}

// localReferenceResolves is ref-1: a reference "#id" names a resource
// contained in the root resource. A reference with no value (extensions
// only) makes the FHIRPath empty, which is not a failure.
func localReferenceResolves(at InvariantSite) (bool, bool) {
	ref, ok := at.Node["reference"].(string)
	if !ok || !strings.HasPrefix(ref, "#") {
		return true, true
	}
	if ref == "#" {
		// Inside a contained resource it names the container; at the
		// root, "#".substring(1) is empty, and so is the whole FHIRPath.
		return true, true
	}
	contained, _ := at.Root["contained"].([]any)
	for _, c := range contained {
		if c, ok := c.(map[string]any); ok && c["id"] == ref[1:] {
			return true, true
		}
	}
	return false, true
}

// containedReferenced decides dom-3 when every contained resource with
// an id is referenced, as "#id", by an element called reference somewhere
// in the resource, as they nearly always are: that is the first
// alternative of the FHIRPath, so the constraint holds. Otherwise the
// other alternatives (canonical and uri values, "#" inside the contained
// resource) need the types of the elements, and FHIRPath decides.
func containedReferenced(at InvariantSite) (bool, bool) {
	contained, _ := at.Node["contained"].([]any)
	if len(contained) == 0 {
		return true, true
	}
	var refs []string
	for k, v := range at.Node {
		if k != "reference" { // the resource's own children are not its descendants' children
			refs = localReferences(v, refs)
		}
	}
	for _, c := range contained {
		c, _ := c.(map[string]any)
		id, ok := c["id"].(string)
		if !ok {
			continue // '#'+{} is empty: never a failure
		}
		found := false
		for _, r := range refs {
			if len(r) == len(id)+1 && r[1:] == id {
				found = true
				break
			}
		}
		if !found {
			return false, false
		}
	}
	return true, true
}

// localReferences appends the values starting with '#' of the elements
// called reference inside v.
func localReferences(v any, out []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "reference" {
				switch r := x.(type) {
				case string:
					if strings.HasPrefix(r, "#") {
						out = append(out, r)
					}
					continue
				case []any:
					for _, s := range r {
						if s, ok := s.(string); ok && strings.HasPrefix(s, "#") {
							out = append(out, s)
						}
					}
				}
			}
			out = localReferences(x, out)
		}
	case []any:
		for _, x := range v {
			out = localReferences(x, out)
		}
	}
	return out
}

// isTypeName reports whether s could name a resource type: an upper-case
// letter, then letters.
func isTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
