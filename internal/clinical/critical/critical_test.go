package critical_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/clinical/critical"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/fhirapi/fhirapitest"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/inbound"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// onPostgres makes newRig open PostgreSQL; TestOnPostgres sets it.
var onPostgres bool

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestOnPostgres runs the tests that search and write the reviews on
// PostgreSQL too.
func TestOnPostgres(t *testing.T) {
	pgtest.DSN(t) // skips (or in CI fails) here when there is no server
	onPostgres = true
	defer func() { onPostgres = false }()
	t.Run("Reviews", TestReviews)
	t.Run("Escalate", TestEscalate)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type rig struct {
	st    *sqlstore.DB
	gate  *access.Gate
	api   http.Handler
	valid *validate.Validator
}

func newRig(t *testing.T) *rig {
	t.Helper()
	defs := spec.R5()
	var st *sqlstore.DB
	var err error
	if onPostgres {
		st, err = sqlstore.OpenPostgres(context.Background(), pgtest.DSN(t), sqlstore.Options{Extractor: search.NewExtractor(defs)})
	} else {
		st, err = sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(defs)})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	gate := access.NewGate(st, access.NewRolePolicy(defs, access.DefaultRoles(defs)), "emr")
	gate.OnWrite((&critical.Reviews{Definitions: defs}).Hook)
	r := &rig{st: st, gate: gate, valid: validate.New(defs, validate.WithInvariants(validate.NewFHIRPathInvariants(defs)))}
	r.api = fhirapi.New(fhirapi.Options{Store: st, Gate: gate, Validator: r.valid, Model: defs.APIModel(), Definitions: defs,
		BaseURL: "http://emr.test/fhir", Logger: quiet}).Mount("/fhir")
	return r
}

func (r *rig) do(t *testing.T, method, path, body string) map[string]any {
	t.Helper()
	return fhirapitest.Do(t, r.api, method, path, body)
}

// reviews are the review Tasks of observation id.
func (r *rig) reviews(t *testing.T, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range slice(r.do(t, http.MethodGet, "/fhir/Task?code="+critical.TaskSystem+"|"+critical.TaskCode+"&focus=Observation/"+id, "")["entry"]) {
		out = append(out, e.(map[string]any)["resource"].(map[string]any))
	}
	return out
}

func slice(v any) []any { s, _ := v.([]any); return s }

func observation(patient, status, flag string) string {
	return `{"resourceType": "Observation", "status": "` + status + `",
	  "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}]},
	  "subject": {"reference": "Patient/` + patient + `"},
	  "valueQuantity": {"value": 6.9, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
	  "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "` + flag + `"}]}]}`
}

// A critical result written through the gate asks for one review, owned
// by whoever ordered the test, audited with the write; others ask for
// none.
func TestReviews(t *testing.T) {
	r := newRig(t)
	pat := r.do(t, http.MethodPost, "/fhir/Patient", `{"resourceType": "Patient", "name": [{"family": "Roe"}]}`)["id"].(string)
	prac := r.do(t, http.MethodPost, "/fhir/Practitioner", `{"resourceType": "Practitioner", "name": [{"family": "Able", "given": ["Alice"]}]}`)["id"].(string)
	sr := r.do(t, http.MethodPost, "/fhir/ServiceRequest", `{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
	  "code": {"concept": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]}}, "subject": {"reference": "Patient/`+pat+`"},
	  "requester": {"reference": "Practitioner/`+prac+`", "display": "Dr Alice Able"}}`)["id"].(string)

	obs := r.do(t, http.MethodPost, "/fhir/Observation", strings.Replace(observation(pat, "final", "HH"), `"status"`, `"basedOn": [{"reference": "ServiceRequest/`+sr+`"}], "status"`, 1))
	id := obs["id"].(string)
	tasks := r.reviews(t, id)
	if len(tasks) != 1 {
		t.Fatalf("%d reviews of a critical result, want 1", len(tasks))
	}
	task := tasks[0]
	for path, want := range map[string]any{"status": "requested", "priority": "stat", "intent": "order"} {
		if task[path] != want {
			t.Errorf("Task.%s = %v, want %v", path, task[path], want)
		}
	}
	if task["for"].(map[string]any)["reference"] != "Patient/"+pat || task["owner"].(map[string]any)["reference"] != "Practitioner/"+prac ||
		task["focus"].(map[string]any)["reference"] != "Observation/"+id+"/_history/1" {
		t.Errorf("the review: %v", task)
	}
	if issues := r.valid.Validate(fhir.Resource(task)); validate.HasErrors(issues) {
		t.Errorf("the review is not valid R5: %v", issues)
	}
	created := 0
	for _, e := range slice(r.do(t, http.MethodGet, "/fhir/AuditEvent?entity=Task/"+task["id"].(string), "")["entry"]) {
		if ev := e.(map[string]any)["resource"].(map[string]any); ev["action"] == "C" {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d audit events of creating the review, want the write's", created)
	}

	reviews := &critical.Reviews{Definitions: spec.R5()}
	if n, since, err := reviews.Waiting(context.Background(), r.st); err != nil || n != 1 || since.Format(time.RFC3339) != task["authoredOn"] {
		t.Errorf("Waiting: %d since %v (%v); want 1 since %v", n, since, err, task["authoredOn"])
	}

	// Corrected while the review is open: still one. Acknowledged, then
	// corrected again: a new one.
	obs["status"] = "corrected"
	b, _ := json.Marshal(obs)
	r.do(t, http.MethodPut, "/fhir/Observation/"+id, string(b))
	if open := r.reviews(t, id); len(open) != 1 {
		t.Errorf("%d reviews after a correction while one is open, want 1", len(open))
	} else if focus := open[0]["focus"].(map[string]any)["reference"]; focus != "Observation/"+id+"/_history/2" {
		t.Errorf("the open review's focus is %v after the correction, want the corrected version", focus)
	} else {
		task = open[0]
	}
	task["status"] = "completed"
	b, _ = json.Marshal(task)
	r.do(t, http.MethodPut, "/fhir/Task/"+task["id"].(string), string(b))
	obs = r.do(t, http.MethodGet, "/fhir/Observation/"+id, "")
	b, _ = json.Marshal(obs)
	r.do(t, http.MethodPut, "/fhir/Observation/"+id, string(b))
	if n := len(r.reviews(t, id)); n != 2 {
		t.Errorf("%d reviews after a correction of an acknowledged result, want 2", n)
	}

	// Withdrawn while its review is open: the review is cancelled.
	w := r.do(t, http.MethodPost, "/fhir/Observation", observation(pat, "final", "LL"))
	w["status"] = "entered-in-error"
	b, _ = json.Marshal(w)
	r.do(t, http.MethodPut, "/fhir/Observation/"+w["id"].(string), string(b))
	if rv := r.reviews(t, w["id"].(string)); len(rv) != 1 || rv[0]["status"] != "cancelled" {
		t.Errorf("the review of a withdrawn result: %v", rv)
	}

	// Another patient's order named by a result gives its review no owner.
	other := r.do(t, http.MethodPost, "/fhir/Patient", `{"resourceType": "Patient", "name": [{"family": "Doe"}]}`)["id"].(string)
	o := r.do(t, http.MethodPost, "/fhir/Observation", strings.Replace(observation(other, "final", "HH"), `"status"`, `"basedOn": [{"reference": "ServiceRequest/`+sr+`"}], "status"`, 1))
	if rv := r.reviews(t, o["id"].(string)); len(rv) != 1 || rv[0]["owner"] != nil {
		t.Errorf("the review of a result naming another patient's order: %v", rv)
	}

	// Not critical, not a result, or not through the gate: no review.
	for _, c := range []struct{ status, flag string }{{"final", "H"}, {"final", "N"}, {"entered-in-error", "HH"}, {"registered", "LL"}} {
		o := r.do(t, http.MethodPost, "/fhir/Observation", observation(pat, c.status, c.flag))
		if n := len(r.reviews(t, o["id"].(string))); n != 0 {
			t.Errorf("%s %s: %d reviews", c.status, c.flag, n)
		}
	}
	var res fhir.Resource
	json.Unmarshal([]byte(observation(pat, "final", "LL")), &res)
	res.SetID(store.NewID())
	if err := r.st.Write(context.Background(), func(tx store.Tx) error { _, _, err := tx.Update(res, 0); return err }); err != nil {
		t.Fatal(err)
	}
	if n := len(r.reviews(t, res.ID())); n != 0 {
		t.Errorf("an imported critical result has %d reviews", n)
	}
}

// A laboratory's critical result over HL7 v2 asks for a review.
func TestReviewOfHL7Result(t *testing.T) {
	r := newRig(t)
	in := &inbound.Interface{API: r.api, Path: "/fhir", Log: quiet}
	msg := strings.Join([]string{"MSH|^~\\&|LAB|CITY LAB|EMR|CLINIC|20261124093000-0500||ORU^R01^ORU_R01|C1|P|2.5.1",
		"PID|1||555-44-4444^^^CITY LAB^MR||EVERYWOMAN^EVE||19620320|F",
		"OBR|1||F-9^CITY LAB|2823-3^Potassium^LN|||202611240730",
		"OBX|1|NM|2823-3^Potassium^LN||6.9|mmol/L^^UCUM|3.5-5.1|HH|||F"}, "\r")
	ack, _ := hl7v2.Parse(in.Handle(context.Background(), []byte(msg), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}))
	if code, text := ack.Code(); code != hl7v2.AA {
		t.Fatalf("the result: %s %s", code, text)
	}
	obs := slice(r.do(t, http.MethodGet, "/fhir/Observation?code=2823-3", "")["entry"])
	if len(obs) != 1 {
		t.Fatalf("%d observations", len(obs))
	}
	id := obs[0].(map[string]any)["resource"].(map[string]any)["id"].(string)
	if n := len(r.reviews(t, id)); n != 1 {
		t.Errorf("%d reviews of the laboratory's critical result, want 1", n)
	}
}
