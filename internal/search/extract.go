package search

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpath"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// extractRules names the conversion rules of this file and its siblings.
// Bump it whenever a conversion changes what is indexed, so that Version
// changes and stored indexes are rebuilt.
const extractRules = "extract/1"

// Extractor turns a resource into the index entries of every search
// parameter whose expression applies to its type (store.Extractor). It is
// built once from the definitions and is safe for concurrent use.
type Extractor struct {
	defs  *spec.Definitions
	model *cachedModel
	plans map[string][]*plan // by resource type
	// sizes holds, per resource type, the most entries one resource has
	// given (up to maxSizeHint), to allocate the result once: an Entry
	// is large and regrowing the slice was a third of Extract's time.
	sizes   map[string]*atomic.Int32
	version string
	// broken lists the expressions that did not compile, by parameter URL.
	broken map[string]string

	evalFailures atomic.Int64
	mu           sync.Mutex
	failures     map[string]string // param URL → last evaluation error
}

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
	choice    bool
	path      *simplePath
	fast      *fhirpath.Expression
	fastPath  *simplePath
	resolveIs string
}

// absent reports whether res lacks the part's first element.
func (pt *part) absent(res fhir.Resource) bool {
	if pt.key == "" {
		return false
	}
	if _, ok := res[pt.key]; ok {
		return false
	}
	if _, ok := res["_"+pt.key]; ok {
		return false
	}
	if pt.choice {
		for k := range res {
			if len(k) > len(pt.key) && k[:len(pt.key)] == pt.key && 'A' <= k[len(pt.key)] && k[len(pt.key)] <= 'Z' {
				return false
			}
		}
	}
	return true
}

type component struct {
	kind Kind
	expr *fhirpath.Expression
	path *simplePath // when the composite's values have a known type
}

// Stats counts what the Extractor could not do.
type Stats struct {
	// Broken maps the URL of each parameter whose expression (or a
	// component's) does not compile or cannot be prepared to why.
	Broken map[string]string
	// EvalFailures counts evaluations that failed since construction;
	// Failures holds the last error per parameter URL.
	EvalFailures int64
	Failures     map[string]string
}

// NewExtractor compiles the expression of every search parameter of defs,
// once, split per resource type. Parameters whose expression does not
// compile are left out and reported by Stats.
func NewExtractor(defs *spec.Definitions) *Extractor {
	x := &Extractor{
		defs:     defs,
		model:    newCachedModel(defs.FHIRPathModel()),
		plans:    make(map[string][]*plan),
		sizes:    make(map[string]*atomic.Int32),
		broken:   make(map[string]string),
		failures: make(map[string]string),
	}
	byURL := make(map[string]*spec.SearchParam, len(defs.SearchParams))
	for _, sp := range defs.SearchParams {
		byURL[sp.URL] = sp
	}
	compiled := make(map[string]*fhirpath.Expression)
	compile := func(src string) (*fhirpath.Expression, error) {
		if e, ok := compiled[src]; ok {
			return e, nil
		}
		e, err := fhirpath.Compile(src)
		if err != nil {
			return nil, err
		}
		compiled[src] = e
		return e, nil
	}
	var types []string
	for name, t := range defs.Types {
		if t.Kind == "resource" && !t.Abstract {
			types = append(types, name)
		}
	}
	sort.Strings(types)
	for _, typ := range types {
		params := defs.SearchParamsFor(typ)
		codes := make([]string, 0, len(params))
		for code := range params {
			codes = append(codes, code)
		}
		sort.Strings(codes)
		for _, code := range codes {
			sp := params[code]
			kind := Kind(sp.Type)
			if sp.Expression == "" || kind == KindSpecial {
				continue
			}
			srcs := x.partsFor(sp.Expression, typ)
			if len(srcs) == 0 {
				continue // no part of the union concerns typ
			}
			p := &plan{param: sp, kind: kind}
			for _, src := range srcs {
				e, err := compile(src)
				if err != nil {
					x.broken[sp.URL] = err.Error()
					p = nil
					break
				}
				pt := part{expr: e, path: x.compilePath(src, typ, false)}
				if prefix, target, ok := splitResolveIs(src); ok && x.defs.IsResource(target) {
					if fast, err := compile(prefix); err == nil {
						pt.fast, pt.resolveIs = fast, target
						pt.fastPath = x.compilePath(prefix, typ, false)
					}
				}
				if lead, key := firstStep(src); key != "" {
					if _, isChoice, ok := x.model.ChildType(lead, key); ok {
						pt.key, pt.choice = key, isChoice
					}
				}
				p.parts = append(p.parts, pt)
			}
			if p == nil {
				continue
			}
			if kind == KindComposite {
				p.components = make([]component, len(sp.Component))
				for i, c := range sp.Component {
					ce, err := compile(c.Expression)
					if err != nil {
						x.broken[sp.URL] = fmt.Sprintf("component %s: %v", c.Definition, err)
						p = nil
						break
					}
					p.components[i] = component{kind: x.componentKind(byURL, c.Definition), expr: ce}
					if len(p.parts) == 1 && p.parts[0].path != nil {
						if t := p.parts[0].path.lastType(); t != "" {
							p.components[i].path = x.compilePath(c.Expression, t, true)
						}
					}
				}
				if p == nil {
					continue
				}
			}
			x.plans[typ] = append(x.plans[typ], p)
		}
		x.sizes[typ] = new(atomic.Int32)
	}
	x.version = definitionsHash(defs)
	return x
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

// Version identifies the definitions and the extraction rules.
func (x *Extractor) Version() string { return x.version }

// Stats reports the expressions that could not be compiled and the
// evaluation failures so far.
func (x *Extractor) Stats() Stats {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := Stats{Broken: make(map[string]string, len(x.broken)), Failures: make(map[string]string, len(x.failures)),
		EvalFailures: x.evalFailures.Load()}
	for k, v := range x.broken {
		s.Broken[k] = v
	}
	for k, v := range x.failures {
		s.Failures[k] = v
	}
	return s
}

// Params returns the number of parameters indexed for a resource type.
func (x *Extractor) Params(resourceType string) int { return len(x.plans[resourceType]) }

// Extract returns the index entries of res. A parameter whose expression
// fails on res is skipped (and counted in Stats): indexing never fails a
// write. The error is reserved for a resource without a known type.
func (x *Extractor) Extract(res fhir.Resource) ([]Entry, error) {
	typ := res.Type()
	plans, ok := x.plans[typ]
	if !ok {
		if !x.defs.IsResource(typ) {
			return nil, fmt.Errorf("search: extract: unknown resource type %q", typ)
		}
		return nil, nil
	}
	size := x.sizes[typ]
	ex := extraction{x: x, res: res, bundle: typ == "Bundle", ctx: fhirpath.Context{Model: x.model, Lenient: true, Resource: res},
		out: make([]Entry, 0, max(16, size.Load()))}
	for _, p := range plans {
		nodes := ex.eval(p)
		if len(nodes) == 0 {
			continue
		}
		if p.kind == KindComposite {
			ex.composite(p, nodes)
			continue
		}
		start := len(ex.out)
		for _, n := range nodes {
			ex.add(p.param.Code, p.kind, n)
		}
		ex.dedup(start)
	}
	if n := int32(min(len(ex.out), maxSizeHint)); n > size.Load() {
		size.Store(n)
	}
	return ex.out, nil
}

const maxSizeHint = 1024

func (x *Extractor) fail(sp *spec.SearchParam, err error) {
	x.evalFailures.Add(1)
	x.mu.Lock()
	x.failures[sp.URL] = err.Error()
	x.mu.Unlock()
}

// extraction is the state of one Extract call.
type extraction struct {
	x      *Extractor
	res    fhir.Resource
	bundle bool // resolve() looks into the entries: no fast path
	ctx    fhirpath.Context
	out    []Entry
	groups int
}

// dedup removes the entries from start on that repeat an earlier one (the
// same given name in two HumanNames, the same code in two parts of a
// union): the index needs each value once.
func (ex *extraction) dedup(start int) {
	added := ex.out[start:]
	if len(added) < 2 {
		return
	}
	kept := added[:1]
	if len(added) <= 32 {
		for i := 1; i < len(added); i++ {
			if !slices.Contains(kept, added[i]) {
				kept = append(kept, added[i])
			}
		}
	} else {
		seen := make(map[Entry]bool, len(added))
		seen[added[0]] = true
		for i := 1; i < len(added); i++ {
			if !seen[added[i]] {
				seen[added[i]] = true
				kept = append(kept, added[i])
			}
		}
	}
	clear(added[len(kept):])
	ex.out = ex.out[:start+len(kept)]
}

// eval evaluates the parts of a plan on the resource and joins their
// results, without the items that several parts select.
func (ex *extraction) eval(p *plan) []fhirpath.Node {
	var nodes []fhirpath.Node
	joined := 0
	for i := range p.parts {
		pt := &p.parts[i]
		if pt.absent(ex.res) {
			continue
		}
		var got []fhirpath.Node
		var err error
		switch {
		case pt.path != nil:
			got = pt.path.eval(ex.res, nil)
		case pt.fastPath != nil && !ex.bundle:
			got = ex.filterResolveIs(pt.fastPath.eval(ex.res, nil), pt.resolveIs)
		case pt.fast != nil && !ex.bundle:
			got, err = pt.fast.Evaluate(&ex.ctx, ex.res)
			got = ex.filterResolveIs(got, pt.resolveIs)
		default:
			got, err = pt.expr.Evaluate(&ex.ctx, ex.res)
		}
		if err != nil {
			ex.x.fail(p.param, err)
			continue
		}
		if len(got) == 0 {
			continue
		}
		if nodes == nil {
			nodes = got
			continue
		}
		if joined == 0 {
			nodes = append([]fhirpath.Node(nil), nodes...)
		}
		joined++
		for _, n := range got {
			if !containsNode(nodes, n) {
				nodes = append(nodes, n)
			}
		}
	}
	return nodes
}

// containsNode reports whether nodes holds n itself: the same element of
// the same object. Computed values (no Parent) are never the same.
func containsNode(nodes []fhirpath.Node, n fhirpath.Node) bool {
	if n.Parent == nil {
		return false
	}
	id := reflect.ValueOf(n.Parent).UnsafePointer()
	for _, m := range nodes {
		if m.Key == n.Key && m.Index == n.Index && m.Parent != nil && reflect.ValueOf(m.Parent).UnsafePointer() == id {
			return true
		}
	}
	return false
}

// composite indexes each value of a composite parameter as a group of
// component entries. A value lacking one of the components is left out:
// a composite search needs every component to match.
func (ex *extraction) composite(p *plan, nodes []fhirpath.Node) {
	for _, n := range nodes {
		start := len(ex.out)
		group := ex.groups + 1
		complete := true
		for i, c := range p.components {
			var vals []fhirpath.Node
			if m, ok := n.Value.(map[string]any); ok && c.path != nil {
				vals = c.path.eval(m, nil)
			} else {
				var err error
				if vals, err = c.expr.Evaluate(&ex.ctx, n); err != nil {
					ex.x.fail(p.param, err)
				}
			}
			from := len(ex.out)
			for _, v := range vals {
				ex.add(p.param.Code, c.kind, v)
			}
			if len(ex.out) == from {
				complete = false
				break
			}
			for j := from; j < len(ex.out); j++ {
				ex.out[j].Group, ex.out[j].Component = group, i
			}
		}
		if !complete {
			clear(ex.out[start:])
			ex.out = ex.out[:start]
			continue
		}
		ex.groups = group
	}
}
