package audit_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
)

// TestEventsAreValidR5 checks that the AuditEvents we record are valid R5
// resources, for every shape of entry.
func TestEventsAreValidR5(t *testing.T) {
	v := validate.New(spec.R5())
	now := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	entries := []audit.Entry{
		{Interaction: "read", Type: "Patient", ID: "p1", VersionID: 2, Patient: "Patient/p1", Agent: audit.Agent{Address: "10.0.0.1"}, Recorded: now},
		{Interaction: "create", Type: "Observation", Agent: audit.Agent{User: "dr.who", Client: "app-1"}, Purpose: "TREAT", Recorded: now},
		{Interaction: "search-type", Type: "Observation", Agent: audit.Agent{Client: "lab-service", Address: "10.0.0.9"}, Recorded: now},
		{Interaction: "history-system", Query: "_since=2020", Outcome: audit.MinorFailure, Detail: "bad _since", Recorded: now},
		{Interaction: "transaction", Outcome: audit.SeriousFailure, Detail: "internal error", Recorded: now},
		{Category: audit.CategoryUserAuthentication, Interaction: "login", Subject: "alice", Agent: audit.Agent{User: "alice", Address: "10.0.0.2"}, Recorded: now},
		{Category: audit.CategoryUserAuthentication, Interaction: "login-failed", Subject: "bob", Outcome: audit.MinorFailure, Detail: "wrong password", Recorded: now},
		{Category: audit.CategoryUserAuthentication, Interaction: "logout", Subject: "alice", Agent: audit.Agent{User: "alice"}, Recorded: now},
		{Category: audit.CategorySecurityAlert, Interaction: "role-changed", Subject: "carol", Agent: audit.Agent{User: "admin"}, Detail: "nurse -> physician", Recorded: now},
		{Category: audit.CategorySecurityAlert, Interaction: "password-reset", Subject: "carol", Agent: audit.Agent{User: "admin"}, Recorded: now},
		{Category: audit.CategoryUserAuthentication, Interaction: "token-issued", Subject: "dr.who", Patient: "Patient/p1", Agent: audit.Agent{User: "dr.who", Client: "app-1", Address: "10.0.0.3"}, Detail: "grant_type authorization_code", Recorded: now},
		{Category: audit.CategoryUserAuthentication, Interaction: "token-refused", Agent: audit.Agent{Address: "10.0.0.3"}, Outcome: audit.MinorFailure, Detail: "invalid_client", Recorded: now},
		{Category: audit.CategoryUserAuthentication, Interaction: "token-revoked", Agent: audit.Agent{Client: "app-1"}, Recorded: now},
		{Category: audit.CategorySecurityAlert, Interaction: "launch-created", Patient: "Patient/p1", Agent: audit.Agent{User: "dr.who", Client: "app-1"}, Recorded: now},
		{Category: audit.CategorySecurityAlert, Interaction: "client-registered", SubjectClient: "app-1", Agent: audit.Agent{User: "cli:root"}, Recorded: now},
		{Category: audit.CategoryImport, Interaction: "import", Files: []string{"a.json", "b.ndjson"}, Agent: audit.Agent{User: "cli:root"}, Detail: "2 files", Recorded: now},
		{Category: audit.CategoryExport, Interaction: "backup", Files: []string{"/backup/emr.db"}, Agent: audit.Agent{User: "cli:root"}, Detail: "2 databases", Recorded: now},
	}
	for _, e := range entries {
		ev := audit.Event(e)
		for _, is := range v.Validate(ev) {
			if is.Severity == "error" || is.Severity == "fatal" {
				t.Errorf("%s event: %s at %v\n%s", e.Interaction, is.Diagnostics, is.Expression, ev.JSON())
			}
		}
	}
}

func TestPatientOf(t *testing.T) {
	cases := []struct {
		res  string
		want string
	}{
		{`{"resourceType":"Patient","id":"p1"}`, "Patient/p1"},
		{`{"resourceType":"Observation","subject":{"reference":"Patient/p2/_history/3"}}`, "Patient/p2"},
		{`{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/p3"}}`, "Patient/p3"},
		{`{"resourceType":"Observation","subject":{"reference":"Group/g"}}`, ""},
		{`{"resourceType":"Organization","id":"o"}`, ""},
		{`{"resourceType":"Task","for":{"reference":"Patient/p5"},"focus":{"reference":"Observation/o"}}`, "Patient/p5"},
		{`{"resourceType":"Composition","subject":[{"reference":"Group/g"},{"reference":"Patient/p4"}]}`, "Patient/p4"},
	}
	for _, c := range cases {
		res, err := fhir.ParseResource([]byte(c.res))
		if err != nil {
			t.Fatal(err)
		}
		if got := audit.PatientOf(res); got != c.want {
			t.Errorf("PatientOf(%s) = %q, want %q", c.res, got, c.want)
		}
	}
}

// TestSecurityEventCodes checks the IHE BALP codes of sign-in and account
// events: DICOM category and code, the EMR's own code beside it, action E,
// and the account acted on as an entity.
func TestSecurityEventCodes(t *testing.T) {
	codes := func(cc any) []string {
		var out []string
		for _, c := range cc.(map[string]any)["coding"].([]any) {
			out = append(out, c.(map[string]any)["code"].(string))
		}
		return out
	}
	cases := []struct {
		e              audit.Entry
		category, code []string
	}{
		{audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "login"}, []string{"110114"}, []string{"110122", "login"}},
		{audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "login-failed", Outcome: audit.MinorFailure}, []string{"110114"}, []string{"110122", "login-failed"}},
		{audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "logout"}, []string{"110114"}, []string{"110123", "logout"}},
		{audit.Entry{Category: audit.CategorySecurityAlert, Interaction: "role-changed"}, []string{"110113"}, []string{"110136", "role-changed"}},
		{audit.Entry{Category: audit.CategorySecurityAlert, Interaction: "mfa-reset"}, []string{"110113"}, []string{"110137", "mfa-reset"}},
		{audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "token-issued"}, []string{"110114"}, []string{"110122", "token-issued"}},
		{audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "token-refused", Outcome: audit.MinorFailure}, []string{"110114"}, []string{"110122", "token-refused"}},
		{audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "token-revoked"}, []string{"110114"}, []string{"110123", "token-revoked"}},
		{audit.Entry{Category: audit.CategorySecurityAlert, Interaction: "client-registered"}, []string{"110113"}, []string{"110129", "client-registered"}},
		{audit.Entry{Category: audit.CategorySecurityAlert, Interaction: "launch-created"}, []string{"110113"}, []string{"launch-created"}},
	}
	for _, c := range cases {
		c.e.Subject = "alice"
		ev := audit.Event(c.e)
		gotCat := codes(ev["category"].([]any)[0])
		gotCode := codes(ev["code"])
		if fmt.Sprint(gotCat) != fmt.Sprint(c.category) || fmt.Sprint(gotCode) != fmt.Sprint(c.code) || ev["action"] != "E" {
			t.Errorf("%s: category %v code %v action %v, want %v %v E", c.e.Interaction, gotCat, gotCode, ev["action"], c.category, c.code)
		}
		what := ev["entity"].([]any)[0].(map[string]any)["what"].(map[string]any)
		if id := what["identifier"].(map[string]any); id["value"] != "alice" || id["system"] != audit.UserSystem {
			t.Errorf("%s: entity %v, want user alice", c.e.Interaction, what)
		}
	}
}

// TestAgentsOnBehalfOf checks the agents of each kind of caller, as IHE
// BALP records them: an app acting for a user gives two agents, the user
// (requestor, with the purpose of use) and the app (DICOM 110153, by client
// id, with the network address); a backend service is one requesting
// agent; a web user one agent with the address.
func TestAgentsOnBehalfOf(t *testing.T) {
	type agent struct {
		typ, who  string
		requestor bool
		network   string
		purpose   bool
	}
	read := func(ev fhir.Resource) []agent {
		var out []agent
		for _, a := range ev["agent"].([]any) {
			m := a.(map[string]any)
			who := m["who"].(map[string]any)
			id := ""
			if ident, ok := who["identifier"].(map[string]any); ok {
				id = ident["system"].(string) + "|" + ident["value"].(string)
			} else {
				id = who["display"].(string)
			}
			net, _ := m["networkString"].(string)
			_, purpose := m["authorization"]
			out = append(out, agent{
				typ: m["type"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string),
				who: id, requestor: m["requestor"].(bool), network: net, purpose: purpose,
			})
		}
		return out
	}
	cases := []struct {
		name  string
		agent audit.Agent
		want  []agent
	}{
		{"app for a user", audit.Agent{User: "dr.who", Client: "app-1", Address: "10.1.1.1"}, []agent{
			{"humanuser", audit.UserSystem + "|dr.who", true, "", true},
			{"110153", audit.ClientSystem + "|app-1", false, "10.1.1.1", false},
		}},
		{"backend service", audit.Agent{Client: "svc", Address: "10.1.1.2"}, []agent{
			{"110153", audit.ClientSystem + "|svc", true, "10.1.1.2", true},
		}},
		{"web user", audit.Agent{User: "nurse", Address: "10.1.1.3"}, []agent{
			{"humanuser", audit.UserSystem + "|nurse", true, "10.1.1.3", true},
		}},
		{"anonymous", audit.Agent{Address: "10.1.1.4"}, []agent{
			{"humanuser", "anonymous", true, "10.1.1.4", true},
		}},
	}
	for _, c := range cases {
		got := read(audit.Event(audit.Entry{Interaction: "read", Type: "Patient", ID: "p", Agent: c.agent, Purpose: "TREAT"}))
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: agents %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestEventsShareNothingMutable: events share their constant parts, but
// what one event carries of its own (the outcome's detail, the entities)
// never shows in another.
func TestEventsShareNothingMutable(t *testing.T) {
	first := audit.Event(audit.Entry{Interaction: "read", Type: "Patient", ID: "a"})
	second := audit.Event(audit.Entry{Interaction: "read", Type: "Patient", ID: "b", Outcome: audit.MinorFailure, Detail: "gone"})
	third := audit.Event(audit.Entry{Interaction: "read", Type: "Patient", ID: "c"})
	for _, ev := range []fhir.Resource{first, third} {
		if d := ev["outcome"].(map[string]any)["detail"]; d != nil {
			t.Errorf("a successful event carries another's detail %v", d)
		}
	}
	if string(first.JSON()) == string(third.JSON()) {
		t.Error("events of different resources encode alike")
	}
	if second["outcome"].(map[string]any)["detail"] == nil {
		t.Error("the failure lost its detail")
	}
}

// A read's implicit values (action R, outcome 0, category rest, code
// read) are matched but not stored; a value beside another is stored.
func TestImplicitTerms(t *testing.T) {
	read := audit.Event(audit.Entry{Interaction: "read", Type: "Patient", ID: "p1", Patient: "Patient/p1", Agent: audit.Agent{User: "u"}, Outcome: audit.Success, Observer: "emr"})
	stored := map[string]bool{}
	for _, tm := range audit.Index(read) {
		stored[tm.Name] = true
	}
	for _, name := range []string{audit.ParamAction, audit.ParamOutcome, audit.ParamCategory, audit.ParamCode} {
		if stored[name] {
			t.Errorf("a successful read stores its %s", name)
		}
	}
	if !stored[audit.ParamPatient] || !stored[audit.ParamAgent] {
		t.Errorf("a read's patient and agent are not stored: %v", audit.Index(read))
	}
	matched := audit.Terms(read)
	for _, want := range []audit.Term{{Name: "action", Value: "R"}, {Name: "outcome", Value: "http://terminology.hl7.org/CodeSystem/audit-event-outcome|0"}} {
		if !slices.Contains(matched, want) || !audit.Implicit(want) {
			t.Errorf("%v: matched %v, implicit %v", want, slices.Contains(matched, want), audit.Implicit(want))
		}
	}
	failed := audit.Event(audit.Entry{Interaction: "read", Type: "Patient", ID: "p1", Agent: audit.Agent{User: "u"}, Outcome: audit.MinorFailure, Observer: "emr"})
	if !slices.ContainsFunc(audit.Index(failed), func(tm audit.Term) bool { return tm.Name == audit.ParamOutcome }) {
		t.Errorf("a failure's outcome is not stored")
	}
	both := []audit.Term{{Name: "category", Value: "rest"}, {Name: "category", Value: "110114"}}
	ev := fhir.Resource{"resourceType": "AuditEvent", "category": []any{
		map[string]any{"coding": []any{map[string]any{"code": "rest"}}}, map[string]any{"coding": []any{map[string]any{"code": "110114"}}}}}
	if got := audit.Index(ev); !slices.Contains(got, both[0]) || !slices.Contains(got, both[1]) {
		t.Errorf("rest beside another category: stored %v", got)
	}
}
