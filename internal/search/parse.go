package search

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// ParseOptions are the circumstances of a search that the query string does
// not carry.
type ParseOptions struct {
	// Lenient is Prefer: handling=lenient: unknown parameters and unknown or
	// unsupported modifiers are dropped and listed in Query.Ignored instead
	// of failing the search. Malformed values of known parameters fail
	// either way.
	Lenient bool
	// Compartment restricts the search to a compartment instance
	// (/Patient/123/Observation); it is copied to Query.Compartment.
	Compartment *CompartmentRef
	// Base is this server's base URL (https://emr.example/fhir), without a
	// trailing slash. When set, an absolute reference under it is read as a
	// local Type/id reference, as the extractor indexes it.
	Base string
}

// MaxCount caps _count: a larger page size is served as MaxCount.
const MaxCount = 1000

// Parse reads the query string of a search on resourceType ("" for a
// system-level search) by the R5 rules (https://hl7.org/fhir/R5/search.html)
// and the parameter definitions of defs. The HTTP layer strips _format and
// _pretty before.
//
// Every parameter is checked against its definition's kind: an unknown
// parameter or modifier, a modifier the kind does not allow, or a malformed
// value returns a *fhir.Error of KindInvalid whose diagnostics name the
// parameter. Under opts.Lenient unknown parameters and modifiers are dropped
// and listed in Query.Ignored; malformed values still fail.
func Parse(defs *spec.Definitions, resourceType string, params url.Values, opts ParseOptions) (*Query, error) {
	p := &parser{defs: defs, opts: opts}
	q := &Query{Type: resourceType}
	if resourceType != "" && !defs.IsResource(resourceType) {
		return nil, fhir.Errorf(fhir.KindInvalid, "search: unknown resource type %q", resourceType)
	}
	if err := p.compartment(q, resourceType); err != nil {
		return nil, err
	}

	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	// _type decides which parameters exist at system level, so it goes
	// first.
	if vs, ok := params["_type"]; ok {
		if err := p.types(q, vs); err != nil {
			return nil, err
		}
	}
	p.scope = p.scopeTypes(q)

	var echo [][2]string // understood key=value pairs, for Raw
	for _, key := range keys {
		values := params[key]
		understood, err := p.param(q, key, values)
		if err != nil {
			return nil, err
		}
		if !understood {
			q.Ignored = append(q.Ignored, key)
			continue
		}
		if key == "_cursor" {
			continue
		}
		for _, v := range values {
			echo = append(echo, [2]string{key, v})
		}
	}
	q.Raw = encodeRaw(echo)
	return q, nil
}

// parser holds what one Parse call needs besides the Query it fills.
type parser struct {
	defs *spec.Definitions
	opts ParseOptions
	// scope is the resource types whose parameters the query may use: the
	// searched type, the _type list at system level, or none (only the
	// parameters of Resource) at system level without _type.
	scope []string
}

// paramsOf returns the search parameters of a resource type by code.
func (p *parser) paramsOf(resourceType string) map[string]*spec.SearchParam {
	return paramsByType(p.defs, resourceType)
}

// paramCache memoises SearchParamsFor, which builds a fresh map per call:
// that was half the time of a typical Parse. Definitions are read-only, so
// the maps can be shared (and are never changed here); the keys are
// resource types already checked, so the cache is bounded.
var paramCache sync.Map // typeKey → map[string]*spec.SearchParam

type typeKey struct {
	defs *spec.Definitions
	typ  string
}

func paramsByType(defs *spec.Definitions, resourceType string) map[string]*spec.SearchParam {
	k := typeKey{defs, resourceType}
	if m, ok := paramCache.Load(k); ok {
		return m.(map[string]*spec.SearchParam)
	}
	m := defs.SearchParamsFor(resourceType)
	paramCache.Store(k, m)
	return m
}

// invalid returns the 400 error for a bad parameter.
func invalid(key, format string, args ...any) *fhir.Error {
	return fhir.Errorf(fhir.KindInvalid, "search parameter %q: %s", key, fmt.Sprintf(format, args...))
}

// refused returns the 400 error for a parameter or modifier this server
// does not implement; the issue code says so.
func refused(key, format string, args ...any) *fhir.Error {
	e := invalid(key, format, args...)
	e.Issues[0].Code = "not-supported"
	return e
}

// unknown reports an unknown parameter or modifier: an error when strict,
// nil (the caller drops the parameter) when lenient.
func (p *parser) unknown(err *fhir.Error) error {
	if p.opts.Lenient {
		return nil
	}
	return err
}

func (p *parser) compartment(q *Query, resourceType string) error {
	c := p.opts.Compartment
	if c == nil {
		return nil
	}
	def := p.defs.Compartments[c.Type]
	if def == nil {
		return fhir.Errorf(fhir.KindInvalid, "search: unknown compartment %q", c.Type)
	}
	if !fhir.ValidID(c.ID) {
		return fhir.Errorf(fhir.KindInvalid, "search: compartment %s: %q is not a valid id", c.Type, c.ID)
	}
	if resourceType != "" && len(def.Params(resourceType)) == 0 {
		return fhir.Errorf(fhir.KindInvalid, "search: %s is not in the %s compartment", resourceType, c.Type)
	}
	ref := *c
	q.Compartment = &ref
	return nil
}

// types reads _type: the resource types of a system-level search.
func (p *parser) types(q *Query, values []string) error {
	var types []string
	for _, v := range values {
		for _, t := range splitUnescaped(v, ',') {
			t = unescape(t)
			if !p.defs.IsResource(t) || p.defs.Types[t].Abstract {
				return invalid("_type", "%q is not a resource type", t)
			}
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	if q.Type != "" {
		// On a type-level search _type can only repeat the type.
		if len(types) != 1 || types[0] != q.Type {
			return invalid("_type", "a search on %s cannot ask for other types", q.Type)
		}
		return nil
	}
	q.Types = types
	return nil
}

func (p *parser) scopeTypes(q *Query) []string {
	if q.Type != "" {
		return []string{q.Type}
	}
	return q.Types
}

// param reads one query parameter (all its occurrences). It returns false
// for a parameter dropped under lenient handling.
func (p *parser) param(q *Query, key string, values []string) (bool, error) {
	name, _, _ := strings.Cut(key, ":")
	if strings.HasPrefix(key, "_has:") {
		name = "_has"
	}
	switch name {
	case "_type":
		if key != "_type" {
			return false, p.unknown(invalid(key, "_type takes no modifier"))
		}
		return true, nil // read before the loop
	case "_filter", "_query":
		return false, refused(key, "%s is not supported", name)
	case "_sort", "_count", "_total", "_summary", "_elements", "_contained", "_containedType",
		"_include", "_revinclude", "_cursor":
		return p.result(q, key, name, values)
	}
	for i, v := range values {
		f, err := p.filter(key, v)
		if err != nil || f == nil {
			return false, err
		}
		if i > 0 && f.Param != nil && f.Chain == nil && !f.Param.MultipleAnd {
			return false, invalid(key, "%s cannot be repeated", f.Name)
		}
		q.Filters = append(q.Filters, f)
	}
	return true, nil
}

// encodeRaw writes the understood parameters as a query string, sorted by
// key (stable, so repeated parameters keep their order). It escapes as
// url.QueryEscape does, but leaves readable the characters that structure
// FHIR values (: | , $ / *), which decode to themselves either way.
func encodeRaw(pairs [][2]string) string {
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i][0] < pairs[j][0] })
	var b strings.Builder
	for i, kv := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		queryEscape(&b, kv[0])
		b.WriteByte('=')
		queryEscape(&b, kv[1])
	}
	return b.String()
}

func queryEscape(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-_.~:|,$/*", c) >= 0:
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}
