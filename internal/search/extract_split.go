package search

import "strings"

// partsFor splits a search parameter expression into the parts of its
// top-level union that concern resourceType, to be evaluated one by one.
//
// Many definitions share one expression across bases ("Patient.name |
// Practitioner.name | ..."; the clinical ones list thirty types), and
// evaluating the other types' paths for every resource written is wasted
// work. A part concerns the type when it starts with the type's name or one
// of its bases (Resource, DomainResource). Evaluating the parts apart also
// spares the union operator's duplicate elimination, which compares every
// pair of items (quantities through unit conversion); Extract removes the
// duplicates by identity instead.
//
// When the expression cannot be split with confidence (an operator of
// lower precedence than '|' at the top level) it is returned whole, as one
// part. It returns nil when no part concerns the type.
func (x *Extractor) partsFor(expr, resourceType string) []string {
	parts, ok := splitUnion(expr)
	if !ok || len(parts) == 1 {
		return []string{expr}
	}
	var keep []string
	for _, p := range parts {
		// Drop only the parts that name another resource type: FHIRPath
		// gives them no value on this one. A part that starts otherwise,
		// or holds a union of its own (which may concern other types than
		// its first name's), is kept: evaluating it costs only time.
		lead := leadingName(p)
		if x.defs.IsResource(lead) && !x.defs.IsA(resourceType, lead) && !hasNestedUnion(p) {
			continue
		}
		if x.selectsNothing(p, resourceType) {
			continue
		}
		keep = append(keep, p)
	}
	return keep
}

// selectsNothing reports whether a part that does not start with a type
// name starts, in each of its branches, with an element that resourceType
// does not have: "(start | requestedPeriod.start).first()", an
// Appointment's part of the shared clinical date, gives nothing on an
// Observation. Anything it cannot read (a function, a variable, a literal)
// counts as selecting something.
func (x *Extractor) selectsNothing(part, resourceType string) bool {
	var roots []string
	if !rootNames(part, &roots, 0) {
		return false
	}
	for _, name := range roots {
		if x.defs.IsResource(name) {
			return false // a type name: left to the caller's rule
		}
		if _, _, ok := x.model.ChildType(resourceType, name); ok {
			return false // choice elements included
		}
	}
	return len(roots) > 0
}

// rootNames collects the identifiers that the branches of part start
// with, looking into a leading parenthesised union; ok is false when a
// branch starts with anything else.
func rootNames(part string, names *[]string, depth int) bool {
	part = strings.TrimSpace(part)
	if depth > 8 || part == "" {
		return false
	}
	if part[0] == '(' {
		end := closingParen(part, 0)
		if end < 0 {
			return false
		}
		branches, ok := splitUnion(part[1:end])
		if !ok {
			return false
		}
		for _, b := range branches {
			if !rootNames(b, names, depth+1) {
				return false
			}
		}
		return true
	}
	name := leadingName(part)
	if name == "" || name == "true" || name == "false" || strings.HasPrefix(strings.TrimSpace(part[len(name):]), "(") {
		return false // a literal, a variable or a function call
	}
	*names = append(*names, name)
	return true
}

// splitUnion splits expr at the '|' operators outside parentheses,
// brackets, braces, string literals and delimited identifiers. ok is false
// when the expression is unbalanced or has, at the top level, an operator
// that binds less tightly than '|' (comparisons, and, or, in, ...), which
// would make the split change its meaning.
func splitUnion(expr string) (parts []string, ok bool) {
	depth, start := 0, 0
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; c {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth < 0 {
				return nil, false
			}
		case '\'', '`':
			if i = skipQuoted(expr, i); i >= len(expr) {
				return nil, false
			}
		case '=', '<', '>', '~', '!':
			if depth == 0 {
				return nil, false
			}
		case '|':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(expr[start:i]))
				start = i + 1
			}
		case ' ', '\t', '\r', '\n':
			if depth == 0 && lowPrecedenceWord(expr[i+1:]) {
				return nil, false
			}
		}
	}
	if depth != 0 {
		return nil, false
	}
	return append(parts, strings.TrimSpace(expr[start:])), true
}

// hasNestedUnion reports whether a part holds a '|' operator outside
// string literals.
func hasNestedUnion(part string) bool {
	for i := 0; i < len(part); i++ {
		switch part[i] {
		case '|':
			return true
		case '\'', '`':
			i = skipQuoted(part, i)
		}
	}
	return false
}

// skipQuoted returns the index of the quote closing the literal that opens
// at i, honouring backslash escapes; len(s) when it is not closed.
func skipQuoted(s string, i int) int {
	q := s[i]
	for i++; i < len(s) && s[i] != q; i++ {
		if s[i] == '\\' {
			i++
		}
	}
	return i
}

// lowPrecedenceWord reports whether s starts with a word operator that binds
// less tightly than '|', followed by white space.
func lowPrecedenceWord(s string) bool {
	for _, w := range [...]string{"and", "or", "xor", "implies", "in", "contains"} {
		if len(s) > len(w) && s[:len(w)] == w && (s[len(w)] == ' ' || s[len(w)] == '\t' || s[len(w)] == '\n') {
			return true
		}
	}
	return false
}

// leadingName returns the identifier a part starts with, after any opening
// parentheses: "(Observation.value as Quantity)" → "Observation".
func leadingName(part string) string {
	s := strings.TrimLeft(part, "( \t\r\n")
	end := 0
	for end < len(s) {
		c := s[end]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || end > 0 && '0' <= c && c <= '9' {
			end++
			continue
		}
		break
	}
	return s[:end]
}

// firstStep returns the type name a part starts with and the element it
// navigates to first: "(Observation.value as Quantity)" → Observation,
// value. key is "" when the part does not start with Type.element (a
// function call, a lone type name).
func firstStep(part string) (lead, key string) {
	lead = leadingName(part)
	if hasNestedUnion(part) {
		return lead, ""
	}
	rest := strings.TrimLeft(part, "( \t\r\n")[len(lead):]
	if lead == "" || len(rest) < 2 || rest[0] != '.' {
		return lead, ""
	}
	key = leadingName(rest[1:])
	if next := rest[1+len(key):]; key == "" || strings.HasPrefix(strings.TrimLeft(next, " "), "(") {
		return lead, "" // a function: Patient.where(...)
	}
	return lead, key
}

// emptyWhenAbsent reports whether a part gives nothing when its first
// element is absent, so that Extract may skip it without evaluating: a
// path through functions that map empty to empty (where, ofType, first,
// ...). "Patient.deceased.exists() and Patient.deceased != false" is not
// such a part: on a Patient without deceased it is false, which the
// deceased parameter indexes. Operators and function names inside a
// function's arguments do not matter: they are never evaluated on an
// empty focus.
func emptyWhenAbsent(part string) bool {
	var stack []bool // per open parenthesis: is it a function's argument list?
	args := 0        // open argument lists
	for i := 0; i < len(part); i++ {
		c := part[i]
		switch {
		case c == '\'' || c == '`':
			i = skipQuoted(part, i)
		case c == '(':
			fn := i > 0 && isIdentByte(part[i-1])
			if fn && args == 0 {
				j := i
				for j > 0 && isIdentByte(part[j-1]) {
					j--
				}
				if !emptyPreserving[part[j:i]] {
					return false
				}
			}
			stack = append(stack, fn)
			if fn {
				args++
			}
		case c == ')':
			if len(stack) == 0 {
				return false
			}
			if stack[len(stack)-1] {
				args--
			}
			stack = stack[:len(stack)-1]
		case args > 0:
		case strings.IndexByte("&=<>~!+-*/|%$[", c) >= 0:
			return false
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if lowPrecedenceWord(part[i+1:]) || strings.HasPrefix(part[i+1:], "is ") ||
				strings.HasPrefix(part[i+1:], "div ") || strings.HasPrefix(part[i+1:], "mod ") {
				return false
			}
		}
	}
	return len(stack) == 0
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// emptyPreserving are the functions that give an empty result on an empty
// input.
var emptyPreserving = map[string]bool{
	"where": true, "ofType": true, "as": true, "extension": true, "first": true, "last": true,
	"resolve": true, "select": true, "distinct": true, "single": true, "tail": true, "skip": true,
	"take": true, "children": true, "descendants": true, "repeat": true, "getValue": true,
}
