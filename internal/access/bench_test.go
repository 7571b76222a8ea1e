package access

import (
	"testing"

	"github.com/emr-project/emr/internal/fhir/spec"
)

// BenchmarkLimit measures deciding a caller's rules, which every search
// and read under the role policy does.
// Run: go test -bench Limit -run '^$' ./internal/access
func BenchmarkLimit(b *testing.B) {
	defs := spec.R5()
	pol := NewRolePolicy(defs, DefaultRoles(defs))
	for _, c := range []struct {
		name string
		p    *Principal
	}{
		{"physician", &Principal{User: "d", Role: "physician"}},
		{"patient", &Principal{User: "p", Role: "patient", Patient: "p1"}},
		{"app", &Principal{User: "d", Role: "physician", Patient: "p1", Grants: []Grant{{Context: "patient", Type: "*", Perms: "rs"}}}},
	} {
		ctx := as(c.p)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				pol.Limit(ctx, 's', nil)
			}
		})
	}
}
