package search

import (
	"strings"

	"github.com/emr-project/emr/internal/fhir/fhirpath"
)

// Most search parameter expressions are plain paths: Patient.name,
// Observation.value.ofType(Quantity), Resource.meta.tag. Their types are
// known from the definitions before any resource is seen, so they can be
// walked over the JSON tree directly, without the FHIRPath evaluator's
// per-call set-up; the rest go through FHIRPath. The equivalence is
// checked on every official example (TestSimplePaths).

// simplePath is a path of elements compiled against the definitions.
type simplePath struct {
	steps []pathStep
	// rootType is the type of the input, given back as is when there are
	// no steps (a composite over the resource itself: "Observation").
	rootType string
}

// pathStep is one element; a choice element filtered by type
// (value.ofType(Quantity)) has one alternative per JSON key it may take
// (valueQuantity, or onsetAge and onsetQuantity for ofType(Quantity)).
type pathStep struct {
	alts []pathAlt
}

type pathAlt struct {
	key, typ string
}

// compilePath compiles src as a simple path on inputs of type rootType,
// or returns nil when it is not one. An absolute path starts with the
// type's name or a base of it (Resource.meta.lastUpdated); a relative one
// (a composite's component, "value.ofType(Quantity)") with an element.
func (x *Extractor) compilePath(src, rootType string, relative bool) *simplePath {
	s := strings.TrimSpace(src)
	for len(s) > 1 && s[0] == '(' && s[len(s)-1] == ')' && closingParen(s, 0) == len(s)-1 {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	p := &simplePath{rootType: rootType}
	if !relative {
		name := leadingName(s)
		if name == "" || !x.defs.IsA(rootType, name) {
			return nil
		}
		s = s[len(name):]
	} else {
		s = "." + s
	}
	cur := rootType
	for s != "" {
		if s[0] != '.' {
			return nil
		}
		name := leadingName(s[1:])
		if name == "" {
			return nil
		}
		s = s[1+len(name):]
		if strings.HasPrefix(s, "(") {
			return nil // a function where an element was expected
		}
		typ, isChoice, ok := x.model.ChildType(cur, name)
		if !ok {
			return nil
		}
		if !isChoice {
			if typ == "" || typ == "Resource" || x.defs.IsResource(typ) {
				return nil // polymorphic: the JSON decides the type
			}
			p.steps = append(p.steps, pathStep{alts: []pathAlt{{name, typ}}})
			cur = typ
			continue
		}
		// A choice element must be narrowed to a type, and end the path.
		// FHIRPath's ofType() and as() match primitives by name only (a
		// canonical is not taken for a uri), complex types by derivation
		// (an Age is a Quantity); its "as" operator matches primitives by
		// derivation too. The walk mirrors the evaluator.
		var want string
		exact := true
		switch {
		case strings.HasPrefix(s, ".ofType(") && strings.HasSuffix(s, ")"):
			want = s[len(".ofType(") : len(s)-1]
		case strings.HasPrefix(s, ".as(") && strings.HasSuffix(s, ")"):
			want = s[len(".as(") : len(s)-1]
		case strings.HasPrefix(s, " as "):
			want, exact = strings.TrimSpace(s[len(" as "):]), false
		default:
			return nil
		}
		if want == "" || leadingName(want) != want {
			return nil
		}
		var step pathStep
		for _, ct := range x.model.model.ChoiceTypes(cur, name) {
			if ct == want || (!exact || !x.defs.IsPrimitive(ct)) && x.defs.IsA(ct, want) {
				step.alts = append(step.alts, pathAlt{name + strings.ToUpper(ct[:1]) + ct[1:], ct})
			}
		}
		if len(step.alts) == 0 {
			return nil
		}
		p.steps = append(p.steps, step)
		return p
	}
	return p
}

// closingParen returns the index of the parenthesis that closes the one at
// open, or -1.
func closingParen(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		case '\'', '`':
			i = skipQuoted(s, i)
		}
	}
	return -1
}

// eval appends the values the path selects from root, as FHIRPath would
// give them (without primitives that have only extensions, which index
// nothing).
func (p *simplePath) eval(root map[string]any, out []fhirpath.Node) []fhirpath.Node {
	if len(p.steps) == 0 {
		return append(out, fhirpath.Node{Value: root, Type: p.rootType, Index: -1})
	}
	return p.walk(root, 0, out)
}

func (p *simplePath) walk(m map[string]any, i int, out []fhirpath.Node) []fhirpath.Node {
	last := i == len(p.steps)-1
	for _, alt := range p.steps[i].alts {
		v, ok := m[alt.key]
		if !ok || v == nil {
			continue
		}
		if items, isList := v.([]any); isList {
			for j, e := range items {
				if e == nil {
					continue
				}
				if last {
					out = append(out, fhirpath.Node{Value: e, Type: alt.typ, Parent: m, Key: alt.key, Index: j})
				} else if em, isObj := e.(map[string]any); isObj {
					out = p.walk(em, i+1, out)
				}
			}
			continue
		}
		if last {
			out = append(out, fhirpath.Node{Value: v, Type: alt.typ, Parent: m, Key: alt.key, Index: -1})
		} else if vm, isObj := v.(map[string]any); isObj {
			out = p.walk(vm, i+1, out)
		}
	}
	return out
}

// lastType is the static type of what the path selects, when it is one.
func (p *simplePath) lastType() string {
	if len(p.steps) == 0 {
		return p.rootType
	}
	if alts := p.steps[len(p.steps)-1].alts; len(alts) == 1 {
		return alts[0].typ
	}
	return ""
}
