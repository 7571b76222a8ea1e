//go:build !unix

package sharedtest

import "time"

// ProcessCPU reports nothing where getrusage does not exist: benchmarks
// then give no CPU figures.
func ProcessCPU() time.Duration { return 0 }
