package validate

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emr-project/emr/internal/fhir"
)

// maxString is the FHIR limit on string and markdown values (1 MiB of characters).
const maxString = 1 << 20

// Regular expressions of the specification (R5 StructureDefinitions,
// extension "regex"), anchored; the other types are checked by code.
var (
	dateRE     = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	dateTimeRE = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?)?)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)?)?)?$`)
	instantRE  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	timeRE     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?$`)
	oidRE      = regexp.MustCompile(`^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$`)
	uuidRE     = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	integerRE  = regexp.MustCompile(`^(0|[-+]?[1-9][0-9]*)$`)
)

// primitive checks the JSON value of a primitive type and reports what is
// wrong; it returns true when the value is well-formed.
func (w *walker) primitive(typeName string, val any) bool {
	switch typeName {
	case "boolean":
		if _, ok := val.(bool); !ok {
			w.errorf("structure", "a boolean must be JSON true or false, not %s", jsonKind(val))
			return false
		}
		return true
	case "integer", "positiveInt", "unsignedInt", "decimal":
		num, ok := val.(json.Number)
		if !ok {
			w.errorf("structure", "a %s must be a JSON number, not %s", typeName, jsonKind(val))
			return false
		}
		return w.number(typeName, string(num))
	}
	s, ok := val.(string)
	if !ok {
		w.errorf("structure", "a %s must be a JSON string, not %s", typeName, jsonKind(val))
		return false
	}
	if s == "" {
		w.errorf("value", "a %s must not be empty", typeName)
		return false
	}
	var valid bool
	switch typeName {
	case "string", "markdown":
		valid = validString(s)
		if !valid {
			w.errorf("value", "a %s must not contain control characters other than tab, CR and LF, nor exceed %d characters", typeName, maxString)
			return false
		}
		return true
	case "xhtml":
		if problem := xhtmlProblem(s); problem != "" {
			w.errorf("value", "%s", problem)
			return false
		}
		return true
	case "code":
		valid = validCode(s)
	case "id":
		valid = validID(s)
	case "uri", "url", "canonical":
		valid = !strings.ContainsFunc(s, isSpace)
	case "oid":
		valid = oidRE.MatchString(s)
	case "uuid":
		valid = uuidRE.MatchString(s)
	case "date":
		valid = dateRE.MatchString(s) && realDate(s)
	case "dateTime":
		// The regex lets a time go without a zone; the specification
		// does not: "If hours and minutes are specified, a timezone SHALL
		// be populated".
		common, _ := commonDateTime(s)
		valid = (common || dateTimeRE.MatchString(s)) && realDate(s) && (len(s) <= 10 || hasZone(s))
	case "instant":
		common, timed := commonDateTime(s)
		valid = (common && timed || instantRE.MatchString(s)) && realDate(s)
	case "time":
		valid = timeRE.MatchString(s)
	case "integer64":
		valid = integerRE.MatchString(s)
		if valid {
			_, err := strconv.ParseInt(s, 10, 64)
			valid = err == nil
		}
	case "base64Binary":
		valid = validBase64(s)
	default:
		valid = true
	}
	if !valid {
		w.errorf("value", "%q is not a valid %s", truncate(s), typeName)
	}
	return valid
}

func (w *walker) number(typeName, s string) bool {
	if typeName == "decimal" {
		// The strict JSON reader already checked the number's syntax, which
		// is what decimal allows (the spec's regex has a stray brace in the
		// exponent part and is not used).
		return true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		w.errorf("value", "%s is not a valid %s (a whole number is required)", s, typeName)
		return false
	case n < -1<<31 || n > 1<<31-1:
		w.errorf("value", "%s is out of range for %s (32 bits)", s, typeName)
		return false
	case typeName == "positiveInt" && n < 1:
		w.errorf("value", "%s is not a positiveInt (1 or more)", s)
		return false
	case typeName == "unsignedInt" && n < 0:
		w.errorf("value", "%s is not an unsignedInt (0 or more)", s)
		return false
	}
	return true
}

func validString(s string) bool {
	if len(s) > maxString && utf8.RuneCountInString(s) > maxString {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// validCode: no leading or trailing whitespace, single spaces inside.
func validCode(s string) bool {
	prevSpace := true
	for _, r := range s {
		if isSpace(r) {
			if r != ' ' || prevSpace {
				return false
			}
			prevSpace = true
			continue
		}
		prevSpace = false
	}
	return !prevSpace
}

func validID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x85, 0xA0:
		return true
	}
	return false
}

// realDate rejects dates the regexes let through, such as 2023-02-30.
// commonDateTime recognises, by fhir.DateTimeParts rather than a regular
// expression, the shapes nearly every date and time has: YYYY-MM-DD, and
// YYYY-MM-DDThh:mm:ss with an optional fraction and a zone, each field
// within the range dateTimeRE allows (timed: the second shape, an
// instant too). It only ever accepts what the expressions accept
// (FuzzCommonDateTime); anything else is left to them.
func commonDateTime(s string) (ok, timed bool) {
	m, ok := fhir.DateTimeParts(s)
	if !ok || m[3] == "" || m[4] != "" && (m[6] == "" || m[8] == "") {
		return false, false
	}
	num := func(v string) int { n, _ := strconv.Atoi(v); return n }
	if y, mo, d := num(m[1]), num(m[2]), num(m[3]); y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return false, false
	}
	if m[4] == "" {
		return true, false
	}
	if num(m[4]) > 23 || num(m[5]) > 59 || num(m[6]) > 60 {
		return false, false
	}
	if z := m[8]; z != "Z" {
		if h, mi := num(z[1:3]), num(z[4:6]); !(h <= 13 && mi <= 59 || h == 14 && mi == 0) {
			return false, false
		}
	}
	return true, true
}

func realDate(s string) bool {
	if len(s) < 10 {
		return true
	}
	_, err := time.Parse("2006-01-02", s[:10])
	return err == nil
}

func hasZone(s string) bool {
	return strings.HasSuffix(s, "Z") || strings.LastIndexAny(s, "+-") > 10
}

// validBase64 accepts standard base64 with padding; whitespace between
// groups is tolerated as the XML form allows it.
func validBase64(s string) bool {
	n := 0
	pad := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c == '=':
			pad++
		case pad > 0:
			return false
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/':
		default:
			return false
		}
		n++
	}
	return n%4 == 0 && pad <= 2
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}
