package importer

import (
	"runtime"
	"sync"
)

// cores keeps a core for the one writer. The store's writer goroutine
// does a batch's database work while the workers prepare the next ones;
// with as many workers as cores, Go's scheduler shares the cores among
// all of them, and the writer, which every resource waits for, stood
// runnable without a core for a sixth of an import (go tool trace). So
// while a batch is being written and enough results wait for the next
// one, one worker fewer than there are cores starts a job. When the
// writer is short of work, they all run.
type cores struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running int
	limit   int
	all     int
}

func newCores(workers int) *cores {
	c := &cores{all: min(workers, runtime.GOMAXPROCS(0))}
	c.limit = c.all
	c.cond = sync.NewCond(&c.mu)
	return c
}

// enter waits until a worker may start a job; leave ends it.
func (c *cores) enter() {
	c.mu.Lock()
	for c.running >= c.limit {
		c.cond.Wait()
	}
	c.running++
	c.mu.Unlock()
}

func (c *cores) leave() {
	c.mu.Lock()
	c.running--
	c.cond.Signal()
	c.mu.Unlock()
}

// writing says whether the writer is writing a batch with enough results
// waiting for the next (yield), or not.
func (c *cores) writing(yield bool) {
	c.mu.Lock()
	c.limit = c.all
	if yield && c.all > 1 {
		c.limit = c.all - 1
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}
