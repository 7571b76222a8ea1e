package fhirapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// auditEvents reads the audit log back through the store.
func (s *testServer) auditEvents(t *testing.T) []fhir.Resource {
	t.Helper()
	var out []fhir.Resource
	err := s.store.(*sqlstore.DB).ScanAudit(context.Background(), 0, func(_ int64, ev fhir.Resource) error {
		out = append(out, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eventSummary(ev fhir.Resource) string {
	code := ev["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]
	outcome := ev["outcome"].(map[string]any)["code"].(map[string]any)["code"]
	patient := ""
	if p, ok := ev["patient"].(map[string]any); ok {
		patient = p["reference"].(string)
	}
	return code.(string) + " " + ev["action"].(string) + " " + outcome.(string) + " " + patient
}

// TestEveryInteractionAudited checks that reads, writes and failures each
// leave an AuditEvent naming the interaction, outcome and patient, and that
// a refused write leaves only its failure record.
func TestEveryInteractionAudited(t *testing.T) {
	s := newTestServer(t)
	s.do("PUT", "/fhir/Patient/a1", `{"resourceType":"Patient","id":"a1"}`)
	s.do("POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/a1"}}`)
	s.do("GET", "/fhir/Patient/a1", "")
	s.do("GET", "/fhir/Patient/missing", "")
	s.do("POST", "/fhir/Patient", `{"resourceType":"Patient","gender":"x"}`)
	s.do("DELETE", "/fhir/Patient/a1", "")
	var got []string
	for _, ev := range s.auditEvents(t) {
		got = append(got, eventSummary(ev))
		agent := ev["agent"].([]any)[0].(map[string]any)
		if agent["networkString"] == nil {
			t.Errorf("event without network address: %v", ev)
		}
	}
	want := []string{
		"update U 0 Patient/a1",
		"create C 0 Patient/a1",
		"read R 0 Patient/a1",
		"read R 4 ",
		"create C 4 ",
		"delete D 0 ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTransactionAuditedWithWrites checks that a rolled-back transaction
// leaves no success records, only the failure.
func TestTransactionAuditedWithWrites(t *testing.T) {
	s := newTestServer(t)
	bad := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":{"resourceType":"Patient","id":"t1"},"request":{"method":"PUT","url":"Patient/t1"}},
	 {"resource":{"resourceType":"Patient","id":"t2","gender":"?"},"request":{"method":"PUT","url":"Patient/t2"}}]}`
	s.do("POST", "/fhir", bad)
	events := s.auditEvents(t)
	if len(events) != 1 || eventSummary(events[0]) != "transaction E 4 " {
		var got []string
		for _, ev := range events {
			got = append(got, eventSummary(ev))
		}
		t.Fatalf("after a failed transaction the log holds %q, want only the failure", got)
	}
	s.do("POST", "/fhir", transactionJSON)
	var got []string
	for _, ev := range s.auditEvents(t)[1:] {
		got = append(got, eventSummary(ev))
	}
	if len(got) != 4 || got[3] != "transaction E 0 " {
		t.Errorf("successful transaction audit: %q", got)
	}
}

// TestAppForUserAuditedAsTwoAgents: a read by a SMART app acting for a
// user is recorded with both, the user (requestor) and the app (client
// id, network address), as IHE BALP does.
func TestAppForUserAuditedAsTwoAgents(t *testing.T) {
	s := newAccessServer(t, nil, map[string]*access.Principal{
		"admin": {User: "root", Role: "admin"},
		"app":   {User: "dr.who", Client: "chart-app", Role: "physician"},
	})
	s.do("PUT", "/fhir/Patient/a1", `{"resourceType":"Patient","id":"a1"}`, "X-Test-Caller: admin")
	if r := s.do("GET", "/fhir/Patient/a1", "", "X-Test-Caller: app"); r.status != http.StatusOK {
		t.Fatalf("read: %d %s", r.status, r.body)
	}
	events := s.auditEvents(t)
	var got []string
	for _, a := range events[len(events)-1]["agent"].([]any) {
		m := a.(map[string]any)
		id := m["who"].(map[string]any)["identifier"].(map[string]any)
		got = append(got, fmt.Sprintf("%s|%s requestor=%v network=%v", id["system"], id["value"], m["requestor"], m["networkString"]))
	}
	want := []string{
		audit.UserSystem + "|dr.who requestor=true network=<nil>",
		audit.ClientSystem + "|chart-app requestor=false network=192.0.2.1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("agents:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
