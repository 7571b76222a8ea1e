package main

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
)

// testLab is a laboratory's MLLP receiver: it passes on every message it
// receives and answers AA while answering is true (else nothing: the
// connection closes).
type testLab struct {
	addr      string
	received  chan *hl7v2.Message
	answering atomic.Bool
}

func startLab(t *testing.T, config *tls.Config) *testLab {
	t.Helper()
	l := &testLab{received: make(chan *hl7v2.Message, 20)}
	l.answering.Store(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.addr = ln.Addr().String()
	if config != nil {
		ln = tls.NewListener(ln, config)
	}
	srv := &mllp.Server{Handler: func(_ context.Context, data []byte, _ net.Addr) []byte {
		m, err := hl7v2.Parse(data)
		if err != nil {
			t.Errorf("the lab received what does not parse: %v", err)
			return nil
		}
		l.received <- m
		if !l.answering.Load() {
			return nil
		}
		return hl7v2.Ack(m, hl7v2.AA, "LAB-"+m.ControlID(), time.Now()).Encode()
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return l
}

func (l *testLab) next(t *testing.T) *hl7v2.Message {
	t.Helper()
	select {
	case m := <-l.received:
		return m
	case <-time.After(40 * time.Second): // a killed server's lease lasts 15 s
		t.Fatal("the lab received nothing")
		return nil
	}
}

// placeOrder creates a patient and a laboratory order through the API
// and returns the order's id.
func placeOrder(t *testing.T, base string) string {
	t.Helper()
	status, _, pat := call(t, "POST", base+"/Patient", "application/fhir+json",
		`{"resourceType": "Patient", "name": [{"family": "Everywoman", "given": ["Eve"]}], "birthDate": "1962-03-20"}`, "Prefer: return=representation")
	if status != 201 {
		t.Fatalf("POST Patient: %d %v", status, pat)
	}
	status, _, sr := call(t, "POST", base+"/ServiceRequest", "application/fhir+json", `{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
	  "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}],
	  "code": {"concept": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c"}]}},
	  "subject": {"reference": "Patient/`+pat["id"].(string)+`"}}`, "Prefer: return=representation")
	if status != 201 {
		t.Fatalf("POST ServiceRequest: %d %v", status, sr)
	}
	return sr["id"].(string)
}

// TestServeHL7Orders runs `emr serve --hl7-orders-to`: an order placed
// through the API reaches the lab; one the lab had not acknowledged when
// the server was killed (kill -9) is sent again, with the same control
// id, by the next server.
func TestServeHL7Orders(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	lab := startLab(t, nil)
	dir := t.TempDir()
	args := "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --hl7-orders-to " + lab.addr + " --hl7-orders-receiver LIS^CITY_LAB"
	s := startServer(t, dir, args)
	if !strings.Contains(s.banner, "HL7 orders:  mllp://"+lab.addr) {
		t.Errorf("the start-up message has no line for the orders:\n%s", s.banner)
	}
	first := placeOrder(t, s.base)
	if m := lab.next(t); m.Get("ORC-1") != "NW" || m.Get("ORC-2") != first || m.Get("ORC-2.2") != "EMR" || m.Get("MSH-5") != "LIS" || m.Get("OBR-4") != "4548-4" {
		t.Errorf("the lab received %q", m.Encode())
	}

	lab.answering.Store(false)
	second := placeOrder(t, s.base)
	unanswered := lab.next(t)
	if unanswered.Get("ORC-2") != second {
		t.Fatalf("the lab received %q", unanswered.Encode())
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	lab.answering.Store(true)
	startServer(t, dir, args)
	again := lab.next(t)
	if again.Get("ORC-2") != second || again.ControlID() != unanswered.ControlID() {
		t.Errorf("after kill -9 the lab received %q; want the unacknowledged order again, control id %s", again.Encode(), unanswered.ControlID())
	}
	select {
	case m := <-lab.received:
		t.Errorf("then the lab received %q", m.Encode())
	case <-time.After(time.Second):
	}
}

// With TLS the orders go to a receiver whose certificate
// --hl7-orders-tls-ca issued, presenting --hl7-orders-tls-cert.
func TestServeHL7OrdersTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	pki := newTestPKI(t, t.TempDir(), "emr.test") // the EMR's client certificate
	lab := startLab(t, &tls.Config{Certificates: []tls.Certificate{pki.Leaf(t, "127.0.0.1")}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pki.Pool(), MinVersion: tls.VersionTLS12})
	s := startServer(t, t.TempDir(), "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --hl7-orders-to "+lab.addr+
		" --hl7-orders-tls-ca "+pki.CAFile+" --hl7-orders-tls-cert "+pki.CertFile+" --hl7-orders-tls-key "+pki.KeyFile)
	id := placeOrder(t, s.base)
	if m := lab.next(t); m.Get("ORC-2") != id {
		t.Errorf("the lab received %q", m.Encode())
	}
}

// The sender refuses what it cannot do safely or at all.
func TestHL7OrdersFlags(t *testing.T) {
	serveRefuses(t, []refusal{
		{[]string{"--hl7-orders-to", "lab.example.org:2575"}, "orders carry patient data"},
		{[]string{"--hl7-orders-to", "2575"}, "is not host:port"},
		{[]string{"--hl7-orders-to", "127.0.0.1:2575", "--hl7-orders-categories", "laboratory,pharmacy"}, `"pharmacy" is not laboratory or imaging`},
		{[]string{"--hl7-orders-to", "127.0.0.1:2575", "--hl7-orders-tls-cert", "c.pem"}, "go together"},
		{[]string{"--hl7-orders-to", "127.0.0.1:2575", "--hl7-orders-tls-cert", "c.pem", "--hl7-orders-tls-key", "k.pem"}, "needs --hl7-orders-tls-ca"},
		{[]string{"--hl7-orders-categories", "imaging"}, "need --hl7-orders-to"},
		{[]string{"--hl7-orders-tls-ca", "ca.pem"}, "need --hl7-orders-to"},
		{[]string{"--hl7-orders-to", "127.0.0.1:2575", "--hl7-orders-message", "ORM^O02"}, `"ORM^O02" is not ORM^O01 or OML^O21`},
		{[]string{"--hl7-orders-message", "OML^O21"}, "need --hl7-orders-to"},
	})
}
