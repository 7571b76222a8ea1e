package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/emr-project/emr/internal/hl7v2/inbound"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
	"github.com/emr-project/emr/internal/hl7v2/tofhir"
)

// mllpFlags declares the flags of the HL7 v2 interface.
func mllpFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.mllpAddr, "mllp-addr", "", "receive HL7 v2 messages (ADT A01/A03/A04/A08/A40, ORU^R01, VXU^V04, SIU, ORM^O01, OML^O21) over MLLP on this address (host:port); off when empty. "+
		"Other than on a loopback address it needs TLS (--tls-cert/--tls-key) and --mllp-client-ca (docs/hl7v2.md)")
	fs.StringVar(&cfg.mllpClientCA, "mllp-client-ca", "", "PEM file of the certificate authorities whose client certificates HL7 v2 senders must present (with TLS)")
	fs.StringVar(&cfg.mllpRole, "mllp-role", "service", "role the HL7 v2 interface writes as, with grants on the types its messages write; ADT^A40 (merge) needs a role with the merge operation (docs/hl7v2.md)")
	fs.StringVar(&cfg.mllpAuthorities, "mllp-authorities", "", "identifier systems of HL7 v2 assigning authorities, as NAMESPACE=URI pairs separated by commas (e.g. MRN=https://hospital.example.org/mrn)")
}

// mllpListener is the HL7 v2 interface's listener, TLS's with https
// (then senders must present a certificate from --mllp-client-ca), and a
// line for the start-up message; nil without --mllp-addr.
func mllpListener(cfg config, https *serverTLS) (net.Listener, string, error) {
	if cfg.mllpAddr == "" {
		if cfg.mllpClientCA != "" || cfg.mllpAuthorities != "" || cfg.mllpRole != "service" {
			return nil, "", usageError{errors.New("--mllp-client-ca, --mllp-authorities and --mllp-role need --mllp-addr")}
		}
		return nil, "", nil
	}
	loopback := isLoopback(cfg.mllpAddr)
	var config *tls.Config
	switch {
	case https != nil && cfg.mllpClientCA != "":
		pool, err := loadCertPool("--mllp-client-ca", cfg.mllpClientCA)
		if err != nil {
			return nil, "", err
		}
		config = https.config.Clone()
		config.ClientAuth, config.ClientCAs = tls.RequireAndVerifyClientCert, pool
	case cfg.mllpClientCA != "":
		return nil, "", usageError{errors.New("--mllp-client-ca needs TLS: give --tls-cert and --tls-key (or --tls-self-signed)")}
	case !loopback:
		return nil, "", usageError{fmt.Errorf("--mllp-addr %s can be reached from other machines, and MLLP has no authentication of its own: "+
			"give --tls-cert/--tls-key and --mllp-client-ca, so that senders present client certificates, or listen on 127.0.0.1 beside an interface engine", cfg.mllpAddr)}
	}
	ln, err := net.Listen("tcp", cfg.mllpAddr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on --mllp-addr %s: %w", cfg.mllpAddr, err)
	}
	about := fmt.Sprintf("mllp://%s (loopback, no TLS)", ln.Addr())
	if config != nil {
		ln = tls.NewListener(ln, config)
		about = fmt.Sprintf("mllp://%s (TLS, senders' certificates from %s)", ln.Addr(), cfg.mllpClientCA)
	}
	return ln, about, nil
}

// parseAuthorities reads --mllp-authorities.
func parseAuthorities(s string) (map[string]string, error) {
	out := map[string]string{}
	for pair := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		ns, uri, ok := strings.Cut(pair, "=")
		ns, uri = strings.TrimSpace(ns), strings.TrimSpace(uri)
		u, err := url.Parse(uri)
		if !ok || ns == "" || err != nil || !u.IsAbs() {
			return nil, usageError{fmt.Errorf("--mllp-authorities: %q is not NAMESPACE=URI with an absolute URI", pair)}
		}
		out[ns] = uri
	}
	return out, nil
}

// newMLLPServer is the HL7 v2 interface of app a on its own MLLP server,
// writing as role.
func newMLLPServer(a *app, role string, mapping tofhir.Options, logger *slog.Logger, mets *metrics) (*mllp.Server, error) {
	if _, ok := a.roles.Role(role); !ok {
		return nil, usageError{fmt.Errorf("--mllp-role %q is not a role (emr role list): %s", role, strings.Join(a.roles.Names(), ", "))}
	}
	in := &inbound.Interface{API: a.api, Path: "/fhir", Role: role, Mapping: mapping, Log: logger}
	if mets != nil {
		in.Counted = mets.hl7Counted
	}
	return &mllp.Server{Handler: in.Handle, Log: logger}, nil
}
