package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/clinical/critical"
)

// TestServeEscalation: emr serve marks a critical result's review
// overdue once nobody has acknowledged it within
// --critical-escalate-after, and passes it to --critical-escalate-to,
// which must name someone in the database who can act.
func TestServeEscalation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	if status, _, _ := call(t, "PUT", s.base+"/CareTeam/oncall", fhirJSON, `{"resourceType":"CareTeam","id":"oncall","status":"active","name":"Medicine on call"}`); status != http.StatusCreated {
		t.Fatalf("PUT CareTeam: %d", status)
	}
	if status, _, _ := call(t, "PUT", s.base+"/Patient/p1", fhirJSON, `{"resourceType":"Patient","id":"p1","name":[{"family":"One"}]}`); status != http.StatusCreated {
		t.Fatalf("PUT Patient: %d", status)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()

	for _, c := range []struct{ to, want string }{
		{"Patient/p1", "overdue reviews go to a Practitioner"},
		{"CareTeam/nobody", "CareTeam/nobody"},
		{"on-call", "not a reference"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--critical-escalate-to", c.to}, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("--critical-escalate-to %s: exit %d, %q", c.to, code, errOut.String())
		}
	}

	s = startServer(t, dir, "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --critical-escalate-after 1s --critical-escalate-to CareTeam/oncall")
	status, _, obs := call(t, "POST", s.base+"/Observation", fhirJSON, `{"resourceType":"Observation","status":"final",
	  "code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]},"subject":{"reference":"Patient/p1"},
	  "valueQuantity":{"value":6.9,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},
	  "interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"HH"}]}]}`)
	if status != http.StatusCreated {
		t.Fatalf("POST Observation: %d %v", status, obs)
	}
	query := s.base + "/Task?focus=Observation/" + obs["id"].(string) + "&business-status=" + critical.BusinessStatusSystem + "|" + critical.OverdueCode
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, _, bundle := call(t, "GET", query, "", "")
		if entries, _ := bundle["entry"].([]any); len(entries) == 1 {
			task := entries[0].(map[string]any)["resource"].(map[string]any)
			if rp := task["requestedPerformer"].([]any)[0].(map[string]any)["reference"].(map[string]any); rp["reference"] != "CareTeam/oncall" || rp["display"] != "Medicine on call" {
				t.Errorf("passed to %v", rp)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the review was not escalated; stderr:\n%s", s.out.String())
		}
	}
	// The log line follows the commit the search found; the buffer is
	// read once the process is gone.
	time.Sleep(time.Second)
	s.cmd.Process.Kill()
	s.cmd.Wait()
	if !strings.Contains(s.out.String(), "not acknowledged in time") || !strings.Contains(s.out.String(), "CareTeam/oncall") {
		t.Errorf("the server did not log the escalation:\n%s", s.out.String())
	}
}
