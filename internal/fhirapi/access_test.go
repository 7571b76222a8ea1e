package fhirapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/deid"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhirapi"
)

// newAccessServer is the API under the role policy, the caller of each
// request named by its X-Test-Caller header among callers (none: no
// caller), as an authentication layer would put it on the context.
func newAccessServer(t testing.TB, roles *access.Roles, callers map[string]*access.Principal, opts ...func(*fhirapi.Options)) *testServer {
	t.Helper()
	defs := spec.R5()
	if roles == nil {
		roles = access.DefaultRoles(defs)
	}
	var s *testServer
	s = newTestServer(t, append([]func(*fhirapi.Options){func(o *fhirapi.Options) {
		o.Gate = access.NewGate(o.Store, access.NewRolePolicy(defs, roles), "test")
	}}, opts...)...)
	inner := s.handler
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := callers[r.Header.Get("X-Test-Caller")]; p != nil {
			r = r.WithContext(access.WithPrincipal(r.Context(), p))
		}
		inner.ServeHTTP(w, r)
	})
	return s
}

// seedTwoPatients stores p1 and p2 with an Observation each (lab for p1,
// vitals and lab for p2), an Encounter each and a Practitioner, under an
// admin.
func seedTwoPatients(t *testing.T, s *testServer) {
	t.Helper()
	obs := func(id, patient, category string) string {
		performer := "" // dr1 cares for p1 only
		if patient == "p1" {
			performer = `,"performer":[{"reference":"Practitioner/dr1"}]`
		}
		return `{"resourceType":"Observation","id":"` + id + `","status":"final",
			"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"` + category + `"}]}],
			"code":{"text":"x"},"subject":{"reference":"Patient/` + patient + `"}` + performer + `}`
	}
	for _, r := range []string{
		`{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Doc"}]}`,
		`{"resourceType":"Patient","id":"p1","name":[{"family":"One"}],"generalPractitioner":[{"reference":"Practitioner/dr1"}]}`,
		`{"resourceType":"Patient","id":"p2","name":[{"family":"Two"}]}`,
		obs("o1", "p1", "laboratory"), obs("o2", "p2", "laboratory"), obs("o2v", "p2", "vital-signs"),
		`{"resourceType":"Encounter","id":"e2","status":"completed","subject":{"reference":"Patient/p2"}}`,
	} {
		res, _ := fhir.ParseResource([]byte(r))
		if got := s.do("PUT", "/fhir/"+res.Type()+"/"+res.ID(), r, "X-Test-Caller: admin"); got.status != http.StatusCreated {
			t.Fatalf("seed %s: %d %s", res.ID(), got.status, got.body)
		}
	}
}

func bundleIDs(t *testing.T, r result) (ids string, total any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	b := r.resource(t)
	var out []string
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		res := e.(map[string]any)["resource"].(map[string]any)
		if res["resourceType"] == "OperationOutcome" {
			continue
		}
		out = append(out, res["resourceType"].(string)+"/"+res["id"].(string))
	}
	return strings.Join(out, " "), b["total"]
}

// TestAccessPatientUser follows a patient user through every path to data:
// they see and count only their own record, whatever they ask.
func TestAccessPatientUser(t *testing.T) {
	s := newAccessServer(t, nil, map[string]*access.Principal{
		"admin": {User: "admin", Role: "admin"},
		"pat1":  {User: "pat1", Role: "patient", Patient: "p1", FHIRUser: "Patient/p1"},
	})
	seedTwoPatients(t, s)
	get := func(path string) result { return s.do("GET", path, "", "X-Test-Caller: pat1") }

	for _, tc := range []struct{ path, want string }{
		{"/fhir/Observation?_total=accurate", "Observation/o1"},
		{"/fhir/Observation?_include=Observation:subject&_include=Observation:performer", "Observation/o1 Patient/p1 Practitioner/dr1"},
		{"/fhir/Patient?_revinclude=Observation:subject", "Patient/p1 Observation/o1"},
		{"/fhir/Observation?subject.name=Two", ""},
		{"/fhir/Patient?_has:Observation:subject:category=vital-signs", ""},
		{"/fhir/Patient/p2/Observation", ""},
		{"/fhir/Patient/p1/$everything", "Patient/p1 Observation/o1 Practitioner/dr1"},
		{"/fhir/?_type=Observation,Encounter,Patient&_sort=_id", "Observation/o1 Patient/p1"},
		{"/fhir/Practitioner", "Practitioner/dr1"},
	} {
		r := get(tc.path)
		ids, total := bundleIDs(t, r)
		if ids != tc.want {
			t.Errorf("%s: %q, want %q", tc.path, ids, tc.want)
		}
		if strings.Contains(tc.path, "_total=accurate") && total != json.Number("1") && total != float64(1) {
			t.Errorf("%s: total %v, want 1", tc.path, total)
		}
	}
	// Another patient's resources look missing, also by version and history.
	for _, path := range []string{"/fhir/Observation/o2", "/fhir/Patient/p2", "/fhir/Observation/o2/_history/1",
		"/fhir/Observation/o2/_history", "/fhir/Patient/p2/$everything"} {
		if r := get(path); r.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, r.status)
		}
	}
	if r := get("/fhir/Observation/o1"); r.status != http.StatusOK {
		t.Errorf("own Observation: %d %s", r.status, r.body)
	}
	// History across resources has no per-resource filter: refused.
	if r := get("/fhir/Observation/_history"); r.status != http.StatusForbidden {
		t.Errorf("type history: %d, want 403", r.status)
	}
	// Writes: home readings about themselves only; nothing else is touched.
	reading := func(patient string) string {
		return `{"resourceType":"Observation","status":"final","code":{"text":"home BP"},"subject":{"reference":"Patient/` + patient + `"}}`
	}
	if r := s.do("POST", "/fhir/Observation", reading("p1"), "X-Test-Caller: pat1"); r.status != http.StatusCreated {
		t.Errorf("own reading: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/fhir/Observation", reading("p2"), "X-Test-Caller: pat1"); r.status != http.StatusForbidden {
		t.Errorf("reading about another patient: %d, want 403", r.status)
	}
	if r := s.do("PUT", "/fhir/Patient/p2", `{"resourceType":"Patient","id":"p2","name":[{"family":"Changed"}]}`, "X-Test-Caller: pat1"); r.status != http.StatusForbidden && r.status != http.StatusNotFound {
		t.Errorf("update of another patient: %d", r.status)
	}
	if r := s.do("DELETE", "/fhir/Observation/o1", "", "X-Test-Caller: pat1"); r.status != http.StatusForbidden {
		t.Errorf("delete by a patient: %d, want 403", r.status)
	}
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
		{"resource":` + reading("p1") + `,"request":{"method":"POST","url":"Observation"}},
		{"resource":` + reading("p2") + `,"request":{"method":"POST","url":"Observation"}}]}`
	if r := s.do("POST", "/fhir/", tx, "X-Test-Caller: pat1"); r.status < 400 {
		t.Errorf("a transaction with an entry about another patient: %d", r.status)
	}
	// Conditional create matching another patient's resource does not see it.
	if r := s.do("POST", "/fhir/Patient", `{"resourceType":"Patient","name":[{"family":"Two"}]}`, "X-Test-Caller: pat1", "If-None-Exist: name=Two"); r.status != http.StatusForbidden {
		t.Errorf("conditional create of a Patient by a patient: %d, want 403", r.status)
	}
	ids, _ := bundleIDs(t, s.do("GET", "/fhir/Observation?_sort=_id", "", "X-Test-Caller: admin"))
	if n := strings.Count(ids, "Observation/"); n != 4 {
		t.Errorf("after the refused writes the store holds %d Observations (%s), want 4", n, ids)
	}
	if r := s.do("GET", "/fhir/Patient/p2", "", "X-Test-Caller: admin"); !strings.Contains(string(r.body), `"Two"`) {
		t.Errorf("p2 was changed: %s", r.body)
	}
	// The denied read is in the audit log as denied.
	denied := 0
	for _, ev := range s.auditEvents(t) {
		if strings.Contains(string(ev.JSON()), "denied: Observation/o2 is outside") {
			denied++
		}
	}
	if denied == 0 {
		t.Errorf("no audit event records the denied read of Observation/o2")
	}
}

func TestAccessByRoleAndScope(t *testing.T) {
	labOnly := url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}
	s := newAccessServer(t, nil, map[string]*access.Principal{
		"admin":     {User: "admin", Role: "admin"},
		"registrar": {User: "reg", Role: "registrar"},
		"billing":   {User: "bill", Role: "billing"},
		"app": {User: "doc", Client: "app", Role: "physician", Patient: "p2",
			Grants: []access.Grant{{Context: "patient", Type: "Observation", Perms: "rs", Filters: labOnly}, {Context: "patient", Type: "Patient", Perms: "r"}}},
	})
	seedTwoPatients(t, s)
	for _, tc := range []struct {
		caller, method, path string
		status               int
		ids                  string
	}{
		{"", "GET", "/fhir/Patient/p1", http.StatusUnauthorized, ""},
		{"", "GET", "/fhir/metadata", http.StatusOK, ""},
		{"registrar", "GET", "/fhir/Observation", http.StatusForbidden, ""},
		{"registrar", "GET", "/fhir/Observation/o1", http.StatusForbidden, ""},
		{"registrar", "GET", "/fhir/Patient?_sort=_id", http.StatusOK, "Patient/p1 Patient/p2"},
		// _include of a type the role may not read includes nothing.
		{"registrar", "GET", "/fhir/Patient?_id=p2&_revinclude=Observation:subject", http.StatusOK, "Patient/p2"},
		{"billing", "GET", "/fhir/Encounter", http.StatusOK, "Encounter/e2"},
		{"app", "GET", "/fhir/Observation", http.StatusOK, "Observation/o2"},
		{"app", "GET", "/fhir/Observation/o2v", http.StatusNotFound, ""},
		{"app", "GET", "/fhir/Patient/p2", http.StatusOK, ""},
		{"app", "GET", "/fhir/Patient?_sort=_id", http.StatusForbidden, ""},
		{"app", "GET", "/fhir/Encounter/e2", http.StatusForbidden, ""},
	} {
		r := s.do(tc.method, tc.path, "", "X-Test-Caller: "+tc.caller)
		if r.status != tc.status {
			t.Errorf("%s %s %s: %d, want %d: %s", tc.caller, tc.method, tc.path, r.status, tc.status, r.body)
			continue
		}
		if tc.ids != "" {
			if ids, _ := bundleIDs(t, r); ids != tc.ids {
				t.Errorf("%s %s: %q, want %q", tc.caller, tc.path, ids, tc.ids)
			}
		}
	}
}

// TestAccessCareAndBreakGlass: a ward nurse limited to her patients sees
// another only after declaring an emergency, and only until it ends.
func TestAccessCareAndBreakGlass(t *testing.T) {
	defs := spec.R5()
	roles, err := access.LoadRoles(defs, []byte(`{"roles":[{"name":"ward-nurse","patients":"care",
		"permissions":[{"types":["@demographics","@clinical","@directory"],"perms":"rs"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	nurse := &access.Principal{User: "nina", Role: "ward-nurse", FHIRUser: "Practitioner/dr1"}
	s := newAccessServer(t, roles, map[string]*access.Principal{"admin": {User: "admin", Role: "admin"}, "nurse": nurse})
	seedTwoPatients(t, s)
	ids, _ := bundleIDs(t, s.do("GET", "/fhir/Patient?_sort=_id", "", "X-Test-Caller: nurse"))
	if ids != "Patient/p1" {
		t.Errorf("in her care: %q, want p1 only", ids)
	}
	if r := s.do("GET", "/fhir/Observation/o2", "", "X-Test-Caller: nurse"); r.status != http.StatusNotFound {
		t.Errorf("another ward's patient: %d, want 404", r.status)
	}
	nurse.Emergencies = []access.Emergency{{Patient: "p2", Until: time.Now().Add(time.Hour), Reason: "collapsed in the corridor"}}
	if r := s.do("GET", "/fhir/Observation/o2", "", "X-Test-Caller: nurse"); r.status != http.StatusOK {
		t.Errorf("after break-glass: %d", r.status)
	}
	nurse.Emergencies[0].Until = time.Now().Add(-time.Second)
	if r := s.do("GET", "/fhir/Observation/o2", "", "X-Test-Caller: nurse"); r.status != http.StatusNotFound {
		t.Errorf("after the emergency ended: %d", r.status)
	}
}

// TestBreakGlassOperations: declare, use, flag and review emergency access
// through the API, the caller's grants loaded for each request as the
// authentication layer does.
func TestBreakGlassOperations(t *testing.T) {
	defs := spec.R5()
	roles, err := access.LoadRoles(defs, []byte(`{"roles":[{"name":"ward-nurse","patients":"care",
		"permissions":[{"types":["@demographics","@clinical","@directory"],"perms":"rs"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	callers := map[string]*access.Principal{
		"admin":   {User: "admin", Role: "admin"},
		"nurse":   {User: "nina", Role: "ward-nurse", FHIRUser: "Practitioner/dr1"},
		"auditor": {User: "olga", Role: "auditor"},
		"pat1":    {User: "pat1", Role: "patient", Patient: "p1"},
	}
	var bg *access.BreakGlass
	s := newTestServer(t, func(o *fhirapi.Options) {
		o.Gate = access.NewGate(o.Store, access.NewRolePolicy(defs, roles), "test")
		bg = &access.BreakGlass{Store: o.Store, Gate: o.Gate}
		o.BreakGlass = bg
	})
	inner := s.handler
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := callers[r.Header.Get("X-Test-Caller")]; p != nil {
			p := *p
			active, err := bg.Active(r.Context(), p.User)
			if err != nil {
				t.Error(err)
			}
			p.Emergencies = active
			r = r.WithContext(access.WithPrincipal(r.Context(), &p))
		}
		inner.ServeHTTP(w, r)
	})
	seedTwoPatients(t, s)
	declare := func(caller, patient, reason string) result {
		body := `{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"` + reason + `"},{"name":"minutes","valueInteger":30}]}`
		return s.do("POST", "/fhir/Patient/"+patient+"/$break-glass", body, "X-Test-Caller: "+caller)
	}
	if r := s.do("GET", "/fhir/Observation/o2", "", "X-Test-Caller: nurse"); r.status != http.StatusNotFound {
		t.Fatalf("before: %d", r.status)
	}
	for _, tc := range []struct {
		caller, patient, reason string
		status                  int
	}{
		{"nurse", "p2", "hurt", http.StatusBadRequest},
		{"nurse", "p1", "patient collapsed on the ward", http.StatusConflict},
		{"admin", "p2", "patient collapsed on the ward", http.StatusConflict},
		{"pat1", "p2", "I want to see my brother's chart", http.StatusForbidden},
		{"nurse", "nobody", "patient collapsed on the ward", http.StatusNotFound},
		{"", "p2", "patient collapsed on the ward", http.StatusUnauthorized},
		{"nurse", "p2", "patient collapsed on the ward", http.StatusOK},
	} {
		if r := declare(tc.caller, tc.patient, tc.reason); r.status != tc.status {
			t.Errorf("%s declares for %s: %d, want %d: %s", tc.caller, tc.patient, r.status, tc.status, r.body)
		}
	}
	if r := s.do("GET", "/fhir/Observation/o2", "", "X-Test-Caller: nurse"); r.status != http.StatusOK {
		t.Fatalf("under break-glass: %d %s", r.status, r.body)
	}
	flagged := 0
	for _, ev := range s.auditEvents(t) {
		text := string(ev.JSON())
		if strings.Contains(text, `"BTG"`) && strings.Contains(text, "ETREAT") && strings.Contains(text, "Observation/o2") {
			flagged++
		}
	}
	if flagged != 1 {
		t.Errorf("%d flagged audit events of the read under break-glass, want 1", flagged)
	}
	// The review queue, for privacy officers only.
	if r := s.do("GET", "/fhir/$break-glass-review", "", "X-Test-Caller: nurse"); r.status != http.StatusForbidden {
		t.Errorf("the nurse reads the queue: %d", r.status)
	}
	r := s.do("GET", "/fhir/$break-glass-review", "", "X-Test-Caller: auditor")
	queue := r.resource(t)
	entries, _ := queue["parameter"].([]any)
	if r.status != http.StatusOK || len(entries) != 1 || !strings.Contains(string(r.body), "patient collapsed on the ward") {
		t.Fatalf("queue: %d %s", r.status, r.body)
	}
	id := entries[0].(map[string]any)["part"].([]any)[0].(map[string]any)["valueString"].(string)
	review := `{"resourceType":"Parameters","parameter":[{"name":"id","valueString":"` + id + `"},{"name":"note","valueString":"justified: resuscitation"}]}`
	if r := s.do("POST", "/fhir/$break-glass-review", review, "X-Test-Caller: auditor"); r.status != http.StatusOK {
		t.Fatalf("review: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/fhir/$break-glass-review", review, "X-Test-Caller: auditor"); r.status != http.StatusConflict {
		t.Errorf("second review: %d, want 409", r.status)
	}
	if r := s.do("GET", "/fhir/$break-glass-review", "", "X-Test-Caller: auditor"); strings.Contains(string(r.body), id) {
		t.Errorf("a reviewed emergency is still queued: %s", r.body)
	}
	if r := s.do("GET", "/fhir/$break-glass-review?all=true", "", "X-Test-Caller: auditor"); !strings.Contains(string(r.body), "justified: resuscitation") {
		t.Errorf("all=true leaves out the reviewed: %s", r.body)
	}
}

// TestAuthorizationMatrixThroughAPI sends every interaction on every
// resource type as every built-in role through the whole API and checks
// that what is refused (403) and what gets through (anything else: it
// may then fail validation or find nothing) is exactly the reviewed table
// internal/access/testdata/matrix.txt.
func TestAuthorizationMatrixThroughAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("about 8,000 requests")
	}
	defs := spec.R5()
	roles := access.DefaultRoles(defs)
	callers := map[string]*access.Principal{}
	for _, name := range roles.Names() {
		callers[name] = &access.Principal{User: "u-" + name, Role: name, Patient: "p1", FHIRUser: "Practitioner/d1"}
	}
	d, err := deid.New(defs, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	s := newAccessServer(t, roles, callers, func(o *fhirapi.Options) { o.Deidentifier = d })
	want, err := os.ReadFile("../access/testdata/matrix.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, role := range roles.Names() {
		for _, typ := range defs.APIModel().ResourceTypes() {
			letters := ""
			minimal := `{"resourceType":"` + typ + `","id":"m1"}`
			for _, it := range []struct {
				letter       byte
				method, path string
				body         string
			}{
				{'c', "POST", "/fhir/" + typ, `{"resourceType":"` + typ + `"}`},
				{'r', "GET", "/fhir/" + typ + "/m1", ""},
				{'u', "PUT", "/fhir/" + typ + "/m1", minimal},
				{'d', "DELETE", "/fhir/" + typ + "/m1", ""},
				{'s', "GET", "/fhir/" + typ + "?_count=1", ""},
			} {
				r := s.do(it.method, it.path, it.body, "X-Test-Caller: "+role)
				switch {
				case r.status == http.StatusForbidden:
				case r.status >= 500:
					t.Fatalf("%s %s %s: %d %s", role, it.method, it.path, r.status, r.body)
				default:
					letters += string(it.letter)
				}
			}
			if letters != "" {
				fmt.Fprintf(&got, "%s %s %s\n", role, typ, letters)
			}
		}
		// The operations beyond the letters, as "role $operation".
		for _, op := range []struct{ name, method, path, body string }{
			{"deidentify", "GET", "/fhir/Patient/m1/$deidentify", ""},
			{"merge", "POST", "/fhir/Patient/$merge", `{"resourceType":"Parameters"}`},
		} {
			switch r := s.do(op.method, op.path, op.body, "X-Test-Caller: "+role); {
			case r.status == http.StatusForbidden:
			case r.status >= 500:
				t.Fatalf("%s %s %s: %d %s", role, op.method, op.path, r.status, r.body)
			default:
				fmt.Fprintf(&got, "%s $%s\n", role, op.name)
			}
		}
	}
	if got.String() != string(want) {
		g, w := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(g), len(w)) {
			var gl, wl string
			if i < len(g) {
				gl = g[i]
			}
			if i < len(w) {
				wl = w[i]
			}
			if gl != wl {
				t.Fatalf("the API's decisions differ from the matrix at line %d: got %q, want %q", i+1, gl, wl)
			}
		}
	}
}

// TestConsentThroughAPI: patients' Consents change what a physician sees
// on every path — search and its total, read, $everything, type history —
// while the patient still sees their own record and break-glass overrides
// an opt-out.
func TestConsentThroughAPI(t *testing.T) {
	defs := spec.R5()
	callers := map[string]*access.Principal{
		"admin": {User: "admin", Role: "admin"},
		"dr1":   {User: "dr1", Role: "physician", FHIRUser: "Practitioner/dr1"},
		"dr2":   {User: "dr2", Role: "physician", FHIRUser: "Practitioner/dr2"},
		"pat2":  {User: "pat2", Role: "patient", Patient: "p2"},
	}
	var bg *access.BreakGlass
	s := newTestServer(t, func(o *fhirapi.Options) {
		o.Gate = access.NewGate(o.Store, access.NewRolePolicy(defs, access.DefaultRoles(defs)), "test")
		bg = &access.BreakGlass{Store: o.Store, Gate: o.Gate}
		o.BreakGlass = bg
	})
	inner := s.handler
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := callers[r.Header.Get("X-Test-Caller")]; p != nil {
			p := *p
			p.Emergencies, _ = bg.Active(r.Context(), p.User)
			r = r.WithContext(access.WithPrincipal(r.Context(), &p))
		}
		inner.ServeHTTP(w, r)
	})
	for _, r := range []string{
		`{"resourceType":"Patient","id":"p1"}`, `{"resourceType":"Patient","id":"p2"}`,
		`{"resourceType":"Observation","id":"p1psy","status":"final","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},"code":{"text":"mood"},"subject":{"reference":"Patient/p1"}}`,
		`{"resourceType":"Observation","id":"p1lab","status":"final","code":{"text":"glucose"},"subject":{"reference":"Patient/p1"}}`,
		`{"resourceType":"Observation","id":"p2lab","status":"final","code":{"text":"glucose"},"subject":{"reference":"Patient/p2"}}`,
		`{"resourceType":"Consent","id":"c1","status":"active","subject":{"reference":"Patient/p1"},"decision":"permit",
			"provision":[{"actor":[{"reference":{"reference":"Practitioner/dr2"}}],"securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]}]}`,
		`{"resourceType":"Consent","id":"c2","status":"active","subject":{"reference":"Patient/p2"},"decision":"deny",
			"provision":[{"actor":[{"reference":{"reference":"Practitioner/dr1"}}]}]}`,
	} {
		res, _ := fhir.ParseResource([]byte(r))
		if got := s.do("PUT", "/fhir/"+res.Type()+"/"+res.ID(), r, "X-Test-Caller: admin"); got.status != http.StatusCreated {
			t.Fatalf("seed %s: %d %s", res.ID(), got.status, got.body)
		}
	}
	for _, tc := range []struct{ caller, path, want string }{
		{"dr2", "/fhir/Observation?_sort=_id", "Observation/p1lab"},
		{"dr1", "/fhir/Observation?_sort=_id", "Observation/p1lab Observation/p1psy Observation/p2lab"},
		{"dr2", "/fhir/Patient/p1/$everything", "Patient/p1 Observation/p1lab Consent/c1"},
		{"dr2", "/fhir/Observation/_history", "Observation/p1lab"},
		{"pat2", "/fhir/Observation", "Observation/p2lab"},
	} {
		r := s.do("GET", tc.path, "", "X-Test-Caller: "+tc.caller)
		ids, _ := bundleIDs(t, r)
		if tc.path == "/fhir/Observation/_history" {
			ids = strings.Join(uniqueIDs(strings.Fields(ids)), " ")
		}
		if ids != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.caller, tc.path, ids, tc.want)
		}
	}
	for _, path := range []string{"/fhir/Observation/p1psy", "/fhir/Patient/p2", "/fhir/Observation/p2lab"} {
		if r := s.do("GET", path, "", "X-Test-Caller: dr2"); r.status != http.StatusNotFound {
			t.Errorf("dr2 reads %s: %d, want 404", path, r.status)
		}
	}
	if r := s.do("GET", "/fhir/Observation?_summary=count", "", "X-Test-Caller: dr2"); !strings.Contains(string(r.body), `"total":1`) {
		t.Errorf("dr2's count: %s", r.body)
	}
	// Break-glass opens the opted-out record.
	body := `{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"unconscious, no other clinician available"}]}`
	if r := s.do("POST", "/fhir/Patient/p2/$break-glass", body, "X-Test-Caller: dr2"); r.status != http.StatusOK {
		t.Fatalf("break-glass: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/fhir/Observation/p2lab", "", "X-Test-Caller: dr2"); r.status != http.StatusOK {
		t.Errorf("after break-glass: %d", r.status)
	}
}

func uniqueIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// TestSensitiveLabelsOnWrite: a Condition coded as a mental health
// disorder is stored with the PSY label, on create and in a transaction,
// so that a Consent naming the category covers it.
func TestSensitiveLabelsOnWrite(t *testing.T) {
	s := newTestServer(t, func(o *fhirapi.Options) { o.Labeler = access.DefaultLabeler() })
	cond := `{"resourceType":"Condition","subject":{"reference":"Patient/p1"},
		"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
		"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"F32.9"}]}}`
	r := s.do("POST", "/fhir/Condition", cond)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"code":"PSY"`) {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + cond + `,"request":{"method":"POST","url":"Condition"}}]}`
	r = s.do("POST", "/fhir", tx)
	if r.status != http.StatusOK {
		t.Fatalf("transaction: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/fhir/Condition?_security=http://terminology.hl7.org/CodeSystem/v3-ActCode|PSY&_summary=count", ""); !strings.Contains(string(r.body), `"total":2`) {
		t.Errorf("labelled Conditions found by _security: %s", r.body)
	}
}

// TestDeletedUnderPolicy: a caller who reaches every resource of a type
// gets 410 for a deleted one and its history; a caller bound to a patient
// gets 404 (a tombstone has no index to check the binding against).
func TestDeletedUnderPolicy(t *testing.T) {
	s := newAccessServer(t, nil, map[string]*access.Principal{
		"admin": {User: "admin", Role: "admin"},
		"pat1":  {User: "pat1", Role: "patient", Patient: "p1"},
	})
	seedTwoPatients(t, s)
	if r := s.do("DELETE", "/fhir/Observation/o1", "", "X-Test-Caller: admin"); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		caller, path string
		status       int
	}{
		{"admin", "/fhir/Observation/o1", http.StatusGone},
		{"admin", "/fhir/Observation/o1/_history", http.StatusOK},
		{"admin", "/fhir/Observation/o1/_history/1", http.StatusOK},
		{"pat1", "/fhir/Observation/o1", http.StatusNotFound},
		{"pat1", "/fhir/Observation/o1/_history/1", http.StatusNotFound},
	} {
		if r := s.do("GET", tc.path, "", "X-Test-Caller: "+tc.caller); r.status != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.caller, tc.path, r.status, tc.status)
		}
	}
}
