//go:build !unix

package access_test

import "time"

// processCPU reports nothing where getrusage does not exist: the
// benchmark then gives no CPU figures.
func processCPU() time.Duration { return 0 }
