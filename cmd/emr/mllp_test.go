package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
)

var mllpPattern = regexp.MustCompile(`HL7 v2:\s+mllp://(\S+)`)

// TestServeHL7v2 runs `emr serve --mllp-addr`, sends it an admission and
// results over MLLP on TCP, finds them through the FHIR API, and finds
// every acknowledged result again after kill -9.
func TestServeHL7v2(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	args := "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --mllp-addr 127.0.0.1:0 --mllp-authorities CITY_LAB=https://lab.example.org/mrn"
	s := startServer(t, dir, args)
	m := mllpPattern.FindStringSubmatch(s.banner)
	if m == nil {
		t.Fatalf("the start-up message has no HL7 v2 line:\n%s", s.banner)
	}
	c, err := mllp.Dial(context.Background(), m[1])
	if err != nil {
		t.Fatal(err)
	}
	const msh = "MSH|^~\\&|LAB|CITY_LAB|EMR|CLINIC|20261124093000+0100||"
	const pid = "PID|1||555-44-4444^^^CITY_LAB^MR||EVERYWOMAN^EVE||19620320|F"
	send := func(lines ...string) string {
		t.Helper()
		ack, err := c.Send(context.Background(), []byte(strings.Join(lines, "\r")))
		if err != nil {
			t.Fatal(err)
		}
		a, err := hl7v2.Parse(ack)
		if err != nil {
			t.Fatal(err)
		}
		code, text := a.Code()
		if a.Get("MSA-2") != strings.Split(lines[0], "|")[9] {
			t.Errorf("MSA-2 %q does not echo the control id", a.Get("MSA-2"))
		}
		return code + " " + text
	}
	if got := send(msh+"ADT^A04^ADT_A04|A1|P|2.5.1", pid, "PV1|1|O|||||||||||||||||V77^^^CITY_LAB^VN"); got != "AA " {
		t.Fatalf("ADT^A04: %s", got)
	}
	var acked []string
	for i := range 20 {
		id := "R" + string(rune('A'+i))
		got := send(msh+"ORU^R01^ORU_R01|O"+id+"|P|2.5.1", pid,
			"OBR|1||"+id+"^CITY_LAB|2345-7^Glucose^LN|||202611240730",
			"OBX|1|NM|2345-7^Glucose^LN||"+string(rune('1'+i%9))+"0|mg/dL^^UCUM|70-105||||F")
		if got != "AA " {
			t.Fatalf("ORU^R01 %s: %s", id, got)
		}
		acked = append(acked, id)
	}
	if got := send(msh+"ORU^R01|X|T|2.5.1", pid); !strings.HasPrefix(got, "AR ") {
		t.Errorf("a training message: %s, want AR", got)
	}
	c.Close()

	count := func(base, query string) int {
		t.Helper()
		status, _, body := call(t, "GET", base+"/"+query+"&_summary=count", "", "")
		if status != 200 {
			t.Fatalf("GET %s: %d %v", query, status, body)
		}
		return int(body["total"].(float64))
	}
	ident := "identifier=" + url.QueryEscape("https://lab.example.org/mrn|555-44-4444")
	if n := count(s.base, "Patient?"+ident); n != 1 {
		t.Fatalf("%d patients with the identifier, want 1", n)
	}
	if n := count(s.base, "Observation?patient.identifier="+url.QueryEscape("https://lab.example.org/mrn|555-44-4444")); n != len(acked) {
		t.Errorf("%d observations, want %d", n, len(acked))
	}

	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	s2 := startServer(t, dir, args)
	if n := count(s2.base, "DiagnosticReport?patient.identifier="+url.QueryEscape("https://lab.example.org/mrn|555-44-4444")); n != len(acked) {
		t.Errorf("after kill -9, %d reports of the %d acknowledged", n, len(acked))
	}
	if n := count(s2.base, "Encounter?identifier="+url.QueryEscape("https://lab.example.org/mrn|V77")); n != 1 {
		t.Errorf("%d encounters, want 1", n)
	}
}

// The interface refuses to listen where anyone could write through it.
func TestMLLPFlags(t *testing.T) {
	serveRefuses(t, []refusal{
		{[]string{"--mllp-addr", "0.0.0.0:2575"}, "MLLP has no authentication of its own"},
		{[]string{"--mllp-addr", "127.0.0.1:0", "--mllp-client-ca", "ca.pem"}, "--mllp-client-ca needs TLS"},
		{[]string{"--mllp-client-ca", "ca.pem"}, "need --mllp-addr"},
		{[]string{"--mllp-role", "admin"}, "need --mllp-addr"},
		{[]string{"--mllp-addr", "127.0.0.1:0", "--mllp-role", "janitor"}, `--mllp-role "janitor" is not a role`},
		{[]string{"--mllp-addr", "127.0.0.1:0", "--mllp-authorities", "MRN"}, "not NAMESPACE=URI"},
		{[]string{"--mllp-addr", "127.0.0.1:0", "--mllp-authorities", "MRN=relative/uri"}, "not NAMESPACE=URI"},
	})
}

// With TLS the interface listens on every address, and answers senders
// whose certificates --mllp-client-ca issued, and no others.
func TestServeHL7v2TLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	dir := t.TempDir()
	pki := newTestPKI(t, dir, "emr.test")
	certFile, keyFile, caFile := pki.CertFile, pki.KeyFile, pki.CAFile
	leaf := func(name string) tls.Certificate { return pki.Leaf(t, name) }
	s := startServer(t, t.TempDir(), "EMR_TLS_CERT="+certFile, "EMR_TLS_KEY="+keyFile,
		"EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --mllp-addr 0.0.0.0:0 --mllp-client-ca "+caFile)
	m := mllpPattern.FindStringSubmatch(s.banner)
	if m == nil || !strings.Contains(s.banner, "TLS, senders' certificates from "+caFile) {
		t.Fatalf("start-up message:\n%s", s.banner)
	}
	_, port, _ := net.SplitHostPort(m[1])
	pool := pki.Pool()
	msg := []byte("MSH|^~\\&|LAB|CITY_LAB|EMR|CLINIC|20261124093000+0100||ADT^A08^ADT_A08|T1|P|2.5.1\rPID|1||42^^^CITY_LAB^MR||DOE^JANE")
	exchange := func(certs []tls.Certificate) ([]byte, error) {
		conn, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{RootCAs: pool, Certificates: certs})
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if err := mllp.WriteMessage(conn, msg); err != nil {
			return nil, err
		}
		return mllp.NewReader(conn, 0).ReadMessage()
	}
	ack, err := exchange([]tls.Certificate{leaf("city-lab")})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := hl7v2.Parse(ack); err != nil || a.Get("MSA-1") != hl7v2.AA {
		t.Fatalf("acknowledgment %q (%v)", ack, err)
	}
	if ack, err := exchange(nil); err == nil {
		t.Errorf("a sender without a certificate was answered: %q", ack)
	}

	// emr hl7 send with the laboratory's certificate.
	lab := leaf("city-lab")
	labCert, labKey, msgFile := filepath.Join(dir, "lab.pem"), filepath.Join(dir, "lab-key.pem"), filepath.Join(dir, "msg.hl7")
	writePEM(t, labCert, "CERTIFICATE", lab.Certificate[0])
	writePEM(t, labKey, "PRIVATE KEY", marshalKey(t, lab.PrivateKey.(*ecdsa.PrivateKey)))
	writeFile(t, msgFile, strings.Replace(string(msg), "|T1|", "|T2|", 1))
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"hl7", "send", "--to", "127.0.0.1:" + port, "--tls-ca", caFile,
		"--tls-cert", labCert, "--tls-key", labKey, msgFile}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "T2: AA") {
		t.Errorf("emr hl7 send over TLS: exit %d, %s %s", code, out.String(), errOut.String())
	}
}

// emr hl7 send sends files (a message with LF line ends, a batch) to the
// interface and prints each acknowledgment; exit 1 when one is not AA.
func TestHL7Send(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	s := startServer(t, t.TempDir(), "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --mllp-addr 127.0.0.1:0")
	m := mllpPattern.FindStringSubmatch(s.banner)
	if m == nil {
		t.Fatalf("no HL7 v2 line in\n%s", s.banner)
	}
	dir := t.TempDir()
	one := filepath.Join(dir, "adt.hl7")
	batch := filepath.Join(dir, "batch.hl7")
	const msh = "MSH|^~\\&|PAS|GHH|EMR|CLINIC|20261124090000+0100||"
	writeFile(t, one, msh+"ADT^A08^ADT_A08|S1|P|2.5.1\nPID|1||77^^^GHH^MR||ROE^RICHARD\n")
	writeFile(t, batch, "FHS|^~\\&\rBHS|^~\\&\r"+msh+"ADT^A08|S2|P|2.5.1\rPID|1||78^^^GHH^MR||ROE^RITA\r"+
		msh+"ADT^A08|S3|T|2.5.1\rPID|1||79^^^GHH^MR||ROE^RAY\rBTS|2\rFTS|1\r")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"hl7", "send", "--to", m[1], one, batch}, &out, &errOut)
	for _, want := range []string{"adt.hl7 #1 ADT^A08 S1: AA", "batch.hl7 #1 ADT^A08 S2: AA", "batch.hl7 #2 ADT^A08 S3: AR", "production messages (P) only", "2 of 3 messages accepted"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1 (one message not accepted); stderr %s", code, errOut.String())
	}
	for _, c := range []struct {
		args     []string
		inStderr string
	}{
		{[]string{"hl7"}, "the subcommand is send"},
		{[]string{"hl7", "send", "--to", m[1]}, "no FILE given"},
		{[]string{"hl7", "send", "--tls-cert", "x.pem", one}, "go together"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), c.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), c.inStderr) {
			t.Errorf("emr %v: exit %d, stderr %q; want 2 with %q", c.args, code, errOut.String(), c.inStderr)
		}
	}
	var out2, errOut2 bytes.Buffer
	if code := run(context.Background(), []string{"hl7", "send", "--to", "127.0.0.1:1", one}, &out2, &errOut2); code != 1 || !strings.Contains(errOut2.String(), "connect to") {
		t.Errorf("no receiver: exit %d, stderr %q", code, errOut2.String())
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
