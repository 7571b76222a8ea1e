package fhirapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/deid"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhirapi"
)

// TestDeidentifyOperation runs Patient/$deidentify as a researcher (a role
// of a deployment's roles file with the deidentify operation and no read
// of patient data), as admin, and as roles without the operation.
func TestDeidentifyOperation(t *testing.T) {
	defs := spec.R5()
	roles, err := access.LoadRoles(defs, []byte(`{"roles":[{"name":"researcher","patients":"all","mfa":true,
		"permissions":[{"types":["@knowledge"],"perms":"rs"}],"operations":["deidentify"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := deid.New(defs, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	callers := map[string]*access.Principal{
		"admin":      {User: "admin", Role: "admin"},
		"researcher": {User: "res", Role: "researcher"},
		"physician":  {User: "doc", Role: "physician"},
		"app":        {User: "res", Client: "app", Role: "researcher", Grants: []access.Grant{{Context: "patient", Type: "*", Perms: "rs"}}},
	}
	s := newTestServer(t, func(o *fhirapi.Options) {
		o.Gate = access.NewGate(o.Store, access.NewRolePolicy(defs, roles), "test")
		o.Deidentifier = d
	})
	inner := s.handler
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := callers[r.Header.Get("X-Test-Caller")]; p != nil {
			r = r.WithContext(access.WithPrincipal(r.Context(), p))
		}
		inner.ServeHTTP(w, r)
	})
	seedMasked(t, s)

	r := s.do("GET", "/fhir/Patient/p1/$deidentify", "", "X-Test-Caller: researcher")
	if r.status != http.StatusOK {
		t.Fatalf("researcher: %d %s", r.status, r.body)
	}
	body := string(r.body)
	for _, gone := range []string{`"Patient/p1"`, `"id":"p1"`, `"family"`, "NOTE-SECRET", "NARRATIVE-P1", "UEhPVE8=", "Tk9URS1EQVRB", "REASON-SECRET"} {
		if strings.Contains(body, gone) {
			t.Errorf("$deidentify answer holds %s", gone)
		}
	}
	for _, want := range []string{`"type":"collection"`, `"id":"` + d.Pseudonym("Patient", "p1") + `"`,
		`"reference":"Patient/` + d.Pseudonym("Patient", "p1") + `"`, "PSEUDED", `"resourceType":"Condition"`, `"resourceType":"DocumentReference"`} {
		if !strings.Contains(body, want) {
			t.Errorf("$deidentify answer lacks %s: %s", want, body)
		}
	}
	if r := s.do("GET", "/fhir/Patient/p1/$deidentify?_type=Condition", "", "X-Test-Caller: researcher"); strings.Contains(string(r.body), `"Encounter"`) || !strings.Contains(string(r.body), "Condition") {
		t.Errorf("_type=Condition: %s", r.body)
	}
	if r := s.do("GET", "/fhir/R4/Patient/p1/$deidentify", "", "X-Test-Caller: admin"); r.status != http.StatusOK || strings.Contains(string(r.body), "NOTE-SECRET") {
		t.Errorf("R4 face: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		caller, path string
		status       int
	}{
		{"admin", "/fhir/Patient/p1/$deidentify", http.StatusOK},
		{"researcher", "/fhir/Patient/p1", http.StatusForbidden},
		{"researcher", "/fhir/Patient/nobody/$deidentify", http.StatusNotFound},
		{"researcher", "/fhir/Patient/p1/$deidentify?name=x", http.StatusBadRequest},
		{"physician", "/fhir/Patient/p1/$deidentify", http.StatusForbidden},
		{"app", "/fhir/Patient/p1/$deidentify", http.StatusForbidden},
		{"", "/fhir/Patient/p1/$deidentify", http.StatusUnauthorized},
	} {
		if r := s.do("GET", tc.path, "", "X-Test-Caller: "+tc.caller); r.status != tc.status {
			t.Errorf("%s %s: %d, want %d: %s", tc.caller, tc.path, r.status, tc.status, r.body)
		}
	}
	// Audited: the researcher's access to the patient, for research.
	found := 0
	for _, ev := range s.auditEvents(t) {
		j := string(ev.JSON())
		if strings.Contains(j, "HRESCH") && strings.Contains(j, `"Patient/p1"`) && strings.Contains(j, `"res"`) {
			found++
		}
	}
	if found < 2 {
		t.Errorf("%d audit events of the researcher's $deidentify, want 2", found)
	}
}
