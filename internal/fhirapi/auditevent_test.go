package fhirapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
)

// auditEntries is the AuditEvents of a searchset, in order.
func auditEntries(t *testing.T, r result) []fhir.Resource {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out []fhir.Resource
	entries, _ := r.resource(t)["entry"].([]any)
	for _, e := range entries {
		res := fhir.Resource(e.(map[string]any)["resource"].(map[string]any))
		if res.Type() != "AuditEvent" {
			t.Fatalf("entry %s in an audit searchset", res.Type())
		}
		out = append(out, res)
	}
	return out
}

func auditPatient(ev fhir.Resource) string {
	p, _ := ev["patient"].(map[string]any)
	s, _ := p["reference"].(string)
	return s
}

func auditOutcome(ev fhir.Resource) string {
	return ev["outcome"].(map[string]any)["code"].(map[string]any)["code"].(string)
}

func auditAgent(ev fhir.Resource) string {
	return ev["agent"].([]any)[0].(map[string]any)["who"].(map[string]any)["display"].(string)
}

func auditCode(ev fhir.Resource) string {
	return ev["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
}

func newAuditServer(t *testing.T) *testServer {
	s := newAccessServer(t, nil, map[string]*access.Principal{
		"admin":   {User: "admin", Role: "admin"},
		"auditor": {User: "audrey", Role: "auditor"},
		"doc":     {User: "phil", Role: "physician", FHIRUser: "Practitioner/dr1"},
		"pat1":    {User: "pat1", Role: "patient", Patient: "p1", FHIRUser: "Patient/p1"},
		"pat2":    {User: "pat2", Role: "patient", Patient: "p2", FHIRUser: "Patient/p2"},
	})
	seedTwoPatients(t, s)
	for _, path := range []string{"/fhir/Patient/p1", "/fhir/Observation/o1", "/fhir/Observation?subject=Patient/p2", "/fhir/Observation/nope"} {
		s.do("GET", path, "", "X-Test-Caller: admin")
	}
	s.do("GET", "/fhir/Observation/o1", "", "X-Test-Caller: doc")
	return s
}

// TestAuditEventSearch searches the log as the auditor, by each
// parameter, and checks who else may.
func TestAuditEventSearch(t *testing.T) {
	s := newAuditServer(t)
	get := func(caller, path string) result { return s.do("GET", path, "", "X-Test-Caller: "+caller) }
	today := time.Now().UTC().Format("2006-01-02")

	for _, tc := range []struct {
		query string
		match func(fhir.Resource) bool
	}{
		{"patient=p1", func(ev fhir.Resource) bool { return auditPatient(ev) == "Patient/p1" }},
		{"patient=Patient/p2", func(ev fhir.Resource) bool { return auditPatient(ev) == "Patient/p2" }},
		{"patient=http://emr.test/fhir/Patient/p2", func(ev fhir.Resource) bool { return auditPatient(ev) == "Patient/p2" }},
		{"agent=phil", func(ev fhir.Resource) bool { return auditAgent(ev) == "phil" }},
		{"agent-name=PHIL", func(ev fhir.Resource) bool { return auditAgent(ev) == "phil" }},
		{"action=R", func(ev fhir.Resource) bool { return ev["action"] == "R" }},
		{"action=C,U", func(ev fhir.Resource) bool { return ev["action"] == "C" || ev["action"] == "U" }},
		{"outcome=4", func(ev fhir.Resource) bool { return auditOutcome(ev) == "4" }},
		{"outcome=http://terminology.hl7.org/CodeSystem/audit-event-outcome|0", func(ev fhir.Resource) bool { return auditOutcome(ev) == "0" }},
		{"entity=Observation/o1", func(ev fhir.Resource) bool { return strings.Contains(string(ev.JSON()), `"Observation/o1`) }},
		{"code=read", func(ev fhir.Resource) bool { return auditCode(ev) == "read" }},
		{"category=rest", func(ev fhir.Resource) bool { return true }},
		{"type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest", func(ev fhir.Resource) bool { return true }},
		{"date=" + today, func(ev fhir.Resource) bool { return true }},
		{"date=lt" + today, func(ev fhir.Resource) bool { return false }},
		{"date=ge2000-01-01&date=le" + today + "T23:59:59Z", func(ev fhir.Resource) bool { return true }},
		{"patient=p1&action=R&agent=admin&outcome=0", func(ev fhir.Resource) bool {
			return auditPatient(ev) == "Patient/p1" && ev["action"] == "R" && auditAgent(ev) == "admin" && auditOutcome(ev) == "0"
		}},
	} {
		// The log as it is now (the searches before are in it).
		var want []string
		for _, ev := range s.auditEvents(t) {
			if tc.match(ev) {
				want = append([]string{ev.ID()}, want...) // newest first
			}
		}
		var got []string
		r := get("auditor", "/fhir/AuditEvent?_total=accurate&"+tc.query)
		for _, ev := range auditEntries(t, r) {
			got = append(got, ev.ID())
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: got %v, want %v", tc.query, got, want)
		}
		if total := r.resource(t)["total"]; fmt.Sprint(total) != fmt.Sprint(len(want)) {
			t.Errorf("%s: total %v, want %d", tc.query, total, len(want))
		}
	}

	// Paging: _count=2 newest first, following next links; the records of
	// the searches themselves join the log meanwhile, pages stay put.
	all := s.auditEvents(t)
	var ids []string
	var pages []string
	path := "/fhir/AuditEvent?action=R&_count=1&_sort=-date"
	for path != "" {
		pages = append(pages, path)
		r := get("auditor", path)
		for _, ev := range auditEntries(t, r) {
			ids = append(ids, ev.ID())
		}
		path = ""
		for _, l := range r.resource(t)["link"].([]any) {
			if l := l.(map[string]any); l["relation"] == "next" {
				u, _ := url.Parse(l["url"].(string))
				path = u.Path + "?" + u.RawQuery
			}
		}
	}
	if len(pages) < 3 {
		t.Fatalf("only %d pages: %v %v", len(pages), pages, ids)
	}
	var wantR []string
	for _, ev := range all {
		if ev["action"] == "R" {
			wantR = append([]string{ev.ID()}, wantR...)
		}
	}
	if strings.Join(ids, " ") != strings.Join(wantR, " ") {
		t.Errorf("paged: %v, want %v", ids, wantR)
	}

	// _summary=count, and a record by id exactly as stored.
	r := get("auditor", "/fhir/AuditEvent?_summary=count&patient=p1")
	if b := r.resource(t); b["entry"] != nil || b["total"] == nil {
		t.Errorf("_summary=count: %s", r.body)
	}
	r = get("auditor", "/fhir/AuditEvent/"+all[0].ID())
	if r.status != http.StatusOK || string(r.resource(t).JSON()) != string(all[0].JSON()) {
		t.Errorf("read: %d %s", r.status, r.body)
	}
	if r := get("auditor", "/fhir/AuditEvent/nope"); r.status != http.StatusNotFound {
		t.Errorf("read of a missing record: %d", r.status)
	}
	// Patient/[id]/AuditEvent is the search for that patient.
	a, b := auditEntries(t, get("auditor", "/fhir/Patient/p1/AuditEvent")), auditEntries(t, get("auditor", "/fhir/AuditEvent?patient=p1"))
	if len(a) == 0 || len(a) != len(b) {
		t.Errorf("compartment %d records, search %d", len(a), len(b))
	}

	// Bad parameters.
	for _, q := range []string{"foo=1", "date=ap2020", "_sort=agent", "patient:missing=true", "_count=x"} {
		if r := get("auditor", "/fhir/AuditEvent?"+q); r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, r.status)
		}
	}
	// Only a role admitting every AuditEvent: the auditor, and the admin
	// (roles.json gives it every type).
	for caller, want := range map[string]int{"doc": 403, "pat1": 403, "admin": 200, "": 401} {
		if r := get(caller, "/fhir/AuditEvent?patient=p1"); r.status != want {
			t.Errorf("%q: status %d, want %d", caller, r.status, want)
		}
	}
}

// TestAuditEventSearchIsAudited checks that an audit search leaves one
// record naming who searched for what, and nothing more.
func TestAuditEventSearchIsAudited(t *testing.T) {
	s := newAuditServer(t)
	before := len(s.auditEvents(t))
	r := s.do("GET", "/fhir/AuditEvent?patient=p1", "", "X-Test-Caller: auditor")
	n := len(auditEntries(t, r))
	after := s.auditEvents(t)
	if len(after) != before+1 {
		t.Fatalf("%d records after a search of %d results, want %d", len(after), n, before+1)
	}
	last := after[len(after)-1]
	if auditCode(last) != "search-type" || auditAgent(last) != "audrey" || !strings.Contains(string(last.JSON()), `"display":"AuditEvent"`) {
		t.Errorf("the search's record: %s", last.JSON())
	}
	s.do("GET", "/fhir/AuditEvent?patient=p1", "", "X-Test-Caller: doc")
	after = s.auditEvents(t)
	if last := after[len(after)-1]; !strings.Contains(string(last.JSON()), "denied") {
		t.Errorf("the refused search's record: %s", last.JSON())
	}
}

// TestAuditEventNotWritable checks that no client writes the log.
func TestAuditEventNotWritable(t *testing.T) {
	s := newAuditServer(t)
	ev := `{"resourceType":"AuditEvent","id":"x","code":{"text":"forged"},"action":"R","recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"display":"x"}}],"source":{"observer":{"display":"x"}}}`
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/fhir/AuditEvent", ev},
		{"PUT", "/fhir/AuditEvent/x", ev},
		{"DELETE", "/fhir/AuditEvent/x", ""},
		{"PATCH", "/fhir/AuditEvent/x", `[]`},
	} {
		if r := s.do(tc.method, tc.path, tc.body, "X-Test-Caller: admin"); r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 405: %s", tc.method, tc.path, r.status, r.body)
		}
	}
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + ev + `,"request":{"method":"POST","url":"AuditEvent"}}]}`
	if r := s.do("POST", "/fhir", tx, "X-Test-Caller: admin"); r.status != http.StatusBadRequest {
		t.Errorf("transaction: status %d, want 400: %s", r.status, r.body)
	}
	batch := strings.Replace(tx, `"transaction"`, `"batch"`, 1)
	if r := s.do("POST", "/fhir", batch, "X-Test-Caller: admin"); r.status != http.StatusBadRequest {
		t.Errorf("batch: %d %s", r.status, r.body)
	}
	for _, ev := range s.auditEvents(t) {
		if strings.Contains(string(ev.JSON()), "forged") {
			t.Errorf("a client's AuditEvent reached the log: %s", ev.JSON())
		}
	}
}

// TestAccessReport checks Patient/[id]/$access-report: the patient's own
// and the auditor's, nobody else's.
func TestAccessReport(t *testing.T) {
	s := newAuditServer(t)
	get := func(caller, path string) result { return s.do("GET", path, "", "X-Test-Caller: "+caller) }
	r := get("pat1", "/fhir/Patient/p1/$access-report")
	evs := auditEntries(t, r)
	if len(evs) == 0 {
		t.Fatal("empty report")
	}
	var agents []string
	for i, ev := range evs {
		if auditPatient(ev) != "Patient/p1" {
			t.Errorf("a record about %s in p1's report", auditPatient(ev))
		}
		if i > 0 && ev["recorded"].(string) > evs[i-1]["recorded"].(string) {
			t.Errorf("not newest first")
		}
		agents = append(agents, auditAgent(ev))
	}
	if got := strings.Join(agents, " "); !strings.Contains(got, "phil") || !strings.Contains(got, "admin") {
		t.Errorf("report agents %s, want phil and admin", got)
	}
	for _, tc := range []struct {
		caller, path string
		want         int
	}{
		{"pat1", "/fhir/Patient/p2/$access-report", 404},
		{"pat2", "/fhir/Patient/p1/$access-report", 404},
		{"doc", "/fhir/Patient/p1/$access-report", 404},
		{"admin", "/fhir/Patient/p1/$access-report", 200},
		{"auditor", "/fhir/Patient/p1/$access-report", 200},
		{"auditor", "/fhir/Patient/nobody/$access-report", 404},
		{"pat1", "/fhir/Patient/p1/$access-report?patient=p2", 400},
		{"pat1", "/fhir/Patient/p1/$access-report?_count=1&action=R", 200},
	} {
		if r := get(tc.caller, tc.path); r.status != tc.want {
			t.Errorf("%s %s: status %d, want %d: %s", tc.caller, tc.path, r.status, tc.want, r.body)
		}
	}
	// The auditor's look at the report is in the patient's next report.
	evs = auditEntries(t, get("pat1", "/fhir/Patient/p1/$access-report?_count=3"))
	found := false
	for _, ev := range evs {
		found = found || auditAgent(ev) == "audrey" && auditCode(ev) == "operation"
	}
	if !found {
		t.Errorf("the auditor's view of the report is not reported")
	}
	// Paging: _count=1 gives a next link that continues.
	r = get("pat1", "/fhir/Patient/p1/$access-report?_count=1")
	if !strings.Contains(string(r.body), `"next"`) || !strings.Contains(string(r.body), "$access-report?_count=1&_cursor=") {
		t.Errorf("no next link: %s", r.body)
	}
}
