package fhirapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/emr-project/emr/internal/store"
)

// newExportServer is the API under the role policy with the Bulk Data
// export on, its jobs run in the background for the test's length.
func newExportServer(t testing.TB, callers map[string]*access.Principal, fileResources int) *testServer {
	t.Helper()
	dir := t.TempDir()
	roles, err := access.LoadRoles(spec.R5(), []byte(`{"roles":[{"name":"ward-nurse","patients":"care",
		"permissions":[{"types":["@demographics","@clinical","@directory"],"perms":"rs"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := newAccessServer(t, roles, callers, func(o *fhirapi.Options) {
		o.Bulk = &fhirapi.BulkExport{Dir: dir, FileResources: fileResources, PerRequester: 3, Settle: time.Millisecond}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.api.RunBulkExports(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// exported is a finished export as a client sees it.
type exported struct {
	manifest map[string]any
	status   string // the poll URL, below the server
	files    map[string][]fhir.Resource
	ids      []string // "Type/id" of every resource of every output file, sorted
}

// kickoff starts an export and returns the answer.
func (s *testServer) kickoff(caller, method, path, body string, headers ...string) result {
	s.t.Helper()
	h := append([]string{"X-Test-Caller: " + caller, "Accept: application/fhir+json", "Prefer: respond-async"}, headers...)
	return s.do(method, path, body, h...)
}

// export kicks off an export, polls it to its end and downloads its files.
func (s *testServer) export(caller, method, path, body string, headers ...string) exported {
	s.t.Helper()
	r := s.kickoff(caller, method, path, body, headers...)
	if r.status != http.StatusAccepted {
		s.t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
	}
	loc := r.header.Get("Content-Location")
	status := strings.TrimPrefix(loc, "http://emr.test")
	if status == loc {
		s.t.Fatalf("Content-Location %q is not under the base", loc)
	}
	var poll result
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		poll = s.do("GET", status, "", "X-Test-Caller: "+caller)
		if poll.status != http.StatusAccepted {
			break
		}
		if poll.header.Get("X-Progress") == "" || poll.header.Get("Retry-After") == "" {
			s.t.Errorf("202 without X-Progress or Retry-After: %v", poll.header)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("export %s still running", status)
		}
	}
	if poll.status != http.StatusOK || !strings.HasPrefix(poll.header.Get("Content-Type"), "application/json") || poll.header.Get("Expires") == "" {
		s.t.Fatalf("poll: %d %v %s", poll.status, poll.header, poll.body)
	}
	out := exported{status: status, files: map[string][]fhir.Resource{}}
	if err := json.Unmarshal(poll.body, &out.manifest); err != nil {
		s.t.Fatal(err)
	}
	for _, list := range []string{"output", "error"} {
		files, _ := out.manifest[list].([]any)
		for _, f := range files {
			file := f.(map[string]any)
			u := strings.TrimPrefix(file["url"].(string), "http://emr.test")
			got := s.do("GET", u, "", "X-Test-Caller: "+caller, "Accept: application/fhir+ndjson")
			if got.status != http.StatusOK || got.header.Get("Content-Type") != "application/fhir+ndjson" {
				s.t.Fatalf("download %s: %d %v %s", u, got.status, got.header, got.body)
			}
			sc := bufio.NewScanner(bytes.NewReader(got.body))
			sc.Buffer(nil, 1<<24)
			n := 0
			for sc.Scan() {
				res, err := fhir.ParseResource(sc.Bytes())
				if err != nil {
					s.t.Fatalf("%s line %d: %v", u, n+1, err)
				}
				if res.Type() != file["type"] {
					s.t.Errorf("%s holds a %s", u, res.Type())
				}
				n++
				out.files[list] = append(out.files[list], res)
				if list == "output" {
					out.ids = append(out.ids, res.Type()+"/"+res.ID())
				}
			}
			if float64(n) != file["count"] {
				s.t.Errorf("%s: %d lines, count %v", u, n, file["count"])
			}
		}
	}
	slices.Sort(out.ids)
	return out
}

func exportCallers() map[string]*access.Principal {
	return map[string]*access.Principal{
		"admin":   {User: "admin", Role: "admin"},
		"dr1":     {User: "dr1", Role: "physician", FHIRUser: "Practitioner/dr1"},
		"nurse":   {User: "nina", Role: "ward-nurse", FHIRUser: "Practitioner/dr1"},
		"billing": {User: "bill", Role: "billing"},
		// pat1 again, through the same client, with a narrower token.
		"pat1-narrow": {User: "pat1", Role: "patient", Patient: "p1", FHIRUser: "Patient/p1", Grants: []access.Grant{{Context: "patient", Type: "Patient", Perms: "rs"}}},
		"pat1":        {User: "pat1", Role: "patient", Patient: "p1", FHIRUser: "Patient/p1"},
		"service":     {Client: "registry", Role: "admin", Grants: []access.Grant{{Context: "system", Type: "Observation", Perms: "rs"}, {Context: "system", Type: "Patient", Perms: "rs"}}},
		// The same service with its scopes asked in another order.
		"service-again": {Client: "registry", Role: "admin", Grants: []access.Grant{{Context: "system", Type: "Patient", Perms: "rs"}, {Context: "system", Type: "Observation", Perms: "rs"}}},
	}
}

// TestBulkExport exports at each level and checks that each requester
// gets what it may see, no more, in files that say what they hold.
func TestBulkExport(t *testing.T) {
	s := newExportServer(t, exportCallers(), 2)
	seedTwoPatients(t, s)
	for _, r := range []string{
		`{"resourceType":"Encounter","id":"e1","status":"completed","subject":{"reference":"Patient/p1"},
			"class":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}]}]}`,
		`{"resourceType":"Group","id":"g1","type":"person","membership":"enumerated",
			"member":[{"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"Patient/p2"},"inactive":true}]}`,
	} {
		res, _ := fhir.ParseResource([]byte(r))
		if got := s.do("PUT", "/fhir/"+res.Type()+"/"+res.ID(), r, "X-Test-Caller: admin"); got.status != http.StatusCreated {
			t.Fatalf("seed %s: %d %s", res.ID(), got.status, got.body)
		}
	}
	all := "Encounter/e1 Encounter/e2 Observation/o1 Observation/o2 Observation/o2v Patient/p1 Patient/p2"
	for _, tc := range []struct {
		name, caller, method, path, body, want string
	}{
		{"system", "admin", "GET", "/fhir/$export?_type=Patient,Observation,Encounter", "", all},
		{"system, every type", "admin", "GET", "/fhir/$export", "", "Encounter/e1 Encounter/e2 Group/g1 Observation/o1 Observation/o2 Observation/o2v Patient/p1 Patient/p2 Practitioner/dr1"},
		{"patient level", "admin", "GET", "/fhir/Patient/$export?_type=Patient,Observation,Encounter", "", all},
		{"patient level, a nurse's patients only", "nurse", "GET", "/fhir/Patient/$export", "", "Encounter/e1 Group/g1 Observation/o1 Patient/p1"},
		{"system, a patient's own record only", "pat1", "GET", "/fhir/$export?_type=Patient,Observation", "", "Observation/o1 Patient/p1"},
		{"system, a service's scopes", "service", "GET", "/fhir/$export", "", "Observation/o1 Observation/o2 Observation/o2v Patient/p1 Patient/p2"},
		{"group: its active members", "admin", "GET", "/fhir/Group/g1/$export", "", "Encounter/e1 Group/g1 Observation/o1 Patient/p1"},
		{"_typeFilter", "admin", "GET", "/fhir/$export?_type=Observation&_typeFilter=" + url.QueryEscape("Observation?category=vital-signs"), "", "Observation/o2v"},
		{"_typeFilters are ORed", "admin", "GET", "/fhir/$export?_type=Observation&_typeFilter=" + url.QueryEscape("Observation?category=vital-signs") +
			"&_typeFilter=" + url.QueryEscape("Observation?_id=o1"), "", "Observation/o1 Observation/o2v"},
		{"_since after everything", "admin", "GET", "/fhir/$export?_since=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), "", ""},
		{"_since before everything", "admin", "GET", "/fhir/$export?_type=Patient&_since=2000-01-01T00:00:00Z", "", "Patient/p1 Patient/p2"},
		{"what the compartment refers to, by _type", "admin", "GET", "/fhir/Patient/$export?_type=Patient,Practitioner", "", "Patient/p1 Patient/p2 Practitioner/dr1"},
		{"POST, patient parameter", "admin", "POST", "/fhir/Patient/$export", `{"resourceType":"Parameters","parameter":[
			{"name":"_type","valueString":"Patient,Observation"},{"name":"patient","valueReference":{"reference":"Patient/p2"}}]}`,
			"Observation/o2 Observation/o2v Patient/p2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.export(tc.caller, tc.method, tc.path, tc.body)
			if ids := strings.Join(got.ids, " "); ids != tc.want {
				t.Errorf("exported %q\nwant     %q", ids, tc.want)
			}
			m := got.manifest
			if m["requiresAccessToken"] != true || m["request"] != "http://emr.test"+strings.SplitN(tc.path, "?", 2)[0]+queryOf(tc.path) {
				t.Errorf("manifest: %v", m)
			}
			if _, err := time.Parse(time.RFC3339, m["transactionTime"].(string)); err != nil {
				t.Errorf("transactionTime: %v", err)
			}
			for _, f := range m["output"].([]any) {
				if c := f.(map[string]any)["count"].(float64); c < 1 || c > 2 {
					t.Errorf("a file of %v resources; each holds one or two", c)
				}
			}
		})
	}

	t.Run("R4", func(t *testing.T) {
		got := s.export("admin", "GET", "/fhir/R4/$export?_type=Encounter", "")
		if strings.Join(got.ids, " ") != "Encounter/e1 Encounter/e2" {
			t.Fatalf("exported %v", got.ids)
		}
		for _, res := range got.files["output"] {
			if res.ID() == "e1" {
				// R4's Encounter.class is one Coding, R5's a list of concepts.
				if class, ok := res["class"].(map[string]any); !ok || class["code"] != "AMB" {
					t.Errorf("R4 Encounter.class: %v", res["class"])
				}
				if _, _, err := r4.ToR5(res); err != nil {
					t.Errorf("not R4: %v", err)
				}
			}
		}
		if !strings.Contains(got.manifest["output"].([]any)[0].(map[string]any)["url"].(string), "/fhir/R4/$export-file?") {
			t.Errorf("R4 file URL: %v", got.manifest["output"])
		}
	})

	t.Run("_elements", func(t *testing.T) {
		got := s.export("admin", "GET", "/fhir/$export?_type=Patient&_elements=id", "")
		for _, res := range got.files["output"] {
			if res["name"] != nil {
				t.Errorf("_elements=id kept the name: %v", res)
			}
			if !strings.Contains(string(res.JSON()), "SUBSETTED") {
				t.Errorf("a subset without SUBSETTED: %s", res.JSON())
			}
		}
	})

	t.Run("masked elements stay masked, and cannot be filtered on", func(t *testing.T) {
		c := `{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"x"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
			"note":[{"text":"NOTE-SECRET"}],"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">NOTE-SECRET</div>"}}`
		if r := s.do("PUT", "/fhir/Condition/c1", c, "X-Test-Caller: admin"); r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		got := s.export("billing", "GET", "/fhir/$export?_type=Condition", "")
		if len(got.files["output"]) != 1 || strings.Contains(string(got.files["output"][0].JSON()), "NOTE-SECRET") {
			t.Errorf("billing's export: %v", got.files["output"])
		}
		for _, filter := range []string{"Condition?_content=NOTE-SECRET", "Condition?_text=NOTE-SECRET"} {
			r := s.kickoff("billing", "GET", "/fhir/$export?_type=Condition&_typeFilter="+url.QueryEscape(filter), "")
			if r.status != http.StatusForbidden {
				t.Errorf("billing filters on %s: %d %s", filter, r.status, r.body)
			}
		}
	})

	t.Run("the same scopes in another order are the same requester", func(t *testing.T) {
		got := s.export("service", "GET", "/fhir/$export?_type=Patient", "")
		if r := s.do("GET", got.status, "", "X-Test-Caller: service-again"); r.status != http.StatusOK {
			t.Errorf("poll with the scopes reordered: %d %s", r.status, r.body)
		}
	})

	t.Run("the same user with other rights is someone else", func(t *testing.T) {
		got := s.export("pat1", "GET", "/fhir/$export?_type=Patient,Observation", "")
		file := strings.TrimPrefix(got.manifest["output"].([]any)[0].(map[string]any)["url"].(string), "http://emr.test")
		for _, path := range []string{got.status, file} {
			if r := s.do("GET", path, "", "X-Test-Caller: pat1-narrow"); r.status != http.StatusNotFound {
				t.Errorf("pat1 with a narrower token GET %s: %d", path, r.status)
			}
		}
	})

	t.Run("only the requester polls, downloads and cancels", func(t *testing.T) {
		got := s.export("admin", "GET", "/fhir/$export?_type=Patient", "")
		file := strings.TrimPrefix(got.manifest["output"].([]any)[0].(map[string]any)["url"].(string), "http://emr.test")
		for _, path := range []string{got.status, file} {
			if r := s.do("GET", path, "", "X-Test-Caller: dr1"); r.status != http.StatusNotFound {
				t.Errorf("dr1 GET %s: %d", path, r.status)
			}
			if r := s.do("GET", path, ""); r.status != http.StatusNotFound {
				t.Errorf("no caller GET %s: %d", path, r.status)
			}
		}
		if r := s.do("DELETE", got.status, "", "X-Test-Caller: dr1"); r.status != http.StatusNotFound {
			t.Errorf("dr1 DELETE: %d", r.status)
		}
		if r := s.do("DELETE", got.status, "", "X-Test-Caller: admin"); r.status != http.StatusAccepted {
			t.Errorf("DELETE: %d %s", r.status, r.body)
		}
		for _, path := range []string{got.status, file} {
			if r := s.do("GET", path, "", "X-Test-Caller: admin"); r.status != http.StatusNotFound {
				t.Errorf("after DELETE, GET %s: %d", path, r.status)
			}
		}
		if r := s.do("GET", got.status+"x", "", "X-Test-Caller: admin"); r.status != http.StatusNotFound {
			t.Errorf("unknown job: %d", r.status)
		}
		if r := s.do("GET", strings.Replace(file, "name=", "name=../", 1), "", "X-Test-Caller: admin"); r.status != http.StatusNotFound {
			t.Errorf("a name outside the manifest: %d", r.status)
		}
	})

	t.Run("every read and download is audited", func(t *testing.T) {
		got := s.export("admin", "GET", "/fhir/$export?_type=Observation", "")
		job := strings.SplitN(got.status, "_jobId=", 2)[1]
		var pages, downloads int
		patients := map[string]bool{}
		q := store.AuditQuery{Count: 1000}
		for {
			page, err := s.store.(store.AuditSearcher).SearchAudit(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Records {
				var ev map[string]any
				_ = json.Unmarshal(e.Event, &ev)
				if !strings.Contains(entityQueries(ev), job) {
					continue
				}
				if body := string(e.Event); strings.Contains(body, "bulk-export-download") && strings.Contains(body, "110106") {
					downloads++
					continue
				}
				pages++
				if p, ok := ev["patient"].(map[string]any); ok {
					patients[p["reference"].(string)] = true
				}
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
		if downloads != len(got.manifest["output"].([]any)) || pages < 2 || !patients["Patient/p1"] || !patients["Patient/p2"] {
			t.Errorf("%d download events for %d files; page events %d for patients %v", downloads, len(got.manifest["output"].([]any)), pages, patients)
		}
	})
}

func queryOf(path string) string {
	if _, q, ok := strings.Cut(path, "?"); ok {
		return "?" + q
	}
	return ""
}

// TestBulkExportRefused checks the kick-off's answers to what it cannot do.
func TestBulkExportRefused(t *testing.T) {
	s := newExportServer(t, exportCallers(), 0)
	seedTwoPatients(t, s)
	for _, tc := range []struct {
		name, caller, path string
		headers            []string
		status             int
		says               string
	}{
		{"no Prefer: respond-async", "admin", "/fhir/$export", []string{"Prefer: return=minimal"}, 400, "respond-async"},
		{"no caller", "", "/fhir/$export", nil, 401, ""},
		{"unknown type", "admin", "/fhir/$export?_type=Patient,Nonsense", nil, 400, "Nonsense"},
		{"a type the caller may not search", "service", "/fhir/$export?_type=Encounter", nil, 403, ""},
		{"unsupported format", "admin", "/fhir/$export?_outputFormat=text/csv", nil, 400, "_outputFormat"},
		{"_since not an instant", "admin", "/fhir/$export?_since=2020-01-01", nil, 400, "_since"},
		{"_since with an unescaped +", "admin", "/fhir/$export?_since=2020-01-01T00:00:00+02:00", nil, 400, "%2B"},
		{"unsupported parameter", "admin", "/fhir/$export?includeAssociatedData=LatestProvenanceResources", nil, 400, "handling=lenient"},
		{"bad _typeFilter", "admin", "/fhir/$export?_type=Observation&_typeFilter=Observation%3Fnonsense%3D1", nil, 400, "nonsense"},
		{"_typeFilter shaping results", "admin", "/fhir/$export?_type=Observation&_typeFilter=Observation%3F_count%3D1", nil, 400, "_count"},
		{"_typeFilter of a type not exported", "admin", "/fhir/$export?_type=Patient&_typeFilter=Observation%3Fstatus%3Dfinal", nil, 400, "not among"},
		{"patient in a GET", "admin", "/fhir/Patient/$export?patient=Patient/p1", nil, 400, "POST"},
		{"no such group", "admin", "/fhir/Group/nope/$export", nil, 404, ""},
		{"only types outside the compartment", "admin", "/fhir/Patient/$export?_type=Practitioner", nil, 400, "compartment"},
		{"Accept XML", "admin", "/fhir/$export", []string{"Accept: application/fhir+xml"}, 406, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := append([]string{"Accept: application/fhir+json", "Prefer: respond-async"}, tc.headers...)
			if tc.caller != "" {
				h = append(h, "X-Test-Caller: "+tc.caller)
			}
			r := s.do("GET", tc.path, "", h...)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.says) || r.resource(t).Type() != "OperationOutcome" {
				t.Errorf("%d %s; want %d saying %q", r.status, r.body, tc.status, tc.says)
			}
		})
	}
	t.Run("lenient", func(t *testing.T) {
		r := s.kickoff("admin", "GET", "/fhir/$export?_type=Patient&includeAssociatedData=LatestProvenanceResources", "", "Prefer: respond-async, handling=lenient")
		if r.status != http.StatusAccepted || !strings.Contains(string(r.body), "includeAssociatedData") {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
	t.Run("too many at once", func(t *testing.T) {
		// No runner: the jobs stay unfinished.
		idle := newAccessServer(t, nil, exportCallers(), func(o *fhirapi.Options) {
			o.Bulk = &fhirapi.BulkExport{Dir: t.TempDir(), PerRequester: 2}
		})
		for i, want := range []int{202, 202, 429} {
			r := idle.kickoff("dr1", "GET", "/fhir/$export?_type=Patient", "")
			if r.status != want || (want == 429 && (r.header.Get("Retry-After") == "" || r.resource(t).Type() != "OperationOutcome")) {
				t.Errorf("kick-off %d: %d %v", i+1, r.status, r.header)
			}
		}
		// Another requester is counted apart.
		if r := idle.kickoff("admin", "GET", "/fhir/$export?_type=Patient", ""); r.status != http.StatusAccepted {
			t.Errorf("admin: %d", r.status)
		}
	})
}

// TestBulkExportTakenOver: a job whose runner stopped answering (its
// server killed mid-export) is run again by another, in a directory of its
// own, and finishes; one started too often fails instead.
func TestBulkExportTakenOver(t *testing.T) {
	callers := exportCallers()
	dir := t.TempDir()
	s := newAccessServer(t, nil, callers, func(o *fhirapi.Options) {
		o.Bulk = &fhirapi.BulkExport{Dir: dir, Settle: time.Millisecond, Stale: 300 * time.Millisecond, PerRequester: 5}
	})
	seedTwoPatients(t, s)
	ctx := context.Background()
	// Nothing runs jobs yet: the kick-offs are accepted and wait.
	kickoff := func(attempt int) (status, job string) {
		t.Helper()
		r := s.kickoff("admin", "GET", "/fhir/$export?_type=Patient", "")
		if r.status != http.StatusAccepted {
			t.Fatalf("%d %s", r.status, r.body)
		}
		status = strings.TrimPrefix(r.header.Get("Content-Location"), "http://emr.test")
		job = strings.SplitN(status, "_jobId=", 2)[1]
		if r := s.do("GET", status, "", "X-Test-Caller: admin"); r.status != http.StatusAccepted || r.header.Get("X-Progress") != "waiting to start" {
			t.Fatalf("waiting: %d %v", r.status, r.header)
		}
		// As a server that claimed it and died would leave it: running,
		// at its attempt, a partial file in that attempt's directory.
		rec, err := s.store.GetRecord(ctx, "bulk-export", job)
		if err != nil {
			t.Fatal(err)
		}
		var j map[string]any
		_ = json.Unmarshal(rec.Value, &j)
		j["state"], j["runner"], j["attempt"] = "running", "dead", attempt
		rec.Value, _ = json.Marshal(j)
		if _, err := s.store.PutRecord(ctx, rec, rec.Version); err != nil {
			t.Fatal(err)
		}
		writePartial(t, dir, job, attempt)
		return status, job
	}
	status, job := kickoff(1)
	tooOften, _ := kickoff(3)

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.api.RunBulkExports(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	poll := func(status string) result {
		var got result
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got = s.do("GET", status, "", "X-Test-Caller: admin"); got.status != http.StatusAccepted {
				break
			}
		}
		return got
	}
	got := poll(status)
	if got.status != http.StatusOK {
		t.Fatalf("taken over: %d %s", got.status, got.body)
	}
	var m map[string]any
	_ = json.Unmarshal(got.body, &m)
	out := m["output"].([]any)
	if len(out) != 1 || out[0].(map[string]any)["count"] != 2.0 {
		t.Fatalf("output %v", out)
	}
	file := s.do("GET", strings.TrimPrefix(out[0].(map[string]any)["url"].(string), "http://emr.test"), "", "X-Test-Caller: admin")
	if lines := strings.Split(strings.TrimSpace(string(file.body)), "\n"); file.status != 200 || len(lines) != 2 || strings.Contains(string(file.body), `"Pat`+"\n") {
		t.Errorf("the file: %d %q", file.status, file.body)
	}
	// The dead runner's attempt was left alone (the sweep removes it later).
	if _, err := os.Stat(filepath.Join(dir, job, "attempt-1", "Patient-1.ndjson")); err != nil {
		t.Errorf("the earlier attempt's file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, job, "attempt-2", "Patient-1.ndjson")); err != nil {
		t.Errorf("this attempt's file: %v", err)
	}
	if got := poll(tooOften); got.status != http.StatusInternalServerError || !strings.Contains(string(got.body), "started 3 times") {
		t.Errorf("a job started too often: %d %s", got.status, got.body)
	}
}

// writePartial leaves what a runner killed mid-export leaves: a file cut
// off in the middle of a line.
func writePartial(t *testing.T, dir, job string, attempt int) {
	t.Helper()
	at := filepath.Join(dir, job, fmt.Sprintf("attempt-%d", attempt))
	if err := os.MkdirAll(at, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(at, "Patient-1.ndjson"), []byte(`{"resourceType":"Patient","id":"p1"}`+"\n"+`{"resourceType":"Pat`), 0o600); err != nil {
		t.Fatal(err)
	}
}

// entityQueries is the decoded entity.query of an AuditEvent, joined.
func entityQueries(ev map[string]any) string {
	var out []string
	ents, _ := ev["entity"].([]any)
	for _, e := range ents {
		if q, ok := e.(map[string]any)["query"].(string); ok {
			b, _ := base64.StdEncoding.DecodeString(q)
			out = append(out, string(b))
		}
	}
	return strings.Join(out, " ")
}

// TestBulkExportConsent: a patient's Consent keeps their record out of the
// export of a clinician it refuses, at every level. (c2 refuses everyone
// but dr1, R5's decision being the base and its provisions the
// exceptions.)
func TestBulkExportConsent(t *testing.T) {
	callers := exportCallers()
	callers["dr2"] = &access.Principal{User: "dr2", Role: "physician", FHIRUser: "Practitioner/dr2"}
	s := newExportServer(t, callers, 0)
	for _, r := range []string{
		`{"resourceType":"Patient","id":"p1"}`, `{"resourceType":"Patient","id":"p2"}`,
		`{"resourceType":"Observation","id":"p1lab","status":"final","code":{"text":"glucose"},"subject":{"reference":"Patient/p1"}}`,
		`{"resourceType":"Observation","id":"p2lab","status":"final","code":{"text":"glucose"},"subject":{"reference":"Patient/p2"}}`,
		`{"resourceType":"Consent","id":"c2","status":"active","subject":{"reference":"Patient/p2"},"decision":"deny",
			"provision":[{"actor":[{"reference":{"reference":"Practitioner/dr1"}}]}]}`,
		`{"resourceType":"Group","id":"both","type":"person","membership":"enumerated",
			"member":[{"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"Patient/p2"}}]}`,
	} {
		res, _ := fhir.ParseResource([]byte(r))
		if got := s.do("PUT", "/fhir/"+res.Type()+"/"+res.ID(), r, "X-Test-Caller: admin"); got.status != http.StatusCreated {
			t.Fatalf("seed %s: %d %s", res.ID(), got.status, got.body)
		}
	}
	for _, path := range []string{"/fhir/$export?_type=Patient,Observation", "/fhir/Patient/$export?_type=Patient,Observation"} {
		if got := strings.Join(s.export("dr2", "GET", path, "").ids, " "); got != "Observation/p1lab Patient/p1" {
			t.Errorf("dr2 %s: %q", path, got)
		}
		if got := strings.Join(s.export("dr1", "GET", path, "").ids, " "); got != "Observation/p1lab Observation/p2lab Patient/p1 Patient/p2" {
			t.Errorf("dr1 %s: %q", path, got)
		}
	}
	// The Group is in p2's compartment too: dr2 cannot see it at all.
	if got := strings.Join(s.export("dr1", "GET", "/fhir/Group/both/$export?_type=Patient,Observation", "").ids, " "); got != "Observation/p1lab Observation/p2lab Patient/p1 Patient/p2" {
		t.Errorf("dr1's group export: %q", got)
	}
	if r := s.kickoff("dr2", "GET", "/fhir/Group/both/$export", ""); r.status != http.StatusNotFound {
		t.Errorf("dr2's group export: %d %s", r.status, r.body)
	}
}

// FuzzExportKickoff sends arbitrary kick-offs, as a query or a POSTed
// Parameters: each is accepted (202 with a status URL that answers) or
// refused with a 4xx OperationOutcome, never a 5xx.
func FuzzExportKickoff(f *testing.F) {
	f.Add("/fhir/$export", "_type=Patient,Observation&_since=2020-01-01T00:00:00Z", "")
	f.Add("/fhir/Patient/$export", "_typeFilter=Observation%3Fcategory%3Dlaboratory&_type=Observation", "")
	f.Add("/fhir/Group/g1/$export", "_elements=id,Patient.name&_outputFormat=ndjson", "")
	f.Add("/fhir/Patient/$export", "", `{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":{"reference":"Patient/p1"}},{"name":"_type","valueString":"Patient"}]}`)
	f.Add("/fhir/R4/$export", "_type=Encounter&includeAssociatedData=x", `{"resourceType":"Parameters","parameter":[{"name":"_since"}]}`)
	dir := f.TempDir()
	s := newTestServer(f, func(o *fhirapi.Options) { o.Bulk = &fhirapi.BulkExport{Dir: dir, PerRequester: 1 << 30} })
	f.Fuzz(func(t *testing.T, path, query, body string) {
		if !strings.HasPrefix(path, "/fhir") || strings.ContainsAny(path+query, " \r\n\t#") {
			return
		}
		target := path
		if query != "" {
			target += "?" + query
		}
		if _, err := url.ParseRequestURI(target); err != nil {
			return
		}
		s.t = t
		method := "GET"
		if body != "" {
			method = "POST"
		}
		r := s.do(method, target, body, "Prefer: respond-async", "Accept: application/fhir+json")
		switch {
		case r.status == http.StatusAccepted && strings.Contains(path, "$export") && !strings.Contains(path, "$export-"):
			status := strings.TrimPrefix(r.header.Get("Content-Location"), "http://emr.test")
			if got := s.do("GET", status, ""); got.status != http.StatusAccepted {
				t.Fatalf("the status URL %q of an accepted export: %d %s", status, got.status, got.body)
			}
			if got := s.do("DELETE", status, ""); got.status != http.StatusAccepted {
				t.Fatalf("DELETE %q: %d %s", status, got.status, got.body)
			}
		case r.status >= 500 && r.status != http.StatusNotImplemented:
			t.Fatalf("%s %s %q: %d %s", method, target, body, r.status, r.body)
		case r.status >= 400 && r.resource(t).Type() != "OperationOutcome":
			t.Fatalf("error without OperationOutcome")
		}
	})
}

// BenchmarkBulkExport exports the 20 smallest Synthea patients (loaded
// through /fhir/R4) under the role policy: a system export of every type,
// and a Patient export by a ward nurse whose care covers none of them
// but for what the access rules must check (resources/s reported: those
// written to the files).
// go test ./internal/fhirapi -run '^$' -bench BulkExport -benchtime 20x
func BenchmarkBulkExport(b *testing.B) {
	s := newExportServer(b, exportCallers(), 0)
	files, _ := filepath.Glob(filepath.Join(sharedtest.Path(b, "testdata", "synthea-r4"), "*.json"))
	sort.Slice(files, func(i, j int) bool { return fileSize(files[i]) < fileSize(files[j]) })
	for _, f := range files[:20] {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if r := s.do("POST", "/fhir/R4", string(body), "X-Test-Caller: admin"); r.status != http.StatusOK {
			b.Fatalf("%s: %d %s", f, r.status, r.body[:min(len(r.body), 300)])
		}
	}
	for _, tc := range []struct{ name, caller, path string }{
		{"system", "admin", "/fhir/$export"},
		{"patient", "admin", "/fhir/Patient/$export"},
		{"patient/R4", "admin", "/fhir/R4/Patient/$export"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				got := s.export(tc.caller, "GET", tc.path, "")
				n += len(got.ids)
				if r := s.do("DELETE", got.status, "", "X-Test-Caller: "+tc.caller); r.status != http.StatusAccepted {
					b.Fatalf("DELETE: %d", r.status)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}

// TestBulkExportDeletions: with _since, the manifest lists what was
// deleted since, as transaction Bundles of DELETEs, to whoever may see
// every resource of the type; a caller limited to some is told its
// deletions are not listed.
func TestBulkExportDeletions(t *testing.T) {
	s := newExportServer(t, exportCallers(), 0)
	seedTwoPatients(t, s)
	since := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	for _, path := range []string{"/fhir/Observation/o2v", "/fhir/Observation/o1", "/fhir/Encounter/e2"} {
		if r := s.do("DELETE", path, "", "X-Test-Caller: admin"); r.status != http.StatusNoContent && r.status != http.StatusOK {
			t.Fatalf("DELETE %s: %d %s", path, r.status, r.body)
		}
	}
	// Deleted, then created again: not a deletion.
	if r := s.do("DELETE", "/fhir/Observation/o2", "", "X-Test-Caller: admin"); r.status >= 300 {
		t.Fatal(r.status)
	}
	o2 := `{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p2"}}`
	if r := s.do("PUT", "/fhir/Observation/o2", o2, "X-Test-Caller: admin"); r.status >= 300 {
		t.Fatal(r.status, string(r.body))
	}
	deleted := func(got exported) string {
		var out []string
		for _, f := range got.manifest["deleted"].([]any) {
			u := strings.TrimPrefix(f.(map[string]any)["url"].(string), "http://emr.test")
			r := s.do("GET", u, "", "X-Test-Caller: admin")
			for _, line := range strings.Split(strings.TrimSpace(string(r.body)), "\n") {
				b, err := fhir.ParseResource([]byte(line))
				if err != nil || b["type"] != "transaction" {
					t.Fatalf("deleted line %q: %v", line, err)
				}
				req := b["entry"].([]any)[0].(map[string]any)["request"].(map[string]any)
				if req["method"] != "DELETE" {
					t.Errorf("request %v", req)
				}
				out = append(out, req["url"].(string))
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	q := "_since=" + url.QueryEscape(since.Format(time.RFC3339Nano))
	got := s.export("admin", "GET", "/fhir/$export?_type=Observation,Encounter&"+q, "")
	if d := deleted(got); d != "Encounter/e2 Observation/o1 Observation/o2v" {
		t.Errorf("system export deleted %q", d)
	}
	if ids := strings.Join(got.ids, " "); ids != "Observation/o2" {
		t.Errorf("system export output %q", ids)
	}
	// A Group of p1: only p1's deletions.
	g := `{"resourceType":"Group","id":"g1","type":"person","membership":"enumerated","member":[{"entity":{"reference":"Patient/p1"}}]}`
	if r := s.do("PUT", "/fhir/Group/g1", g, "X-Test-Caller: admin"); r.status >= 300 {
		t.Fatal(r.status)
	}
	if d := deleted(s.export("admin", "GET", "/fhir/Group/g1/$export?_type=Observation,Encounter&"+q, "")); d != "Observation/o1" {
		t.Errorf("group export deleted %q", d)
	}
	// Without _since: no deleted list at all.
	if got := s.export("admin", "GET", "/fhir/$export?_type=Observation", ""); got.manifest["deleted"] != nil {
		t.Errorf("deleted without _since: %v", got.manifest["deleted"])
	}
	// A nurse limited to her patients learns of no deletion, and is told so.
	got = s.export("nurse", "GET", "/fhir/$export?_type=Observation&"+q, "")
	if d := deleted(got); d != "" || len(got.files["error"]) != 1 || !strings.Contains(string(got.files["error"][0].JSON()), "not listed") {
		t.Errorf("nurse: deleted %q, errors %v", d, got.files["error"])
	}
}

// TestBulkExportRevoked: a requester who may no longer export (disabled,
// role changed) has the job fail, 403, with nothing to download.
func TestBulkExportRevoked(t *testing.T) {
	disabled := map[string]bool{"dr1": true}
	s := newAccessServer(t, nil, exportCallers(), func(o *fhirapi.Options) {
		o.Bulk = &fhirapi.BulkExport{Dir: t.TempDir(), Settle: time.Millisecond, Revalidate: func(_ context.Context, p *access.Principal) error {
			if disabled[p.User] {
				return fhir.Errorf(fhir.KindForbidden, "the account is disabled")
			}
			return nil
		}}
	})
	seedTwoPatients(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.api.RunBulkExports(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	r := s.kickoff("dr1", "GET", "/fhir/$export?_type=Patient", "")
	status := strings.TrimPrefix(r.header.Get("Content-Location"), "http://emr.test")
	var got result
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = s.do("GET", status, "", "X-Test-Caller: dr1"); got.status != http.StatusAccepted {
			break
		}
	}
	if got.status != http.StatusForbidden || !strings.Contains(string(got.body), "the account is disabled") || got.resource(t).Type() != "OperationOutcome" {
		t.Errorf("%d %s", got.status, got.body)
	}
	if got := s.export("admin", "GET", "/fhir/$export?_type=Patient", ""); len(got.ids) != 2 {
		t.Errorf("admin: %v", got.ids)
	}
}

// TestBulkExportAcrossBatches: a resource in the compartments of two
// patients of different batches (a hundred patients a batch) is written
// once, and one of a single patient once too.
func TestBulkExportAcrossBatches(t *testing.T) {
	s := newExportServer(t, exportCallers(), 0)
	var members []string
	for i := range 101 {
		id := fmt.Sprintf("q%03d", i)
		if r := s.do("PUT", "/fhir/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`"}`, "X-Test-Caller: admin"); r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		members = append(members, `{"entity":{"reference":"Patient/`+id+`"}}`)
	}
	for _, r := range []string{
		`{"resourceType":"Observation","id":"both","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/q000"},"performer":[{"reference":"Patient/q100"}]}`,
		`{"resourceType":"Observation","id":"one","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/q050"}}`,
		`{"resourceType":"Group","id":"all","type":"person","membership":"enumerated","member":[` + strings.Join(members, ",") + `]}`,
	} {
		res, _ := fhir.ParseResource([]byte(r))
		if got := s.do("PUT", "/fhir/"+res.Type()+"/"+res.ID(), r, "X-Test-Caller: admin"); got.status != http.StatusCreated {
			t.Fatalf("seed %s: %d %s", res.ID(), got.status, got.body)
		}
	}
	for _, path := range []string{"/fhir/Group/all/$export?_type=Observation", "/fhir/Patient/$export?_type=Observation"} {
		if got := strings.Join(s.export("admin", "GET", path, "").ids, " "); got != "Observation/both Observation/one" {
			t.Errorf("%s: %q", path, got)
		}
	}
}
