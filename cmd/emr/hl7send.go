package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
)

// errNotAccepted makes `emr hl7 send` exit 1 after sending everything when
// a message was not acknowledged AA.
var errNotAccepted = errors.New("some messages were not accepted (see above)")

// runHL7 is `emr hl7 send`: it sends HL7 v2 message files to an MLLP
// receiver (this EMR's interface, or any other) and prints each
// acknowledgment, for an integrator testing an interface.
func runHL7(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "send" {
		fmt.Fprintln(stderr, "Usage: emr hl7 send --to HOST:PORT [--tls-ca FILE --tls-cert FILE --tls-key FILE] FILE…")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return usageError{errors.New("the subcommand is send")}
	}
	fs := newFlagSet("hl7 send", stderr)
	to := fs.String("to", "127.0.0.1:2575", "address of the MLLP receiver (host:port)")
	caFile := fs.String("tls-ca", "", "PEM certificate authorities to trust: connect with TLS")
	certFile := fs.String("tls-cert", "", "PEM client certificate to present (with --tls-key)")
	keyFile := fs.String("tls-key", "", "PEM private key of --tls-cert")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for each acknowledgment")
	files, err := parseWithArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError{errors.New("no FILE given: emr hl7 send [flags] FILE… (a message, or a batch, per file)")}
	}
	if (*certFile == "") != (*keyFile == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	var config *tls.Config
	if *caFile != "" || *certFile != "" {
		host, _, _ := net.SplitHostPort(*to)
		config = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if *caFile != "" {
			if config.RootCAs, err = loadCertPool("--tls-ca", *caFile); err != nil {
				return err
			}
		}
		if *certFile != "" {
			cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				return fmt.Errorf("--tls-cert %s with --tls-key %s: %w", *certFile, *keyFile, err)
			}
			config.Certificates = []tls.Certificate{cert}
		}
	}
	// Every file is read and parsed before the first is sent: a typo in
	// the last must not leave half of them sent.
	var msgs []*hl7v2.Message
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		batch, err := hl7v2.ParseBatch(data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for i, m := range batch {
			msgs = append(msgs, m)
			names = append(names, fmt.Sprintf("%s #%d", f, i+1))
		}
	}
	dialer := &net.Dialer{Timeout: *timeout}
	var conn net.Conn
	if config != nil {
		conn, err = tls.DialWithDialer(dialer, "tcp", *to, config)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", *to)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *to, err)
	}
	defer conn.Close()
	r := mllp.NewReader(conn, 0)
	accepted := 0
	for i, m := range msgs {
		// Encode writes segments with CR, as MLLP wants, whatever the
		// file's line ends were.
		conn.SetDeadline(time.Now().Add(*timeout))
		if err := mllp.WriteMessage(conn, m.Encode()); err != nil {
			return fmt.Errorf("%s: %w", names[i], err)
		}
		raw, err := r.ReadMessage()
		if err != nil {
			return fmt.Errorf("%s (control id %s): no acknowledgment: %w", names[i], m.ControlID(), err)
		}
		ack, err := hl7v2.Parse(raw)
		if err != nil {
			return fmt.Errorf("%s: the acknowledgment does not parse: %w", names[i], err)
		}
		code, text := ack.Code()
		typ, event, _ := m.Type()
		line := fmt.Sprintf("%s %s^%s %s: %s", names[i], typ, event, m.ControlID(), code)
		if text != "" {
			line += " " + text
		}
		fmt.Fprintln(stdout, line)
		if code == hl7v2.AA || code == "CA" {
			accepted++
		}
	}
	fmt.Fprintf(stdout, "%d of %d messages accepted\n", accepted, len(msgs))
	if accepted < len(msgs) {
		return errNotAccepted
	}
	return nil
}
