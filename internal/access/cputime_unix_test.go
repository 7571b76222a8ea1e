//go:build unix

package access_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time, user and system, this process has used so
// far: every goroutine's, the store's writer among them.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
