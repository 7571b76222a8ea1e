package search

import (
	"slices"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// values parses the value of one occurrence into f.Values: comma-separated
// alternatives (OR), each read by f's kind and modifier.
func (p *parser) values(key string, f *Filter, raw string) error {
	if raw == "" {
		return invalid(key, "empty value")
	}
	if f.Modifier == "missing" {
		switch raw {
		case "true", "false":
			f.Values = []Value{{Raw: raw, Missing: raw == "true"}}
			return nil
		}
		return invalid(key, ":missing takes true or false, not %q", raw)
	}
	items := splitUnescaped(raw, ',')
	if len(items) > 1 && f.Param != nil && !f.Param.MultipleOr {
		return invalid(key, "%s does not take several values", f.Name)
	}
	f.Values = make([]Value, 0, len(items))
	for _, item := range items {
		if item == "" {
			return invalid(key, "empty value in %q", raw)
		}
		v, err := p.value(key, f, item)
		if err != nil {
			return err
		}
		f.Values = append(f.Values, v)
	}
	return nil
}

// value parses one value, still escaped, of a Filter.
func (p *parser) value(key string, f *Filter, item string) (Value, error) {
	switch f.Kind {
	case KindSpecial:
		return p.special(key, f, item)
	case KindComposite:
		return p.composite(key, f.Param, item)
	}
	return p.simple(key, f.Param, f.Kind, f.Modifier, item)
}

// simple parses a value of a non-composite kind.
func (p *parser) simple(key string, sp *spec.SearchParam, kind Kind, modifier, item string) (Value, error) {
	switch kind {
	case KindString:
		s := unescape(item)
		return Value{Raw: item, Text: Normalize(s), Exact: s}, nil
	case KindURI:
		return Value{Raw: item, Exact: unescape(item)}, nil
	case KindToken:
		return tokenValue(key, sp, modifier, item)
	case KindReference:
		return p.referenceValue(key, sp, modifier, item)
	case KindDate:
		return dateValue(key, sp, item)
	case KindNumber:
		return numberValue(key, sp, item)
	case KindQuantity:
		return quantityValue(key, sp, item)
	}
	return Value{}, invalid(key, "a %s value cannot be read here", kind)
}

func tokenValue(key string, sp *spec.SearchParam, modifier, item string) (Value, error) {
	v := Value{Raw: item}
	switch modifier {
	case "text", "code-text":
		v.Exact = unescape(item)
		v.Text = Normalize(v.Exact)
		return v, nil
	case "in", "not-in":
		v.Code = unescape(item)
		return v, nil
	case "of-type":
		parts := splitUnescaped(item, '|')
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return v, invalid(key, ":of-type takes type-system|type-code|value, not %q", item)
		}
		v.TypeSystem, v.TypeCode, v.Code = unescape(parts[0]), unescape(parts[1]), unescape(parts[2])
		return v, nil
	}
	if sp.Code == "_id" {
		// Resource.id has no system: the whole value is the id.
		v.Code = unescape(item)
		if !fhir.ValidID(v.Code) {
			return v, invalid(key, "%q is not a valid id", v.Code)
		}
		return v, nil
	}
	parts := splitUnescaped(item, '|')
	switch len(parts) {
	case 1:
		v.Code = unescape(item)
	case 2:
		v.System, v.Code, v.HasSystem = unescape(parts[0]), unescape(parts[1]), true
		if v.System == "" && v.Code == "" {
			return v, invalid(key, "%q has neither system nor code", item)
		}
	default:
		return v, invalid(key, "a token is [system]|[code]; %q has more than one |", item)
	}
	return v, nil
}

// prefixes are the comparison prefixes of ordered values (search.html
// §3.2.1.5.6).
var prefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}

// cutPrefix splits a comparison prefix off an ordered value, checked
// against the comparators the definition allows. "eq" is returned as "",
// its meaning by default, so that a backend sees one spelling.
func cutPrefix(key string, sp *spec.SearchParam, s string) (prefix, rest string, err error) {
	if len(s) < 3 || s[0] < 'a' || s[0] > 'z' {
		return "", s, nil
	}
	prefix = s[:2]
	if !slices.Contains(prefixes, prefix) {
		return "", s, nil // not a prefix: the value is malformed and says so
	}
	if sp != nil && len(sp.Comparator) > 0 && !slices.Contains(sp.Comparator, prefix) {
		return "", "", invalid(key, "prefix %s is not allowed on %s", prefix, sp.Code)
	}
	if prefix == "eq" {
		prefix = ""
	}
	return prefix, s[2:], nil
}

func dateValue(key string, sp *spec.SearchParam, item string) (Value, error) {
	prefix, s, err := cutPrefix(key, sp, unescape(item))
	if err != nil {
		return Value{}, err
	}
	// An unencoded + of a time-zone offset arrives as a space.
	s = strings.ReplaceAll(s, " ", "+")
	low, high, err := DateRange(s)
	if err != nil {
		return Value{}, invalid(key, "%q is not a valid date, dateTime or instant", s)
	}
	return Value{Raw: item, Prefix: prefix, DateLow: low, DateHigh: high}, nil
}

func numberValue(key string, sp *spec.SearchParam, item string) (Value, error) {
	prefix, s, err := cutPrefix(key, sp, unescape(item))
	if err != nil {
		return Value{}, err
	}
	n, low, high, err := NumberRange(s)
	if err != nil || !isDecimal(s) {
		return Value{}, invalid(key, "%q is not a number", s)
	}
	return Value{Raw: item, Prefix: prefix, Number: n, Low: low, High: high}, nil
}

// isDecimal reports whether s is written as a FHIR decimal (with an
// optional exponent), which strconv.ParseFloat is more generous than: it
// reads "Inf", hex and underscores.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exp := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 || exp > 3 {
			return false
		}
	}
	return i == len(s)
}

// quantityValue reads [prefix]number|system|code, number||code or number.
func quantityValue(key string, sp *spec.SearchParam, item string) (Value, error) {
	parts := splitUnescaped(item, '|')
	if len(parts) != 1 && len(parts) != 3 {
		return Value{}, invalid(key, "a quantity is [prefix]number[|system|code], not %q", item)
	}
	v, err := numberValue(key, sp, parts[0])
	if err != nil {
		return Value{}, err
	}
	v.Raw = item
	if len(parts) == 3 {
		v.System, v.Code = unescape(parts[1]), unescape(parts[2])
		if v.Code == "" {
			return Value{}, invalid(key, "%q names a unit system but no unit code", item)
		}
	}
	return v, nil
}

// referenceValue reads Type/id, id, Type/id/_history/vid, an absolute URL
// or a canonical url|version, or for :identifier a token, and for :text and
// :code-text a string matched against Reference.display.
func (p *parser) referenceValue(key string, sp *spec.SearchParam, modifier, item string) (Value, error) {
	switch modifier {
	case "identifier":
		return tokenValue(key, sp, "", item)
	case "text", "code-text":
		s := unescape(item)
		return Value{Raw: item, Text: Normalize(s), Exact: s}, nil
	}
	v := Value{Raw: item}
	s := unescape(item)
	if isAbsolute(s) {
		if base := p.opts.Base; base != "" && strings.HasPrefix(s, base+"/") {
			s = strings.TrimPrefix(s, base+"/")
		} else {
			v.RefURL, v.RefVersion, _ = strings.Cut(s, "|")
			if v.RefURL == "" {
				return v, invalid(key, "%q is not a reference", item)
			}
			return v, nil
		}
	}
	if err := p.localReference(key, s, &v); err != nil {
		return v, err
	}
	if p.defs.IsResource(modifier) {
		// subject:Patient=123 is subject=Patient/123.
		if v.RefType == "" {
			v.RefType = modifier
		} else if v.RefType != modifier {
			return v, invalid(key, "%q is not a %s", item, modifier)
		}
	}
	if v.RefType != "" && len(sp.Target) > 0 && !slices.Contains(sp.Target, v.RefType) {
		return v, invalid(key, "%s cannot refer to a %s", sp.Code, v.RefType)
	}
	return v, nil
}

// localReference reads id, Type/id or Type/id/_history/vid into v.
func (p *parser) localReference(key, s string, v *Value) error {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 1:
		v.RefID = parts[0]
	case len(parts) == 2 || (len(parts) == 4 && parts[2] == "_history"):
		if !p.defs.IsResource(parts[0]) {
			return invalid(key, "%q is not a resource type", parts[0])
		}
		v.RefType, v.RefID = parts[0], parts[1]
		if len(parts) == 4 {
			v.RefVersion = parts[3]
			if !fhir.ValidID(v.RefVersion) {
				return invalid(key, "%q is not a valid version id", v.RefVersion)
			}
		}
	default:
		return invalid(key, "%q is not a reference: use Type/id, id or an absolute URL", s)
	}
	if !fhir.ValidID(v.RefID) {
		return invalid(key, "%q is not a valid id", v.RefID)
	}
	return nil
}

// isAbsolute reports whether s starts with a URI scheme (http:, urn:, …).
func isAbsolute(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			return i > 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return false
}

// composite reads the $-separated component values in definition order,
// each by the kind of its component definition.
func (p *parser) composite(key string, sp *spec.SearchParam, item string) (Value, error) {
	parts := splitUnescaped(item, '$')
	if len(parts) != len(sp.Component) {
		return Value{}, invalid(key, "%s takes %d $-separated values, not %d", sp.Code, len(sp.Component), len(parts))
	}
	v := Value{Raw: item, Components: make([]Value, len(parts))}
	for i, part := range parts {
		def := p.byURL(sp.Component[i].Definition)
		if def == nil {
			return Value{}, refused(key, "component %d of %s has no definition", i+1, sp.Code)
		}
		kind := Kind(def.Type)
		if kind == KindComposite || kind == KindSpecial || part == "" {
			return Value{}, invalid(key, "component %d of %s cannot be read", i+1, sp.Code)
		}
		c, err := p.simple(key, def, kind, "", part)
		if err != nil {
			return Value{}, err
		}
		v.Components[i] = c
	}
	return v, nil
}

// byURL finds a SearchParameter by its canonical URL.
func (p *parser) byURL(url string) *spec.SearchParam {
	all := p.defs.SearchParams
	i := sort.Search(len(all), func(i int) bool { return all[i].URL >= url })
	if i < len(all) && all[i].URL == url {
		return all[i]
	}
	return nil
}

// special reads the values of _text and _content (text to search) and
// _list (the id of a List).
func (p *parser) special(key string, f *Filter, item string) (Value, error) {
	s := unescape(item)
	if f.Special == "_list" {
		if strings.HasPrefix(s, "$") {
			return Value{}, refused(key, "functional lists (%s) are not supported", s)
		}
		id := strings.TrimPrefix(s, "List/")
		if !fhir.ValidID(id) {
			return Value{}, invalid(key, "%q is not a List id", s)
		}
		return Value{Raw: item, RefType: "List", RefID: id}, nil
	}
	return Value{Raw: item, Text: Normalize(s), Exact: s}, nil
}
