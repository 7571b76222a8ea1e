package search

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/fhir/fhirpath"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// plan is one search parameter as applied to one resource type: its
// expression reduced to the parts that concern the type.
type plan struct {
	param *spec.SearchParam
	kind  Kind
	// parts are evaluated apart and their results joined (partsFor).
	parts []part
	// components, for a composite: the relative expression and kind of
	// each part, in definition order; nil when a part could not be
	// prepared (the composite is then skipped).
	components []component
}

// part is one part of a plan's expression. When it starts with a path
// into the resource (Patient.name, (Observation.value as Quantity)), key is
// the first element's name, choice whether it is a choice element: a
// resource without that element cannot give the part a value, and most
// parameters of a type select elements that a given resource lacks, so
// Extract skips them without evaluating.
//
// A part of the form X.where(resolve() is T) also has fast, X compiled
// alone, and resolveIs T: Extract evaluates X and filters the references
// itself (extract_resolve.go).
//
// path, when set, is the part compiled as a simple path (extract_path.go),
// walked instead of evaluating expr; fastPath likewise for fast.
type part struct {
	expr      *fhirpath.Expression
	key       string
	extKey    string // "_" + key, where a primitive's extensions are
	choice    bool
	path      *simplePath
	fast      *fhirpath.Expression
	fastPath  *simplePath
	resolveIs string
}

// absent reports whether the resource lacks the part's first element.
func (pt *part) absent(ex *extraction) bool {
	if pt.key == "" {
		return false
	}
	if _, ok := ex.res[pt.key]; ok {
		return false
	}
	if _, ok := ex.res[pt.extKey]; ok {
		return false
	}
	return !pt.choice || !ex.hasChoice(pt.key)
}

type component struct {
	kind Kind
	expr *fhirpath.Expression
	// paths holds the component compiled as a simple path relative to
	// each type the composite's parts give ("Observation",
	// "Observation.component"), when they are simple paths too.
	paths map[string]*simplePath
}

// planner prepares the plans of an Extractor, compiling each distinct
// expression once.
type planner struct {
	x        *Extractor
	byURL    map[string]*spec.SearchParam
	compiled map[string]*fhirpath.Expression
}

func (pl *planner) compile(src string) (*fhirpath.Expression, error) {
	if e, ok := pl.compiled[src]; ok {
		return e, nil
	}
	e, err := fhirpath.Compile(src)
	if err != nil {
		return nil, err
	}
	pl.compiled[src] = e
	return e, nil
}

// plan prepares sp for resources of type typ; nil when sp has nothing to
// extract there (no expression, special, no part for typ) or does not
// compile (recorded in x.broken).
func (pl *planner) plan(sp *spec.SearchParam, typ string) *plan {
	x := pl.x
	kind := Kind(sp.Type)
	if sp.Expression == "" || kind == KindSpecial {
		return nil
	}
	srcs := x.partsFor(sp.Expression, typ)
	if len(srcs) == 0 {
		return nil // no part of the union concerns typ
	}
	p := &plan{param: sp, kind: kind}
	for _, src := range srcs {
		e, err := pl.compile(src)
		if err != nil {
			x.broken[sp.URL] = err.Error()
			return nil
		}
		pt := part{expr: e, path: x.compilePath(src, typ, false)}
		if prefix, target, ok := splitResolveIs(src); ok && x.defs.IsResource(target) {
			if fast, err := pl.compile(prefix); err == nil {
				pt.fast, pt.resolveIs = fast, target
				pt.fastPath = x.compilePath(prefix, typ, false)
			}
		}
		if lead, key := firstStep(src); key != "" && emptyWhenAbsent(src) {
			if _, isChoice, ok := x.model.ChildType(lead, key); ok {
				pt.key, pt.extKey, pt.choice = key, "_"+key, isChoice
			}
		}
		p.parts = append(p.parts, pt)
	}
	if kind != KindComposite {
		return p
	}
	p.components = make([]component, len(sp.Component))
	for i, c := range sp.Component {
		ce, err := pl.compile(c.Expression)
		if err != nil {
			x.broken[sp.URL] = fmt.Sprintf("component %s: %v", c.Definition, err)
			return nil
		}
		p.components[i] = component{kind: x.componentKind(pl.byURL, c.Definition), expr: ce}
		for _, pt := range p.parts {
			if pt.path == nil {
				continue
			}
			if t := pt.path.lastType(); t != "" {
				if cp := x.compilePath(c.Expression, t, true); cp != nil {
					if p.components[i].paths == nil {
						p.components[i].paths = make(map[string]*simplePath)
					}
					p.components[i].paths[t] = cp
				}
			}
		}
	}
	return p
}

// componentKind returns the kind of a composite's component from its
// definition. A few R5 composites name definitions that the specification
// does not contain (Observation-value-string, Encounter-period, ...): the
// same code on the same base is tried, and failing that the kind is left
// "" for add to infer from each value's type.
func (x *Extractor) componentKind(byURL map[string]*spec.SearchParam, url string) Kind {
	if def := byURL[url]; def != nil {
		return Kind(def.Type)
	}
	name := url[strings.LastIndexByte(url, '/')+1:]
	if base, code, ok := strings.Cut(name, "-"); ok {
		if def := x.defs.SearchParamsFor(base)[code]; def != nil {
			return Kind(def.Type)
		}
	}
	return ""
}

// definitionsHash identifies the definitions and the rules applied to them.
func definitionsHash(defs *spec.Definitions) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", extractRules, defs.Package)
	for _, sp := range defs.SearchParams { // sorted by URL
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\n", sp.URL, sp.Code, sp.Type, strings.Join(sp.Base, ","), sp.Expression)
		for _, c := range sp.Component {
			fmt.Fprintf(h, "\t%s\x00%s\n", c.Definition, c.Expression)
		}
	}
	return extractRules + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}
