package hl7v2

import (
	"strings"
	"unicode/utf8"
)

// Unescape returns the text a value written with d's delimiters stands
// for: \F\ \S\ \T\ \R\ \E\ are the field, component, subcomponent,
// repetition and escape characters; \Xhh…\ is bytes in hexadecimal (read
// as UTF-8, or as Latin-1 where they are not UTF-8); of formatted text's
// commands, \.br\ is a line break and the others (\H\, \N\, \.sp\, \.in\
// …) are dropped. An escape that is none of these, or is not closed, is
// kept as written.
func (d Delimiters) Unescape(s string) string {
	e := d.Escape
	if strings.IndexByte(s, e) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != e {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], e)
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		seq := s[i+1 : i+1+end]
		if text, ok := d.escapeText(seq); ok {
			b.WriteString(text)
		} else {
			b.WriteString(s[i : i+2+end])
		}
		i += end + 2
	}
	return b.String()
}

// escapeText is what the escape sequence seq (without its delimiters)
// stands for.
func (d Delimiters) escapeText(seq string) (string, bool) {
	switch seq {
	case "F":
		return string(d.Field), true
	case "S":
		return string(d.Component), true
	case "T":
		return string(d.Subcomponent), true
	case "R":
		return string(d.Repetition), true
	case "E":
		return string(d.Escape), true
	case "P":
		if d.Truncation != 0 {
			return string(d.Truncation), true
		}
	case "H", "N", ".fi", ".nf":
		return "", true
	case ".br":
		return "\n", true
	}
	if strings.HasPrefix(seq, ".sp") || strings.HasPrefix(seq, ".in") || strings.HasPrefix(seq, ".ti") ||
		strings.HasPrefix(seq, ".sk") || strings.HasPrefix(seq, ".ce") {
		return "", true
	}
	if hex, ok := strings.CutPrefix(seq, "X"); ok && len(hex) > 0 && len(hex)%2 == 0 {
		raw := make([]byte, 0, len(hex)/2)
		for i := 0; i < len(hex); i += 2 {
			hi, ok1 := hexDigit(hex[i])
			lo, ok2 := hexDigit(hex[i+1])
			if !ok1 || !ok2 {
				return "", false
			}
			raw = append(raw, hi<<4|lo)
		}
		if utf8.Valid(raw) {
			return string(raw), true
		}
		var b strings.Builder
		for _, c := range raw {
			b.WriteRune(rune(c)) // Latin-1
		}
		return b.String(), true
	}
	return "", false
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// EscapeText writes text as a value with d's delimiters: each delimiter as its
// escape, and line breaks and other control characters as \Xhh\, so that
// the value cannot end a segment or split a field.
func (d Delimiters) EscapeText(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == d.Escape:
			b.WriteString(string(d.Escape) + "E" + string(d.Escape))
		case c == d.Field:
			b.WriteString(string(d.Escape) + "F" + string(d.Escape))
		case c == d.Component:
			b.WriteString(string(d.Escape) + "S" + string(d.Escape))
		case c == d.Subcomponent:
			b.WriteString(string(d.Escape) + "T" + string(d.Escape))
		case c == d.Repetition:
			b.WriteString(string(d.Escape) + "R" + string(d.Escape))
		case d.Truncation != 0 && c == d.Truncation:
			b.WriteString(string(d.Escape) + "P" + string(d.Escape))
		case c < 0x20 || c == 0x7f:
			const digits = "0123456789ABCDEF"
			b.WriteByte(d.Escape)
			b.WriteByte('X')
			b.WriteByte(digits[c>>4])
			b.WriteByte(digits[c&0xf])
			b.WriteByte(d.Escape)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
