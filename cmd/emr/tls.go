package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// tlsFlags declares the flags that turn on HTTPS.
func tlsFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	fs.BoolVar(&cfg.tlsSelfSigned, "tls-self-signed", false, "serve HTTPS with a self-signed certificate kept in <data>/tls, for development only")
}

// checkTLSFlags reports contradictory TLS flags as usage errors, before
// anything is opened.
func checkTLSFlags(cfg config) error {
	switch {
	case cfg.tlsSelfSigned && (cfg.tlsCert != "" || cfg.tlsKey != ""):
		return usageError{errors.New("--tls-self-signed generates its own certificate: give it or --tls-cert/--tls-key, not both")}
	case cfg.tlsCert != "" && cfg.tlsKey == "":
		return usageError{errors.New("--tls-cert needs --tls-key (the certificate's private key)")}
	case cfg.tlsKey != "" && cfg.tlsCert == "":
		return usageError{errors.New("--tls-key needs --tls-cert (the certificate of that key)")}
	}
	return nil
}

// serverTLS is what serving HTTPS needs: the configuration, and a line for
// the start-up message saying which certificate is used.
type serverTLS struct {
	config *tls.Config
	about  string
}

// loadServerTLS returns the TLS configuration cfg asks for, or nil for
// plain HTTP. A self-signed certificate is made for the hosts of cfg.addr.
func loadServerTLS(cfg config, now time.Time) (*serverTLS, error) {
	var (
		cert  tls.Certificate
		about string
	)
	switch {
	case cfg.tlsSelfSigned:
		dev, err := devCertificate(filepath.Join(cfg.dataDir, "tls"), devCertificateHosts(cfg.addr), now)
		if err != nil {
			return nil, err
		}
		cert = dev.cert
		made := "reused"
		if dev.generated {
			made = "generated"
		}
		about = fmt.Sprintf("self-signed certificate for development only (%s): %s\n  SHA-256:     %s", made, dev.certPath, fingerprint(cert.Leaf))
	case cfg.tlsCert != "":
		var err error
		if cert, err = loadKeyPair(cfg.tlsCert, cfg.tlsKey); err != nil {
			return nil, err
		}
		// An expired certificate is served, not refused: its renewal
		// may be on the way, and clients will say what is wrong.
		about = fmt.Sprintf("%s (valid until %s)", cfg.tlsCert, cert.Leaf.NotAfter.UTC().Format(time.DateOnly))
		if now.After(cert.Leaf.NotAfter) {
			about = fmt.Sprintf("%s (EXPIRED on %s)", cfg.tlsCert, cert.Leaf.NotAfter.UTC().Format(time.DateOnly))
		}
	default:
		return nil, nil
	}
	return &serverTLS{
		// Go's default cipher suites are the secure ones; only the floor
		// is raised, from TLS 1.0 for servers to 1.2. HTTP/2 comes from
		// http.Server.ServeTLS.
		config: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
		about:  about,
	}, nil
}

// loadKeyPair reads a PEM certificate and its key. Each error names the
// file at fault: tls.LoadX509KeyPair's "private key does not match public
// key" says neither.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--tls-cert: %w", err)
	}
	if !hasPEMBlock(certPEM, func(typ string) bool { return typ == "CERTIFICATE" }) {
		return tls.Certificate{}, fmt.Errorf("--tls-cert %s: no PEM certificate in the file", certFile)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--tls-key: %w", err)
	}
	if !hasPEMBlock(keyPEM, func(typ string) bool { return strings.HasSuffix(typ, "PRIVATE KEY") }) {
		return tls.Certificate{}, fmt.Errorf("--tls-key %s: no PEM private key in the file", keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--tls-cert %s with --tls-key %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// loadCertPool reads the PEM certificates of file, named by flag in errors.
func loadCertPool(flag, file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in the file", flag, file)
	}
	return pool, nil
}

func hasPEMBlock(data []byte, wanted func(typ string) bool) bool {
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			return false
		}
		if wanted(block.Type) {
			return true
		}
	}
}

// fingerprint is the SHA-256 of the certificate, as browsers show it.
func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hex, ":")
}

// certHosts are the names and addresses a certificate is for.
type certHosts struct {
	dnsNames []string
	ips      []net.IP
}

// devCertificateHosts is where a development server is reached: the
// loopback names, this machine's host name, and the host of addr when it
// names one (an unspecified address such as 0.0.0.0 does not: no client
// connects to it).
func devCertificateHosts(addr string) certHosts {
	hosts := certHosts{dnsNames: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	addName := func(name string) {
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		if name != "" && !slices.Contains(hosts.dnsNames, name) {
			hosts.dnsNames = append(hosts.dnsNames, name)
		}
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil {
			addName(host)
		} else if !ip.IsUnspecified() && !slices.ContainsFunc(hosts.ips, ip.Equal) {
			hosts.ips = append(hosts.ips, ip)
		}
	}
	if name, err := os.Hostname(); err == nil {
		addName(name)
	}
	return hosts
}

// covers reports whether cert is valid for every host of h.
func (h certHosts) covers(cert *x509.Certificate) bool {
	for _, name := range h.dnsNames {
		if !slices.Contains(cert.DNSNames, name) {
			return false
		}
	}
	for _, ip := range h.ips {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// devCert is the development certificate and where it is kept.
type devCert struct {
	cert              tls.Certificate
	certPath, keyPath string
	// generated is false when the stored certificate was reused.
	generated bool
}

const (
	devCertLifetime = 365 * 24 * time.Hour
	// devCertRenewBefore makes a start renew a certificate about to expire
	// rather than serve one that lapses while it runs.
	devCertRenewBefore = 24 * time.Hour
)

// devCertificate returns the development certificate kept in dir, making a
// new one when there is none, when it does not parse or match its key, when
// it expires within a day, or when it does not cover hosts.
func devCertificate(dir string, hosts certHosts, now time.Time) (devCert, error) {
	dc := devCert{certPath: filepath.Join(dir, "dev-cert.pem"), keyPath: filepath.Join(dir, "dev-key.pem")}
	if cert, err := tls.LoadX509KeyPair(dc.certPath, dc.keyPath); err == nil &&
		!now.Before(cert.Leaf.NotBefore) && now.Add(devCertRenewBefore).Before(cert.Leaf.NotAfter) &&
		hosts.covers(cert.Leaf) {
		dc.cert = cert
		return dc, nil
	}
	certPEM, keyPEM, err := newDevCertificate(hosts, now)
	if err != nil {
		return devCert{}, fmt.Errorf("generate development certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return devCert{}, fmt.Errorf("create %s: %w", dir, err)
	}
	// Key first: a crash between the two leaves a pair that does not
	// match, which the next start replaces.
	if err := writeFileAtomic(dc.keyPath, keyPEM); err != nil {
		return devCert{}, err
	}
	if err := writeFileAtomic(dc.certPath, certPEM); err != nil {
		return devCert{}, err
	}
	if dc.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return devCert{}, err
	}
	dc.generated = true
	return dc, nil
}

// newDevCertificate makes a self-signed ECDSA P-256 server certificate for
// hosts, valid for a year, and returns it and its key as PEM.
func newDevCertificate(hosts certHosts, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"emr development"}, CommonName: "emr development certificate"},
		// An hour back allows for clocks a little behind this one.
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(devCertLifetime),
		// A leaf, not a CA: browsers refuse a CA certificate as a server's
		// own, and clients trust this one directly.
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              hosts.dnsNames,
		IPAddresses:           hosts.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// writeFileAtomic replaces path with data, readable by its owner only: a
// reader sees the old file or the new one, never a part.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
