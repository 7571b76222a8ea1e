package outbound

import (
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/tofhir"
)

// Whatever the order and the patient hold, the message parses and says
// it back: every delimiter and control character is escaped.
func FuzzOrderMessage(f *testing.F) {
	f.Add("Everywoman", "Eve", "2345-7", "Glucose", "Fasting.\nDiabetic.", "thirst", "MRN-1")
	f.Add("O'Brien|^~\\&", "Zoë", "a b", "x^y", "\r\n\t", "\\X0D\\", "")
	f.Fuzz(func(t *testing.T, family, given, code, display, note, reason, mrn string) {
		if strings.TrimSpace(code) == "" && strings.TrimSpace(display) == "" {
			return // an order without a code is refused before any message
		}
		o := &Orders{Mapping: tofhir.Options{Placer: "EMR"}}
		if len(note)%2 == 1 {
			o.Message = OML // both structures, on the same inputs
		}
		sr := fhir.Resource{"resourceType": "ServiceRequest", "id": "sr-1", "status": "active", "intent": "order",
			"code":    map[string]any{"concept": map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": code, "display": display}}}},
			"subject": map[string]any{"reference": "Patient/p-1"}, "requester": map[string]any{"display": given + " " + family},
			"note": []any{map[string]any{"text": note}}, "reason": []any{map[string]any{"concept": map[string]any{"text": reason}}}}
		pat := fhir.Resource{"resourceType": "Patient", "id": "p-1", "name": []any{map[string]any{"family": family, "given": []any{given}}},
			"identifier": []any{map[string]any{"system": "urn:oid:1.2.3", "value": mrn}}}
		msg, err := o.message(&order{control: "NW", controlID: "O1", sr: sr, patient: pat, at: time.Unix(0, 0)}, time.Unix(0, 0))
		if err != nil {
			if codeOf(asMap(asMap(sr["code"])["concept"])) == "" {
				return
			}
			t.Fatal(err)
		}
		m, err := hl7v2.Parse(msg)
		if err != nil {
			t.Fatalf("%v\n%q", err, msg)
		}
		nameType := ""
		if family != "" || given != "" {
			nameType = "L"
		}
		for field, want := range map[string]string{"PID-3": "p-1", "PID-5": family, "PID-5.2": given, "PID-5.7": nameType, "ORC-2": "sr-1", "MSH-10": "O1"} {
			if got := m.Get(field); got != want {
				t.Errorf("%s = %q, want %q\n%q", field, got, want, msg)
			}
		}
		if code != "" {
			if got := m.Get("OBR-4"); got != code {
				t.Errorf("OBR-4 = %q, want %q", got, code)
			}
		}
		if mrn != "" {
			if got := m.Get("PID-3[2]"); got != "" && got != mrn {
				t.Errorf("PID-3[2] = %q, want %q", got, mrn)
			}
		}
		// The mapping back takes it or says why; it never fails otherwise.
		if _, err := tofhir.Map(m, tofhir.Options{}); err != nil {
			if _, ok := err.(*tofhir.Error); !ok {
				t.Errorf("mapping back: %v", err)
			}
		}
	})
}

// The order control follows the order's status and what the receiver
// last accepted (table 0119).
func TestControl(t *testing.T) {
	for _, c := range []struct {
		status, last, want string
	}{
		{"active", "", "NW"}, {"active", "NW", "XO"}, {"active", "XO", "XO"}, {"active", "HD", "RL"}, {"active", "CA", "NW"},
		{"on-hold", "", ""}, {"on-hold", "NW", "HD"}, {"on-hold", "HD", ""},
		{"revoked", "", ""}, {"revoked", "XO", "CA"}, {"entered-in-error", "RL", "CA"}, {"revoked", "CA", ""},
		{"draft", "", ""}, {"completed", "NW", ""},
	} {
		var last *sent
		if c.last != "" {
			last = &sent{Control: c.last}
		}
		if got := control(fhir.Resource{"resourceType": "ServiceRequest", "status": c.status}, last); got != c.want {
			t.Errorf("%s after %q: %q, want %q", c.status, c.last, got, c.want)
		}
	}
}
