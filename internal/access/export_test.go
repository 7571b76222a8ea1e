package access

import "github.com/emr-project/emr/internal/store"

// NewUnauditedGate is NewGate with auditing off: the baseline of
// BenchmarkAuditCost. It exists only in this package's test binary, so no
// build of emr can run without audit.
func NewUnauditedGate(st store.Store, policy Policy, observer string) *Gate {
	g := NewGate(st, policy, observer)
	g.unaudited = true
	return g
}
