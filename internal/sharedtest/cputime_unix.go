//go:build unix

package sharedtest

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time, user and system, this process has used so
// far: every goroutine's. Benchmarks take it before and after to report
// work per operation, which other load on a shared machine moves far less
// than the clock.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
