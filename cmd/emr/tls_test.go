package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"github.com/emr-project/emr/internal/sharedtest"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTLSFlags checks the TLS flags' usage errors (exit 2) and the
// start-up failures on bad files (exit 1), which name the file.
func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeTestCertificate(t, dir, "a")
	_, otherKey := writeTestCertificate(t, dir, "b")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	cases := []struct {
		name     string
		args     []string
		env      []string // NAME=value
		code     int
		inStderr []string
	}{
		{"cert without key", []string{"--tls-cert", certFile}, nil, 2, []string{"--tls-cert needs --tls-key"}},
		{"key without cert", []string{"--tls-key", keyFile}, nil, 2, []string{"--tls-key needs --tls-cert"}},
		{"cert without key from the environment", nil, []string{"EMR_TLS_CERT=" + certFile}, 2, []string{"--tls-cert needs --tls-key"}},
		{"self-signed and files", []string{"--tls-self-signed", "--tls-cert", certFile, "--tls-key", keyFile}, nil, 2, []string{"not both"}},
		{"missing certificate", []string{"--tls-cert", missing, "--tls-key", keyFile}, nil, 1, []string{"--tls-cert", missing, "no such file"}},
		{"missing key", []string{"--tls-cert", certFile, "--tls-key", missing}, nil, 1, []string{"--tls-key", missing, "no such file"}},
		{"certificate not PEM", []string{"--tls-cert", notPEM, "--tls-key", keyFile}, nil, 1, []string{"--tls-cert " + notPEM + ": no PEM certificate"}},
		{"key is a certificate", []string{"--tls-cert", certFile, "--tls-key", certFile}, nil, 1, []string{"--tls-key " + certFile + ": no PEM private key"}},
		{"key of another certificate", []string{"--tls-cert", certFile, "--tls-key", otherKey}, nil, 1, []string{certFile, otherKey, "does not match"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, kv := range c.env {
				name, value, _ := strings.Cut(kv, "=")
				t.Setenv(name, value)
			}
			args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, c.args...)
			var out, errOut bytes.Buffer
			code := run(context.Background(), args, &out, &errOut)
			if code != c.code {
				t.Errorf("exit code %d, want %d; stderr %q", code, c.code, errOut.String())
			}
			for _, want := range c.inStderr {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("stderr %q, want it to contain %q", errOut.String(), want)
				}
			}
		})
	}
}

var fingerprintPattern = regexp.MustCompile(`SHA-256:\s+([0-9A-F:]{95})`)

// TestServeTLSSelfSigned serves HTTPS with the development certificate:
// a client that trusts the certificate file gets the metadata over HTTP/2
// with HSTS, one that does not, or that offers only TLS 1.1, is refused;
// a second start reuses the certificate.
func TestServeTLSSelfSigned(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --tls-self-signed")
	if !strings.HasPrefix(s.base, "https://") {
		t.Fatalf("base URL %s, want https://", s.base)
	}
	certFile := filepath.Join(dir, "tls", "dev-cert.pem")
	for _, name := range []string{certFile, filepath.Join(dir, "tls", "dev-key.pem")} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want mode 0600", name, err, fi.Mode().Perm())
		}
	}
	if !strings.Contains(s.banner, certFile) || !strings.Contains(s.banner, "development only") {
		t.Errorf("start-up message does not name the development certificate:\n%s", s.banner)
	}
	m := fingerprintPattern.FindStringSubmatch(s.banner)
	if m == nil {
		t.Fatalf("no SHA-256 fingerprint in the start-up message:\n%s", s.banner)
	}
	printed := m[1]
	leaf := readCertificate(t, certFile)
	if got := fingerprint(leaf); got != printed {
		t.Errorf("printed fingerprint %s, the file's is %s", printed, got)
	}

	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	trusting := tlsClient(&tls.Config{RootCAs: pool})
	resp, err := trusting.Get(s.base + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("GET /fhir/metadata: %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	checkSecurityHeaders(t, resp.Header, true)

	_, err = tlsClient(&tls.Config{}).Get(s.base + "/metadata")
	if verr := new(tls.CertificateVerificationError); !errors.As(err, &verr) {
		t.Errorf("client without the certificate: %v, want a verification error", err)
	}
	_, err = tlsClient(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}).Get(s.base + "/metadata")
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 client: %v, want refused for its protocol version", err)
	}

	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("shutdown: %v\n%s", err, s.out)
	}
	s2 := startServer(t, dir, "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --tls-self-signed")
	if m := fingerprintPattern.FindStringSubmatch(s2.banner); m == nil || m[1] != printed || !strings.Contains(s2.banner, "reused") {
		t.Errorf("second start did not reuse the certificate %s:\n%s", printed, s2.banner)
	}
	if resp, err := trusting.Get(s2.base + "/metadata"); err != nil {
		t.Errorf("second start: %v", err)
	} else {
		resp.Body.Close()
	}
}

// TestServeTLSCertFiles serves HTTPS with a certificate signed by a test
// authority, given by the environment variables.
func TestServeTLSCertFiles(t *testing.T) {
	dir := t.TempDir()
	caKey, ca := newTestCA(t)
	leaf, leafKey := sharedtest.NewCert(t, "emr.test", ca, caKey)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", leaf.Raw, ca.Raw) // with its chain
	writePEM(t, keyFile, "PRIVATE KEY", marshalKey(t, leafKey))

	s := startServer(t, t.TempDir(), "EMR_TLS_CERT="+certFile, "EMR_TLS_KEY="+keyFile)
	if !strings.HasPrefix(s.base, "https://") || !strings.Contains(s.banner, certFile) {
		t.Fatalf("base URL %s; start-up message:\n%s", s.base, s.banner)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	resp, err := tlsClient(&tls.Config{RootCAs: pool}).Get(s.base + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /fhir/metadata: %d", resp.StatusCode)
	}
	checkSecurityHeaders(t, resp.Header, true)
}

// TestCleartextWarning starts plain-HTTP servers: on 0.0.0.0 the log and
// stderr warn that patient data travels in clear text, on 127.0.0.1 not.
// The plain answers carry the security headers but no HSTS.
func TestCleartextWarning(t *testing.T) {
	for _, c := range []struct {
		addr string
		warn bool
	}{
		{"0.0.0.0:0", true},
		{"127.0.0.1:0", false},
	} {
		t.Run(c.addr, func(t *testing.T) {
			s := startServer(t, t.TempDir(), "EMR_TEST_ARGS=serve --addr "+c.addr)
			resp, err := testClient.Get(s.base + "/metadata")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			checkSecurityHeaders(t, resp.Header, false)
			s.cmd.Process.Signal(syscall.SIGTERM)
			s.cmd.Wait() // then s.out is complete
			stderr := s.out.String()
			logged := regexp.MustCompile(`level=WARN msg=".*clear text`).MatchString(stderr)
			told := strings.Contains(stderr, "WARNING:") && strings.Contains(stderr, "--tls-cert")
			if logged != c.warn || told != c.warn {
				t.Errorf("warning logged %v, on stderr %v; want %v:\n%s", logged, told, c.warn, stderr)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:80": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST.:1": true,
		"0.0.0.0:8080": false, "[::]:8080": false, ":8080": false, "192.168.1.10:8080": false,
		"emr.example.org:443": false, "localhost.example.org:1": false, "nonsense": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestDevCertificate checks when the development certificate is reused
// and when it is made again.
func TestDevCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	hosts := devCertificateHosts("127.0.0.1:8443")
	first, err := devCertificate(dir, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := first.cert.Leaf
	if !first.generated || leaf.PublicKeyAlgorithm != x509.ECDSA || leaf.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Fatalf("first certificate: generated %v, key %v", first.generated, leaf.PublicKeyAlgorithm)
	}
	if life := leaf.NotAfter.Sub(now); life < 364*24*time.Hour || life > 366*24*time.Hour {
		t.Errorf("valid for %v, want a year", life)
	}
	host, _ := os.Hostname()
	for _, name := range []string{"localhost", strings.ToLower(host)} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("not valid for %s: %v", name, err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(ip); err != nil {
			t.Errorf("not valid for %s: %v", ip, err)
		}
	}
	fp := fingerprint(leaf)
	same := func(dc devCert) bool { return !dc.generated && fingerprint(dc.cert.Leaf) == fp }
	certPEM, keyPEM := readFile(t, first.certPath), readFile(t, first.keyPath)
	_, otherKeyPEM, err := newDevCertificate(hosts, now)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		setup func()
		hosts certHosts
		now   time.Time
		reuse bool
	}{
		{"same hosts", nil, hosts, now.Add(time.Hour), true},
		{"fewer hosts", nil, certHosts{dnsNames: []string{"localhost"}}, now, true},
		{"a new host", nil, devCertificateHosts("emr.test:8443"), now, false},
		{"a new address", nil, devCertificateHosts("192.0.2.7:8443"), now, false},
		{"about to expire", nil, hosts, leaf.NotAfter.Add(-time.Hour), false},
		{"key replaced", func() { writeFileAtomic(first.keyPath, otherKeyPEM) }, hosts, now, false},
		{"certificate damaged", func() { writeFileAtomic(first.certPath, []byte("x")) }, hosts, now, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each case starts from the first certificate.
			if err := writeFileAtomic(first.certPath, certPEM); err != nil {
				t.Fatal(err)
			}
			if err := writeFileAtomic(first.keyPath, keyPEM); err != nil {
				t.Fatal(err)
			}
			if c.setup != nil {
				c.setup()
			}
			got, err := devCertificate(dir, c.hosts, c.now)
			if err != nil {
				t.Fatal(err)
			}
			if same(got) != c.reuse {
				t.Errorf("reused %v (generated %v), want reuse %v", same(got), got.generated, c.reuse)
			}
			if !c.reuse && !c.hosts.covers(got.cert.Leaf) {
				t.Errorf("new certificate does not cover %v", c.hosts)
			}
		})
	}
}

// tlsClient is a client with the given TLS configuration that speaks
// HTTP/2 when the server offers it.
func tlsClient(config *tls.Config) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: config, ForceAttemptHTTP2: true}}
}

// writeTestCertificate writes a self-signed certificate for 127.0.0.1 and
// its key to dir as NAME-cert.pem and NAME-key.pem.
func writeTestCertificate(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, ca := newTestCA(t)
	certFile, keyFile = filepath.Join(dir, name+"-cert.pem"), filepath.Join(dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", ca.Raw)
	writePEM(t, keyFile, "PRIVATE KEY", marshalKey(t, key))
	return certFile, keyFile
}

// newTestCA returns a certificate authority for a test (its certificate
// also serves 127.0.0.1).
func newTestCA(t *testing.T) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	cert, key := sharedtest.NewCert(t, "emr test CA", nil, nil)
	return key, cert
}

// testPKI is a test certificate authority, with the files of one
// certificate it issued (CertFile, KeyFile) and of its own (CAFile).
type testPKI struct {
	ca                        *x509.Certificate
	key                       *ecdsa.PrivateKey
	CertFile, KeyFile, CAFile string
}

// newTestPKI makes a CA and writes, in dir, its certificate and one for
// name it issued, with that certificate's key.
func newTestPKI(t *testing.T, dir, name string) *testPKI {
	t.Helper()
	p := &testPKI{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), CAFile: filepath.Join(dir, "ca.pem")}
	p.key, p.ca = newTestCA(t)
	cert := p.Leaf(t, name)
	writePEM(t, p.CertFile, "CERTIFICATE", cert.Certificate[0])
	writePEM(t, p.KeyFile, "PRIVATE KEY", marshalKey(t, cert.PrivateKey.(*ecdsa.PrivateKey)))
	writePEM(t, p.CAFile, "CERTIFICATE", p.ca.Raw)
	return p
}

// Leaf is a certificate for name the CA issued.
func (p *testPKI) Leaf(t *testing.T, name string) tls.Certificate {
	cert, key := sharedtest.NewCert(t, name, p.ca, p.key)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}
}

// Pool is a pool of the CA's certificate.
func (p *testPKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return pool
}

// serveRefuses checks that emr serve with each case's flags exits 2,
// saying what the case expects on stderr.
func serveRefuses(t *testing.T, cases []refusal) {
	t.Helper()
	for _, c := range cases {
		var out, errOut bytes.Buffer
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code := run(ctx, args, &out, &errOut)
		cancel()
		if code != 2 || !strings.Contains(errOut.String(), c.inStderr) {
			t.Errorf("emr %v: code %d, stderr %q; want 2 with %q", args, code, errOut.String(), c.inStderr)
		}
	}
}

type refusal struct {
	args     []string
	inStderr string
}

func marshalKey(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// writePEM writes the DER blocks to file as PEM of type typ.
func writePEM(t *testing.T, file, typ string, blocks ...[]byte) {
	t.Helper()
	var data []byte
	for _, der := range blocks {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})...)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readCertificate(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, file))
	if block == nil {
		t.Fatalf("%s: no PEM", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return cert
}

func readFile(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
