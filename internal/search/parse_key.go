package search

import (
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/fhir/spec"
)

// maxDepth bounds chains and nested _has: each level is a join for the
// backend, and the fuzzer should not build towers.
const maxDepth = 4

// filter reads one occurrence key=value of a search parameter. It returns
// nil, nil for an occurrence dropped under lenient handling.
func (p *parser) filter(key, value string) (*Filter, error) {
	top, leaf, err := p.resolve(key, key, p.scope, false, 0)
	if err != nil || top == nil {
		return nil, err
	}
	if err := p.values(key, leaf, value); err != nil {
		return nil, err
	}
	return top, nil
}

// resolve reads the key (or the rest k of it, after chain links) into a
// Filter evaluated on resources of types, and returns it with the innermost
// Filter, which carries the values. anyType says how a code resolves on
// several types: on any of them (a chain's possible targets, which the
// backend tries in turn) or on all of them with one definition (_type).
func (p *parser) resolve(key, k string, types []string, anyType bool, depth int) (top, leaf *Filter, err error) {
	if depth > maxDepth {
		return nil, nil, invalid(key, "chains and _has nest at most %d deep", maxDepth)
	}
	if rest, ok := strings.CutPrefix(k, "_has:"); ok {
		return p.reverseChain(key, rest, types, depth)
	}
	link, rest, chained := strings.Cut(k, ".")
	code, modifier, hasModifier := strings.Cut(link, ":")
	if hasModifier && modifier == "" {
		return nil, nil, invalid(key, "empty modifier")
	}
	if !chained {
		f, err := p.leaf(key, code, modifier, types, anyType)
		return f, f, err
	}
	sp := p.lookupIn(types, code, anyType)
	if sp == nil {
		return nil, nil, p.notFound(key, code, types, anyType)
	}
	if sp.Type != string(KindReference) {
		return nil, nil, invalid(key, "%s is a %s parameter: only reference parameters chain", code, sp.Type)
	}
	targets, chainType := sp.Target, ""
	if modifier != "" {
		if !p.defs.IsResource(modifier) {
			return nil, nil, p.unknown(invalid(key, "unknown modifier %q: a chain link takes only a resource type", modifier))
		}
		if len(targets) > 0 && !slices.Contains(targets, modifier) {
			return nil, nil, invalid(key, "%s cannot refer to a %s", code, modifier)
		}
		targets, chainType = []string{modifier}, modifier
	} else if len(targets) == 1 {
		chainType = targets[0]
	}
	if len(targets) == 0 {
		return nil, nil, invalid(key, "%s may refer to any type: name one, as %s:Type.%s", code, code, rest)
	}
	if rest == "" {
		return nil, nil, invalid(key, "a chain needs a parameter after the dot")
	}
	inner, leaf, err := p.resolve(key, rest, targets, true, depth+1)
	if err != nil || inner == nil {
		return nil, nil, err
	}
	f := &Filter{Param: sp, Name: code, Kind: KindReference, Modifier: modifier, Chain: inner, ChainType: chainType}
	return f, leaf, nil
}

// reverseChain reads _has:Type:param:rest, rest being the condition on the
// referring resources (possibly another _has or a chain).
func (p *parser) reverseChain(key, k string, types []string, depth int) (top, leaf *Filter, err error) {
	typ, k, ok1 := strings.Cut(k, ":")
	refCode, rest, ok2 := strings.Cut(k, ":")
	if !ok1 || !ok2 || typ == "" || refCode == "" || rest == "" {
		return nil, nil, invalid(key, "_has takes the form _has:Type:reference:parameter")
	}
	if !p.defs.IsResource(typ) || p.defs.Types[typ].Abstract {
		return nil, nil, invalid(key, "%q is not a resource type", typ)
	}
	ref := p.paramsOf(typ)[refCode]
	if ref == nil {
		return nil, nil, p.unknown(invalid(key, "unknown search parameter %q on %s", refCode, typ))
	}
	if ref.Type != string(KindReference) {
		return nil, nil, invalid(key, "%s.%s is a %s parameter, not a reference", typ, refCode, ref.Type)
	}
	if len(ref.Target) > 0 && len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return slices.Contains(ref.Target, t) }) {
		return nil, nil, invalid(key, "%s.%s never refers to %s", typ, refCode, strings.Join(types, " or "))
	}
	inner, leaf, err := p.resolve(key, rest, []string{typ}, false, depth+1)
	if err != nil || inner == nil {
		return nil, nil, err
	}
	f := &Filter{Name: "_has", Kind: KindSpecial, Has: &HasClause{Type: typ, RefParam: ref, Filter: inner}}
	return f, leaf, nil
}

// leaf resolves the last link of a key: the parameter whose values are
// given, with its modifier checked against its kind.
func (p *parser) leaf(key, code, modifier string, types []string, anyType bool) (*Filter, error) {
	switch code {
	case "_text", "_content", "_list":
		// Special parameters with no FHIRPath: the store implements them.
		if modifier != "" {
			return nil, p.unknown(invalid(key, "%s takes no modifier", code))
		}
		return &Filter{Name: code, Kind: KindSpecial, Special: code}, nil
	case "_has":
		return nil, invalid(key, "_has takes the form _has:Type:reference:parameter")
	}
	sp := p.lookupIn(types, code, anyType)
	if sp == nil {
		return nil, p.notFound(key, code, types, anyType)
	}
	kind := Kind(sp.Type)
	switch kind {
	case KindString, KindToken, KindReference, KindDate, KindNumber, KindQuantity, KindURI, KindComposite:
	default:
		return nil, p.unknown(refused(key, "the %s parameter %s is not supported", sp.Type, code))
	}
	if ok, err := p.checkModifier(key, sp, kind, modifier); !ok {
		return nil, err
	}
	return &Filter{Param: sp, Name: code, Kind: kind, Modifier: modifier}, nil
}

// modifierKinds is the R5 table of modifiers (search.html §3.2.1.5.5) and
// the parameter kinds that allow each. A resource type as modifier
// (subject:Patient) is allowed on references and checked apart.
var modifierKinds = map[string][]Kind{
	"above":         {KindReference, KindToken, KindURI},
	"below":         {KindReference, KindToken, KindURI},
	"code-text":     {KindReference, KindToken},
	"contains":      {KindString, KindURI},
	"exact":         {KindString},
	"identifier":    {KindReference},
	"in":            {KindToken},
	"missing":       {KindDate, KindNumber, KindQuantity, KindReference, KindString, KindToken, KindURI},
	"not":           {KindToken},
	"not-in":        {KindToken},
	"of-type":       {KindToken},
	"text":          {KindReference, KindToken, KindString},
	"text-advanced": {KindReference, KindToken},
}

// unsupportedModifiers are in the specification but not in this server:
// they need a full-text engine.
var unsupportedModifiers = map[string]bool{"text-advanced": true}

// checkModifier reports whether the modifier applies to the parameter; a
// false with a nil error drops the parameter under lenient handling.
func (p *parser) checkModifier(key string, sp *spec.SearchParam, kind Kind, modifier string) (bool, error) {
	if modifier == "" {
		return true, nil
	}
	kinds, known := modifierKinds[modifier]
	if !known {
		if kind == KindReference && p.defs.IsResource(modifier) {
			if len(sp.Target) > 0 && !slices.Contains(sp.Target, modifier) {
				return false, invalid(key, "%s cannot refer to a %s", sp.Code, modifier)
			}
			return true, nil
		}
		return false, p.unknown(invalid(key, "unknown modifier %q", modifier))
	}
	if !slices.Contains(kinds, kind) {
		return false, invalid(key, "modifier :%s does not apply to the %s parameter %s", modifier, kind, sp.Code)
	}
	if unsupportedModifiers[modifier] {
		return false, p.unknown(refused(key, "modifier :%s is not supported", modifier))
	}
	return true, nil
}

// lookupIn finds a parameter code on types (the Resource parameters when
// types is empty). With anyType the first type that defines it wins, and
// the others that define it must agree on its kind, so that its values read
// the same way whichever type the backend tries; otherwise every type must
// share one definition.
func (p *parser) lookupIn(types []string, code string, anyType bool) *spec.SearchParam {
	if len(types) == 0 {
		return p.paramsOf("Resource")[code]
	}
	var found *spec.SearchParam
	for _, t := range types {
		sp := p.paramsOf(t)[code]
		switch {
		case sp == nil && anyType:
			continue
		case sp == nil:
			return nil
		case found == nil:
			found = sp
		case anyType && sp.Type != found.Type:
			return nil
		case !anyType && sp != found:
			return nil
		}
	}
	return found
}

// notFound explains why a code did not resolve on types: it is unknown
// (dropped under lenient handling), or the types define it differently.
func (p *parser) notFound(key, code string, types []string, anyType bool) error {
	var defining []string
	for _, t := range types {
		if p.paramsOf(t)[code] != nil {
			defining = append(defining, t)
		}
	}
	switch {
	case len(defining) == 0:
		return p.unknown(invalid(key, "unknown search parameter %q%s", code, onTypes(types)))
	case anyType:
		return invalid(key, "%s means different things on the types the reference may point to: name one, as reference:Type.%s", code, code)
	case len(defining) < len(types):
		return p.unknown(invalid(key, "%s is a parameter of %s only, not of every type searched", code, strings.Join(defining, ", ")))
	}
	return invalid(key, "%s means different things on %s: search one type at a time", code, strings.Join(types, ", "))
}

func onTypes(types []string) string {
	switch {
	case len(types) == 0:
		return " at system level"
	case len(types) > 3:
		return " on " + strings.Join(types[:3], ", ") + ", …"
	}
	return " on " + strings.Join(types, ", ")
}
