// Package inbound is the EMR's HL7 v2 interface: it answers the messages
// an MLLP server receives by writing what they say through the FHIR API,
// so that the same validation, access control and audit apply to them as
// to any other write.
//
// A message is parsed, mapped to a FHIR transaction Bundle (package
// tofhir; an ADT^A40 to the Parameters of Patient/$merge) and posted to
// the API in process, as the interface's principal:
// a backend service (role service) whose grants are the resource types
// the mapping writes, named after the sender (its TLS client
// certificate's subject, or its address on a loopback listener). The
// acknowledgment says what came of it:
//
//   - AA: the transaction was committed, durably, before the AA is sent;
//     an ERR of severity W says what of the message was left out (the
//     encounter of an admission without a visit number);
//   - AR: a message the interface does not take (type, event, processing
//     id) or cannot parse;
//   - AE: a message of a kind it takes that it cannot write (a required
//     field missing, a value not of its type, a resource the API refuses:
//     the ERR segment says where and why); sending it again unchanged
//     fails again.
//
// When the store fails (the API answers 5xx) there is no acknowledgment:
// the connection closes and the sender sends the message again, so
// nothing it was told is accepted is lost.
package inbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
	"github.com/emr-project/emr/internal/hl7v2/tofhir"
	"github.com/emr-project/emr/internal/inproc"
)

// Interface answers HL7 v2 messages.
type Interface struct {
	// API is the FHIR API's handler, without authentication: the
	// interface puts its own principal in each request's context.
	API http.Handler
	// Path is where API serves the R5 base ("/fhir").
	Path string
	// Mapping configures tofhir (assigning authorities' URIs).
	Mapping tofhir.Options
	// Role is the role of the interface's principal ("service" when
	// empty). Merging patients (ADT^A40) needs one with the merge
	// operation (access.OperationMerge).
	Role string
	// Log receives a line per message not accepted (slog.Default when nil).
	Log *slog.Logger
	// Now is the clock of acknowledgments (time.Now when nil).
	Now func() time.Time
	// Counted, when set, is told of each message answered: its type and
	// event ("ORU^R01", "" when it does not parse) and the
	// acknowledgment code ("" when none was sent), for the metrics.
	Counted func(messageType, ack string)
}

// Grants are what the interface's principal may do: create, read, update
// and search the resources the mapping writes (a conditional update
// searches first).
var Grants = []access.Grant{
	{Context: "system", Type: "Patient", Perms: "crus"},
	{Context: "system", Type: "Encounter", Perms: "crus"},
	{Context: "system", Type: "Observation", Perms: "crus"},
	{Context: "system", Type: "DiagnosticReport", Perms: "crus"},
	{Context: "system", Type: "Immunization", Perms: "crus"},
	{Context: "system", Type: "Appointment", Perms: "crus"},
	{Context: "system", Type: "ServiceRequest", Perms: "crus"},
}

// Handle is an mllp.Handler.
func (in *Interface) Handle(ctx context.Context, data []byte, from net.Addr) []byte {
	ack := in.handle(ctx, data, from)
	if in.Counted != nil {
		typ := ""
		if m, err := hl7v2.Parse(data); err == nil {
			code, event, _ := m.Type()
			typ = code + "^" + event
		}
		code := ""
		if a, err := hl7v2.Parse(ack); err == nil {
			code = a.Get("MSA-1")
		}
		in.Counted(typ, code)
	}
	return ack
}

func (in *Interface) handle(ctx context.Context, data []byte, from net.Addr) []byte {
	now := time.Now()
	if in.Now != nil {
		now = in.Now()
	}
	controlID := "E" + strconv.FormatInt(now.UnixNano(), 36)
	m, err := hl7v2.Parse(data)
	if err != nil {
		p := hl7v2.Problem{Code: hl7v2.ErrSegmentSequence, Text: err.Error()}
		if se, ok := err.(*hl7v2.SyntaxError); ok && se.Segment > 0 {
			p.Sequence = se.Segment
		}
		in.log().Warn("hl7v2: a message that does not parse was rejected", "from", from, "error", err)
		return hl7v2.Reject(data, controlID, now, p).Encode()
	}
	typ, event, _ := m.Type()
	answer := func(code string, p *hl7v2.Problem) []byte {
		if p == nil {
			return hl7v2.Ack(m, code, controlID, now).Encode()
		}
		in.log().Warn("hl7v2: a message was not accepted", "from", from, "type", typ+"^"+event, "control_id", m.ControlID(), "ack", code, "problem", p.String())
		return hl7v2.Ack(m, code, controlID, now, *p).Encode()
	}
	if pid := m.Get("MSH-11"); pid != "P" {
		return answer(hl7v2.AR, &hl7v2.Problem{Code: hl7v2.ErrUnsupportedProcess, Segment: "MSH", Sequence: 1, Field: 11,
			Text: fmt.Sprintf("processing id %q: this interface takes production messages (P) only", pid)})
	}
	req, err := tofhir.Map(m, in.Mapping)
	if err != nil {
		if e, ok := err.(*tofhir.Error); ok {
			return answer(e.Code, &e.Problem)
		}
		return answer(hl7v2.AE, &hl7v2.Problem{Code: hl7v2.ErrApplicationInternal, Text: err.Error()})
	}
	ctx = access.WithPrincipal(ctx, in.principal(mllp.Conn(ctx), from))
	status, outcome := in.do(ctx, http.MethodPost, req.Path, req.Body.JSON(), from)
	switch {
	case status == http.StatusOK && len(req.Warnings) > 0:
		for _, w := range req.Warnings {
			in.log().Warn("hl7v2: a message was accepted in part", "from", from, "type", typ+"^"+event, "control_id", m.ControlID(), "warning", w.String())
		}
		return hl7v2.Ack(m, hl7v2.AA, controlID, now, req.Warnings...).Encode()
	case status == http.StatusOK:
		return answer(hl7v2.AA, nil)
	case status < 500 && req.Path == "Patient/$merge" && in.merged(ctx, req.Body, from):
		return answer(hl7v2.AA, nil) // the same merge, sent again
	case status >= 500:
		in.log().Error("hl7v2: the store failed; the message is not acknowledged, for the sender to send again",
			"from", from, "control_id", m.ControlID(), "status", status, "error", outcome)
		return nil
	}
	code := hl7v2.ErrApplicationInternal
	switch {
	case status == http.StatusPreconditionFailed || status == http.StatusConflict:
		code = hl7v2.ErrDuplicateKey // more than one resource has the identifier
	case status == http.StatusForbidden && req.Path == "Patient/$merge":
		outcome = fmt.Sprintf("the interface's role (%s) may not merge patients: give --mllp-role a role with the %s operation (%s)",
			access.PrincipalFrom(ctx).Role, access.OperationMerge, outcome)
	}
	return answer(hl7v2.AE, &hl7v2.Problem{Code: code, Text: outcome})
}

// principal is the interface's principal for a message that came on conn
// from addr: a TLS client certificate's subject names the sender, else
// its address.
func (in *Interface) principal(conn net.Conn, from net.Addr) *access.Principal {
	name := "unknown"
	if from != nil {
		name = from.String()
		if host, _, err := net.SplitHostPort(name); err == nil {
			name = host // one name for all its connections
		}
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			name = certs[0].Subject.String()
		}
	}
	role := in.Role
	if role == "" {
		role = "service"
	}
	return &access.Principal{Client: "hl7v2:" + name, Role: role, Grants: Grants}
}

// merged reports whether the $merge params asks for is done already: a
// patient with the source's identifier is replaced by the one patient
// with the target's (which has the source's identifiers too, then).
func (in *Interface) merged(ctx context.Context, params fhir.Resource, from net.Addr) bool {
	find := func(name string) []map[string]any {
		for _, p := range params["parameter"].([]any) {
			if p := p.(map[string]any); p["name"] == name {
				id := p["valueIdentifier"].(map[string]any)
				q := url.Values{"identifier": {fmt.Sprint(id["system"]) + "|" + fmt.Sprint(id["value"])}}
				status, body := in.do(ctx, http.MethodGet, "Patient?"+q.Encode(), nil, from)
				var b struct {
					Entry []struct {
						Resource map[string]any `json:"resource"`
					} `json:"entry"`
				}
				if status != http.StatusOK || json.Unmarshal([]byte(body), &b) != nil {
					return nil
				}
				var out []map[string]any
				for _, e := range b.Entry {
					out = append(out, e.Resource)
				}
				return out
			}
		}
		return nil
	}
	targets := find("target-patient-identifier")
	if len(targets) != 1 {
		return false
	}
	into := "Patient/" + fmt.Sprint(targets[0]["id"])
	for _, source := range find("source-patient-identifier") {
		links, _ := source["link"].([]any)
		for _, l := range links {
			l, _ := l.(map[string]any)
			other, _ := l["other"].(map[string]any)
			if l["type"] == "replaced-by" && other["reference"] == into {
				return true
			}
		}
	}
	return false
}

// do sends a request to the API, path under its base, as the principal of
// ctx, and returns the status and what an OperationOutcome says (for an
// error) or the body (for a GET).
func (in *Interface) do(ctx context.Context, method, path string, body []byte, from net.Addr) (int, string) {
	target := in.Path
	if path != "" {
		target += "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	if from != nil {
		req.RemoteAddr = from.String()
	}
	w := inproc.Serve(in.API, req)
	if method == http.MethodGet {
		return w.Status, w.Body.String()
	}
	if w.Status == http.StatusOK {
		return w.Status, ""
	}
	return w.Status, outcomeText(w.Body.Bytes())
}

// outcomeText is what an OperationOutcome's issues say, with where.
func outcomeText(body []byte) string {
	var oo struct {
		Issue []struct {
			Diagnostics string   `json:"diagnostics"`
			Expression  []string `json:"expression"`
			Details     struct {
				Text string `json:"text"`
			} `json:"details"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(body, &oo); err != nil || len(oo.Issue) == 0 {
		return strings.TrimSpace(string(body))
	}
	var parts []string
	for _, is := range oo.Issue {
		text := is.Diagnostics
		if text == "" {
			text = is.Details.Text
		}
		if len(is.Expression) > 0 {
			text += " (at " + strings.Join(is.Expression, ", ") + ")"
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, "; ")
}

func (in *Interface) log() *slog.Logger {
	if in.Log != nil {
		return in.Log
	}
	return slog.Default()
}
