package mpi

import "strings"

// normalizeIdentifier trims, upper-cases and removes spaces, dashes, dots
// and slashes, which clerks add or leave out at will.
func normalizeIdentifier(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(strings.TrimSpace(s)) {
		switch r {
		case ' ', '-', '.', '/', '\t':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// normalizePhone keeps the digits and then only the last ten: the national
// significant number in most numbering plans is 9–10 digits, so
// +1 555 123 4567, 001-555-123-4567 and (555) 123-4567 become one value.
// Fewer than six digits is not a phone number anyone can call; it is dropped.
func normalizePhone(s string) string {
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits = append(digits, s[i])
		}
	}
	if len(digits) < 6 {
		return ""
	}
	if len(digits) > 10 {
		digits = digits[len(digits)-10:]
	}
	return string(digits)
}

// phonesAgree compares the last nine digits, so a national trunk prefix
// (the 0 of 020 in the UK, France, Germany) kept by one clerk and dropped by
// another does not matter.
func phonesAgree(a, b string) bool {
	if len(a) > 9 {
		a = a[len(a)-9:]
	}
	if len(b) > 9 {
		b = b[len(b)-9:]
	}
	return a == b
}

// normalizePostcode upper-cases and removes spaces and dashes.
func normalizePostcode(s string) string { return normalizeIdentifier(s) }

// normalizeLine folds an address line and abbreviates the words that are
// written both ways, so "12 Oak Street, Apt. 4" = "12 OAK ST APT 4".
func normalizeLine(s string) string {
	toks := strings.Fields(foldName(s, false))
	for i, t := range toks {
		if short, ok := streetWords[t]; ok {
			toks[i] = short
		}
	}
	return strings.Join(toks, " ")
}

// streetWords are USPS-style abbreviations plus the common European words.
var streetWords = map[string]string{
	"STREET": "ST", "STR": "ST", "ROAD": "RD", "AVENUE": "AVE", "AV": "AVE", "BOULEVARD": "BLVD",
	"DRIVE": "DR", "LANE": "LN", "COURT": "CT", "PLACE": "PL", "SQUARE": "SQ", "TERRACE": "TER",
	"HIGHWAY": "HWY", "PARKWAY": "PKWY", "CIRCLE": "CIR", "APARTMENT": "APT", "SUITE": "STE",
	"NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W", "FLOOR": "FL", "BUILDING": "BLDG",
	"STRASSE": "ST", "CALLE": "C", "AVENIDA": "AVE", "NUMBER": "NO", "NUM": "NO",
}

// str returns v as a string, "" for any other type.
func str(v any) string { s, _ := v.(string); return s }

// list returns v as a JSON array; a lone object or string is a one-element
// list, which is how some senders write repeating elements.
func list(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	default:
		return []any{x}
	}
}

func appendUnique(xs []string, x string) []string {
	if x == "" || contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// without returns xs minus the elements of drop, reusing xs.
func without(xs, drop []string) []string {
	out := xs[:0]
	for _, x := range xs {
		if !contains(drop, x) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
