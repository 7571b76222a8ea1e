package main

import (
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/fhir/spec"
)

// concept is one member of an expansion; display may be empty.
type concept struct{ system, code, display string }

type expansion struct {
	ok    bool // false: cannot be enumerated from the package
	codes map[[2]string]string
}

// expander expands value sets from the package's own code systems. It
// handles what the core bindings use: whole systems, listed concepts,
// is-a / descendent-of / is-not-a filters on the concept hierarchy, and
// included or excluded value sets. Anything else (a system not in the
// package, a property filter, a code system that is not complete) makes the
// value set not enumerable rather than wrongly small.
type expander struct {
	p     *pkg
	done  map[string]*expansion
	stack map[string]bool
}

func newExpander(p *pkg) *expander {
	return &expander{p: p, done: map[string]*expansion{}, stack: map[string]bool{}}
}

func (x *expander) fileValueSet(url string) spec.FileValueSet {
	e := x.expand(url)
	fv := spec.FileValueSet{URL: url, Enumerable: e.ok}
	if !e.ok {
		return fv
	}
	keys := make([][2]string, 0, len(e.codes))
	for k := range e.codes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	for _, k := range keys {
		if n := len(fv.Systems); n == 0 || fv.Systems[n-1].System != k[0] {
			fv.Systems = append(fv.Systems, spec.FileVSSystem{System: k[0]})
		}
		s := &fv.Systems[len(fv.Systems)-1]
		s.Codes = append(s.Codes, k[1])
		s.Displays = append(s.Displays, e.codes[k])
	}
	return fv
}

var notEnumerable = &expansion{}

func (x *expander) expand(url string) *expansion {
	url = stripVersion(url)
	if e := x.done[url]; e != nil {
		return e
	}
	if x.stack[url] {
		return notEnumerable // a cycle
	}
	x.stack[url] = true
	defer delete(x.stack, url)
	e := x.compute(url)
	x.done[url] = e
	return e
}

func (x *expander) compute(url string) *expansion {
	vs := x.p.valueSets[url]
	if vs == nil {
		return notEnumerable
	}
	if vs.Compose == nil {
		if vs.Expansion == nil {
			return notEnumerable
		}
		e := &expansion{ok: true, codes: map[[2]string]string{}}
		var walk func([]expansionContains)
		walk = func(list []expansionContains) {
			for _, c := range list {
				if c.Code != "" {
					e.codes[[2]string{c.System, c.Code}] = c.Display
				}
				walk(c.Contains)
			}
		}
		walk(vs.Expansion.Contains)
		return e
	}
	e := &expansion{ok: true, codes: map[[2]string]string{}}
	for _, inc := range vs.Compose.Include {
		part := x.include(inc)
		if !part.ok {
			return notEnumerable
		}
		for k, d := range part.codes {
			e.codes[k] = d
		}
	}
	for _, exc := range vs.Compose.Exclude {
		part := x.include(exc)
		if !part.ok {
			return notEnumerable
		}
		for k := range part.codes {
			delete(e.codes, k)
		}
	}
	return e
}

// include evaluates one compose.include (or exclude).
func (x *expander) include(inc valueSetInclude) *expansion {
	var result *expansion
	if inc.System != "" {
		result = x.fromSystem(inc)
		if !result.ok {
			return notEnumerable
		}
	}
	for _, ref := range inc.ValueSet {
		part := x.expand(ref)
		if !part.ok {
			return notEnumerable
		}
		if result == nil {
			result = &expansion{ok: true, codes: map[[2]string]string{}}
			for k, d := range part.codes {
				result.codes[k] = d
			}
			continue
		}
		// Several sources in one include intersect.
		for k := range result.codes {
			if _, in := part.codes[k]; !in {
				delete(result.codes, k)
			}
		}
	}
	if result == nil {
		return notEnumerable
	}
	return result
}

func (x *expander) fromSystem(inc valueSetInclude) *expansion {
	cs := x.p.codeSystems[inc.System]
	e := &expansion{ok: true, codes: map[[2]string]string{}}
	if len(inc.Concept) > 0 {
		for _, c := range inc.Concept {
			d := c.Display
			if d == "" && cs != nil {
				if found := findConcept(cs.Concept, c.Code); found != nil {
					d = found.Display
				}
			}
			e.codes[[2]string{inc.System, c.Code}] = d
		}
		return e
	}
	if cs == nil || cs.Content != "complete" {
		return notEnumerable
	}
	if len(inc.Filter) == 0 {
		addAll(e, inc.System, cs.Concept)
		return e
	}
	first := true
	for _, f := range inc.Filter {
		part := &expansion{ok: true, codes: map[[2]string]string{}}
		if f.Property != "concept" {
			return notEnumerable
		}
		node := findConcept(cs.Concept, f.Value)
		if node == nil {
			return notEnumerable
		}
		switch f.Op {
		case "is-a":
			addAll(part, inc.System, []csConcept{*node})
		case "descendent-of":
			addAll(part, inc.System, node.Concept)
		case "is-not-a":
			addAll(part, inc.System, cs.Concept)
			sub := &expansion{codes: map[[2]string]string{}}
			addAll(sub, inc.System, []csConcept{*node})
			for k := range sub.codes {
				delete(part.codes, k)
			}
		default:
			return notEnumerable
		}
		if first {
			e, first = part, false
			continue
		}
		for k := range e.codes {
			if _, in := part.codes[k]; !in {
				delete(e.codes, k)
			}
		}
	}
	return e
}

func addAll(e *expansion, system string, list []csConcept) {
	for _, c := range list {
		e.codes[[2]string{system, c.Code}] = c.Display
		addAll(e, system, c.Concept)
	}
}

func findConcept(list []csConcept, code string) *csConcept {
	for i := range list {
		if list[i].Code == code {
			return &list[i]
		}
		if found := findConcept(list[i].Concept, code); found != nil {
			return found
		}
	}
	return nil
}
