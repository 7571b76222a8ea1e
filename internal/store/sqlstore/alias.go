package sqlstore

import (
	"slices"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/fhir/spec"
)

// Some search parameters select exactly the union of what others of the
// same resource type select: Observation's combo-code is code |
// component.code, combo-code-value-quantity is code-value-quantity on
// Observation | Observation.component. Their index rows would repeat the
// others' (a quarter of an Observation's rows), so they get none: a search
// on one reads the rows of the parameters it unites (sqlBuilder.param). The
// unions are found in the SearchParameter expressions, not listed by hand.

// aliases maps, per resource type, an alias parameter's code to the codes
// whose rows it reads.
var aliases sync.Map // string → map[string][]string

// aliasOf returns the codes whose rows parameter code of typ reads, or nil
// when it has rows of its own.
func aliasOf(typ, code string) []string {
	m, ok := aliases.Load(typ)
	if !ok {
		m, _ = aliases.LoadOrStore(typ, findAliases(typ))
	}
	return m.(map[string][]string)[code]
}

func findAliases(typ string) map[string][]string {
	type param struct {
		code  string
		sig   string // kind and, for a composite, its components' kinds and expressions
		parts []string
	}
	var params []param
	for code, sp := range spec.R5().SearchParamsFor(typ) {
		if sp.Type == "reference" || sp.Type == "special" || sp.Expression == "" {
			continue // references feed compartments and chains: kept as they are
		}
		parts, ok := unionParts(sp.Expression, typ)
		if !ok {
			continue
		}
		sig := sp.Type
		for _, c := range sp.Component {
			csp := searchParamByURL(c.Definition)
			if csp == nil {
				sig = "" // an unknown component: never an alias, nor part of one
				break
			}
			sig += "|" + csp.Type + ":" + c.Expression
		}
		if sig != "" {
			params = append(params, param{code, sig, parts})
		}
	}
	// Smallest unions first, so that an alias is made only of parameters
	// that keep their rows.
	slices.SortFunc(params, func(a, b param) int {
		if d := len(a.parts) - len(b.parts); d != 0 {
			return d
		}
		return strings.Compare(a.code, b.code)
	})
	out := make(map[string][]string)
	for i, p := range params {
		covered := make(map[string]bool)
		var codes []string
		for _, q := range params[:i] {
			if q.sig != p.sig || len(q.parts) >= len(p.parts) || out[q.code] != nil || !subset(q.parts, p.parts) {
				continue
			}
			codes = append(codes, q.code)
			for _, s := range q.parts {
				covered[s] = true
			}
		}
		if len(codes) > 1 && len(covered) == len(p.parts) {
			out[p.code] = codes
		}
	}
	return out
}

func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// unionParts splits expr at its top-level unions and returns the parts
// that apply to typ, outer parentheses removed, sorted. ok is false when a
// part's resource type is not plain to see.
func unionParts(expr, typ string) (parts []string, ok bool) {
	depth, start := 0, 0
	var all []string
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '\'':
			return nil, false // a literal might hold anything
		case '|':
			if depth == 0 {
				all = append(all, expr[start:i])
				start = i + 1
			}
		}
	}
	all = append(all, expr[start:])
	for _, p := range all {
		p = strings.TrimSpace(p)
		for wrapped(p) {
			p = strings.TrimSpace(p[1 : len(p)-1])
		}
		if strings.ContainsAny(p, "()") && !strings.HasPrefix(p, typ+".") {
			return nil, false
		}
		if p == typ || strings.HasPrefix(p, typ+".") {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return nil, false
	}
	slices.Sort(parts)
	return slices.Compact(parts), true
}

// wrapped says whether p is one parenthesised expression: "(a.b(c))" but
// not "(a) | (b)".
func wrapped(p string) bool {
	if len(p) < 2 || p[0] != '(' || p[len(p)-1] != ')' {
		return false
	}
	depth := 0
	for i := 0; i < len(p)-1; i++ {
		switch p[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth == 0 {
			return false // the first parenthesis closes before the end
		}
	}
	return true
}
