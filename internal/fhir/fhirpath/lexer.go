package fhirpath

import (
	"fmt"
	"strings"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tDelimIdent // `name`
	tString
	tNumber
	tLong
	tDate // @2014-01-01, @2014-01-01T10:00, @T10:00
	tVar  // %name
	tSpecial
	tOp
)

type token struct {
	kind tokKind
	text string // identifier name, unescaped string, literal text or operator
	pos  int
}

// SyntaxError reports a malformed expression and the byte offset where the
// problem was found.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fhirpath: syntax error at %d: %s", e.Pos, e.Msg)
}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, &SyntaxError{i, "unterminated comment"}
			}
			i += end + 4
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], i})
			i = j
		case c == '`' || c == '\'' || c == '"':
			// FHIRPath quotes strings with ' only, but invariants of the
			// specification itself use " (eld-11: type.code.contains(":")),
			// as do published profiles; the reference validator reads them
			// as strings, and so does this lexer.
			s, n, err := unquote(src[i:], c)
			if err != nil {
				return nil, &SyntaxError{i, err.Error()}
			}
			k := tString
			if c == '`' {
				k = tDelimIdent
			}
			toks = append(toks, token{k, s, i})
			i += n
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
				j++
				for j < len(src) && isDigit(src[j]) {
					j++
				}
			}
			if j < len(src) && src[j] == 'L' {
				toks = append(toks, token{tLong, src[i:j], i})
				i = j + 1
				continue
			}
			toks = append(toks, token{tNumber, src[i:j], i})
			i = j
		case c == '@':
			j := i + 1
			for j < len(src) && isDateChar(src[j]) {
				// A '.' belongs to the literal only before fractional seconds;
				// otherwise it starts an invocation (@2014.toString()).
				if src[j] == '.' && (j+1 >= len(src) || !isDigit(src[j+1])) {
					break
				}
				j++
			}
			if j == i+1 {
				return nil, &SyntaxError{i, "empty date literal"}
			}
			toks = append(toks, token{tDate, src[i+1 : j], i})
			i = j
		case c == '%':
			if i+1 < len(src) && (src[i+1] == '`' || src[i+1] == '\'') {
				s, n, err := unquote(src[i+1:], src[i+1])
				if err != nil {
					return nil, &SyntaxError{i, err.Error()}
				}
				toks = append(toks, token{tVar, s, i})
				i += 1 + n
				continue
			}
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, &SyntaxError{i, "empty variable name"}
			}
			toks = append(toks, token{tVar, src[i+1 : j], i})
			i = j
		case c == '$':
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{tSpecial, src[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range []string{"<=", ">=", "!=", "!~"} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				if !strings.ContainsRune(".,()[]{}+-*/&|<>=~", rune(c)) {
					return nil, &SyntaxError{i, fmt.Sprintf("unexpected character %q", src[i:i+1])}
				}
				op = src[i : i+1]
			}
			toks = append(toks, token{tOp, op, i})
			i += len(op)
		}
	}
	toks = append(toks, token{tEOF, "", len(src)})
	return toks, nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// isDateChar accepts what can follow '@' in a date, dateTime or time
// literal; the literal's text is validated by the value parser.
func isDateChar(c byte) bool {
	return isDigit(c) || c == '-' || c == ':' || c == 'T' || c == '.' || c == 'Z' || c == '+'
}

// unquote reads a quoted string starting at s[0] == q and returns its value
// and the number of bytes consumed.
func unquote(s string, q byte) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == q {
			return b.String(), i + 1, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 >= len(s) {
				return "", 0, fmt.Errorf("bad \\u escape")
			}
			var r rune
			for _, h := range s[i+1 : i+5] {
				r <<= 4
				switch {
				case h >= '0' && h <= '9':
					r |= h - '0'
				case h >= 'a' && h <= 'f':
					r |= h - 'a' + 10
				case h >= 'A' && h <= 'F':
					r |= h - 'A' + 10
				default:
					return "", 0, fmt.Errorf("bad \\u escape")
				}
			}
			b.WriteRune(r)
			i += 4
		default: // \' \" \` \\ \/ and any other character stand for themselves
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated %c literal", q)
}
