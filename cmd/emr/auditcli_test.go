package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// auditEvents reads back the audit log of the SQLite database in dataDir.
func auditEvents(t *testing.T, dataDir string) []fhir.Resource {
	t.Helper()
	return auditEventsOf(t, config{dataDir: dataDir})
}

// auditEventsOf reads back the audit log of the database cfg names.
func auditEventsOf(t *testing.T, cfg config) []fhir.Resource {
	t.Helper()
	st, _, err := openStore(context.Background(), cfg, spec.R5())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []fhir.Resource
	if err := st.ScanAudit(context.Background(), 0, func(_ int64, ev fhir.Resource) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// emrCode is an event's EMR interaction code (security and import events).
func emrCode(ev fhir.Resource) string {
	for _, c := range ev["code"].(map[string]any)["coding"].([]any) {
		if c := c.(map[string]any); c["system"] == audit.InteractionSystem {
			return c["code"].(string)
		}
	}
	return ""
}

// identifiers returns the identifier values of system among the event's
// agents (where "agent") or entities.
func identifiers(ev fhir.Resource, where, system string) []string {
	var out []string
	list, _ := ev[where].([]any)
	for _, a := range list {
		key := "who"
		if where == "entity" {
			key = "what"
		}
		ref, _ := a.(map[string]any)[key].(map[string]any)
		if id, ok := ref["identifier"].(map[string]any); ok && id["system"] == system {
			out = append(out, id["value"].(string))
		}
	}
	return out
}

func cliActor(t *testing.T) string {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		t.Skip("no OS user name")
	}
	return "cli:" + u.Username
}

// TestClientCommandAudited: emr client add and remove each leave an
// AuditEvent naming the operator (cli: and the OS user) and the client.
func TestClientCommandAudited(t *testing.T) {
	data := t.TempDir()
	code, stdout, stderr := emrProcess(t, "client", "add", "Feed", "--type", "secret", "--scope", "system/Observation.rs", "--role", "service", "--data", data)
	m := regexp.MustCompile(`client_id: (\S+)`).FindStringSubmatch(stdout)
	if code != 0 || m == nil {
		t.Fatalf("add: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := emrProcess(t, "client", "remove", m[1], "--data", data); code != 0 {
		t.Fatalf("remove: exit %d\n%s%s", code, stdout, stderr)
	}
	actor := cliActor(t)
	var got []string
	for _, ev := range auditEvents(t, data) {
		users := identifiers(ev, "agent", audit.UserSystem)
		clients := identifiers(ev, "entity", audit.ClientSystem)
		if len(users) != 1 || users[0] != actor || len(clients) != 1 || clients[0] != m[1] {
			t.Errorf("%s: agents %v, clients %v; want %s acting on %s", emrCode(ev), users, clients, actor, m[1])
		}
		got = append(got, emrCode(ev))
	}
	if len(got) != 2 || got[0] != "client-registered" || got[1] != "client-removed" {
		t.Errorf("audit log %v, want client-registered, client-removed", got)
	}
}

// TestImportAudited: emr import records, in each write transaction, one
// AuditEvent per patient whose record it stored (and one for reference
// data), and one event for the run with its paths, counts and outcome,
// all naming the operator.
func TestImportAudited(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	in := filepath.Join(dir, "in.ndjson")
	os.WriteFile(in, []byte(`{"resourceType":"Patient","id":"p1","gender":"female"}
{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/p1"}}
{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"height"},"subject":{"reference":"Patient/p1"}}
{"resourceType":"Patient","id":"p2","gender":"male"}
{"resourceType":"Organization","id":"org1","name":"Clinic"}
{"resourceType":"Patient","id":"p3","gender":"sometimes"}
`), 0o600)
	if code, stdout, stderr := emrProcess(t, "import", "--data", data, in); code != 1 {
		t.Fatalf("import with a bad line: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	actor := cliActor(t)
	type line struct{ patient, outcome, detail string }
	var got []line
	for _, ev := range auditEvents(t, data) {
		if emrCode(ev) != "import" || ev["action"] != "C" {
			t.Errorf("event %s action %v, want import C", emrCode(ev), ev["action"])
		}
		if users := identifiers(ev, "agent", audit.UserSystem); len(users) != 1 || users[0] != actor {
			t.Errorf("agents %v, want %s", users, actor)
		}
		var l line
		if p, ok := ev["patient"].(map[string]any); ok {
			l.patient = p["reference"].(string)
		}
		outcome := ev["outcome"].(map[string]any)
		l.outcome = outcome["code"].(map[string]any)["code"].(string)
		l.detail = outcome["detail"].([]any)[0].(map[string]any)["text"].(string)
		got = append(got, l)
		if l.patient == "" && strings.HasPrefix(l.detail, "1 files") {
			ents, _ := ev["entity"].([]any)
			if len(ents) != 1 || ents[0].(map[string]any)["what"].(map[string]any)["display"] != "file "+in {
				t.Errorf("run event entities %v, want the file", ents)
			}
		}
	}
	want := []line{
		{"Patient/p1", "0", "stored Observation 2, Patient 1"},
		{"Patient/p2", "0", "stored Patient 1"},
		{"", "0", "stored Organization 1"},
		{"", "4", "1 files: read 6, created 5, updated 0, unchanged 0, failed 1; 1 problems"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit log:\n%v\nwant:\n%v", got, want)
	}

	// Again: nothing changes, so only the run is recorded.
	if code, _, _ := emrProcess(t, "import", "--data", data, in); code != 1 {
		t.Fatalf("second import: exit %d", code)
	}
	events := auditEvents(t, data)
	if n := len(events) - len(want); n != 1 {
		t.Errorf("second import recorded %d events, want only the run's", n)
	}
}
