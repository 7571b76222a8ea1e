package hl7v2

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParse: any input is a message or a SyntaxError, never a panic; a
// message encodes to bytes that parse to the same encoding; values read
// by path and its acknowledgment are built without a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("MSH|^~\\&|LAB|NORTH|EMR|CLINIC|20261124093000||ORU^R01^ORU_R01|MSG-1|P|2.5.1\rPID|1||123^^^MRN~456&x\rOBX|1|NM|x||a\\F\\b\\X0D\\\r"))
	f.Add([]byte("MSH#*!@$#APP#FAC#EMR#CLINIC#20260101120000##ADT*A04#42#P#2.8\rPID#1##123*@*@*MRN!456\r"))
	f.Add([]byte("FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|a\rPID|1\rBTS|1\rFTS|1\r"))
	f.Add([]byte("\ufeffMSH|^~\\&#|a\n\nZZZ|1|\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if msgs, err := ParseBatch(data); err == nil {
			for _, m := range msgs {
				_ = m.Encode()
			}
		}
		m, err := Parse(data)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			_ = Reject(data, "x", time.Unix(0, 0), Problem{Code: ErrApplicationInternal, Text: err.Error()})
			return
		}
		enc := m.Encode()
		again, err := Parse(enc)
		if err != nil {
			t.Fatalf("the encoding of %q does not parse: %v", data, err)
		}
		if !bytes.Equal(again.Encode(), enc) {
			t.Fatalf("encoding is not stable: %q then %q", enc, again.Encode())
		}
		for _, p := range []string{"MSH-9.2", "PID-3[2].1.2", "OBX(2)-5", "ZZZ-1"} {
			_ = m.Get(p)
		}
		if _, err := Parse(Ack(m, AE, "a", time.Unix(0, 0), Problem{Segment: "PID", Field: 3, Text: string(data)}).Encode()); err != nil {
			t.Fatalf("the acknowledgment of %q does not parse: %v", data, err)
		}
	})
}

// FuzzEscape: text escaped with any valid delimiters unescapes to itself.
func FuzzEscape(f *testing.F) {
	f.Add("a|b^c~d\\e&f\r\n", []byte("|^~\\&"))
	f.Add("\\X0D\\ \\.br\\", []byte("#*!@$"))
	f.Fuzz(func(t *testing.T, text string, delims []byte) {
		d, err := delimitersOf("MSH" + string(delims) + "|")
		if err != nil || len(delims) != 5 {
			return
		}
		if back := d.Unescape(d.EscapeText(text)); back != text {
			t.Fatalf("%q with %q: escaped %q, back %q", text, delims, d.EscapeText(text), back)
		}
	})
}
