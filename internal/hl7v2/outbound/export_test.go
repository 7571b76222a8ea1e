package outbound

import (
	"testing"
	"time"
)

// ShortLease makes leases last d for the rest of the test.
func ShortLease(t *testing.T, d time.Duration) {
	old := leaseFor
	leaseFor = d
	t.Cleanup(func() { leaseFor = old })
}

// FewTries makes an unanswered order's clinician be told after n tries,
// for the rest of the test.
func FewTries(t *testing.T, n int) {
	old := maxTries
	maxTries = n
	t.Cleanup(func() { maxTries = old })
}
