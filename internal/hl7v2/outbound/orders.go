// Package outbound sends the laboratory and imaging orders placed in the
// EMR to the system that carries them out (a laboratory information
// system, a RIS, or an interface engine before them) as HL7 v2 ORM^O01
// messages over MLLP, and follows what it answers.
//
// Nothing acknowledged is lost, and nothing is sent that was not
// committed. An order written through the access gate (the chart's order
// screen, the FHIR API, a transaction) puts a record of its version in an
// outbox inside the same transaction (Orders.Enqueue, a Gate.OnWrite
// hook); a sender (Orders.Run) takes the outbox in order, builds the
// message from that version, sends it and waits for the acknowledgment,
// and only then removes the record. Until an answer comes it sends the
// same message again (the same control id, so a receiver can tell),
// waiting longer each time, up to a minute; the orders behind it wait, so
// that a change never overtakes the order it changes. With several
// servers on one database, one of them sends at a time: it holds a lease
// record the others wait for.
//
// What the receiver refuses (AE, AR) becomes a Task on the order, status
// rejected, with the receiver's words: the clinician sees it with the
// order. Each message sent is an AuditEvent (DICOM Export) naming the
// order, the patient and where it went.
package outbound

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
	"github.com/emr-project/emr/internal/hl7v2/tofhir"
	"github.com/emr-project/emr/internal/store"
)

// Store is what the sender needs of the store.
type Store interface {
	store.Store
	store.Records
}

// Record kinds of the outbox (store.Records: no patient data, only
// which version of which order).
const (
	// QueueKind holds one record per order version to send, keyed by the
	// version's sequence number (zero-padded, so that keys sort as they
	// were written).
	QueueKind = "hl7v2-order-out"
	// sentKind holds, per order sent, what the receiver last accepted.
	sentKind  = "hl7v2-order-sent"
	leaseKind = "lease"
	leaseKey  = "hl7v2-orders"
)

// Categories of ServiceRequest (SNOMED CT) the flag names stand for.
var Categories = map[string]string{"laboratory": "108252007", "imaging": "363679005"}

const snomed = "http://snomed.info/sct"

// Orders sends orders to one receiver.
type Orders struct {
	Store Store
	// Dial connects to the receiver (with TLS when it should).
	Dial func(ctx context.Context) (net.Conn, error)
	// To names the receiver in logs and audit events (host:port).
	To string
	// Mapping gives the placer namespace (Placer, required) and the
	// assigning authorities' namespaces of identifier systems.
	Mapping tofhir.Options
	// Facility is MSH-4 (Mapping.Placer when empty); Receiver MSH-5 and
	// MSH-6.
	Facility string
	Receiver [2]string
	// Categories are the SNOMED CT codes of the ServiceRequest categories
	// sent (Categories["laboratory"], say); an order in none is not.
	Categories []string
	// Observer names this server in AuditEvent.source.
	Observer string
	Log      *slog.Logger
	// Timeout bounds the wait for an acknowledgment (30 s when 0); Poll
	// is how often an empty outbox is looked at (1 s when 0).
	Timeout, Poll time.Duration
	Now           func() time.Time
	// Message is the message type written: ORM (ORM^O01, the default) or
	// OML (OML^O21, with TQ1 and the specimens' SPM).
	Message string
	// Counted, when set, is told what came of each try to send: the
	// acknowledgment code (AA, AE, AR …), "unanswered" (no answer: sent
	// again later) or "unsendable" (no message could be made of it).
	Counted func(outcome string)
}

// Backlog is how many order versions wait in the outbox.
func (o *Orders) Backlog(ctx context.Context) (int, error) {
	recs, err := o.Store.ListRecords(ctx, QueueKind, "")
	return len(recs), err
}

// outcomeOf is an acknowledgment code as a metric's outcome: one of the
// codes a receiver may answer, else "other" (a label takes few values).
func outcomeOf(code string) string {
	switch code {
	case hl7v2.AA, hl7v2.AE, hl7v2.AR, "CA", "CE", "CR":
		return code
	}
	return "other"
}

func (o *Orders) count(outcome string) {
	if o.Counted != nil {
		o.Counted(outcome)
	}
}

// queued is an outbox record's value.
type queued struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	// Tries counts the sendings the receiver did not answer.
	Tries int `json:"tries,omitempty"`
}

// sent is what the receiver last accepted of an order.
type sent struct {
	Control string `json:"control"` // ORC-1
	ID      string `json:"controlId"`
	Version int64  `json:"version"`
}

// writes are the interactions whose ServiceRequests are sent: a deleted
// order that was sent is cancelled.
var writes = []string{"create", "update", "patch", "delete"}

// Enqueue is a Gate.OnWrite hook: the ServiceRequest versions the
// interaction wrote, in a category sent, go in the outbox in its
// transaction. Orders the HL7 v2 interface itself received (from another
// placer) are not sent back.
func (o *Orders) Enqueue(tx store.Tx, req access.Request, touched []access.Touched) ([]access.Touched, error) {
	if !slices.Contains(writes, req.Interaction) || strings.HasPrefix(req.Agent.Client, "hl7v2:") {
		return nil, nil
	}
	for _, t := range touched {
		if t.Type != "ServiceRequest" || t.VersionID == 0 {
			continue
		}
		v, err := tx.Read("ServiceRequest", t.ID)
		switch {
		case fhir.IsKind(err, fhir.KindGone) && v != nil:
			// Deleted in this transaction: what it was decides (at
			// sending) whether the receiver has an order to cancel.
		case fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone):
			continue
		case err != nil:
			return nil, err
		case !o.sends(v.Resource):
			continue
		}
		// Only a version this transaction wrote (a write's touched list
		// may name what it read).
		if v.VersionID != t.VersionID || !v.LastUpdated.Equal(tx.Now()) {
			continue
		}
		value, _ := json.Marshal(queued{ID: v.ID, Version: v.VersionID})
		if _, err := tx.PutRecord(&store.Record{Kind: QueueKind, Key: fmt.Sprintf("%020d", v.Seq), Value: value}, store.AnyVersion); err != nil {
			return nil, fmt.Errorf("outbox of orders: %w", err)
		}
	}
	return nil, nil // records, not resources: nothing to audit
}

// sends reports whether sr is in a category sent.
func (o *Orders) sends(sr fhir.Resource) bool {
	for _, c := range asSlice(sr["category"]) {
		for _, coding := range asSlice(asMap(c)["coding"]) {
			coding := asMap(coding)
			if str(coding["system"]) == snomed && slices.Contains(o.Categories, str(coding["code"])) {
				return true
			}
		}
	}
	return false
}

// control is the order control code (ORC-1) that sends sr's state to a
// receiver that last accepted last (nil: nothing yet), "" for nothing to
// send: a draft; an order completed or cancelled before it was ever
// sent; a cancellation already sent.
func control(sr fhir.Resource, last *sent) string {
	switch str(sr["status"]) {
	case "active":
		switch {
		case last == nil || last.Control == "CA":
			return "NW"
		case last.Control == "HD":
			return "RL" // released from the hold
		}
		return "XO"
	case "on-hold":
		if last == nil || last.Control == "CA" || last.Control == "HD" {
			return ""
		}
		return "HD"
	case "revoked", "entered-in-error":
		if last == nil || last.Control == "CA" {
			return ""
		}
		return "CA"
	}
	return ""
}

// Run sends the outbox until ctx ends, while this sender holds the
// lease. A heartbeat renews the lease every leaseFor/3, however long a
// receiver takes to answer; when it is lost, what is in hand stops.
func (o *Orders) Run(ctx context.Context) {
	// This sender's name in the lease: one per Run.
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	owner := fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))

	var mu sync.Mutex
	var lead context.Context // while the lease is held; nil otherwise
	var lost context.CancelFunc
	keep := func() {
		// A renewal that hangs (a database out of reach) is a lease lost:
		// it must end before the lease would.
		rctx, cancel := context.WithTimeout(ctx, leaseFor/3)
		held := o.lead(rctx, owner)
		cancel()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case held && lead == nil:
			lead, lost = context.WithCancel(context.WithValue(ctx, ownerKey{}, owner))
		case !held && lead != nil:
			lost()
			lead = nil
		}
	}
	keep()
	var heartbeat sync.WaitGroup
	heartbeat.Go(func() {
		tick := time.NewTicker(leaseFor / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				keep()
			}
		}
	})
	var conn *mllp.Client
	defer func() {
		if conn != nil {
			conn.Close()
		}
		heartbeat.Wait()
		mu.Lock()
		if lead != nil {
			lost()
		}
		mu.Unlock()
		o.release(owner)
	}()
	failures := 0
	var wait time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = o.poll()
		mu.Lock()
		lctx := lead
		mu.Unlock()
		if lctx == nil {
			continue // another server sends
		}
		recs, err := o.Store.ListRecords(lctx, QueueKind, "")
		if err != nil {
			if lctx.Err() == nil {
				o.log().Error("hl7v2 orders: reading the outbox failed", "error", err)
			}
			continue
		}
		for _, rec := range recs {
			if lctx.Err() != nil {
				break
			}
			if !o.deliver(lctx, &conn, rec) {
				failures++
				wait = min(time.Second<<min(failures-1, 6), time.Minute)
				break
			}
			failures = 0
		}
	}
}

// ownerKey keys the lease holder's name in the context of what it sends,
// for settle to check that it still holds the lease.
type ownerKey struct{}

// errLeaseLost is a settling refused because another sender holds the
// lease: the record stays for it.
var errLeaseLost = errors.New("another server holds the lease of the order sender")

// maxTries is how many times an order is sent without an answer before
// the clinician is told and the next orders go. A variable for tests.
var maxTries = 10

// leaseFor is how long a sender's lease lasts unless renewed: after a
// server dies holding it (kill -9, power loss), its orders wait this long
// for the next sender. A variable for tests only.
var leaseFor = 15 * time.Second

// lead takes or renews the lease for owner, and reports whether it holds
// it.
func (o *Orders) lead(ctx context.Context, owner string) bool {
	rec := &store.Record{Kind: leaseKind, Key: leaseKey, Value: []byte(owner), Expires: o.now().Add(leaseFor)}
	cur, err := o.Store.GetRecord(ctx, leaseKind, leaseKey)
	switch {
	case fhir.IsKind(err, fhir.KindNotFound):
		_, err = o.Store.PutRecord(ctx, rec, 0)
	case err == nil && string(cur.Value) == owner:
		_, err = o.Store.PutRecord(ctx, rec, cur.Version)
	case err == nil:
		return false // another server sends
	}
	if err != nil {
		if !fhir.IsKind(err, fhir.KindConflict) && !fhir.IsKind(err, fhir.KindPreconditionFailed) {
			o.log().Error("hl7v2 orders: the sender's lease failed", "error", err)
		}
		return false
	}
	return true
}

// release gives up owner's lease, if it holds it, for another server to
// take at once.
func (o *Orders) release(owner string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cur, err := o.Store.GetRecord(ctx, leaseKind, leaseKey); err == nil && string(cur.Value) == owner {
		expired := &store.Record{Kind: leaseKind, Key: leaseKey, Value: cur.Value, Expires: o.now().Add(-time.Second)}
		o.Store.PutRecord(ctx, expired, cur.Version)
	}
}

// deliver sends the order version rec names and settles the record; it
// reports false when the receiver did not answer (the record stays, to
// be sent again).
func (o *Orders) deliver(ctx context.Context, conn **mllp.Client, rec *store.Record) bool {
	var q queued
	if err := json.Unmarshal(rec.Value, &q); err != nil || q.ID == "" {
		o.log().Error("hl7v2 orders: an outbox record is unreadable; dropped", "key", rec.Key, "error", err)
		return o.settle(ctx, rec, nil, nil, "") == nil
	}
	v, err := o.Store.VRead(ctx, "ServiceRequest", q.ID, q.Version)
	if err != nil {
		if fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone) {
			return o.settle(ctx, rec, nil, nil, "") == nil
		}
		o.log().Error("hl7v2 orders: reading an order failed", "order", q.ID, "error", err)
		return false
	}
	var last *sent
	if r, err := o.Store.GetRecord(ctx, sentKind, q.ID); err == nil {
		last = &sent{}
		json.Unmarshal(r.Value, last)
	} else if !fhir.IsKind(err, fhir.KindNotFound) {
		o.log().Error("hl7v2 orders: reading what was sent of an order failed", "order", q.ID, "error", err)
		return false
	}
	if last != nil && last.Version >= v.VersionID {
		return o.settle(ctx, rec, nil, nil, "") == nil // sent already (a lease changed hands mid-send)
	}
	ord := &order{controlID: "O" + strconv.FormatInt(v.Seq, 36), sr: v.Resource, version: v.VersionID, at: v.LastUpdated}
	if v.Deleted {
		// A deleted order the receiver has (and has not cancelled) is
		// cancelled, in the words of its last version.
		if last == nil || last.Control == "CA" {
			return o.settle(ctx, rec, nil, nil, "") == nil
		}
		prev, err := o.Store.VRead(ctx, "ServiceRequest", q.ID, v.VersionID-1)
		if err != nil {
			o.log().Error("hl7v2 orders: reading a deleted order's last version failed", "order", q.ID, "error", err)
			return false
		}
		ord.sr, ord.control = prev.Resource, "CA"
	} else {
		ord.control = control(v.Resource, last)
	}
	if ord.control == "" {
		return o.settle(ctx, rec, nil, nil, "") == nil
	}
	msg, err := o.prepare(ctx, ord)
	if err != nil {
		if errors.Is(err, errStore) {
			o.log().Error("hl7v2 orders: reading an order's patient failed", "order", q.ID, "error", err)
			return false
		}
		// Nothing to send that a receiver could take: the clinician is
		// told as if the receiver had refused it.
		o.count("unsendable")
		return o.settle(ctx, rec, ord, nil, err.Error()) == nil
	}
	ack, written, err := o.send(ctx, conn, msg, ord.controlID)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		o.count("unanswered")
		if !written {
			// No connection: the receiver is down, and every order waits
			// for it, in order.
			o.log().Warn("hl7v2 orders: the receiver cannot be reached; the orders wait", "to", o.To, "error", err)
			return false
		}
		// Sent, and not answered: after maxTries the clinician is told,
		// and the orders behind it go (one message the receiver chokes on
		// must not hold back every other patient's).
		q.Tries++
		if q.Tries >= maxTries {
			o.log().Error("hl7v2 orders: the receiver never answered an order; its clinician is told on a Task", "to", o.To, "order", q.ID, "control_id", ord.controlID, "tries", q.Tries)
			return o.settle(ctx, rec, ord, nil, fmt.Sprintf("%s did not acknowledge the order after %d tries: it may or may not have it; call the laboratory", o.To, q.Tries)) == nil
		}
		value, _ := json.Marshal(q)
		if _, perr := o.Store.PutRecord(ctx, &store.Record{Kind: rec.Kind, Key: rec.Key, Value: value}, rec.Version); perr != nil {
			o.log().Error("hl7v2 orders: counting a try failed", "order", q.ID, "error", perr)
		}
		o.log().Warn("hl7v2 orders: no acknowledgment; the order is sent again later", "to", o.To, "order", q.ID, "control_id", ord.controlID, "tries", q.Tries, "error", err)
		return false
	}
	code, text := ack.Code()
	o.count(outcomeOf(code))
	switch code {
	case hl7v2.AA, "CA":
		return o.settle(ctx, rec, ord, ack, "") == nil
	}
	if text == "" {
		text = "no reason given"
	}
	// The receiver's words may name the patient: they go in the Task, not
	// in the log.
	o.log().Warn("hl7v2 orders: the receiver refused an order; the reason is on its Task", "to", o.To, "order", q.ID, "control_id", ord.controlID, "ack", code)
	return o.settle(ctx, rec, ord, ack, fmt.Sprintf("%s refused the order (%s): %s", o.To, code, text)) == nil
}

var errStore = errors.New("store")

// prepare reads what the order's message names and writes it.
func (o *Orders) prepare(ctx context.Context, ord *order) ([]byte, error) {
	ref := str(asMap(ord.sr["subject"])["reference"])
	pid, ok := strings.CutPrefix(ref, "Patient/")
	if !ok {
		return nil, fmt.Errorf("the order's subject (%q) is not a patient", ref)
	}
	pv, err := o.Store.Read(ctx, "Patient", pid)
	switch {
	case fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone):
		return nil, fmt.Errorf("the order's patient %s is not in the record", ref)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", errStore, err)
	}
	ord.patient = pv.Resource
	if pr, ok := strings.CutPrefix(str(asMap(ord.sr["requester"])["reference"]), "Practitioner/"); ok {
		if v, err := o.Store.Read(ctx, "Practitioner", pr); err == nil {
			ord.requester = v.Resource
		}
	}
	if o.Message == OML {
		for _, ref := range asSlice(ord.sr["specimen"]) {
			if id, ok := strings.CutPrefix(str(asMap(ref)["reference"]), "Specimen/"); ok {
				if v, err := o.Store.Read(ctx, "Specimen", id); err == nil {
					ord.specimens = append(ord.specimens, v.Resource)
				}
			}
		}
	}
	return o.message(ord, o.now())
}

// send sends msg on the connection (dialled first when there is none)
// and returns the acknowledgment of controlID. Any failure closes the
// connection: the next try dials again.
func (o *Orders) send(ctx context.Context, conn **mllp.Client, msg []byte, controlID string) (ack *hl7v2.Message, written bool, err error) {
	if *conn == nil {
		c, err := o.Dial(ctx)
		if err != nil {
			return nil, false, err
		}
		*conn = mllp.NewClient(c)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := (*conn).Send(sctx, msg)
	if err == nil {
		if ack, err = hl7v2.Parse(raw); err == nil && ack.Get("MSA-2") != controlID {
			err = fmt.Errorf("the acknowledgment is of control id %q, not %q", ack.Get("MSA-2"), controlID)
		}
	}
	if err != nil {
		(*conn).Close()
		*conn = nil
		// A connection that fails before the message is out counts as
		// none; whether it went, only an answer would tell.
		return nil, !errors.Is(err, mllp.ErrNotSent), err
	}
	return ack, true, nil
}

// settle ends rec in one transaction: the record goes; for an order the
// receiver accepted, what it accepted is kept; for one refused (refusal
// not ""), a Task on the order says so; each message sent is audited.
func (o *Orders) settle(ctx context.Context, rec *store.Record, ord *order, ack *hl7v2.Message, refusal string) error {
	err := o.Store.Write(ctx, func(tx store.Tx) error {
		// Only the lease holder settles: a sender that lost the lease
		// mid-send leaves the record to the one that has it.
		if owner, _ := ctx.Value(ownerKey{}).(string); owner != "" {
			if cur, err := tx.GetRecord(leaseKind, leaseKey); err != nil || string(cur.Value) != owner {
				return errLeaseLost
			}
		}
		if err := tx.DeleteRecord(rec.Kind, rec.Key); err != nil {
			return err
		}
		if ord == nil {
			return nil
		}
		patient := audit.PatientOf(ord.sr)
		agent := audit.Agent{Client: "hl7v2-orders", Address: o.To}
		if ack != nil {
			outcome, detail := audit.Success, fmt.Sprintf("ORM^O01 %s (%s) to %s: %s", ord.controlID, ord.control, o.To, ack.Get("MSA-1"))
			if refusal != "" {
				outcome, detail = audit.MinorFailure, refusal
			}
			ev := audit.Event(audit.Entry{Category: audit.CategoryExport, Interaction: "hl7v2-send", Type: "ServiceRequest", ID: ord.sr.ID(),
				VersionID: ord.version, Patient: patient, Agent: agent, Outcome: outcome, Detail: detail, Recorded: tx.Now(), Observer: o.Observer})
			if err := tx.AppendAudit(ev); err != nil {
				return err
			}
		}
		if refusal == "" {
			value, _ := json.Marshal(sent{Control: ord.control, ID: ord.controlID, Version: ord.version})
			_, err := tx.PutRecord(&store.Record{Kind: sentKind, Key: ord.sr.ID(), Value: value}, store.AnyVersion)
			return err
		}
		task := refusedTask(ord, refusal, tx.Now(), o.To)
		v, err := tx.Create(task)
		if err != nil {
			return err
		}
		return tx.AppendAudit(audit.Event(audit.Entry{Interaction: "create", Type: "Task", ID: v.ID, VersionID: v.VersionID,
			Patient: patient, Agent: agent, Recorded: tx.Now(), Observer: o.Observer}))
	})
	if err != nil {
		o.log().Error("hl7v2 orders: recording what came of an order failed; it is sent again", "key", rec.Key, "error", err)
	}
	return err
}

// refusedTask is the Task that tells the clinician an order was not
// taken: status rejected, focus the order's version, the reason.
func refusedTask(ord *order, reason string, now time.Time, to string) fhir.Resource {
	return fhir.Resource{
		"resourceType": "Task",
		"status":       "rejected",
		"intent":       "order",
		"code": map[string]any{"coding": []any{map[string]any{
			"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill", "display": "Fulfill the focal request"}}},
		"description":  "The order could not be sent to " + to + ", or was refused there.",
		"focus":        map[string]any{"reference": fmt.Sprintf("ServiceRequest/%s/_history/%d", ord.sr.ID(), versionOf(ord.sr))},
		"for":          asMap(ord.sr["subject"]),
		"authoredOn":   now.UTC().Format(time.RFC3339),
		"lastModified": now.UTC().Format(time.RFC3339),
		"statusReason": map[string]any{"concept": map[string]any{"text": reason}},
	}
}

func versionOf(res fhir.Resource) int64 {
	n, _ := strconv.ParseInt(str(res.Meta()["versionId"]), 10, 64)
	return n
}

func (o *Orders) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Orders) poll() time.Duration {
	if o.Poll > 0 {
		return o.Poll
	}
	return time.Second
}

func (o *Orders) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}
