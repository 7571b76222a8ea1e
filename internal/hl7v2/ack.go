package hl7v2

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Acknowledgment codes (MSA-1, original mode).
const (
	// AA: accepted and processed.
	AA = "AA"
	// AE: understood, but it could not be processed (the ERR segments
	// say why); sending it again unchanged will fail again.
	AE = "AE"
	// AR: rejected: not understood, or of a type, version or processing
	// id the receiver does not take.
	AR = "AR"
)

// Error codes of HL7 table 0357 (ERR-3), the ones a receiver gives.
const (
	ErrSegmentSequence     = 100
	ErrRequiredField       = 101
	ErrDataType            = 102
	ErrTableValue          = 103
	ErrUnsupportedType     = 200
	ErrUnsupportedEvent    = 201
	ErrUnsupportedProcess  = 202
	ErrUnsupportedVersion  = 203
	ErrUnknownKey          = 204
	ErrDuplicateKey        = 205
	ErrRecordLocked        = 206
	ErrApplicationInternal = 207
)

var errorTexts = map[int]string{
	ErrSegmentSequence: "Segment sequence error", ErrRequiredField: "Required field missing",
	ErrDataType: "Data type error", ErrTableValue: "Table value not found",
	ErrUnsupportedType: "Unsupported message type", ErrUnsupportedEvent: "Unsupported event code",
	ErrUnsupportedProcess: "Unsupported processing id", ErrUnsupportedVersion: "Unsupported version id",
	ErrUnknownKey: "Unknown key identifier", ErrDuplicateKey: "Duplicate key identifier",
	ErrRecordLocked: "Application record locked", ErrApplicationInternal: "Application internal error",
}

// Problem is one reason for an AE or AR, or a warning an AA carries: its
// table 0357 code, where it is (a segment name, its occurrence and a
// field, each 0 or "" when not known), what a person reads, and its
// severity (table 0516: E error when "", W warning, I information).
type Problem struct {
	Code     int
	Segment  string
	Sequence int
	Field    int
	Text     string
	Severity string
}

// Severities of table 0516 (ERR-4).
const (
	SeverityError       = "E"
	SeverityWarning     = "W"
	SeverityInformation = "I"
)

// Ack builds the acknowledgment of m: an MSH with sender and receiver
// swapped, MSH-9 ACK^(m's trigger event)^ACK, MSH-10 controlID, m's
// processing id and version; MSA with code and m's control id (MSA-3 the
// first problem's text); one ERR per problem, laid out for m's version
// (ERR-2 to ERR-4 and ERR-8 from v2.5, ERR-1 before).
func Ack(m *Message, code, controlID string, now time.Time, problems ...Problem) *Message {
	msh := m.Segment("MSH")
	raw := func(field, comp int) string { return msh.Raw(field, 1, comp, 1) }
	d := m.Delims
	header := []string{
		rawField(d, msh, 5), rawField(d, msh, 6), rawField(d, msh, 3), rawField(d, msh, 4),
		Timestamp(now), "",
		"ACK" + string(d.Component) + raw(9, 2) + string(d.Component) + "ACK",
		d.EscapeText(controlID), rawField(d, msh, 11), rawField(d, msh, 12),
	}
	return ack(d, header, code, raw(10, 1), m.Version(), problems)
}

// Reject builds an AR for data that Parse refused, from what of its MSH
// can be read (the delimiters, sender, receiver and control id), or with
// the default delimiters and no control id to echo when even that
// cannot.
func Reject(data []byte, controlID string, now time.Time, p Problem) *Message {
	lines := splitSegments(string(data))
	if len(lines) > 0 && strings.HasPrefix(lines[0], "MSH") {
		if d, err := delimitersOf(lines[0]); err == nil {
			return Ack(&Message{Delims: d, Segments: []*Segment{parseSegment(lines[0], d)}}, AR, controlID, now, p)
		}
	}
	d := DefaultDelimiters
	header := []string{"", "", "", "", Timestamp(now), "", "ACK", d.EscapeText(controlID), "P", "2.5.1"}
	return ack(d, header, AR, "", "2.5.1", []Problem{p})
}

// rawField is field n of s as written with d, whole.
func rawField(d Delimiters, s *Segment, n int) string {
	if s == nil || n < 1 || n > len(s.Fields) {
		return ""
	}
	return s.Fields[n-1].raw(d)
}

func ack(d Delimiters, header []string, code, echo, version string, problems []Problem) *Message {
	out := &Message{Delims: d}
	msh := &Segment{Name: "MSH", Fields: []Field{literal(string(d.Field)), literal(d.encodingCharacters())}}
	for _, f := range header {
		msh.Fields = append(msh.Fields, parseField(f, d))
	}
	out.Segments = append(out.Segments, msh)
	msa := []string{code, echo}
	if len(problems) > 0 {
		msa = append(msa, d.EscapeText(problems[0].Text))
	}
	out.Segments = append(out.Segments, segmentOf("MSA", d, msa...))
	for _, p := range problems {
		out.Segments = append(out.Segments, errSegment(d, version, p))
	}
	return out
}

func segmentOf(name string, d Delimiters, fields ...string) *Segment {
	s := &Segment{Name: name}
	for _, f := range fields {
		s.Fields = append(s.Fields, parseField(f, d))
	}
	return s
}

// errSegment is p as an ERR segment of version.
func errSegment(d Delimiters, version string, p Problem) *Segment {
	code := p.Code
	if code == 0 {
		code = ErrApplicationInternal
	}
	c, sub := string(d.Component), string(d.Subcomponent)
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	codeText := errorTexts[code]
	if before25(version) {
		// ERR-1 (ELD): segment^sequence^field^code&text&HL70357.
		eld := d.EscapeText(p.Segment) + c + num(p.Sequence) + c + num(p.Field) + c +
			strconv.Itoa(code) + sub + d.EscapeText(codeText) + sub + "HL70357"
		return segmentOf("ERR", d, eld)
	}
	location := ""
	if p.Segment != "" {
		location = d.EscapeText(p.Segment) + c + num(p.Sequence) + c + num(p.Field)
	}
	cwe := strconv.Itoa(code) + c + d.EscapeText(codeText) + c + "HL70357"
	severity := p.Severity
	if severity == "" {
		severity = SeverityError
	}
	return segmentOf("ERR", d, "", location, cwe, d.EscapeText(severity), "", "", "", d.EscapeText(p.Text))
}

// before25 reports whether version (MSH-12) is older than 2.5, whose ERR
// segment is the one-field ELD layout.
func before25(version string) bool {
	major, rest, _ := strings.Cut(version, ".")
	minor, _, _ := strings.Cut(rest, ".")
	a, err1 := strconv.Atoi(major)
	b, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return false
	}
	return a < 2 || a == 2 && b < 5
}

// Timestamp writes t as an HL7 DTM to the second with its offset:
// 20261124093015+0100.
func Timestamp(t time.Time) string {
	return t.Format("20060102150405-0700")
}

// Code returns an acknowledgment's MSA-1 and the text of its first
// problem (MSA-3, or ERR-8), for a sender reading an answer.
func (m *Message) Code() (code, text string) {
	text = m.Get("MSA-3")
	if text == "" {
		text = m.Get("ERR-8")
	}
	return m.Get("MSA-1"), text
}

func (p Problem) String() string {
	s := fmt.Sprintf("%d %s", p.Code, errorTexts[p.Code])
	if p.Segment != "" {
		s += fmt.Sprintf(" at %s", p.Segment)
		if p.Field > 0 {
			s += fmt.Sprintf("-%d", p.Field)
		}
	}
	if p.Text != "" {
		s += ": " + p.Text
	}
	return s
}
