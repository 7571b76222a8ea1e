package outbound_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/fhirapi/fhirapitest"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/inbound"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
	"github.com/emr-project/emr/internal/hl7v2/outbound"
	"github.com/emr-project/emr/internal/hl7v2/tofhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// lab is a laboratory's MLLP receiver on loopback TCP: it keeps every
// message and answers as answer says (nil: no answer, the connection
// closes).
type lab struct {
	mu       sync.Mutex
	got      []*hl7v2.Message
	answer   func(m *hl7v2.Message) []byte
	addr     string
	received chan *hl7v2.Message
}

func newLab(t testing.TB) *lab {
	l := &lab{received: make(chan *hl7v2.Message, 100)}
	l.answer = func(m *hl7v2.Message) []byte { return hl7v2.Ack(m, hl7v2.AA, "LAB"+m.ControlID(), time.Now()).Encode() }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mllp.Server{Log: quiet, Handler: func(_ context.Context, data []byte, _ net.Addr) []byte {
		m, err := hl7v2.Parse(data)
		if err != nil {
			t.Errorf("the lab received what does not parse: %v\n%q", err, data)
			return nil
		}
		l.mu.Lock()
		l.got = append(l.got, m)
		answer := l.answer
		l.mu.Unlock()
		l.received <- m
		return answer(m)
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	l.addr = ln.Addr().String()
	return l
}

func (l *lab) setAnswer(f func(m *hl7v2.Message) []byte) {
	l.mu.Lock()
	l.answer = f
	l.mu.Unlock()
}

// next waits for the next message the lab receives.
func (l *lab) next(t testing.TB) *hl7v2.Message {
	t.Helper()
	select {
	case m := <-l.received:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the lab received nothing")
		return nil
	}
}

// none checks that the lab receives nothing for a while.
func (l *lab) none(t *testing.T, why string) {
	t.Helper()
	select {
	case m := <-l.received:
		t.Errorf("%s: the lab received %q", why, m.Encode())
	case <-time.After(300 * time.Millisecond):
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// emr is the EMR: SQLite on disk, the gate, the FHIR API, the inbound
// interface, and the order sender.
type emr struct {
	st     *sqlstore.DB
	api    http.Handler
	in     *inbound.Interface
	orders *outbound.Orders
	valid  *validate.Validator
}

func newEMR(t testing.TB, st *sqlstore.DB, labAddr string) *emr {
	t.Helper()
	defs := spec.R5()
	gate := access.NewGate(st, access.NewRolePolicy(defs, access.DefaultRoles(defs)), "emr")
	e := &emr{st: st, valid: validate.New(defs, validate.WithInvariants(validate.NewFHIRPathInvariants(defs)))}
	e.api = fhirapi.New(fhirapi.Options{Store: st, Gate: gate, Validator: e.valid, Model: defs.APIModel(), Definitions: defs,
		BaseURL: "http://emr.test/fhir", Logger: quiet}).Mount("/fhir")
	mapping := tofhir.Options{Placer: "EMR"}
	e.in = &inbound.Interface{API: e.api, Path: "/fhir", Mapping: mapping, Log: quiet}
	e.orders = &outbound.Orders{Store: st, To: labAddr, Mapping: mapping, Receiver: [2]string{"LIS", "CITY LAB"},
		Categories: []string{outbound.Categories["laboratory"]}, Observer: "emr", Log: quiet, Poll: 10 * time.Millisecond,
		Timeout: 2 * time.Second,
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", labAddr)
		}}
	gate.OnWrite(e.orders.Enqueue)
	return e
}

// run starts the sender until the test ends.
func (e *emr) run(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.orders.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// do sends a request to the API as a clinician and returns the body.
func (e *emr) do(t testing.TB, method, path, body string) map[string]any {
	t.Helper()
	return fhirapitest.Do(t, e.api, method, path, body)
}

func (e *emr) search(t testing.TB, query string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, en := range asSlice(e.do(t, http.MethodGet, "/fhir/"+query, "")["entry"]) {
		en := en.(map[string]any)
		if en["search"].(map[string]any)["mode"] == "match" {
			out = append(out, en["resource"].(map[string]any))
		}
	}
	return out
}

// outbox is how many order versions wait to be sent.
func (e *emr) outbox(t testing.TB) int {
	recs, err := e.st.ListRecords(context.Background(), outbound.QueueKind, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

const labOrder = `{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
  "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}],
  "code": {"concept": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose [Mass/volume] in Serum or Plasma"}], "text": "Glucose"}},
  "subject": {"reference": "Patient/PAT"}, "requester": {"reference": "Practitioner/PRAC"},
  "priority": "stat", "authoredOn": "2026-11-24T09:00:00+01:00",
  "reason": [{"concept": {"text": "Polyuria | thirst"}}],
  "note": [{"text": "Fasting since 22:00.\nDiabetic."}]}`

func TestMain(m *testing.M) { pgtest.Main(m) }

// databases open a store of each backend.
var databases = map[string]func(t testing.TB) (*sqlstore.DB, error){
	"sqlite": func(t testing.TB) (*sqlstore.DB, error) {
		return sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(spec.R5())})
	},
	"postgres": func(t testing.TB) (*sqlstore.DB, error) {
		return sqlstore.OpenPostgres(context.Background(), pgtest.DSN(t), sqlstore.Options{Extractor: search.NewExtractor(spec.R5())})
	},
}

func setup(t testing.TB) (*emr, *lab, string, string) {
	return setupOn(t, databases["sqlite"])
}

func setupOn(t testing.TB, open func(t testing.TB) (*sqlstore.DB, error)) (*emr, *lab, string, string) {
	st, err := open(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l := newLab(t)
	e := newEMR(t, st, l.addr)
	pat := e.do(t, http.MethodPost, "/fhir/Patient", `{"resourceType": "Patient",
	  "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-77", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}}],
	  "name": [{"use": "official", "family": "Everywoman", "given": ["Eve", "E"]}], "gender": "female", "birthDate": "1962-03-20",
	  "address": [{"use": "home", "line": ["12 Main St"], "city": "Springfield", "postalCode": "12345"}]}`)
	prac := e.do(t, http.MethodPost, "/fhir/Practitioner", `{"resourceType": "Practitioner",
	  "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}], "name": [{"family": "Able", "given": ["Alice"]}]}`)
	return e, l, pat["id"].(string), prac["id"].(string)
}

// An order placed goes to the lab, which takes it; its result comes back
// based on it, for the patient the EMR has; a cancellation follows it.
func TestOrderToResult(t *testing.T) {
	e, l, pat, prac := setup(t)
	e.run(t)
	sr := e.do(t, http.MethodPost, "/fhir/ServiceRequest", strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder))
	id := sr["id"].(string)

	m := l.next(t)
	for field, want := range map[string]string{
		"MSH-3": "EMR", "MSH-5": "LIS", "MSH-6": "CITY LAB", "MSH-9": "ORM", "MSH-11": "P", "MSH-12": "2.5.1",
		"ORC-1": "NW", "ORC-2": id, "ORC-2.2": "EMR", "OBR-2": id, "OBR-4": "2345-7", "OBR-4.3": "LN",
		"PID-3": pat, "PID-3.4": "EMR", "PID-3.5": "PI", "PID-5": "Everywoman", "PID-7": "19620320", "PID-8": "F",
		"ORC-7.6": "S", "OBR-27.6": "S", "ORC-12": "1234567893", "ORC-12.2": "Able", "OBR-31.2": "Polyuria | thirst",
	} {
		if got := m.Get(field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	// What the lab receives maps back (through this EMR's own inbound
	// mapping) to the order as placed.
	req, err := tofhir.Map(m, tofhir.Options{})
	if err != nil {
		t.Fatalf("the order message does not map back: %v\n%q", err, m.Encode())
	}
	var back map[string]any
	for _, en := range asSlice(req.Body["entry"]) {
		if r := en.(map[string]any)["resource"].(map[string]any); r["resourceType"] == "ServiceRequest" {
			back = r
		}
	}
	if back == nil || back["status"] != "active" || back["priority"] != "stat" ||
		asSlice(asSlice(back["code"].(map[string]any)["concept"].(map[string]any)["coding"]))[0].(map[string]any)["code"] != "2345-7" ||
		asSlice(back["note"])[0].(map[string]any)["text"] != "Fasting since 22:00.\nDiabetic." {
		b, _ := json.Marshal(back)
		t.Errorf("the order mapped back: %s", b)
	}
	waitFor(t, func() bool { return e.outbox(t) == 0 })

	// The lab's result names the order and the patient as it received them.
	result := strings.Join([]string{
		"MSH|^~\\&|LIS|CITY LAB|EMR|EMR|20261124120000+0100||ORU^R01^ORU_R01|R1|P|2.5.1",
		"PID|1||" + m.Get("PID-3") + "^^^EMR^PI~MRN-77^^^&2.16.840.1.113883.19.5&ISO^MR||EVERYWOMAN^EVE||19620320|F",
		"ORC|RE|" + id + "^EMR|F-1^CITY LAB",
		"OBR|1|" + id + "^EMR|F-1^CITY LAB|2345-7^Glucose^LN|||20261124100000||||||||||||||||||F",
		"OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^^UCUM|70-105|H|||F"}, "\r")
	ackRaw := e.in.Handle(context.Background(), []byte(result), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	ack, _ := hl7v2.Parse(ackRaw)
	if code, text := ack.Code(); code != hl7v2.AA {
		t.Fatalf("the result: %s %s", code, text)
	}
	reports := e.search(t, "DiagnosticReport?based-on=ServiceRequest/"+id)
	if len(reports) != 1 || reports[0]["subject"].(map[string]any)["reference"] != "Patient/"+pat {
		t.Errorf("reports based on the order: %v", reports)
	}
	if pats := e.search(t, "Patient"); len(pats) != 1 {
		t.Errorf("%d patients after the result, want the one", len(pats))
	}
	l.none(t, "a result written through the interface")

	// Another patient's result naming this order is refused: it would
	// file one patient's result under another's order.
	stranger := strings.Join([]string{
		"MSH|^~\\&|LIS|CITY LAB|EMR|EMR|20261124120000+0100||ORU^R01^ORU_R01|R2|P|2.5.1",
		"PID|1||999-00-1111^^^CITY LAB^MR||DOE^JOHN||19700101|M",
		"OBR|1|" + id + "^EMR|F-2^CITY LAB|2345-7^Glucose^LN|||20261124100000||||||||||||||||||F",
		"OBX|1|NM|2345-7^Glucose^LN||90|mg/dL^^UCUM|70-105|N|||F"}, "\r")
	ack, _ = hl7v2.Parse(e.in.Handle(context.Background(), []byte(stranger), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}))
	if code, text := ack.Code(); code != hl7v2.AE || !strings.Contains(text, "ServiceRequest") {
		t.Errorf("another patient's result naming the order: %s %s", code, text)
	}
	if reports := e.search(t, "DiagnosticReport?based-on=ServiceRequest/"+id); len(reports) != 1 {
		t.Errorf("%d reports based on the order after another patient's result, want 1", len(reports))
	}
	// The same patient known by the identifier the lab echoes, without
	// the EMR's own id: the order is theirs.
	byMRN := strings.Join([]string{
		"MSH|^~\\&|LIS|CITY LAB|EMR|EMR|20261124130000+0100||ORU^R01^ORU_R01|R3|P|2.5.1",
		"PID|1||MRN-77^^^&2.16.840.1.113883.19.5&ISO^MR||EVERYWOMAN^EVE||19620320|F",
		"OBR|1|" + id + "^EMR|F-3^CITY LAB|2345-7^Glucose^LN|||20261124120000||||||||||||||||||F",
		"OBX|1|NM|2345-7^Glucose^LN||120|mg/dL^^UCUM|70-105|H|||F"}, "\r")
	ack, _ = hl7v2.Parse(e.in.Handle(context.Background(), []byte(byMRN), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}))
	if code, text := ack.Code(); code != hl7v2.AA {
		t.Errorf("the patient's result by MRN: %s %s", code, text)
	}
	if reports := e.search(t, "DiagnosticReport?based-on=ServiceRequest/"+id); len(reports) != 2 {
		t.Errorf("%d reports based on the order, want 2", len(reports))
	}

	// Revoked: the lab is told to cancel it.
	sr["status"] = "revoked"
	body, _ := json.Marshal(sr)
	e.do(t, http.MethodPut, "/fhir/ServiceRequest/"+id, string(body))
	if m := l.next(t); m.Get("ORC-1") != "CA" || m.Get("ORC-2") != id {
		t.Errorf("after revoking: %q", m.Encode())
	}
	// Each message sent is an export in the audit trail.
	waitFor(t, func() bool { return e.outbox(t) == 0 })
	events := e.search(t, "AuditEvent?entity=ServiceRequest/"+id+"&_count=100")
	exports := 0
	for _, ev := range events {
		if b, _ := json.Marshal(ev); strings.Contains(string(b), `"110106"`) && strings.Contains(string(b), l.addr) {
			exports++
		}
	}
	if exports != 2 {
		t.Errorf("%d audit events of orders sent, want 2", exports)
	}
}

// What is not sent: an imaging order to a laboratory, a draft, an order
// that came in through the HL7 v2 interface, and what a store write
// outside the gate (an import) holds.
func TestOrdersNotSent(t *testing.T) {
	e, l, pat, prac := setup(t)
	e.run(t)
	order := strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder)
	e.do(t, http.MethodPost, "/fhir/ServiceRequest", strings.Replace(order, "108252007", "363679005", 1))
	e.do(t, http.MethodPost, "/fhir/ServiceRequest", strings.Replace(order, `"status": "active"`, `"status": "draft"`, 1))
	orm := strings.Join([]string{"MSH|^~\\&|OTHER|CLINIC|EMR|EMR|20261124120000||ORM^O01|M1|P|2.5.1",
		"PID|1||9^^^OTHER^MR||DOE^JO", "ORC|NW|77^OTHER", "OBR|1|77^OTHER||2345-7^Glucose^LN"}, "\r")
	ack, _ := hl7v2.Parse(e.in.Handle(context.Background(), []byte(orm), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}))
	if code, text := ack.Code(); code != hl7v2.AA {
		t.Fatalf("an order from another placer: %s %s", code, text)
	}
	var res fhir.Resource
	json.Unmarshal([]byte(order), &res)
	res.SetID(store.NewID())
	if err := e.st.Write(context.Background(), func(tx store.Tx) error { _, _, err := tx.Update(res, 0); return err }); err != nil {
		t.Fatal(err)
	}
	l.none(t, "orders not to send")
	if n := e.outbox(t); n != 0 {
		t.Errorf("%d in the outbox", n)
	}
}

// A refusal becomes a Task on the order; a lab that does not answer is
// sent the same message again until it does, and the orders behind it
// wait.
func TestOrderRefusedAndRetried(t *testing.T) {
	e, l, pat, prac := setup(t)
	order := strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder)
	l.setAnswer(func(m *hl7v2.Message) []byte {
		return hl7v2.Ack(m, hl7v2.AE, "L1", time.Now(), hl7v2.Problem{Code: hl7v2.ErrTableValue, Segment: "OBR", Sequence: 1, Field: 4, Text: "test 2345-7 is not offered"}).Encode()
	})
	e.run(t)
	refused := e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)["id"].(string)
	l.next(t)
	waitFor(t, func() bool { return len(e.search(t, "Task?focus=ServiceRequest/"+refused)) == 1 })
	task := e.search(t, "Task?focus=ServiceRequest/"+refused)[0]
	if task["status"] != "rejected" || task["for"].(map[string]any)["reference"] != "Patient/"+pat ||
		!strings.Contains(task["statusReason"].(map[string]any)["concept"].(map[string]any)["text"].(string), "test 2345-7 is not offered") {
		t.Errorf("the task of a refused order: %v", task)
	}
	if issues := e.valid.Validate(fhir.Resource(task)); validate.HasErrors(issues) {
		t.Errorf("the task is not valid R5: %v", issues)
	}

	// No answer: the same message comes again; the next order waits.
	l.setAnswer(func(*hl7v2.Message) []byte { return nil })
	first := e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)["id"].(string)
	e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)
	a := l.next(t)
	l.setAnswer(func(m *hl7v2.Message) []byte { return hl7v2.Ack(m, hl7v2.AA, "L2", time.Now()).Encode() })
	b := l.next(t)
	if a.Get("ORC-2") != first || b.Get("ORC-2") != first || a.ControlID() != b.ControlID() {
		t.Errorf("sent again: %s %s, then %s %s; want the first order twice with one control id", a.Get("ORC-2"), a.ControlID(), b.Get("ORC-2"), b.ControlID())
	}
	if c := l.next(t); c.Get("ORC-2") == first {
		t.Errorf("the first order was sent a third time")
	}
	waitFor(t, func() bool { return e.outbox(t) == 0 })
	if tasks := e.search(t, "Task?focus=ServiceRequest/"+first); len(tasks) != 0 {
		t.Errorf("an order sent again and taken has tasks: %v", tasks)
	}
}

// Two servers on one database: one sends, and each order goes once.
func TestOrdersOneSender(t *testing.T) {
	for name, open := range databases {
		t.Run(name, func(t *testing.T) { testOrdersOneSender(t, open) })
	}
}

func testOrdersOneSender(t *testing.T, open func(t testing.TB) (*sqlstore.DB, error)) {
	e, l, pat, prac := setupOn(t, open)
	sentOnce(t, e, l, strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder), 10)
}

// sentOnce runs e's sender and a second one (another server on the same
// database), places n orders, and checks that the lab received each
// once.
func sentOnce(t *testing.T, e *emr, l *lab, order string, n int) {
	t.Helper()
	e.run(t)
	other := *e.orders
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { other.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for range n {
		e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)
	}
	waitFor(t, func() bool { return e.outbox(t) == 0 })
	time.Sleep(500 * time.Millisecond) // for a second sending
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]int{}
	for _, m := range l.got {
		seen[m.Get("ORC-2")]++
	}
	if len(l.got) != n || len(seen) != n {
		t.Errorf("%d messages for %d orders, want %d for %d", len(l.got), len(seen), n, n)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}

// A sender that stops gives its lease up: the next one sends at once,
// not after the lease would have run out.
func TestOrdersLeaseHandedOver(t *testing.T) {
	e, l, pat, prac := setup(t)
	order := strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.orders.Run(ctx); close(done) }()
	e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)
	l.next(t)
	cancel()
	<-done
	e.run(t)
	e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)
	l.next(t) // within its 10 s, where the lease would have kept the order 15 s
}

// BenchmarkOrders places b.N laboratory orders through the API, each of
// them put in the outbox with its write, sent to a lab on loopback TCP
// and acknowledged, and reports orders/s from the first write to the
// last acknowledgment recorded.
func BenchmarkOrders(b *testing.B) {
	e, l, pat, prac := setup(b)
	order := strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder)
	go func() {
		for range l.received { // the lab's channel is drained as it goes
		}
	}()
	e.run(b)
	b.ResetTimer()
	for range b.N {
		e.do(b, http.MethodPost, "/fhir/ServiceRequest", order)
	}
	for e.outbox(b) > 0 {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}

// A receiver slower to answer than a lease lasts: the sender keeps its
// lease while it waits (the heartbeat), so the other server never sends
// the same order too.
func TestOrdersSlowReceiver(t *testing.T) {
	// Leases of 1 s renewed every 333 ms: a renewal slower than 600 ms (a
	// loaded machine) would be needed to lose one.
	outbound.ShortLease(t, time.Second)
	e, l, pat, prac := setup(t)
	l.setAnswer(func(m *hl7v2.Message) []byte {
		time.Sleep(1500 * time.Millisecond) // longer than the lease, within the sender's 2 s wait
		return hl7v2.Ack(m, hl7v2.AA, "L", time.Now()).Encode()
	})
	sentOnce(t, e, l, strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder), 2)
}

// A deleted order the lab has is cancelled, in the words of its last
// version; one never sent is not.
func TestOrderDeleted(t *testing.T) {
	e, l, pat, prac := setup(t)
	e.run(t)
	order := strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder)
	id := e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)["id"].(string)
	if m := l.next(t); m.Get("ORC-1") != "NW" {
		t.Fatalf("placed: %q", m.Encode())
	}
	waitFor(t, func() bool { return e.outbox(t) == 0 })
	e.do(t, http.MethodDelete, "/fhir/ServiceRequest/"+id, "")
	if m := l.next(t); m.Get("ORC-1") != "CA" || m.Get("ORC-2") != id || m.Get("OBR-4") != "2345-7" {
		t.Errorf("deleted: %q", m.Encode())
	}
	draft := e.do(t, http.MethodPost, "/fhir/ServiceRequest", strings.Replace(order, `"status": "active"`, `"status": "draft"`, 1))["id"].(string)
	e.do(t, http.MethodDelete, "/fhir/ServiceRequest/"+draft, "")
	l.none(t, "a draft deleted")
	waitFor(t, func() bool { return e.outbox(t) == 0 })
}

// An order the lab never answers holds back the next ones for a few
// tries only: then its clinician is told on a Task, and the rest go.
func TestOrderNeverAnswered(t *testing.T) {
	outbound.FewTries(t, 2)
	e, l, pat, prac := setup(t)
	order := strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder)
	poison := e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)["id"].(string)
	next := e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)["id"].(string)
	l.setAnswer(func(m *hl7v2.Message) []byte {
		if m.Get("ORC-2") == poison {
			return nil // the connection closes unanswered
		}
		return hl7v2.Ack(m, hl7v2.AA, "L", time.Now()).Encode()
	})
	e.run(t)
	for i := range 2 {
		if m := l.next(t); m.Get("ORC-2") != poison {
			t.Fatalf("sending %d: %q, want the first order", i+1, m.Encode())
		}
	}
	if m := l.next(t); m.Get("ORC-2") != next {
		t.Errorf("then: %q, want the next order", m.Encode())
	}
	waitFor(t, func() bool { return e.outbox(t) == 0 })
	tasks := e.search(t, "Task?focus=ServiceRequest/"+poison)
	if len(tasks) != 1 || !strings.Contains(tasks[0]["statusReason"].(map[string]any)["concept"].(map[string]any)["text"].(string), "did not acknowledge the order after 2 tries") {
		t.Errorf("the unanswered order's task: %v", tasks)
	}
}

// As OML^O21: the timing in TQ1, and the specimen to collect in SPM.
func TestOrderAsOML(t *testing.T) {
	e, l, pat, prac := setup(t)
	e.orders.Message = outbound.OML
	e.run(t)
	sp := e.do(t, http.MethodPost, "/fhir/Specimen", `{"resourceType": "Specimen", "subject": {"reference": "Patient/`+pat+`"},
	  "type": {"coding": [{"system": "http://snomed.info/sct", "code": "119297000", "display": "Blood specimen"}]},
	  "collection": {"collectedDateTime": "2026-11-24T08:15:00+01:00"}}`)["id"].(string)
	order := strings.NewReplacer("PAT", pat, "PRAC", prac).Replace(labOrder)
	order = strings.Replace(order, `"priority": "stat"`, `"priority": "stat", "specimen": [{"reference": "Specimen/`+sp+`"}]`, 1)
	id := e.do(t, http.MethodPost, "/fhir/ServiceRequest", order)["id"].(string)
	m := l.next(t)
	for field, want := range map[string]string{
		"MSH-9": "OML", "MSH-9.2": "O21", "MSH-9.3": "OML_O21", "ORC-2": id, "ORC-7": "", "TQ1-9": "S",
		"SPM-2": sp, "SPM-2.1.2": "EMR", "SPM-4": "119297000", "SPM-4.2": "Blood specimen", "SPM-4.3": "SCT", "SPM-17": "20261124081500+0100",
	} {
		if got := m.Get(field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	req, err := tofhir.Map(m, tofhir.Options{})
	if err != nil {
		t.Fatalf("the OML does not map back: %v\n%q", err, m.Encode())
	}
	for _, en := range asSlice(req.Body["entry"]) {
		if r := en.(map[string]any)["resource"].(map[string]any); r["resourceType"] == "ServiceRequest" && r["priority"] != "stat" {
			t.Errorf("mapped back with priority %v", r["priority"])
		}
	}
}
