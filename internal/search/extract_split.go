package search

import "strings"

// partFor reduces a search parameter expression to the parts of its
// top-level union that concern resourceType. Many definitions share one
// expression across bases ("Patient.name | Practitioner.name | ..."; the
// clinical ones list thirty types), and evaluating the other types' paths
// for every resource written is wasted work. A part concerns the type when
// it starts with the type's name or one of its bases (Resource,
// DomainResource). When the expression cannot be split with confidence —
// a part that does not start with a resource type, or a nested union — it
// is returned whole. It returns "" when no part concerns the type.
func (x *Extractor) partFor(expr, resourceType string) string {
	parts, ok := splitUnion(expr)
	if !ok || len(parts) == 1 {
		return expr
	}
	var keep []string
	for _, p := range parts {
		lead := leadingName(p)
		if !x.defs.IsResource(lead) || hasNestedUnion(p) {
			return expr
		}
		if x.defs.IsA(resourceType, lead) {
			keep = append(keep, p)
		}
	}
	if len(keep) == len(parts) {
		return expr
	}
	return strings.Join(keep, " | ")
}

// splitUnion splits expr at the '|' operators outside parentheses,
// brackets, braces, string literals and delimited identifiers. ok is false
// when the expression is unbalanced.
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
			// Skip to the closing quote, honouring backslash escapes.
			for i++; i < len(expr) && expr[i] != c; i++ {
				if expr[i] == '\\' {
					i++
				}
			}
			if i >= len(expr) {
				return nil, false
			}
		case '|':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(expr[start:i]))
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, false
	}
	return append(parts, strings.TrimSpace(expr[start:])), true
}

// hasNestedUnion reports whether a part holds a '|' operator (inside
// parentheses or a function's argument) outside string literals.
func hasNestedUnion(part string) bool {
	for i := 0; i < len(part); i++ {
		switch c := part[i]; c {
		case '|':
			return true
		case '\'', '`':
			for i++; i < len(part) && part[i] != c; i++ {
				if part[i] == '\\' {
					i++
				}
			}
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
