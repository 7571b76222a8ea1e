package search

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpath"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/sharedtest"
)

// The Extractor is costly to build (every expression compiled); tests share one.
var (
	sharedExtractorOnce sync.Once
	sharedExtractor     *Extractor
)

func testExtractor(t testing.TB) *Extractor {
	t.Helper()
	sharedExtractorOnce.Do(func() { sharedExtractor = NewExtractor(spec.R5()) })
	return sharedExtractor
}

// TestExtractExamples extracts every official R5 example (and each resource
// inside an example Bundle) and prints what it found: entries per kind and
// the expressions that failed to compile or evaluate.
func TestExtractExamples(t *testing.T) {
	examples := sharedtest.R5Examples(t)
	x := NewExtractor(spec.R5())
	perKind := map[Kind]int{}
	perParam := map[string]int{}
	perType := map[string]int{}
	composite := 0
	resources := 0
	var extract func(file string, res fhir.Resource)
	extract = func(file string, res fhir.Resource) {
		resources++
		perType[res.Type()]++
		entries, err := x.Extract(res)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			return
		}
		for _, e := range entries {
			perKind[e.Kind]++
			perParam[res.Type()+"."+e.Param]++
			if e.Group > 0 {
				composite++
			}
			if e.Kind == "" || e.Param == "" {
				t.Errorf("%s: entry without kind or param: %+v", file, e)
			}
		}
		if res.Type() == "Bundle" {
			entries, _ := res["entry"].([]any)
			for _, en := range entries {
				en, _ := en.(map[string]any)
				if r, ok := en["resource"].(map[string]any); ok {
					extract(file, fhir.Resource(r))
				}
			}
		}
	}
	for _, ex := range examples {
		res, err := fhir.ParseResource(ex.Body)
		if err != nil {
			t.Errorf("%s: %v", ex.File, err)
			continue
		}
		extract(ex.File, res)
	}
	total := 0
	var kinds []string
	for k, n := range perKind {
		total += n
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	t.Logf("%d examples, %d resources, %d entries: %s", len(examples), resources, total, strings.Join(kinds, " "))
	t.Logf("%d of them composite components; %d distinct type.param indexed", composite, len(perParam))
	// Parameters that indexed nothing although examples of their type
	// exist: often the examples lack the element, sometimes the expression
	// silently selects nothing.
	var silent []string
	for typ := range perType {
		for _, p := range x.plans[typ] {
			// Meta parameters (_tag, _source, ...) are left out: few
			// examples have meta.
			if perParam[typ+"."+p.param.Code] == 0 && !strings.HasPrefix(p.param.Code, "_") {
				silent = append(silent, typ+"."+p.param.Code)
			}
		}
	}
	sort.Strings(silent)
	t.Logf("%d type.param (other than _x) never indexed on the examples", len(silent))
	if testing.Verbose() {
		t.Logf("  %s", strings.Join(silent, " "))
	}
	st := x.Stats()
	t.Logf("%d plans (resource type × parameter), %d parts, %d walked as simple paths", st.Plans, st.Parts, st.Walked)
	t.Logf("%d parameters not compiled, %d evaluation failures (%d parameters)", len(st.Broken), st.EvalFailures, len(st.Failures))
	for _, m := range []map[string]string{st.Broken, st.Failures} {
		var urls []string
		for u := range m {
			urls = append(urls, u)
		}
		sort.Strings(urls)
		for _, u := range urls {
			t.Logf("  %s: %s", u, m[u])
		}
	}
}

// TestResolveIsFastPath checks on every example that filtering references
// by their text selects what where(resolve() is T) selects.
func TestResolveIsFastPath(t *testing.T) {
	examples := sharedtest.R5Examples(t)
	x := testExtractor(t)
	checked := 0
	for _, exm := range examples {
		res, err := fhir.ParseResource(exm.Body)
		if err != nil || res.Type() == "Bundle" {
			continue
		}
		ex := extraction{x: x, res: res}
		ex.ctx.Model, ex.ctx.Lenient, ex.ctx.Resource = x.model, true, res
		for _, p := range x.plans[res.Type()] {
			for _, pt := range p.parts {
				if pt.fast == nil {
					continue
				}
				want, err1 := pt.expr.Evaluate(&ex.ctx, res)
				got, err2 := pt.fast.Evaluate(&ex.ctx, res)
				if err1 != nil || err2 != nil {
					t.Errorf("%s %s: %v / %v", exm.File, p.param.Code, err1, err2)
					continue
				}
				got = ex.filterResolveIs(got, pt.resolveIs)
				checked++
				if len(got) != len(want) {
					t.Errorf("%s %s: fast path gives %d references, %s gives %d", exm.File, p.param.Code, len(got), pt.expr, len(want))
					continue
				}
				for i := range got {
					if got[i].Key != want[i].Key || got[i].Index != want[i].Index {
						t.Errorf("%s %s: item %d differs", exm.File, p.param.Code, i)
					}
				}
			}
		}
	}
	t.Logf("%d evaluations compared", checked)
}

// TestSimplePaths checks on every example (and Bundle entry) that walking a
// part compiled as a simple path selects what FHIRPath selects.
func TestSimplePaths(t *testing.T) {
	examples := sharedtest.R5Examples(t)
	x := testExtractor(t)
	simple, parts, compared := 0, 0, 0
	for _, plans := range x.plans {
		for _, p := range plans {
			for _, pt := range p.parts {
				parts++
				if pt.path != nil {
					simple++
				}
			}
		}
	}
	nonNil := func(nodes []fhirpath.Node) []fhirpath.Node {
		var out []fhirpath.Node
		for _, n := range nodes {
			if n.Value != nil {
				out = append(out, n)
			}
		}
		return out
	}
	var check func(file string, res fhir.Resource)
	check = func(file string, res fhir.Resource) {
		ctx := &fhirpath.Context{Model: x.model, Lenient: true, Resource: res}
		for _, p := range x.plans[res.Type()] {
			for _, pt := range p.parts {
				if pt.path == nil {
					continue
				}
				want, err := pt.expr.Evaluate(ctx, res)
				if err != nil {
					t.Errorf("%s %s: %v", file, p.param.Code, err)
					continue
				}
				want = nonNil(want)
				got := pt.path.eval(res, nil)
				compared++
				for _, n := range got {
					m, _ := n.Value.(map[string]any)
					for _, c := range p.components {
						cp := c.paths[n.Type]
						if cp == nil || m == nil {
							continue
						}
						cwant, err := c.expr.Evaluate(ctx, n)
						if err != nil {
							t.Errorf("%s %s: %v", file, p.param.Code, err)
							continue
						}
						cwant, cgot := nonNil(cwant), cp.eval(m, nil)
						compared++
						if len(cgot) != len(cwant) {
							t.Errorf("%s %s: component path gives %d items, %s gives %d", file, p.param.Code, len(cgot), c.expr, len(cwant))
						}
					}
				}
				if len(got) != len(want) {
					t.Errorf("%s %s: path gives %d items, %s gives %d", file, p.param.Code, len(got), pt.expr, len(want))
					continue
				}
				for i := range got {
					if got[i].Key != want[i].Key || got[i].Index != want[i].Index || got[i].Type != want[i].Type {
						t.Errorf("%s %s: item %d is %s[%d] %s, FHIRPath gives %s[%d] %s", file, p.param.Code, i,
							got[i].Key, got[i].Index, got[i].Type, want[i].Key, want[i].Index, want[i].Type)
					}
				}
			}
		}
		if res.Type() == "Bundle" {
			entries, _ := res["entry"].([]any)
			for _, en := range entries {
				en, _ := en.(map[string]any)
				if r, ok := en["resource"].(map[string]any); ok {
					check(file, fhir.Resource(r))
				}
			}
		}
	}
	for _, exm := range examples {
		res, err := fhir.ParseResource(exm.Body)
		if err != nil {
			continue
		}
		check(exm.File, res)
	}
	t.Logf("%d of %d parts are simple paths; %d evaluations compared", simple, parts, compared)
}

// TestShortcutsAgree extracts every example twice, with the shortcuts and
// through FHIRPath alone, and compares the entries.
func TestShortcutsAgree(t *testing.T) {
	examples := sharedtest.R5Examples(t)
	fast := testExtractor(t)
	plain := NewExtractor(fast.defs)
	plain.plain = true
	// Group numbers depend on the order composites are met: compare
	// without them.
	count := func(entries []Entry) map[Entry]int {
		m := make(map[Entry]int, len(entries))
		for _, e := range entries {
			e.Group = 0
			m[e]++
		}
		return m
	}
	compared := 0
	examples = append(examples, sharedtest.Example{File: "patientJSON", Body: []byte(patientJSON)},
		sharedtest.Example{File: "observationJSON", Body: []byte(observationJSON)},
		sharedtest.Example{File: "bare patient", Body: []byte(`{"resourceType": "Patient"}`)})
	for _, exm := range examples {
		res, err := fhir.ParseResource(exm.Body)
		if err != nil {
			continue
		}
		got, err1 := fast.Extract(res)
		want, err2 := plain.Extract(res)
		if err1 != nil || err2 != nil {
			t.Errorf("%s: %v / %v", exm.File, err1, err2)
			continue
		}
		compared++
		if g, w := count(got), count(want); !cmp.Equal(g, w) {
			t.Errorf("%s: entries differ (-plain +fast):\n%s", exm.File, cmp.Diff(w, g))
		}
	}
	t.Logf("%d examples compared", compared)
}
