package importer

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestCoresYield: while the writer writes with results waiting, one
// worker fewer than the cores starts a job; afterwards they all may.
func TestCoresYield(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one core: nothing to keep")
	}
	c := newCores(2)
	c.writing(true)
	c.enter() // the first worker runs
	var second atomic.Bool
	done := make(chan struct{})
	go func() {
		c.enter()
		second.Store(true)
		c.leave()
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	if second.Load() {
		t.Fatal("a second worker started while the writer kept its core")
	}
	c.writing(false)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the second worker did not start once the batch was written")
	}
	c.leave()

	// Short of work, the writer keeps no core.
	c.writing(false)
	c.enter()
	c.enter()
	c.leave()
	c.leave()

	// One worker alone is never held back.
	one := newCores(1)
	one.writing(true)
	one.enter()
	one.leave()
}
