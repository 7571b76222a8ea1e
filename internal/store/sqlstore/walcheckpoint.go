package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// SQLite's WAL checkpoints, off the writer.
//
// A commit appends its pages to the write-ahead log; a checkpoint copies
// them into the database file and syncs it. By default SQLite checkpoints
// inside the commit that takes the log past 1,000 pages, on the writer
// goroutine, which every write waits for: in the Synthea import that was
// 0.16 s of the writer's 2 s. A goroutine of its own, on a connection of
// its own, checkpoints instead, PASSIVE (it never waits for a reader or
// the writer, and copies what it can), after commits, at most every
// walCheckpointEvery. The writer's automatic checkpoint stays as a bound
// on the log, at walSafetyPages, should this one fall behind. Checkpoints
// change nothing durable: a commit is durable once its log is synced.
//
// The audit file's commits are not synced one by one (auditfile.go): a
// second goroutine beside the checkpointer's syncs its log after commits,
// at most every walCheckpointEvery, so a record reaches the disk within
// walCheckpointEvery and a sync of its commit. It does not wait for
// checkpoints, which may take longer after a large write.

const (
	walCheckpointEvery = 100 * time.Millisecond
	walSafetyPages     = 16384 // 64 MiB of 4 KiB pages
)

// walCheckpointer runs the checkpoints of one DB.
type walCheckpointer struct {
	pool     *sql.DB       // one writable connection
	kick     chan struct{} // a commit happened; capacity 1
	logs     []string      // logs the syncer syncs
	syncKick chan struct{} // a commit happened, for the syncer; capacity 1
	// Syncs are numbered as they start; syncDone is the last one that
	// ended well (the writer deletes what a sync has made safe).
	syncStarted, syncDone atomic.Int64
	stop                  chan struct{}
	stopped               sync.WaitGroup
}

// startWALCheckpointer starts db's checkpointer on pool (a writable pool
// of its own) and has the writer kick it after each commit; and, when
// logs are given, the syncer that syncs them.
func (db *DB) startWALCheckpointer(pool *sql.DB, logs ...string) {
	pool.SetMaxOpenConns(1)
	pool.SetMaxIdleConns(1)
	pool.SetConnMaxIdleTime(0)
	c := &walCheckpointer{pool: pool, kick: make(chan struct{}, 1), logs: logs, syncKick: make(chan struct{}, 1), stop: make(chan struct{})}
	db.walCkpt = c
	c.stopped.Go(func() { c.run(db.where) })
	if len(logs) > 0 {
		c.stopped.Go(func() { c.runSyncer(db.where) })
	}
}

// kicked tells the checkpointer and the syncer a commit happened, without
// waiting.
func (c *walCheckpointer) kicked() {
	for _, kick := range []chan struct{}{c.kick, c.syncKick} {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
}

// runSyncer syncs the logs c.logs names after commits, at most every
// walCheckpointEvery.
func (c *walCheckpointer) runSyncer(where string) {
	c.every(c.syncKick, c.syncLogs, func(err error) {
		slog.Error("sqlite: syncing the audit log to disk failed; its records since the last sync would not survive a power loss", "database", where, "error", err)
	}, func() {
		slog.Info("sqlite: syncing the audit log works again", "database", where)
	})
}

func (c *walCheckpointer) run(where string) {
	c.every(c.kick, func() error {
		_, err := c.pool.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		return err
	}, func(err error) {
		slog.Warn("sqlite: checkpointing the write-ahead log failed; the writer's own checkpoints bound it", "database", where, "error", err)
	}, func() {
		slog.Info("sqlite: checkpointing the write-ahead log works again", "database", where)
	})
}

// every runs work after each kick, at most every walCheckpointEvery, until
// c stops. It reports the first failure of a run of them (failed) and the
// first success after (recovered).
func (c *walCheckpointer) every(kick <-chan struct{}, work func() error, failed func(error), recovered func()) {
	failing := false
	for {
		select {
		case <-c.stop:
			return
		case <-kick:
		}
		err := work()
		switch {
		case err != nil && !failing:
			failed(err)
			failing = true
		case err == nil && failing:
			recovered()
			failing = false
		}
		select {
		case <-c.stop:
			return
		case <-time.After(walCheckpointEvery):
		}
	}
}

// syncLogs syncs the logs c.logs names that exist: the syncer, and the
// writer at open. syncDone only grows, whichever of two ends first.
func (c *walCheckpointer) syncLogs() error {
	gen := c.syncStarted.Add(1)
	for _, path := range c.logs {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // no log yet, or none left by a checkpoint: nothing to sync
		}
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", path, err)
		}
	}
	for done := c.syncDone.Load(); gen > done && !c.syncDone.CompareAndSwap(done, gen); done = c.syncDone.Load() {
	}
	return nil
}

// stopWALCheckpointer stops db's checkpointer, if it runs, and closes
// its connection.
func (db *DB) stopWALCheckpointer() error {
	c := db.walCkpt
	if c == nil {
		return nil
	}
	db.walCkpt = nil
	close(c.stop)
	c.stopped.Wait()
	return c.pool.Close()
}
