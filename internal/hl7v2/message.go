// Package hl7v2 reads and writes HL7 version 2 messages (ER7, the "pipe
// and hat" encoding) and builds their acknowledgments. Package mllp below
// it frames them on TCP.
//
// A message is segments separated by carriage returns; a segment is its
// three-character name and fields separated by the field separator; a field
// holds repetitions, a repetition components, a component subcomponents.
// The five delimiters are each message's own: MSH-1 is the field
// separator and MSH-2 the component, repetition, escape and subcomponent
// separators (and, from v2.7, the truncation character).
//
// Values are kept as written, escapes included, so that a message encodes
// back to the bytes it was parsed from; Get and Delimiters.Unescape unescape (\F\ \S\ \T\
// \R\ \E\, \Xhh…\ and the formatting commands of formatted text). Segments
// the EMR does not know, Z-segments included, are kept. Values share the
// memory of the message they were parsed from: one kept longer than the
// message keeps the whole message, so strings.Clone what is kept.
package hl7v2

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Delimiters are a message's separators, from MSH-1 and MSH-2.
type Delimiters struct {
	Field, Component, Repetition, Escape, Subcomponent byte
	// Truncation is MSH-2's fifth character (v2.7 and later), 0 without.
	Truncation byte
}

// DefaultDelimiters are |^~\& (what nearly every message uses, and what
// the EMR writes).
var DefaultDelimiters = Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&'}

// encodingCharacters is MSH-2 as d writes it.
func (d Delimiters) encodingCharacters() string {
	s := string([]byte{d.Component, d.Repetition, d.Escape, d.Subcomponent})
	if d.Truncation != 0 {
		s += string(d.Truncation)
	}
	return s
}

// Message is one HL7 v2 message.
type Message struct {
	Delims   Delimiters
	Segments []*Segment
}

// Segment is one segment. Fields[i] is field i+1 (PID-3 is Fields[2]). In
// MSH (and the batch headers FHS and BHS), field 1 is the field separator
// and field 2 the encoding characters, each one value as written.
type Segment struct {
	Name   string
	Fields []Field
}

// Field is a field's repetitions; a repetition's components; a
// component's subcomponents, each as written (escaped).
type (
	Field      []Repetition
	Repetition []Component
	Component  []string
)

// SyntaxError is a message that cannot be read: where and why.
type SyntaxError struct {
	Segment int // 1-based; 0 when the message as a whole is wrong
	Msg     string
}

func (e *SyntaxError) Error() string {
	if e.Segment == 0 {
		return "hl7v2: " + e.Msg
	}
	return fmt.Sprintf("hl7v2: segment %d: %s", e.Segment, e.Msg)
}

// MaxSegments bounds a message's segments, so that hostile input cannot
// make the parser hold millions of them.
const MaxSegments = 100000

// Parse reads one message. Segments may end with CR (the standard), LF or
// CR LF; empty lines are skipped. The message must start with MSH; a
// segment name is three upper-case letters or digits.
func Parse(data []byte) (*Message, error) {
	lines := splitSegments(string(data))
	if len(lines) == 0 {
		return nil, &SyntaxError{Msg: "empty message"}
	}
	if !strings.HasPrefix(lines[0], "MSH") {
		return nil, &SyntaxError{Segment: 1, Msg: "a message starts with MSH"}
	}
	return parseLines(lines)
}

// ParseBatch reads a batch file (FHS, BHS, messages, BTS, FTS) or a single
// message, and returns its messages; the batch segments are checked for
// their syntax and dropped.
func ParseBatch(data []byte) ([]*Message, error) {
	lines := splitSegments(string(data))
	var out []*Message
	var cur []string
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		m, err := parseLines(cur)
		if err != nil {
			return fmt.Errorf("message %d: %w", len(out)+1, err)
		}
		out = append(out, m)
		cur = nil
		return nil
	}
	for i, line := range lines {
		switch name := segmentName(line); name {
		case "FHS", "BHS", "BTS", "FTS":
			if err := flush(); err != nil {
				return nil, err
			}
			if name == "FHS" || name == "BHS" {
				if _, err := delimitersOf(line); err != nil {
					return nil, &SyntaxError{Segment: i + 1, Msg: err.Error()}
				}
			}
		case "MSH":
			if err := flush(); err != nil {
				return nil, err
			}
			cur = append(cur, line)
		default:
			if len(cur) == 0 {
				return nil, &SyntaxError{Segment: i + 1, Msg: fmt.Sprintf("%q outside a message", name)}
			}
			cur = append(cur, line)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &SyntaxError{Msg: "no message"}
	}
	return out, nil
}

func splitSegments(s string) []string {
	s = strings.TrimPrefix(s, "\ufeff") // a byte order mark some files start with
	s = strings.ReplaceAll(s, "\r\n", "\r")
	s = strings.ReplaceAll(s, "\n", "\r")
	var lines []string
	for line := range strings.SplitSeq(s, "\r") {
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

func segmentName(line string) string {
	if len(line) < 3 {
		return line
	}
	return line[:3]
}

// delimitersOf reads MSH-1 and MSH-2 (or FHS's, BHS's) of a header line.
func delimitersOf(line string) (Delimiters, error) {
	if len(line) < 8 {
		return Delimiters{}, errors.New("the header is too short for its delimiters")
	}
	d := Delimiters{Field: line[3]}
	end := strings.IndexByte(line[4:], d.Field)
	if end < 0 {
		end = len(line) - 4
	}
	enc := line[4 : 4+end]
	if len(enc) != 4 && len(enc) != 5 {
		return Delimiters{}, fmt.Errorf("the encoding characters %q are not 4 or 5", enc)
	}
	d.Component, d.Repetition, d.Escape, d.Subcomponent = enc[0], enc[1], enc[2], enc[3]
	if len(enc) == 5 {
		d.Truncation = enc[4]
	}
	all := []byte{d.Field, d.Component, d.Repetition, d.Escape, d.Subcomponent}
	if d.Truncation != 0 {
		all = append(all, d.Truncation)
	}
	for i, c := range all {
		if c < 0x21 || c > 0x7e || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			return Delimiters{}, fmt.Errorf("delimiter %q is not a printable symbol", c)
		}
		for _, o := range all[:i] {
			if o == c {
				return Delimiters{}, fmt.Errorf("delimiter %q is used twice", c)
			}
		}
	}
	return d, nil
}

func parseLines(lines []string) (*Message, error) {
	if len(lines) > MaxSegments {
		return nil, &SyntaxError{Msg: fmt.Sprintf("more than %d segments", MaxSegments)}
	}
	d, err := delimitersOf(lines[0])
	if err != nil {
		return nil, &SyntaxError{Segment: 1, Msg: err.Error()}
	}
	m := &Message{Delims: d, Segments: make([]*Segment, 0, len(lines))}
	for i, line := range lines {
		name := segmentName(line)
		if !validName(name) || len(line) > 3 && line[3] != d.Field {
			return nil, &SyntaxError{Segment: i + 1, Msg: fmt.Sprintf("%q does not start with a segment name and a field separator", truncate(line, 20))}
		}
		if i > 0 && name == "MSH" {
			return nil, &SyntaxError{Segment: i + 1, Msg: "a second MSH: one message at a time (ParseBatch reads several)"}
		}
		m.Segments = append(m.Segments, parseSegment(line, d))
	}
	return m, nil
}

func validName(name string) bool {
	if len(name) != 3 {
		return false
	}
	for i := range 3 {
		if c := name[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func parseSegment(line string, d Delimiters) *Segment {
	seg := &Segment{Name: line[:3]}
	if len(line) == 3 {
		return seg
	}
	rest := line[4:]
	header := isHeader(seg.Name)
	if header {
		// Field 1 is the separator itself, field 2 the encoding
		// characters: values, not structure.
		seg.Fields = append(seg.Fields, literal(string(d.Field)))
		enc, after, found := strings.Cut(rest, string(d.Field))
		seg.Fields = append(seg.Fields, literal(enc))
		if !found {
			return seg
		}
		rest = after
	}
	for f := range strings.SplitSeq(rest, string(d.Field)) {
		seg.Fields = append(seg.Fields, parseField(f, d))
	}
	return seg
}

func isHeader(name string) bool { return name == "MSH" || name == "FHS" || name == "BHS" }

func literal(s string) Field { return Field{Repetition{Component{s}}} }

func parseField(s string, d Delimiters) Field {
	if s == "" {
		return nil
	}
	var f Field
	for r := range strings.SplitSeq(s, string(d.Repetition)) {
		var rep Repetition
		for c := range strings.SplitSeq(r, string(d.Component)) {
			rep = append(rep, strings.Split(c, string(d.Subcomponent)))
		}
		f = append(f, rep)
	}
	return f
}

// Encode writes m in ER7 with its delimiters, each segment ended by CR.
// A parsed message encodes to its input with CR separators.
func (m *Message) Encode() []byte {
	d := m.Delims
	var b strings.Builder
	for _, seg := range m.Segments {
		b.WriteString(seg.Name)
		fields := seg.Fields
		if isHeader(seg.Name) {
			b.WriteByte(d.Field)
			if len(fields) > 1 {
				b.WriteString(fields[1].raw(d))
			} else {
				b.WriteString(d.encodingCharacters())
			}
			fields = fields[min(2, len(fields)):]
		}
		for _, f := range fields {
			b.WriteByte(d.Field)
			b.WriteString(f.raw(d))
		}
		b.WriteByte('\r')
	}
	return []byte(b.String())
}

func (f Field) raw(d Delimiters) string {
	var b strings.Builder
	for i, r := range f {
		if i > 0 {
			b.WriteByte(d.Repetition)
		}
		for j, c := range r {
			if j > 0 {
				b.WriteByte(d.Component)
			}
			for k, s := range c {
				if k > 0 {
					b.WriteByte(d.Subcomponent)
				}
				b.WriteString(s)
			}
		}
	}
	return b.String()
}

// Segment returns the first segment named name, or nil.
func (m *Message) Segment(name string) *Segment {
	for _, s := range m.Segments {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// All returns the segments named name, in order.
func (m *Message) All(name string) []*Segment {
	var out []*Segment
	for _, s := range m.Segments {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// Raw returns a value as written (escaped): field n (1-based), its
// repetition rep, component comp and subcomponent sub (1-based; 0 or 1
// for the first). A value that is not there is "".
func (s *Segment) Raw(field, rep, comp, sub int) string {
	if s == nil || field < 1 || field > len(s.Fields) {
		return ""
	}
	f := s.Fields[field-1]
	rep, comp, sub = max(rep, 1), max(comp, 1), max(sub, 1)
	if rep > len(f) || comp > len(f[rep-1]) || sub > len(f[rep-1][comp-1]) {
		return ""
	}
	return f[rep-1][comp-1][sub-1]
}

// Repetitions returns the number of repetitions of field n.
func (s *Segment) Repetitions(field int) int {
	if s == nil || field < 1 || field > len(s.Fields) {
		return 0
	}
	return len(s.Fields[field-1])
}

// Get returns the unescaped value at path: "PID-5" (its first component),
// "PID-5.2", "PID-3[2].1", "OBX(2)-5.1.2" (the second OBX). The path's
// segment is the message's first of that name unless (n) says otherwise.
// A value that is not there, or a path that is not one, is "".
func (m *Message) Get(path string) string {
	seg, field, rep, comp, sub, ok := parsePath(path)
	if !ok {
		return ""
	}
	name, occurrence := seg, 1
	if i := strings.IndexByte(seg, '('); i > 0 && strings.HasSuffix(seg, ")") {
		n, err := strconv.Atoi(seg[i+1 : len(seg)-1])
		if err != nil || n < 1 {
			return ""
		}
		name, occurrence = seg[:i], n
	}
	all := m.All(name)
	if occurrence > len(all) {
		return ""
	}
	return m.Delims.Unescape(all[occurrence-1].Raw(field, rep, comp, sub))
}

func parsePath(path string) (seg string, field, rep, comp, sub int, ok bool) {
	seg, rest, found := strings.Cut(path, "-")
	if !found {
		return "", 0, 0, 0, 0, false
	}
	fieldPart, parts, _ := strings.Cut(rest, ".")
	rep = 1
	if i := strings.IndexByte(fieldPart, '['); i > 0 && strings.HasSuffix(fieldPart, "]") {
		n, err := strconv.Atoi(fieldPart[i+1 : len(fieldPart)-1])
		if err != nil || n < 1 {
			return "", 0, 0, 0, 0, false
		}
		rep, fieldPart = n, fieldPart[:i]
	}
	var err error
	if field, err = strconv.Atoi(fieldPart); err != nil || field < 1 {
		return "", 0, 0, 0, 0, false
	}
	comp, sub = 1, 1
	if parts != "" {
		c, s, _ := strings.Cut(parts, ".")
		if comp, err = strconv.Atoi(c); err != nil || comp < 1 {
			return "", 0, 0, 0, 0, false
		}
		if s != "" {
			if sub, err = strconv.Atoi(s); err != nil || sub < 1 {
				return "", 0, 0, 0, 0, false
			}
		}
	}
	return seg, field, rep, comp, sub, true
}

// Type returns MSH-9 as message code, trigger event and structure
// ("ADT", "A01", "ADT_A01"); the structure is "" when the message does not
// give it.
func (m *Message) Type() (code, event, structure string) {
	return m.Get("MSH-9.1"), m.Get("MSH-9.2"), m.Get("MSH-9.3")
}

// ControlID returns MSH-10, which an acknowledgment echoes.
func (m *Message) ControlID() string { return m.Get("MSH-10") }

// Version returns MSH-12 (its first component), e.g. "2.5.1".
func (m *Message) Version() string { return m.Get("MSH-12") }
