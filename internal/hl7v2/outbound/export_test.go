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
