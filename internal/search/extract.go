package search

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpath"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// extractRules names the conversion rules of this file and its siblings.
// Bump it whenever a conversion changes what is indexed, so that Version
// changes and stored indexes are rebuilt.
const extractRules = "extract/2"

// Extractor turns a resource into the index entries of every search
// parameter whose expression applies to its type (store.Extractor). It is
// built once from the definitions and is safe for concurrent use.
type Extractor struct {
	defs  *spec.Definitions
	model *cachedModel
	plans map[string][]*plan // by resource type
	// sizes holds, per resource type, a little more than the entries the
	// last resource gave (up to maxSizeHint), to allocate the result once:
	// an Entry is large and regrowing the slice was a third of Extract's
	// time. Following the last rather than the largest keeps one huge
	// resource from inflating every later allocation.
	sizes   map[string]*atomic.Int32
	version string
	// broken lists the expressions that did not compile, by parameter URL.
	broken map[string]string

	// plain makes Extract evaluate every part through FHIRPath, without
	// the shortcuts (absent elements, simple paths, resolve() by the
	// reference text); tests compare the two.
	plain bool

	evalFailures atomic.Int64
	mu           sync.Mutex
	failures     map[string]string // param URL → last evaluation error
}

// Stats counts what the Extractor could not do.
type Stats struct {
	// Plans counts the (resource type, parameter) pairs prepared; Parts
	// their expression parts, of which Walked are walked as simple paths
	// rather than evaluated by FHIRPath.
	Plans, Parts, Walked int
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
	pl := planner{x: x, byURL: byURL, compiled: make(map[string]*fhirpath.Expression)}
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
			if p := pl.plan(params[code], typ); p != nil {
				x.plans[typ] = append(x.plans[typ], p)
			}
		}
		x.sizes[typ] = new(atomic.Int32)
	}
	x.version = definitionsHash(defs)
	return x
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
	for _, plans := range x.plans {
		s.Plans += len(plans)
		for _, p := range plans {
			s.Parts += len(p.parts)
			for _, pt := range p.parts {
				if pt.path != nil {
					s.Walked++
				}
			}
		}
	}
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
		ex.apply(p)
	}
	size.Store(int32(min(len(ex.out)+len(ex.out)/4, maxSizeHint)))
	return ex.out, nil
}

// apply adds the entries of one plan. A panic here is a bug of ours on an
// unforeseen shape of data: it is counted as the plan's failure, and the
// other parameters are still indexed, rather than failing the write.
func (ex *extraction) apply(p *plan) {
	start, groups := len(ex.out), ex.groups
	defer func() {
		if r := recover(); r != nil {
			clear(ex.out[start:])
			ex.out, ex.groups = ex.out[:start], groups
			ex.x.fail(p.param, fmt.Errorf("internal error: %v", r))
		}
	}()
	nodes := ex.eval(p)
	if len(nodes) == 0 {
		return
	}
	if p.kind == KindComposite {
		ex.composite(p, nodes)
		return
	}
	for _, n := range nodes {
		ex.add(p.param.Code, p.kind, n)
	}
	ex.dedup(start)
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
	// scratch is eval's buffer, reused from one plan to the next.
	scratch []fhirpath.Node
	ctx     fhirpath.Context
	out     []Entry
	groups  int
	// choices are the names a choice element of res could have, each
	// key's text before one of its capitals ("value" and "valueCodeable"
	// for valueCodeableConcept), made on first use: part.absent asks for
	// them on most parameters.
	choices     []string
	choicesMade bool
	choiceBuf   [24]string
}

// hasChoice reports whether res has an element name[x] under any type.
func (ex *extraction) hasChoice(name string) bool {
	if !ex.choicesMade {
		ex.choicesMade = true
		ex.choices = ex.choiceBuf[:0]
		for k := range ex.res {
			for i := 1; i < len(k); i++ {
				if 'A' <= k[i] && k[i] <= 'Z' {
					ex.choices = append(ex.choices, k[:i])
				}
			}
		}
	}
	return slices.Contains(ex.choices, name)
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
// results, without the items that several parts select. The result lives
// in a buffer that the next call reuses.
func (ex *extraction) eval(p *plan) []fhirpath.Node {
	nodes := ex.scratch[:0]
	for i := range p.parts {
		pt := &p.parts[i]
		if !ex.x.plain && pt.absent(ex) {
			continue
		}
		before := len(nodes)
		var got []fhirpath.Node
		var err error
		switch {
		case ex.x.plain:
			got, err = pt.expr.Evaluate(&ex.ctx, ex.res)
		case pt.path != nil:
			nodes = pt.path.eval(ex.res, nodes)
		case pt.fastPath != nil && !ex.bundle:
			nodes = pt.fastPath.eval(ex.res, nodes)
			nodes = nodes[:before+len(ex.filterResolveIs(nodes[before:], pt.resolveIs))]
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
		nodes = append(nodes, got...)
		if before > 0 {
			// Keep each item once: filtering in place is safe, the
			// write index never passes the read index.
			kept := nodes[:before]
			for _, n := range nodes[before:] {
				if !containsNode(kept, n) {
					kept = append(kept, n)
				}
			}
			nodes = kept
		}
	}
	ex.scratch = nodes
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
			if m, ok := n.Value.(map[string]any); ok && c.paths[n.Type] != nil && !ex.x.plain {
				vals = c.paths[n.Type].eval(m, nil)
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
