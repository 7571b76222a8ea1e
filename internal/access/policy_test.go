package access

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
)

var update = flag.Bool("update", false, "rewrite testdata/matrix.txt from the built-in roles")

func as(p *Principal) context.Context { return WithPrincipal(context.Background(), p) }

// TestAuthorizationMatrix decides every interaction on every resource type
// for every built-in role and compares the outcome with
// testdata/matrix.txt, the reviewed table of who may do what (and which
// named operations each role may run): a change to
// the roles shows there line by line. go test -run Matrix -update rewrites it.
func TestAuthorizationMatrix(t *testing.T) {
	defs := spec.R5()
	pol := NewRolePolicy(defs, DefaultRoles(defs))
	var b strings.Builder
	for _, role := range pol.Roles().Names() {
		ctx := as(&Principal{User: "u", Role: role, Patient: "p1", FHIRUser: "Practitioner/d1"})
		for _, typ := range defs.APIModel().ResourceTypes() {
			letters := ""
			for _, it := range []struct {
				interaction string
				letter      byte
			}{{"create", 'c'}, {"read", 'r'}, {"update", 'u'}, {"delete", 'd'}, {"search-type", 's'}} {
				err := pol.Decide(ctx, Request{Interaction: it.interaction, Type: typ})
				switch {
				case err == nil:
					letters += string(it.letter)
				case fhir.KindOf(err) != fhir.KindForbidden:
					t.Fatalf("%s %s %s: %v, want forbidden or allowed", role, it.interaction, typ, err)
				}
				// Decide and Limit agree: refused means no rule at all.
				acc := pol.Limit(ctx, it.letter, []string{typ})
				if refused := acc != nil && len(acc.Rules) == 0; refused != (err != nil) {
					t.Errorf("%s %s %s: Decide %v but Limit %+v", role, it.interaction, typ, err, acc)
				}
			}
			if letters != "" {
				fmt.Fprintf(&b, "%s %s %s\n", role, typ, letters)
			}
		}
		// The operations beyond the letters, as "role $operation".
		for _, op := range Operations() {
			if pol.MayRun(ctx, op) == nil {
				fmt.Fprintf(&b, "%s $%s\n", role, op)
			}
		}
	}
	const golden = "testdata/matrix.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		got, wantLines := strings.Split(b.String(), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(got) || i < len(wantLines); i++ {
			g, w := line(got, i), line(wantLines, i)
			if g != w {
				t.Fatalf("the matrix differs from %s at line %d: got %q, want %q (go test -run Matrix -update after review)", golden, i+1, g, w)
			}
		}
	}
}

func line(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return ""
}

// TestRoleBoundaries spells out what the built-in roles must and must
// not do, independently of the matrix file.
func TestRoleBoundaries(t *testing.T) {
	defs := spec.R5()
	pol := NewRolePolicy(defs, DefaultRoles(defs))
	for _, tc := range []struct {
		role, interaction, typ string
		allowed                bool
	}{
		{"physician", "create", "MedicationRequest", true},
		{"physician", "read", "AuditEvent", false},
		{"nurse", "create", "MedicationRequest", false},
		{"nurse", "create", "MedicationAdministration", true},
		{"nurse", "delete", "Observation", false},
		{"pharmacist", "read", "AllergyIntolerance", true},
		{"pharmacist", "create", "Condition", false},
		{"pharmacist", "update", "MedicationDispense", true},
		{"lab", "create", "DiagnosticReport", true},
		{"lab", "read", "DocumentReference", false},
		{"registrar", "create", "Patient", true},
		{"registrar", "read", "Observation", false},
		{"registrar", "read", "Condition", false},
		{"registrar", "create", "Appointment", true},
		{"billing", "read", "DocumentReference", false},
		{"billing", "read", "Composition", false},
		{"billing", "create", "Claim", true},
		{"billing", "read", "Condition", true},
		{"auditor", "search-type", "AuditEvent", true},
		{"auditor", "read", "Observation", false},
		{"auditor", "create", "AuditEvent", false},
		{"patient", "read", "Observation", true},
		{"patient", "create", "Observation", true},
		{"patient", "delete", "Observation", false},
		{"patient", "read", "AuditEvent", false},
		{"admin", "delete", "Patient", true},
		{"nobody", "read", "Patient", false},
	} {
		err := pol.Decide(as(&Principal{User: "u", Role: tc.role, Patient: "p1"}), Request{Interaction: tc.interaction, Type: tc.typ})
		if (err == nil) != tc.allowed {
			t.Errorf("%s %s %s: %v, want allowed %v", tc.role, tc.interaction, tc.typ, err, tc.allowed)
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	pol := NewRolePolicy(spec.R5(), DefaultRoles(spec.R5()))
	ctx := context.Background()
	if err := pol.Decide(ctx, Request{Interaction: "read", Type: "Patient"}); fhir.KindOf(err) != fhir.KindUnauthorized {
		t.Errorf("read without a caller: %v, want unauthorized", err)
	}
	if err := pol.Decide(ctx, Request{Interaction: "capabilities"}); err != nil {
		t.Errorf("capabilities without a caller: %v", err)
	}
	if acc := pol.Limit(ctx, 'r', nil); acc == nil || len(acc.Rules) != 0 {
		t.Errorf("Limit without a caller = %+v, want nothing visible", acc)
	}
}

// rulesText renders an Access for comparison: "types|compartment|careOf|filters" per rule.
func rulesText(acc *search.Access) string {
	if acc == nil {
		return "unlimited"
	}
	var out []string
	for _, r := range acc.Rules {
		types := "*"
		if r.Types != nil {
			types = strings.Join(r.Types, ",")
			if len(r.Types) > 3 {
				types = fmt.Sprintf("%d types", len(r.Types))
			}
		}
		s := types
		if r.Compartment != nil {
			s += " in " + r.Compartment.Type + "/" + r.Compartment.ID
		}
		if r.CareOf != nil {
			s += " care of " + r.CareOf.Type + "/" + r.CareOf.ID
		}
		for _, f := range r.Filters {
			s += " where " + f.Name
		}
		out = append(out, s)
	}
	text := strings.Join(out, "; ")
	if acc.Consent != nil {
		text += " +consent"
	}
	return text
}

func TestScopesNarrowTheRole(t *testing.T) {
	defs := spec.R5()
	pol := NewRolePolicy(defs, DefaultRoles(defs))
	physician := func(grants ...Grant) context.Context {
		return as(&Principal{User: "u", Client: "app", Role: "physician", Patient: "p1", Grants: append([]Grant{}, grants...)})
	}
	lab := url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		perm  byte
		types []string
		want  string
	}{
		{"a session is limited by its role only (and consents)", as(&Principal{User: "u", Role: "physician"}), 's', []string{"Observation"}, "* +consent"},
		{"no scopes, no access", physician(), 's', []string{"Observation"}, ""},
		{"user scope", physician(Grant{Context: "user", Type: "Observation", Perms: "rs"}), 's', []string{"Observation"}, "* +consent"},
		{"user scope on another type", physician(Grant{Context: "user", Type: "Condition", Perms: "rs"}), 's', []string{"Observation"}, ""},
		{"read is not search", physician(Grant{Context: "user", Type: "Observation", Perms: "r"}), 's', []string{"Observation"}, ""},
		{"patient scope binds to the launch patient", physician(Grant{Context: "patient", Type: "*", Perms: "rs"}), 's', []string{"Observation"}, "Observation in Patient/p1 +consent"},
		{"patient scope on reference data", physician(Grant{Context: "patient", Type: "*", Perms: "rs"}), 'r', []string{"Practitioner"}, "unlimited"},
		{"a scope cannot exceed the role", physician(Grant{Context: "user", Type: "*", Perms: "cruds"}), 'd', []string{"AuditEvent"}, ""},
		{"constraint", physician(Grant{Context: "patient", Type: "Observation", Perms: "rs", Filters: lab}), 's', []string{"Observation"}, "Observation in Patient/p1 where category +consent"},
		{"bad constraint grants nothing", physician(Grant{Context: "user", Type: "Observation", Perms: "rs", Filters: url.Values{"nonsense": {"1"}}}), 's', []string{"Observation"}, ""},
		{"patient role", as(&Principal{User: "pat", Role: "patient", Patient: "p9"}), 's', []string{"Observation", "Practitioner"}, "Practitioner; Observation in Patient/p9 +consent"},
		{"patient role without its patient", as(&Principal{User: "pat", Role: "patient"}), 's', []string{"Observation"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rulesText(pol.Limit(tc.ctx, tc.perm, tc.types)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCareAndBreakGlass(t *testing.T) {
	defs := spec.R5()
	roles, err := LoadRoles(defs, []byte(`{"roles":[{"name":"ward-nurse","patients":"care","mfa":true,
		"permissions":[{"types":["@demographics","@clinical","@directory"],"perms":"rs"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	pol := NewRolePolicy(defs, roles)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	pol.now = func() time.Time { return now }
	nurse := &Principal{User: "n", Role: "ward-nurse", FHIRUser: "Practitioner/n1"}
	if got := rulesText(pol.Limit(as(nurse), 'r', []string{"Observation"})); got != "Observation care of Practitioner/n1 +consent" {
		t.Errorf("care: %q", got)
	}
	nurse.Emergencies = []Emergency{
		{Patient: "p7", Until: now.Add(time.Hour), Reason: "unconscious in ED"},
		{Patient: "p8", Until: now.Add(-time.Second), Reason: "expired"},
	}
	if got := rulesText(pol.Limit(as(nurse), 'r', []string{"Observation"})); got != "Observation care of Practitioner/n1; Observation in Patient/p7 +consent" {
		t.Errorf("with break-glass: %q", got)
	}
	if got := rulesText(pol.Limit(as(nurse), 'u', []string{"Observation"})); got != "" {
		t.Errorf("break-glass grants no writing, and the role none: %q", got)
	}
	unlinked := &Principal{User: "n2", Role: "ward-nurse"}
	if got := rulesText(pol.Limit(as(unlinked), 'r', []string{"Observation", "Practitioner"})); got != "Practitioner +consent" {
		t.Errorf("a care role without a Practitioner reaches no patient: %q", got)
	}
}

func TestLoadRolesErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{`{"roles":[{"name":"x","permissions":[{"types":["Patientx"],"perms":"r"}]}]}`, "not an R5 resource type"},
		{`{"roles":[{"name":"x","permissions":[{"types":["@nogroup"],"perms":"r"}]}]}`, "unknown group"},
		{`{"roles":[{"name":"x","permissions":[{"types":["Patient"],"perms":"rx"}]}]}`, "use the letters"},
		{`{"roles":[{"name":"x","patients":"some"}]}`, "patients must be"},
		{`{"roles":[{"name":"x","colour":"red"}]}`, "unknown field"},
		{`{"roles":[{"permissions":[]}]}`, "no name"},
	} {
		if _, err := LoadRoles(spec.R5(), []byte(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.file, err, tc.want)
		}
	}
	// A file role replaces the built-in one of its name.
	roles, err := LoadRoles(spec.R5(), []byte(`{"roles":[{"name":"billing","permissions":[{"types":["Claim"],"perms":"r"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	billing, _ := roles.Role("billing")
	if billing.Allows('r', "Coverage") || !billing.Allows('r', "Claim") {
		t.Errorf("the file's billing role did not replace the built-in one")
	}
	if _, ok := roles.Role("physician"); !ok {
		t.Errorf("the other built-in roles are kept")
	}
}
