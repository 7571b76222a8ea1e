package search

import (
	"slices"
	"strconv"
	"strings"
)

// result reads a result parameter (search.html §3.2.1.7): what to return
// rather than what to match. name is the key without modifier.
func (p *parser) result(q *Query, key, name string, values []string) (bool, error) {
	if name == "_include" || name == "_revinclude" {
		return p.includes(q, key, name, values)
	}
	if key != name {
		return false, p.unknown(invalid(key, "%s takes no modifier", name))
	}
	if len(values) > 1 {
		return false, invalid(key, "%s is given %d times", name, len(values))
	}
	v := values[0]
	switch name {
	case "_cursor":
		q.Cursor = v
	case "_count":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return false, invalid(key, "%q is not a non-negative integer", v)
		}
		q.Count, q.CountGiven = min(n, MaxCount), true
	case "_total":
		return true, oneOf(key, v, &q.Total, "none", "estimate", "accurate")
	case "_summary":
		return true, oneOf(key, v, &q.Summary, "true", "text", "data", "count", "false")
	case "_contained":
		return true, oneOf(key, v, &q.Contained, "true", "false", "both")
	case "_containedType":
		// Contained resources are returned in their container, the
		// default; returning them alone is not implemented.
		var kind string
		if err := oneOf(key, v, &kind, "container", "contained"); err != nil {
			return false, err
		}
		if kind == "contained" {
			return false, refused(key, "_containedType=contained is not supported")
		}
	case "_elements":
		return true, p.elements(q, key, v)
	case "_sort":
		return true, p.sort(q, key, v)
	}
	return true, nil
}

func oneOf(key, v string, dst *string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return invalid(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	*dst = v
	return nil
}

// elements reads _elements: top-level element names of the searched type
// (checked against its definition), or Type.element at system level.
func (p *parser) elements(q *Query, key, v string) error {
	for _, name := range strings.Split(v, ",") {
		typ, elem := q.Type, name
		if t, e, ok := strings.Cut(name, "."); ok {
			typ, elem = t, e
			if q.Type != "" && t != q.Type || !p.defs.IsResource(t) {
				return invalid(key, "%q is not an element of the searched type", name)
			}
		}
		if !isElementName(elem) {
			return invalid(key, "%q is not an element name", name)
		}
		if typ != "" && p.defs.Element(typ, typ+"."+elem) == nil && p.defs.Element(typ, typ+"."+elem+"[x]") == nil {
			return invalid(key, "%s has no element %q", typ, elem)
		}
		if !slices.Contains(q.Elements, name) {
			q.Elements = append(q.Elements, name)
		}
	}
	return nil
}

func isElementName(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// sort reads _sort: comma-separated parameter codes, "-" for descending.
// Composite and special parameters have no order.
func (p *parser) sort(q *Query, key, v string) error {
	for _, name := range strings.Split(v, ",") {
		code, desc := strings.CutPrefix(name, "-")
		if code == "" {
			return invalid(key, "empty sort key in %q", v)
		}
		if slices.ContainsFunc(q.Sort, func(k SortKey) bool { return k.Name == code }) {
			return invalid(key, "%s is sorted on twice", code)
		}
		k := SortKey{Name: code, Descending: desc}
		if code != "_id" && code != "_lastUpdated" {
			sp := p.lookupIn(p.scope, code, false)
			if sp == nil {
				if strings.Contains(code, ":") {
					return invalid(key, "sort keys take no modifier: %q", code)
				}
				return invalid(key, "unknown search parameter %q%s", code, onTypes(p.scope))
			}
			switch Kind(sp.Type) {
			case KindComposite, KindSpecial:
				return invalid(key, "%s is a %s parameter and cannot sort", code, sp.Type)
			}
			k.Param = sp
		}
		q.Sort = append(q.Sort, k)
	}
	return nil
}

// includes reads _include and _revinclude (with :iterate, or its R4 alias
// :recurse): Type:param[:TargetType], or Type:* for every reference
// parameter of Type, or * for every reference parameter of the searched
// type.
func (p *parser) includes(q *Query, key, name string, values []string) (bool, error) {
	iterate := false
	if _, modifier, ok := strings.Cut(key, ":"); ok {
		if modifier != "iterate" && modifier != "recurse" {
			return false, p.unknown(invalid(key, "unknown modifier %q: %s takes only :iterate", modifier, name))
		}
		iterate = true
	}
	rev := name == "_revinclude"
	for _, v := range values {
		inc, err := p.include(q, key, v, rev, iterate)
		if err != nil {
			return false, err
		}
		list := &q.Includes
		if rev {
			list = &q.RevIncludes
		}
		if !slices.Contains(*list, inc) {
			*list = append(*list, inc)
		}
	}
	return true, nil
}

func (p *parser) include(q *Query, key, v string, rev, iterate bool) (Include, error) {
	inc := Include{Iterate: iterate}
	if v == "*" {
		if rev || q.Type == "" {
			return inc, refused(key, "%s=* is supported only as _include on a type-level search", key)
		}
		inc.SourceType, inc.Param = q.Type, "*"
		return inc, nil
	}
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return inc, invalid(key, "%q is not Type:parameter[:TargetType]", v)
	}
	inc.SourceType, inc.Param = parts[0], parts[1]
	if len(parts) == 3 {
		inc.TargetType = parts[2]
	}
	if !p.defs.IsResource(inc.SourceType) || p.defs.Types[inc.SourceType].Abstract {
		return inc, invalid(key, "%q is not a resource type", inc.SourceType)
	}
	// Without :iterate an _include starts from the matches, so from the
	// searched types.
	if !rev && !iterate && len(p.scope) > 0 && !slices.Contains(p.scope, inc.SourceType) {
		return inc, invalid(key, "%s is not searched: use %s:iterate to include from included resources", inc.SourceType, key)
	}
	if inc.Param == "*" {
		if inc.TargetType != "" {
			return inc, invalid(key, "%s:* takes no target type", inc.SourceType)
		}
		return inc, nil
	}
	sp := p.paramsOf(inc.SourceType)[inc.Param]
	if sp == nil {
		return inc, invalid(key, "unknown search parameter %q on %s", inc.Param, inc.SourceType)
	}
	if sp.Type != string(KindReference) {
		return inc, invalid(key, "%s:%s is a %s parameter, not a reference", inc.SourceType, inc.Param, sp.Type)
	}
	if t := inc.TargetType; t != "" {
		if !p.defs.IsResource(t) || len(sp.Target) > 0 && !slices.Contains(sp.Target, t) {
			return inc, invalid(key, "%s:%s cannot refer to %q", inc.SourceType, inc.Param, t)
		}
	}
	// A _revinclude brings resources that refer to the matches.
	if rev && !iterate && len(p.scope) > 0 && len(sp.Target) > 0 &&
		!slices.ContainsFunc(p.scope, func(t string) bool { return slices.Contains(sp.Target, t) }) {
		return inc, invalid(key, "%s:%s never refers to %s", inc.SourceType, inc.Param, strings.Join(p.scope, " or "))
	}
	return inc, nil
}
