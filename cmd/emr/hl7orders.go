package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/hl7v2/outbound"
	"github.com/emr-project/emr/internal/hl7v2/tofhir"
)

// ordersConfig is the flags of the order sender.
type ordersConfig struct {
	to, categories, receiver, placer, message string
	tlsCA, tlsCert, tlsKey                    string
}

// ordersFlags declares the flags of the order sender.
func ordersFlags(fs *flag.FlagSet, c *ordersConfig) {
	fs.StringVar(&c.to, "hl7-orders-to", "", "send the orders placed in the EMR to this HL7 v2 receiver (host:port), as ORM^O01 over MLLP; off when empty. "+
		"Other than on a loopback address it needs --hl7-orders-tls-ca (docs/hl7v2.md)")
	fs.StringVar(&c.categories, "hl7-orders-categories", "laboratory", "which orders --hl7-orders-to receives, by category, separated by commas: laboratory, imaging")
	fs.StringVar(&c.message, "hl7-orders-message", outbound.ORM, "the message orders go as: ORM^O01, or OML^O21 (with TQ1 and the specimens' SPM, as laboratories following the LOI guide expect)")
	fs.StringVar(&c.receiver, "hl7-orders-receiver", "", "the receiving application and facility (MSH-5, MSH-6) of the orders sent, as APP^FACILITY")
	fs.StringVar(&c.placer, "hl7-placer", "", "namespace of the order numbers the EMR gives in the orders it sends (default EMR with --hl7-orders-to); "+
		"an HL7 v2 result whose placer order number is in it is based on that order")
	fs.StringVar(&c.tlsCA, "hl7-orders-tls-ca", "", "PEM certificate authorities of the receiver's certificate: send with TLS")
	fs.StringVar(&c.tlsCert, "hl7-orders-tls-cert", "", "PEM client certificate to present to the receiver (with --hl7-orders-tls-key)")
	fs.StringVar(&c.tlsKey, "hl7-orders-tls-key", "", "PEM private key of --hl7-orders-tls-cert")
}

// placerOf is the placer namespace the flags give.
func (c ordersConfig) placerOf() string {
	if c.placer == "" && c.to != "" {
		return "EMR"
	}
	return c.placer
}

// newOrders is the order sender the flags describe, nil without
// --hl7-orders-to. Everything is checked before the store opens.
func newOrders(c ordersConfig, authorities map[string]string, logger *slog.Logger) (*outbound.Orders, string, error) {
	if c.to == "" {
		if c.tlsCA != "" || c.tlsCert != "" || c.tlsKey != "" || c.receiver != "" || c.categories != "laboratory" || c.message != outbound.ORM {
			return nil, "", usageError{errors.New("--hl7-orders-tls-ca, --hl7-orders-tls-cert, --hl7-orders-tls-key, --hl7-orders-receiver, --hl7-orders-categories and --hl7-orders-message need --hl7-orders-to")}
		}
		return nil, "", nil
	}
	host, _, err := net.SplitHostPort(c.to)
	if err != nil || host == "" {
		return nil, "", usageError{fmt.Errorf("--hl7-orders-to %q is not host:port", c.to)}
	}
	if c.message != outbound.ORM && c.message != outbound.OML {
		return nil, "", usageError{fmt.Errorf("--hl7-orders-message %q is not %s or %s", c.message, outbound.ORM, outbound.OML)}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, "", usageError{errors.New("--hl7-orders-tls-cert and --hl7-orders-tls-key go together")}
	}
	var categories []string
	for name := range strings.SplitSeq(c.categories, ",") {
		name = strings.TrimSpace(name)
		code, ok := outbound.Categories[name]
		if !ok {
			return nil, "", usageError{fmt.Errorf("--hl7-orders-categories: %q is not laboratory or imaging", name)}
		}
		if !slices.Contains(categories, code) {
			categories = append(categories, code)
		}
	}
	var receiver [2]string
	if c.receiver != "" {
		app, facility, _ := strings.Cut(c.receiver, "^")
		receiver = [2]string{app, facility}
	}
	var config *tls.Config
	switch {
	case c.tlsCA != "":
		config = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if config.RootCAs, err = loadCertPool("--hl7-orders-tls-ca", c.tlsCA); err != nil {
			return nil, "", err
		}
		if c.tlsCert != "" {
			cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
			if err != nil {
				return nil, "", fmt.Errorf("--hl7-orders-tls-cert %s with --hl7-orders-tls-key %s: %w", c.tlsCert, c.tlsKey, err)
			}
			config.Certificates = []tls.Certificate{cert}
		}
	case c.tlsCert != "":
		return nil, "", usageError{errors.New("--hl7-orders-tls-cert needs --hl7-orders-tls-ca, the authorities of the receiver's certificate")}
	case !isLoopback(c.to):
		return nil, "", usageError{fmt.Errorf("--hl7-orders-to %s is on another machine, and orders carry patient data: "+
			"give --hl7-orders-tls-ca (and a client certificate if the receiver asks for one), or send to an interface engine on 127.0.0.1", c.to)}
	}
	to := c.to
	dial := func(ctx context.Context) (net.Conn, error) {
		d := &net.Dialer{Timeout: 30 * time.Second}
		if config != nil {
			return (&tls.Dialer{NetDialer: d, Config: config}).DialContext(ctx, "tcp", to)
		}
		return d.DialContext(ctx, "tcp", to)
	}
	o := &outbound.Orders{Dial: dial, To: to, Mapping: tofhir.Options{Placer: c.placerOf(), Authorities: authorities},
		Receiver: receiver, Categories: categories, Message: c.message, Observer: "emr", Log: logger}
	about := fmt.Sprintf("mllp://%s (%s as %s; %s)", to, strings.ReplaceAll(c.categories, ",", ", "), c.message, map[bool]string{true: "TLS", false: "loopback, no TLS"}[config != nil])
	return o, about, nil
}
