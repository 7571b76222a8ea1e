package inbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
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
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/fhirapi/fhirapitest"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// interfaceRole is the role docs/hl7v2.md gives as an example of one that
// may merge.
const interfaceRole = `{"roles": [{"name": "hl7-interface", "description": "the HL7 v2 interface", "patients": "all",
  "permissions": [{"types": ["Patient", "Encounter", "Observation", "DiagnosticReport", "Immunization",
    "Appointment", "ServiceRequest"], "perms": "crus"}],
  "operations": ["merge"]}]}`

// rig is an EMR (SQLite on disk, the FHIR API with its gate) and an MLLP
// server answering with the interface, on loopback TCP.
type rig struct {
	api   http.Handler
	addr  string
	store *sqlstore.DB
	gate  *access.Gate
}

func newRig(t testing.TB, wrap func(net.Listener) net.Listener, role string) *rig {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(spec.R5())})
	if err != nil {
		t.Fatal(err)
	}
	return newRigOn(t, st, wrap, role)
}

// newRigOn is a rig on st, which it closes when the test ends.
func newRigOn(t testing.TB, st *sqlstore.DB, wrap func(net.Listener) net.Listener, role string) *rig {
	t.Helper()
	defs := spec.R5()
	t.Cleanup(func() { st.Close() })
	roles, err := access.LoadRoles(defs, []byte(interfaceRole))
	if err != nil {
		t.Fatal(err)
	}
	gate := access.NewGate(st, access.NewRolePolicy(defs, roles), "emr")
	api := fhirapi.New(fhirapi.Options{
		Store: st, Gate: gate, Validator: validate.New(defs, validate.WithInvariants(validate.NewFHIRPathInvariants(defs))),
		Model: defs.APIModel(), Definitions: defs, BaseURL: "http://emr.test/fhir",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}).Mount("/fhir")
	in := &Interface{API: api, Path: "/fhir", Role: role, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	srv := &mllp.Server{Handler: in.Handle, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return &rig{api: api, addr: ln.Addr().String(), store: st, gate: gate}
}

// send sends the message (lines joined by CR) and returns the
// acknowledgment's code and text.
func send(t *testing.T, c *mllp.Client, lines ...string) (code, text string) {
	t.Helper()
	ack, err := c.Send(context.Background(), []byte(strings.Join(lines, "\r")))
	if err != nil {
		t.Fatal(err)
	}
	m, err := hl7v2.Parse(ack)
	if err != nil {
		t.Fatalf("acknowledgment %q: %v", ack, err)
	}
	return m.Code()
}

// get reads the API as an administrator and returns the JSON answer.
func (r *rig) get(t *testing.T, path string) map[string]any {
	t.Helper()
	return fhirapitest.Do(t, r.api, http.MethodGet, path, "")
}

// search returns the resources a search finds.
func (r *rig) search(t *testing.T, query string) []map[string]any {
	t.Helper()
	b := r.get(t, "/fhir/"+query)
	var out []map[string]any
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		e := e.(map[string]any)
		if mode, _ := e["search"].(map[string]any)["mode"].(string); mode == "match" {
			out = append(out, e["resource"].(map[string]any))
		}
	}
	return out
}

const (
	msh = "MSH|^~\\&|LAB|CITY LAB^2.16.840.1.113883.19.4^ISO|EMR|CLINIC|20261124093000-0500||"
	pid = "PID|1||555-44-4444^^^CITY LAB^MR||EVERYWOMAN^EVE^E||19620320|F"
	obr = "OBR|1|845439^EMR|1045813^CITY LAB|24323-8^Comprehensive metabolic panel^LN|||202611240730"
)

func TestInterface(t *testing.T) {
	r := newRig(t, nil, "")
	c, err := mllp.Dial(context.Background(), r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Registration and admission, then results for the same patient.
	if code, text := send(t, c, msh+"ADT^A01^ADT_A01|ADT1|P|2.5.1", pid,
		"PV1|1|I|||||||||||||||||V1001^^^CITY LAB^VN"); code != hl7v2.AA {
		t.Fatalf("ADT^A01: %s %s", code, text)
	}
	oru := []string{msh + "ORU^R01^ORU_R01|ORU1|P|2.5.1", pid, obr,
		"OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^^UCUM|70-105|H|||F",
		"OBX|2|NM|2160-0^Creatinine^LN||0.9|mg/dL^^UCUM|0.6-1.2|N|||F"}
	if code, text := send(t, c, oru...); code != hl7v2.AA {
		t.Fatalf("ORU^R01: %s %s", code, text)
	}
	patients := r.search(t, "Patient?identifier=555-44-4444")
	if len(patients) != 1 {
		t.Fatalf("%d patients with the identifier, want 1", len(patients))
	}
	pat := "Patient/" + patients[0]["id"].(string)
	if encs := r.search(t, "Encounter?subject="+pat); len(encs) != 1 || encs[0]["status"] != "in-progress" {
		t.Errorf("encounters %v", encs)
	}
	obs := r.search(t, "Observation?subject="+pat+"&_sort=code")
	reports := r.search(t, "DiagnosticReport?subject="+pat)
	if len(obs) != 2 || len(reports) != 1 {
		t.Fatalf("%d observations, %d reports; want 2, 1", len(obs), len(reports))
	}
	results := map[string]bool{}
	for _, res := range reports[0]["result"].([]any) {
		results[res.(map[string]any)["reference"].(string)] = true
	}
	for _, o := range obs {
		if !results["Observation/"+o["id"].(string)] {
			t.Errorf("the report's results %v do not name Observation/%s", results, o["id"])
		}
	}
	// The abnormal flag is kept.
	if b, _ := json.Marshal(r.search(t, "Observation?subject="+pat+"&code=2345-7")); !strings.Contains(string(b), `"interpretation":[{"coding":[{"code":"H"`) {
		t.Errorf("the high glucose lost its flag: %s", b)
	}

	// The same message again, and then a correction, make nothing twice.
	if code, text := send(t, c, oru...); code != hl7v2.AA {
		t.Fatalf("ORU^R01 sent again: %s %s", code, text)
	}
	corrected := append([]string{}, oru...)
	corrected[3] = "OBX|1|NM|2345-7^Glucose^LN||128|mg/dL^^UCUM|70-105|H|||C"
	if code, text := send(t, c, corrected...); code != hl7v2.AA {
		t.Fatalf("the correction: %s %s", code, text)
	}
	again := r.search(t, "Observation?subject="+pat+"&code=2345-7")
	if len(again) != 1 || len(r.search(t, "Observation?subject="+pat)) != 2 || len(r.search(t, "DiagnosticReport?subject="+pat)) != 1 ||
		len(r.search(t, "Patient?identifier=555-44-4444")) != 1 {
		t.Fatalf("resending and correcting made resources twice")
	}
	if v := again[0]["valueQuantity"].(map[string]any)["value"]; v != 128.0 || again[0]["status"] != "corrected" {
		t.Errorf("the corrected glucose: %v %v", v, again[0]["status"])
	}
	if history, _ := r.get(t, "/fhir/Observation/"+again[0]["id"].(string)+"/_history")["entry"].([]any); len(history) != 3 {
		t.Errorf("the glucose has %d versions, want 3", len(history))
	}
	// An immunization, sent twice.
	vxu := []string{msh + "VXU^V04^VXU_V04|VXU1|P|2.5.1", pid, "ORC|RE||65930^CITY LAB",
		"RXA|0|1|20261120||141^Influenza, seasonal, injectable^CVX|0.5|mL^^UCUM||00^New record^NIP001||||||L1234|20270630|SKB^GlaxoSmithKline^MVX|||CP|A"}
	for range 2 {
		if code, text := send(t, c, vxu...); code != hl7v2.AA {
			t.Fatalf("VXU^V04: %s %s", code, text)
		}
	}
	if imms := r.search(t, "Immunization?patient="+pat); len(imms) != 1 || imms[0]["lotNumber"] != "L1234" {
		t.Errorf("immunizations %v", imms)
	}

	// An appointment booked, then cancelled.
	for _, event := range []string{"S12", "S15"} {
		if code, text := send(t, c, msh+"SIU^"+event+"|SIU"+event+"|P|2.5.1", "SCH||A778^CITY LAB", "TQ1|||||||202612010930|202612010945", pid); code != hl7v2.AA {
			t.Fatalf("SIU^%s: %s %s", event, code, text)
		}
	}
	if appts := r.search(t, "Appointment?patient="+pat); len(appts) != 1 || appts[0]["status"] != "cancelled" {
		t.Errorf("appointments %v", appts)
	}

	// An order placed, then cancelled.
	for _, control := range []string{"NW", "CA"} {
		if code, text := send(t, c, msh+"ORM^O01|ORM"+control+"|P|2.5.1", pid, "ORC|"+control+"|9001^EMR", "OBR|1|||24725-4^CT Head^LN"); code != hl7v2.AA {
			t.Fatalf("ORM^O01 %s: %s %s", control, code, text)
		}
	}
	if orders := r.search(t, "ServiceRequest?patient="+pat); len(orders) != 1 || orders[0]["status"] != "revoked" {
		t.Errorf("orders %v", orders)
	}

	// Discharge.
	if code, text := send(t, c, msh+"ADT^A03^ADT_A03|ADT2|P|2.5.1", pid,
		"PV1|1|I|||||||||||||||||V1001^^^CITY LAB^VN|||||||||||||||||||||||||20261124080000|20261125080000"); code != hl7v2.AA {
		t.Fatalf("ADT^A03: %s %s", code, text)
	}
	if encs := r.search(t, "Encounter?subject="+pat); len(encs) != 1 || encs[0]["status"] != "completed" {
		t.Errorf("after the discharge, encounters %v", encs)
	}

	// A registration without a visit number: the patient is recorded,
	// the encounter is not, and the AA warns of it.
	ack, err := c.Send(context.Background(), []byte(strings.Join([]string{msh + "ADT^A04^ADT_A01|ADT3|P|2.5.1",
		"PID|1||777-11-2222^^^CITY LAB^MR||NOVISIT^NORA||19800101|F", "PV1|1|O"}, "\r")))
	if err != nil {
		t.Fatal(err)
	}
	am, err := hl7v2.Parse(ack)
	if err != nil {
		t.Fatal(err)
	}
	if code, text := am.Code(); code != hl7v2.AA || am.Get("ERR-4") != hl7v2.SeverityWarning || am.Get("ERR-2") != "PV1" || !strings.Contains(text, "visit number") {
		t.Errorf("ADT^A04 without a visit number: %q", ack)
	}
	if newcomers := r.search(t, "Patient?identifier=777-11-2222"); len(newcomers) != 1 {
		t.Errorf("%d patients registered without a visit number, want 1", len(newcomers))
	} else if encs := r.search(t, "Encounter?subject=Patient/"+newcomers[0]["id"].(string)); len(encs) != 0 {
		t.Errorf("encounters of a registration without a visit number: %v", encs)
	}

	// Each write is audited as the interface's.
	events := r.search(t, "AuditEvent?patient="+pat+"&_count=100")
	var byInterface int
	for _, e := range events {
		if b, _ := json.Marshal(e["agent"]); strings.Contains(string(b), "hl7v2:127.0.0.1") {
			byInterface++
		}
	}
	if byInterface < 11 {
		t.Errorf("%d AuditEvents of the patient name the interface, want one per message (11)", byInterface)
	}

	// What is not taken.
	for name, c2 := range map[string]struct {
		lines []string
		code  string
		text  string
	}{
		"training":    {[]string{msh + "ORU^R01|T1|T|2.5.1", pid, obr}, hl7v2.AR, "production messages (P) only"},
		"unsupported": {[]string{msh + "MDM^T02|S1|P|2.5.1", pid}, hl7v2.AR, "not taken"},
		"bad value":   {[]string{msh + "ORU^R01|B1|P|2.5.1", pid, obr, "OBX|1|NM|2345-7^Glucose^LN||high"}, hl7v2.AE, `"high" is not a number`},
		"garbage":     {[]string{"this is not HL7"}, hl7v2.AR, "starts with MSH"},
	} {
		t.Run(name, func(t *testing.T) {
			code, text := send(t, c, c2.lines...)
			if code != c2.code || !strings.Contains(text, c2.text) {
				t.Errorf("%s: %s %q, want %s with %q", name, code, text, c2.code, c2.text)
			}
		})
	}
	if n := len(r.search(t, "Observation?subject="+pat)); n != 2 {
		t.Errorf("refused messages wrote: %d observations, want 2", n)
	}

	// What the FHIR API refuses: an identifier two Patients have.
	for range 2 {
		r.do(t, http.MethodPost, "/fhir/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:emr:hl7v2:authority:CITY%20LAB","value":"777"}]}`)
	}
	code, text := send(t, c, msh+"ADT^A08^ADT_A08|D1|P|2.5.1", "PID|1||777^^^CITY LAB^MR||TWIN^ONE")
	if code != hl7v2.AE || !strings.Contains(text, "more than one") {
		t.Errorf("an ADT for an identifier two patients have: %s %q", code, text)
	}
}

// do sends a request to the API as an administrator and checks it succeeded.
func (r *rig) do(t *testing.T, method, path, body string) {
	t.Helper()
	fhirapitest.Do(t, r.api, method, path, body)
}

// Over TLS the sender's certificate names the interface's principal.
func TestInterfaceTLS(t *testing.T) {
	ca, caKey := sharedtest.NewCert(t, "Test CA", nil, nil)
	server, serverKey := sharedtest.NewCert(t, "127.0.0.1", ca, caKey)
	client, clientKey := sharedtest.NewCert(t, "city-lab", ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	r := newRig(t, func(ln net.Listener) net.Listener {
		return tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{server.Raw}, PrivateKey: serverKey}},
			ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12,
		})
	}, "")
	conn, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{{Certificate: [][]byte{client.Raw}, PrivateKey: clientKey}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := strings.Join([]string{msh + "ADT^A08^ADT_A08|T1|P|2.5.1", pid}, "\r")
	if err := mllp.WriteMessage(conn, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	ack, err := mllp.NewReader(conn, 0).ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if m, err := hl7v2.Parse(ack); err != nil || m.Get("MSA-1") != hl7v2.AA {
		t.Fatalf("acknowledgment %q, %v", ack, err)
	}
	pat := r.search(t, "Patient?identifier=555-44-4444")
	if len(pat) != 1 {
		t.Fatal("the patient was not written")
	}
	events := r.search(t, "AuditEvent?patient=Patient/"+pat[0]["id"].(string))
	if b, _ := json.Marshal(events); !strings.Contains(string(b), "hl7v2:CN=city-lab") {
		t.Errorf("no AuditEvent names the sender's certificate: %s", b)
	}

	// Without a client certificate nothing is answered.
	bare, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err == nil {
		defer bare.Close()
		bare.SetDeadline(time.Now().Add(5 * time.Second))
		if err := mllp.WriteMessage(bare, []byte(msg)); err == nil {
			if _, err := mllp.NewReader(bare, 0).ReadMessage(); err == nil {
				t.Error("a sender without a certificate was answered")
			}
		}
	}
}

// An ADT^A40 merges the patient of MRG into the one of PID, when the
// interface's role may merge; sent again, it is acknowledged and changes
// nothing.
func TestInterfaceMerge(t *testing.T) {
	for _, role := range []string{"", "hl7-interface"} {
		t.Run("role "+role, func(t *testing.T) {
			r := newRig(t, nil, role)
			c, err := mllp.Dial(context.Background(), r.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i, id := range []string{"111", "222"} {
				if code, text := send(t, c, msh+"ADT^A04|R"+id+"|P|2.5.1", "PID|1||"+id+"^^^CITY LAB^MR||DOE^JANE||19700101|F",
					"PV1|1|O|||||||||||||||||V"+id+"^^^CITY LAB"); code != hl7v2.AA {
					t.Fatalf("registration %d: %s %s", i, code, text)
				}
			}
			obsOf := func(id string) {
				if code, text := send(t, c, msh+"ORU^R01|O"+id+"|P|2.5.1", "PID|1||"+id+"^^^CITY LAB^MR", "OBR|1||F"+id+"^CITY LAB|2345-7^Glucose^LN",
					"OBX|1|NM|2345-7^Glucose^LN||99|mg/dL^^UCUM||||F"); code != hl7v2.AA {
					t.Fatalf("results: %s %s", code, text)
				}
			}
			obsOf("111")
			merge := []string{msh + "ADT^A40^ADT_A39|M1|P|2.5.1", "PID|1||222^^^CITY LAB^MR||DOE^JANE", "MRG|111^^^CITY LAB^MR"}
			code, text := send(t, c, merge...)
			keep := r.search(t, "Patient?identifier=222")[0]["id"].(string)
			if role == "" {
				if code != hl7v2.AE || !strings.Contains(text, "may not merge") {
					t.Errorf("a merge as service: %s %q, want AE saying the role may not merge", code, text)
				}
				if n := len(r.search(t, "Observation?subject=Patient/"+keep)); n != 0 {
					t.Errorf("a refused merge moved %d observations", n)
				}
				return
			}
			if code != hl7v2.AA {
				t.Fatalf("ADT^A40: %s %s", code, text)
			}
			if n := len(r.search(t, "Observation?subject=Patient/"+keep)); n != 1 {
				t.Errorf("after the merge the surviving patient has %d observations, want 1", n)
			}
			if code, text := send(t, c, merge...); code != hl7v2.AA {
				t.Errorf("the same merge again: %s %s, want AA", code, text)
			}
			other := []string{msh + "ADT^A40^ADT_A39|M2|P|2.5.1", "PID|1||333^^^CITY LAB^MR", "MRG|111^^^CITY LAB^MR"}
			if code, _ := send(t, c, other...); code != hl7v2.AE {
				t.Errorf("merging an unknown patient: %s, want AE", code)
			}
		})
	}
}

// When the store fails the message is not acknowledged: the connection
// closes, and the sender sends it again.
func TestInterfaceStoreDown(t *testing.T) {
	r := newRig(t, nil, "")
	c, err := mllp.Dial(context.Background(), r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r.store.Close()
	ack, err := c.Send(context.Background(), []byte(strings.Join([]string{msh + "ADT^A08|D1|P|2.5.1", pid}, "\r")))
	if err == nil {
		t.Fatalf("answered %q with the store closed; want the connection closed", ack)
	}
}

// Senders on several connections at once, with results for the same new
// patients: every message is acknowledged, and each patient, report and
// result exists once, on both databases.
func TestInterfaceConcurrent(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *sqlstore.DB{
		"sqlite": func(t *testing.T) *sqlstore.DB {
			st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(spec.R5())})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"postgres": func(t *testing.T) *sqlstore.DB {
			st, err := sqlstore.OpenPostgres(context.Background(), pgtest.DSN(t), sqlstore.Options{Extractor: search.NewExtractor(spec.R5())})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRigOn(t, open(t), nil, "")
			const senders, reports, patients = 4, 10, 5
			var wg sync.WaitGroup
			errs := make(chan string, senders*reports)
			for s := range senders {
				wg.Go(func() {
					c, err := mllp.Dial(context.Background(), r.addr)
					if err != nil {
						errs <- err.Error()
						return
					}
					defer c.Close()
					for i := range reports {
						n := s*reports + i
						lines := []string{msh + fmt.Sprintf("ORU^R01|C%d|P|2.5.1", n),
							fmt.Sprintf("PID|1||C%d^^^CITY LAB^MR||DOE^JANE||19700101|F", n%patients),
							fmt.Sprintf("OBR|1||CR%d^CITY LAB|24323-8^Panel^LN", n),
							"OBX|1|NM|2345-7^Glucose^LN||99|mg/dL^^UCUM||||F", "OBX|2|NM|2160-0^Creatinine^LN||1.0|mg/dL^^UCUM||||F"}
						ack, err := c.Send(context.Background(), []byte(strings.Join(lines, "\r")))
						if err != nil {
							errs <- err.Error()
							return
						}
						if m, err := hl7v2.Parse(ack); err != nil || m.Get("MSA-1") != hl7v2.AA {
							errs <- string(ack)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			for query, want := range map[string]int{
				"Patient?_summary=count":          patients,
				"DiagnosticReport?_summary=count": senders * reports,
				"Observation?_summary=count":      2 * senders * reports,
			} {
				if got := int(r.get(t, "/fhir/"+query)["total"].(float64)); got != want {
					t.Errorf("%s: %d, want %d", query, got, want)
				}
			}
		})
	}
}
