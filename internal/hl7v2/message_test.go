package hl7v2

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/sharedtest"
)

// corpus returns the shared HL7 v2 messages by file name, their
// segments ended by CR.
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, dir := range [][]string{{"microsoft-fhir-converter", "messages"}, {"python-hl7"}} {
		files, err := filepath.Glob(filepath.Join(sharedtest.Path(t, append([]string{"testdata", "hl7v2"}, dir...)...), "*.hl7"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(f)] = data
		}
	}
	if len(out) < 100 {
		t.Fatalf("only %d messages in the shared corpus", len(out))
	}
	return out
}

// normalized is data with CR ending every segment and no empty lines, as
// Encode writes it.
func normalized(data []byte) string {
	return strings.Join(splitSegments(string(data)), "\r") + "\r"
}

// TestCorpusRoundTrip reads every shared message (the batch file through
// ParseBatch) and writes it back: the same segments, byte for byte.
func TestCorpusRoundTrip(t *testing.T) {
	segments := 0
	for name, data := range corpus(t) {
		if strings.HasPrefix(string(data), "FHS") {
			msgs, err := ParseBatch(data)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if len(msgs) != 1 || msgs[0].Get("PID-3") != "0000112234" {
				t.Errorf("%s: %d messages, PID-3 %q", name, len(msgs), msgs[0].Get("PID-3"))
			}
			continue
		}
		m, err := Parse(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got, want := string(m.Encode()), normalized(data); got != want {
			t.Errorf("%s: encoded differs:\n got %q\nwant %q", name, truncate(got, 300), truncate(want, 300))
		}
		if code, event, _ := m.Type(); code == "" || event == "" && code != "ACK" {
			t.Errorf("%s: MSH-9 %q^%q", name, code, event)
		}
		if m.ControlID() == "" {
			t.Errorf("%s: no control id", name)
		}
		segments += len(m.Segments)
	}
	t.Logf("%d segments", segments)
}

// TestGet reads repetitions, components and subcomponents by path.
func TestGet(t *testing.T) {
	m, err := Parse([]byte("MSH|^~\\&|GHH LAB|ELAB-3|GHH OE|BLDG4|200202150930||ORU^R01|CNTRL-3456|P|2.4\r" +
		"PID|Field1|Component1^Component2|Component1^Sub-Component1&Sub-Component2^Component3|Repeat1~Repeat2\r" +
		"OBX|1|NM|1554-5^GLUCOSE||182|mg/dl|70_105|H\rOBX|2|ST|x||a\\F\\b\\S\\c\\.br\\d|\rZZZ|kept\r"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"MSH-1": "|", "MSH-2": "^~\\&", "MSH-3": "GHH LAB", "MSH-9.2": "R01", "MSH-10": "CNTRL-3456",
		"PID-1": "Field1", "PID-2": "Component1", "PID-2.2": "Component2", "PID-3.2": "Sub-Component1",
		"PID-3.2.2": "Sub-Component2", "PID-3.3": "Component3", "PID-4": "Repeat1", "PID-4[2]": "Repeat2",
		"PID-4[3]": "", "PID-9": "", "OBX-5": "182", "OBX(2)-5": "a|b^c\nd", "OBX(3)-1": "", "ZZZ-1": "kept",
		"PID": "", "PID-x": "", "PID-0": "", "PID-4[0]": "", "OBX(0)-1": "",
	} {
		if got := m.Get(path); got != want {
			t.Errorf("Get(%q) = %q, want %q", path, got, want)
		}
	}
	if n := m.Segment("PID").Repetitions(4); n != 2 {
		t.Errorf("PID-4 has %d repetitions", n)
	}
}

// TestOtherDelimiters: a message's own delimiters are read from MSH and
// written back.
func TestOtherDelimiters(t *testing.T) {
	in := "MSH#*!@$#APP#FAC#EMR#CLINIC#20260101120000##ADT*A04#42#P#2.8\rPID#1##123*@*@*MRN!456##Doe*Jane$Ann\r"
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Delims != (Delimiters{Field: '#', Component: '*', Repetition: '!', Escape: '@', Subcomponent: '$'}) {
		t.Errorf("delimiters %+v", m.Delims)
	}
	if got := m.Get("PID-3[2]"); got != "456" {
		t.Errorf("PID-3[2] = %q", got)
	}
	if got := m.Get("PID-5.2"); got != "Jane" {
		t.Errorf("PID-5.2 = %q", got)
	}
	if got := m.Get("PID-5.2.2"); got != "Ann" {
		t.Errorf("PID-5.2.2 = %q", got)
	}
	if got := string(m.Encode()); got != in {
		t.Errorf("encoded %q", got)
	}
	ack := Ack(m, AA, "A1", time.Date(2026, 1, 1, 12, 0, 1, 0, time.UTC))
	if got := string(ack.Encode()); got != "MSH#*!@$#EMR#CLINIC#APP#FAC#20260101120001+0000##ACK*A04*ACK#A1#P#2.8\rMSA#AA#42\r" {
		t.Errorf("ack %q", got)
	}
}

func TestEscapes(t *testing.T) {
	d := DefaultDelimiters
	for in, want := range map[string]string{
		`plain`:                    "plain",
		`\F\\S\\T\\R\\E\`:          `|^&~\`,
		`a\X0D0A\b`:                "a\r\nb",
		`caf\XC3A9\`:               "café",
		`caf\XE9\`:                 "café", // Latin-1
		`line\.br\two\H\bold\N\`:   "line\ntwobold",
		`\.sp2\x`:                  "x",
		`\Zunknown\ stays`:         `\Zunknown\ stays`,
		`unclosed \F`:              `unclosed \F`,
		`\X0G\ bad hex`:            `\X0G\ bad hex`,
		`\P\ without a truncation`: `\P\ without a truncation`,
	} {
		if got := d.Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
	for _, text := range []string{"", "a|b^c~d\\e&f", "two\nlines\r", "tab\there", "ünïcödé 日本"} {
		esc := d.EscapeText(text)
		if strings.ContainsAny(esc, "|^~&\r\n") {
			t.Errorf("EscapeText(%q) = %q holds a delimiter", text, esc)
		}
		if back := d.Unescape(esc); back != text {
			t.Errorf("Unescape(EscapeText(%q)) = %q", text, back)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    "empty message",
		"\r\n\r":                              "empty message",
		"PID|1\r":                             "segment 1: a message starts with MSH",
		"MSH|^~\\\r":                          "segment 1: the header is too short",
		"MSH|^~\\&&|\r":                       "used twice",
		"MSH|^~\\A|\r":                        "not a printable symbol",
		"MSH|^~\\&|a|b\rpid|1\r":              "segment 2:",
		"MSH|^~\\&|a|b\rPID1\r":               "segment 2:",
		"MSH|^~\\&|a|b\rPID|1\rMSH|^~\\&|c\r": "segment 3: a second MSH",
		"MSH|^~\\&|a|b\rPI\r":                 "segment 2:",
		"MSH|^~\\&|a\rPID|1\r\nEVN^x\r":       "segment 3:",
		"MSH|^~\\&|a\r" + strings.Repeat("\r", 3): "",
	} {
		_, err := Parse([]byte(in))
		switch {
		case want == "" && err != nil:
			t.Errorf("Parse(%q): %v", in, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("Parse(%q) = %v, want an error with %q", in, err, want)
		}
	}
	if _, err := ParseBatch([]byte("BHS|^~\\&\rPID|1\r")); err == nil || !strings.Contains(err.Error(), "outside a message") {
		t.Errorf("ParseBatch: %v", err)
	}
	if _, err := Parse([]byte("MSH|^~\\&|a\r" + strings.Repeat("ZZZ|1\r", MaxSegments))); err == nil {
		t.Error("no bound on segments")
	}
}

// TestAck checks the acknowledgments of a v2.5.1 and a v2.3 message, and
// the rejection of input that is not a message.
func TestAck(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 30, 15, 0, time.FixedZone("", 3600))
	in := "MSH|^~\\&|LAB|NORTH|EMR|CLINIC|20261124093000||ORU^R01^ORU_R01|MSG-1|P|2.5.1\rPID|1||123^^^MRN\r"
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(Ack(m, AA, "ACK-1", now).Encode()); got != "MSH|^~\\&|EMR|CLINIC|LAB|NORTH|20261124093015+0100||ACK^R01^ACK|ACK-1|P|2.5.1\rMSA|AA|MSG-1\r" {
		t.Errorf("AA: %q", got)
	}
	ae := Ack(m, AE, "ACK-2", now, Problem{Code: ErrRequiredField, Segment: "PID", Sequence: 1, Field: 5, Text: "PID-5 (name) is required | missing"})
	if got, want := string(ae.Encode()), "MSH|^~\\&|EMR|CLINIC|LAB|NORTH|20261124093015+0100||ACK^R01^ACK|ACK-2|P|2.5.1\r"+
		"MSA|AE|MSG-1|PID-5 (name) is required \\F\\ missing\r"+
		"ERR||PID^1^5|101^Required field missing^HL70357|E||||PID-5 (name) is required \\F\\ missing\r"; got != want {
		t.Errorf("AE:\n got %q\nwant %q", got, want)
	}
	if code, text := ae.Code(); code != AE || text != "PID-5 (name) is required | missing" {
		t.Errorf("Code() = %q, %q", code, text)
	}
	warned := Ack(m, AA, "ACK-W", now, Problem{Code: ErrRequiredField, Segment: "PV1", Sequence: 1, Field: 19, Text: "no visit", Severity: SeverityWarning})
	if got := warned.Encode(); !strings.HasSuffix(string(got), "MSA|AA|MSG-1|no visit\rERR||PV1^1^19|101^Required field missing^HL70357|W||||no visit\r") {
		t.Errorf("AA with a warning: %q", got)
	}
	old, _ := Parse([]byte(strings.Replace(in, "2.5.1", "2.3", 1)))
	if got := Ack(old, AR, "ACK-3", now, Problem{Code: ErrUnsupportedType, Text: "no"}).Get("ERR-1.4.1"); got != "200" {
		t.Errorf("v2.3 ERR-1: code %q", got)
	}
	if got := Ack(old, AR, "ACK-3", now, Problem{Code: ErrUnsupportedType}).Get("ERR-1.4.2"); got != "Unsupported message type" {
		t.Errorf("v2.3 ERR-1: text %q", got)
	}

	r := Reject([]byte("not hl7 at all"), "ACK-4", now, Problem{Code: ErrApplicationInternal, Text: "unreadable"})
	if got := string(r.Encode()); got != "MSH|^~\\&|||||20261124093015+0100||ACK|ACK-4|P|2.5.1\rMSA|AR||unreadable\r"+
		"ERR|||207^Application internal error^HL70357|E||||unreadable\r" {
		t.Errorf("Reject: %q", got)
	}
	r = Reject([]byte(in+"bad segment\r"), "ACK-5", now, Problem{Code: ErrSegmentSequence, Text: "bad"})
	if r.Get("MSA-2") != "MSG-1" || r.Get("MSH-5") != "LAB" {
		t.Errorf("Reject of a message with a readable MSH: %q", r.Encode())
	}
}
