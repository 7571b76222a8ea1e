package main

import (
	"context"
	"os/user"
	"regexp"
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
