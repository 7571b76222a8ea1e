package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const labCategory = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"

func TestParseScope(t *testing.T) {
	all := PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
	tests := []struct {
		in        string
		want      Scope
		canonical string
	}{
		{"patient/Observation.rs", Scope{Context: "patient", ResourceType: "Observation", Permissions: PermRead | PermSearch}, ""},
		{"user/*.cruds", Scope{Context: "user", ResourceType: "*", Permissions: all}, ""},
		{"system/Patient.r", Scope{Context: "system", ResourceType: "Patient", Permissions: PermRead}, ""},
		{"patient/Condition.cud", Scope{Context: "patient", ResourceType: "Condition", Permissions: PermCreate | PermUpdate | PermDelete}, ""},
		{"patient/Observation.read", Scope{Context: "patient", ResourceType: "Observation", Permissions: PermRead | PermSearch}, "patient/Observation.rs"},
		{"user/Observation.write", Scope{Context: "user", ResourceType: "Observation", Permissions: PermCreate | PermUpdate | PermDelete}, "user/Observation.cud"},
		{"patient/*.*", Scope{Context: "patient", ResourceType: "*", Permissions: all}, "patient/*.cruds"},
		{"patient/Observation.rs?category=" + labCategory,
			Scope{Context: "patient", ResourceType: "Observation", Permissions: PermRead | PermSearch, Params: []Param{{"category", labCategory}}}, ""},
		{"user/Observation.s?category=vital-signs&code=http://loinc.org|8867-4",
			Scope{Context: "user", ResourceType: "Observation", Permissions: PermSearch, Params: []Param{{"category", "vital-signs"}, {"code", "http://loinc.org|8867-4"}}}, ""},
		{"openid", Scope{Name: "openid"}, ""},
		{"fhirUser", Scope{Name: "fhirUser"}, ""},
		{"launch/patient", Scope{Name: "launch/patient"}, ""},
		{"offline_access", Scope{Name: "offline_access"}, ""},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if err != nil {
			t.Errorf("ParseScope(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseScope(%q) (-want +got):\n%s", tt.in, diff)
		}
		want := tt.canonical
		if want == "" {
			want = tt.in
		}
		if got.String() != want {
			t.Errorf("ParseScope(%q).String() = %q, want %q", tt.in, got.String(), want)
		}
	}
}

func TestParseScopeInvalid(t *testing.T) {
	for _, in := range []string{
		"patient/Observation.sr",     // wrong order
		"patient/Observation.rr",     // repeated
		"patient/Observation.x",      // unknown permission
		"patient/Observation.",       // no permissions
		"patient/Observation",        // no dot
		"practitioner/Observation.r", // unknown context
		"Patient/Observation.r",      // context is case-sensitive
		"patient/observation.r",      // resource types start upper case
		"patient/Obs-ervation.r",
		"patient/.r",
		"patient/Observation.read?category=x", // v1 with constraints
		"patient/Observation.rs?",
		"patient/Observation.rs?category",
		"patient/Observation.rs?category=",
		"patient/Observation.rs?=x",
		"patient/Observation.rs?a=1&",
		"openID",
		"launch/imagingstudy",
		"email",
		"",
		"patient/Observation.rs\x00",
		`patient/Observation.rs?code="x"`,
	} {
		_, err := ParseScope(in)
		var se *ScopeError
		if !errors.Is(err, ErrInvalidScope) || !errors.As(err, &se) || se.Scope != in {
			t.Errorf("ParseScope(%q): got %v, want a *ScopeError", in, err)
		}
	}
}

func TestParseScopes(t *testing.T) {
	set, err := ParseScopes("openid  fhirUser launch/patient patient/Observation.read patient/Observation.rs patient/Observation.sr bogus")
	if got, want := set.String(), "openid fhirUser launch/patient patient/Observation.rs"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(err, ErrInvalidScope) || !strings.Contains(err.Error(), `"patient/Observation.sr"`) || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("got error %v, want both invalid scopes named", err)
	}
	if !set.Has("openid") || !set.Has("launch/patient") || set.Has("offline_access") || set.Has("patient/Observation.rs") {
		t.Error("Has gives wrong answers")
	}
	if set, err := ParseScopes(""); err != nil || len(set) != 0 {
		t.Errorf("empty: got %v, %v", set, err)
	}
}

func TestScopeSetAllows(t *testing.T) {
	set, err := ParseScopes("patient/Observation.rs?category=" + labCategory + " patient/Observation.rs?category=vital-signs patient/Condition.r user/*.cruds patient/*.s openid")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		context, typ string
		p            Permission
		want         []string
	}{
		{"patient", "Observation", PermRead, []string{"patient/Observation.rs?category=" + labCategory, "patient/Observation.rs?category=vital-signs"}},
		{"patient", "Observation", PermSearch, []string{"patient/Observation.rs?category=" + labCategory, "patient/Observation.rs?category=vital-signs", "patient/*.s"}},
		{"patient", "Condition", PermRead, []string{"patient/Condition.r"}},
		{"patient", "Condition", PermRead | PermSearch, nil}, // r and s come from different scopes
		{"patient", "Condition", PermUpdate, nil},
		{"patient", "Patient", PermSearch, []string{"patient/*.s"}},
		{"user", "Encounter", PermDelete, []string{"user/*.cruds"}},
		{"system", "Encounter", PermRead, nil},
		{"patient", "Observation", 0, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, s := range set.Allows(tt.context, tt.typ, tt.p) {
			got = append(got, s.String())
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Allows(%s, %s, %s) (-want +got):\n%s", tt.context, tt.typ, tt.p, diff)
		}
	}
}

func TestScopeSetIntersect(t *testing.T) {
	tests := []struct {
		requested, allowed, want string
	}{
		{"patient/*.rs", "patient/Observation.rs patient/Condition.r", "patient/Observation.rs patient/Condition.r"},
		{"patient/Observation.cruds", "patient/*.rs", "patient/Observation.rs"},
		{"patient/Observation.rs", "user/*.cruds", ""},
		{"patient/Observation.c", "patient/*.rs", ""},
		{"openid fhirUser launch/patient offline_access", "openid fhirUser launch/patient", "openid fhirUser launch/patient"},
		{"patient/Observation.rs", "patient/Observation.rs?category=vital-signs", "patient/Observation.rs?category=vital-signs"},
		{"patient/Observation.rs?category=vital-signs", "patient/*.rs", "patient/Observation.rs?category=vital-signs"},
		{"patient/Observation.rs?category=vital-signs patient/Observation.rs", "patient/*.rs", "patient/Observation.rs"},
		{"patient/*.rs patient/Observation.r", "patient/*.cruds", "patient/*.rs"},
		{"patient/*.read", "patient/*.read", "patient/*.rs"},
	}
	for _, tt := range tests {
		req, err1 := ParseScopes(tt.requested)
		allowed, err2 := ParseScopes(tt.allowed)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if got := req.Intersect(allowed).String(); got != tt.want {
			t.Errorf("%q ∩ %q = %q, want %q", tt.requested, tt.allowed, got, tt.want)
		}
	}
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{
		"openid fhirUser launch/patient patient/*.rs",
		"patient/Observation.rs?category=" + labCategory + "&code=x",
		"user/Observation.read system/*.* patient/Observation.sr",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, _ := ParseScopes(s)
		canonical := set.String()
		again, err := ParseScopes(canonical)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canonical, s, err)
		}
		if again.String() != canonical {
			t.Fatalf("canonical form not stable: %q then %q", canonical, again.String())
		}
		// A set allows itself and nothing more.
		if got := set.Intersect(set).String(); got != canonical {
			// Intersect drops scopes covered by others, so compare coverage.
			for _, sc := range set {
				if sc.Context != "" && len(set.Intersect(ScopeSet{sc})) == 0 {
					t.Fatalf("%q ∩ itself lost %q (got %q)", canonical, sc, got)
				}
			}
		}
		for _, sc := range set {
			if sc.Context != "" && len(set.Allows(sc.Context, "Patient", sc.Permissions)) == 0 && sc.ResourceType == "*" {
				t.Fatalf("%q does not allow its own wildcard %q", canonical, sc)
			}
		}
	})
}
