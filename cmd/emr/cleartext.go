package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
)

// isLoopback reports whether the listening address addr (host:port) can
// be reached from this machine only. An empty host listens everywhere; a
// host name other than localhost may resolve to anything.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warnCleartext says, in the log and plainly on stderr (which stays when
// the log level hides warnings), that a server others can reach sends
// patient data unencrypted.
func warnCleartext(addr string, logger *slog.Logger, stderr io.Writer) {
	const howTo = "give --tls-cert and --tls-key (or --tls-self-signed for development), or listen on 127.0.0.1 behind a proxy that terminates TLS"
	logger.Warn("serving plain HTTP on an address other machines can reach: patient data would travel in clear text",
		"addr", addr, "enable_tls", howTo)
	fmt.Fprintf(stderr, "WARNING: emr serve --addr %s without TLS: patient data would travel in clear text.\n"+
		"         To enable TLS, %s.\n", addr, howTo)
}

// reachableAddr is the listening address as a URL host: an unspecified
// address (0.0.0.0, ::) is not one a client can use, so it becomes
// localhost, which the development certificate also covers.
func reachableAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
