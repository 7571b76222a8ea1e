package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// A writeReq is one Write or AppendAudit call waiting for the writer goroutine.
type writeReq struct {
	ctx   context.Context
	fn    func(*txn) error
	audit bool // fn only appends audit events
	// auditFile: fn changes the audit log's own tables and no others
	// (a purge); it runs in a savepoint like any write.
	auditFile bool
	state     atomic.Int32 // reqQueued, then reqTaken by the writer or reqAbandoned by the caller
	done      chan error   // buffered: the writer never blocks on an answer
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

var errClosed = fhir.Errorf(fhir.KindInternal, "the store is closed")

// submit queues fn for the writer goroutine and waits for the durable commit
// of the batch it joins. A caller whose ctx ends while fn is still queued
// gets ctx.Err() and fn never runs; once fn has started the caller waits for
// the outcome, so nil always means committed and an error always means
// nothing of fn was kept.
func (db *DB) submit(ctx context.Context, fn func(*txn) error) error {
	return db.enqueue(ctx, &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// submitAuditFile is submit for a fn that changes only the audit log's own
// tables, besides appending events.
func (db *DB) submitAuditFile(ctx context.Context, fn func(*txn) error) error {
	return db.enqueue(ctx, &writeReq{ctx: ctx, fn: fn, auditFile: true, done: make(chan error, 1)})
}

// submitAudit is submit for a fn that only appends audit events.
func (db *DB) submitAudit(ctx context.Context, fn func(*txn) error) error {
	return db.enqueue(ctx, &writeReq{ctx: ctx, fn: fn, audit: true, done: make(chan error, 1)})
}

func (db *DB) enqueue(ctx context.Context, req *writeReq) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return errClosed
	}
	select {
	case db.queue <- req:
		db.mu.RUnlock()
	case <-ctx.Done():
		db.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err()
		}
		return <-req.done
	}
}

// writeLoop is the writer goroutine: it takes whatever is queued (up to
// maxBatch) and commits it as one transaction. While one batch waits for its
// fsync the next one queues up, so the batch size follows the load.
func (db *DB) writeLoop() {
	defer close(db.stopped)
	batch := make([]*writeReq, 0, db.maxBatch)
	// A checkpoint is due CheckpointInterval after the last even when no
	// append comes to write it.
	var tick <-chan time.Time
	if db.auditKey != nil {
		t := time.NewTicker(db.ckInterval / 2)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case req := <-db.queue:
			batch = append(batch[:0], req)
		case <-tick:
			db.logCheckpointErr(db.checkpointNow(context.Background(), false))
			continue
		case <-db.stop:
			// Close has stopped new sends; finish what is queued.
			for {
				batch = batch[:0]
				for len(batch) < db.maxBatch && len(db.queue) > 0 {
					batch = append(batch, <-db.queue)
				}
				if len(batch) == 0 {
					// Index and seal what this process appended since
					// the last checkpoint.
					if _, err := db.catchUpAuditIndex(context.Background()); err != nil {
						slog.Warn(db.d.name+": indexing the audit log at close failed", "database", db.where, "error", err)
					}
					db.logCheckpointErr(db.checkpointNow(context.Background(), true))
					return
				}
				db.runBatch(batch)
			}
		}
		batch = db.linger(db.collect(batch))
		db.runBatch(batch)
		clear(batch) // drop references to answered requests
	}
}

// linger lets a batch grow while requests keep arriving: each yield of
// the writer's goroutine lets the requests being served reach the queue,
// and one commit (and its fsync, whose CPU is the kernel's share of a
// commit) then answers them all.
func (db *DB) linger(batch []*writeReq) []*writeReq {
	for range lingerYields {
		n := len(batch)
		runtime.Gosched()
		if batch = db.collect(batch); len(batch) == n {
			break
		}
	}
	return batch
}

// collect adds to batch what is queued, up to maxBatch, without waiting.
func (db *DB) collect(batch []*writeReq) []*writeReq {
	for len(batch) < db.maxBatch {
		select {
		case req := <-db.queue:
			batch = append(batch, req)
		default:
			return batch
		}
	}
	return batch
}

// lingerYields bounds how often linger yields.
const lingerYields = 4

// runBatch runs each request inside its own savepoint of one transaction and
// answers every caller after the commit.
func (db *DB) runBatch(batch []*writeReq) {
	ctx := context.Background() // a caller's ctx must not abort the others' commit
	results := make([]error, len(batch))
	run := make([]bool, len(batch))    // fn is to run in this transaction
	answer := make([]bool, len(batch)) // the caller waits for results[i]
	for i, req := range batch {
		if !req.state.CompareAndSwap(reqQueued, reqTaken) {
			continue // the caller gave up while queued
		}
		answer[i] = true
		if err := req.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		run[i] = true
	}
	reply := func() {
		for i, req := range batch {
			if answer[i] {
				req.done <- results[i]
			}
		}
	}
	failAll := func(err error) {
		for i := range results {
			if run[i] && results[i] == nil {
				results[i] = err
			}
		}
		reply()
	}
	if !slices.Contains(run, true) {
		reply()
		return
	}
	db.batchErr = nil
	db.batchWrites = 0
	clear(db.pending) // drop references to the last batch's events
	db.pending = db.pending[:0]
	db.ckptPending = nil
	db.aidx.begin()
	committed := false
	defer func() {
		if !committed {
			_, _ = db.wconn.ExecContext(ctx, "ROLLBACK")
		}
	}()
	auditOnly := true
	for i, req := range batch {
		auditOnly = auditOnly && (!run[i] || req.audit)
	}
	// A batch of audit appends only runs no SQL until it seals: where the
	// database can append in one statement, the transaction begins only
	// if that cannot be done (appendAuditAtOnce).
	atOnce := auditOnly && db.d.auditAppend != ""
	if !atOnce {
		if err := db.beginBatch(ctx, auditOnly); err != nil {
			failAll(internalErr("write: begin", err))
			return
		}
	}
	for i, req := range batch {
		if !run[i] {
			continue
		}
		fnErr, sqlErr := db.runOne(ctx, req)
		if sqlErr != nil {
			// The savepoint machinery itself failed (disk full, I/O error):
			// the transaction is in doubt, so nobody in it is kept.
			failAll(internalErr("write", sqlErr))
			return
		}
		results[i] = fnErr
	}
	if atOnce {
		last, ok, err := db.appendAuditAtOnce(ctx)
		if err != nil {
			failAll(internalErr("write: audit", err))
			return
		}
		if ok {
			committed = true // the statement was its own transaction
			db.commitAudit()
			if db.afterCommit != nil {
				db.afterCommit(ctx, db.wconn)
			}
			db.catchUpAfterAppend(ctx, last)
			reply()
			return
		}
		if err := db.beginBatch(ctx, true); err != nil {
			failAll(internalErr("write: begin", err))
			return
		}
	}
	// With the audit log in a file of its own, a batch that writes keeps
	// its records in the outbox of the file it writes (auditfile.go).
	outbox := db.auditPath != "" && !auditOnly
	seal := db.sealAudit
	if outbox {
		seal = db.sealApart
	}
	if err := seal(ctx); err != nil {
		failAll(internalErr("write: audit", err))
		return
	}
	if _, err := db.wconn.ExecContext(ctx, "COMMIT"); err != nil {
		failAll(internalErr("write: commit", err))
		return
	}
	committed = true
	if outbox {
		wanted := db.aidx.wanted
		db.commitAudit() // what sealApart chained
		db.aidx.wanted = wanted
		db.outbox.deleted = max(db.outbox.deleted, db.outbox.delete)
		db.outbox.unmoved = db.outbox.unmoved || db.outbox.stashed
		// The records are durable in the outbox: a failure to chain them
		// now is only logged, and the next write or open does it.
		if db.outbox.unmoved || wanted {
			if _, err := db.moveOutbox(ctx); err != nil {
				slog.Warn("sqlite: chaining the audit records of a write failed; done later", "database", db.where, "error", err)
			} else {
				db.outbox.unmoved = false
			}
		}
	} else {
		db.commitAudit()
	}
	if db.afterCommit != nil {
		db.afterCommit(ctx, db.wconn)
	}
	if db.walCkpt != nil {
		db.walCkpt.kicked()
	}
	db.written += db.batchWrites
	db.maybeAnalyze()
	reply()
}

// beginBatch starts the batch's transaction, which takes the database's
// write lock, and then reads the latest lastUpdated in the database: another
// process may have written since this one last did. A batch of audit
// appends only (auditOnly) needs neither.
func (db *DB) beginBatch(ctx context.Context, auditOnly bool) error {
	begin := db.d.begin
	if auditOnly {
		begin = db.d.beginAudit
	}
	for _, stmt := range begin {
		if _, err := db.wconn.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if auditOnly {
		return nil
	}
	var last sql.NullInt64
	if err := db.wconn.QueryRowContext(ctx, "SELECT max(last_updated) FROM resource_version").Scan(&last); err != nil {
		return err
	}
	if t := time.UnixMilli(last.Int64).UTC(); last.Valid && t.After(db.lastNow) {
		db.lastNow = t
	}
	return nil
}

// runOne runs one request's fn in a savepoint. fnErr is the caller's
// outcome; sqlErr means the enclosing transaction can no longer be trusted.
func (db *DB) runOne(ctx context.Context, req *writeReq) (fnErr, sqlErr error) {
	// An AppendAudit's fn runs no SQL (its events wait in db.pending for
	// sealAudit), so it needs no savepoint: two round trips fewer per
	// audited read on PostgreSQL.
	if !req.audit {
		if _, err := db.wconn.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			return nil, err
		}
	}
	tx := &txn{db: db, ctx: ctx, now: db.nextNow(), auditFile: req.auditFile}
	audits := len(db.pending)
	fnErr = runGuarded(req.fn, tx)
	if fnErr == nil && db.batchErr == nil {
		// The function's index rows wait in the buffer: they go now,
		// inside its savepoint, so a failure undoes the function whole.
		if err := db.flushIndex(ctx); err != nil {
			fnErr = tx.dbErr("index", err)
		}
	}
	db.dropIndex() // flushed, or the function failed: nothing of it waits
	tx.done = true
	if db.batchErr != nil {
		return nil, db.batchErr
	}
	if fnErr != nil {
		clear(db.pending[audits:])
		db.pending = db.pending[:audits]
	}
	if req.audit {
		return fnErr, nil
	}
	if fnErr != nil {
		if _, err := db.wconn.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
			return nil, err
		}
	}
	if _, err := db.wconn.ExecContext(ctx, "RELEASE w"); err != nil {
		return nil, err
	}
	return fnErr, nil
}

// runGuarded turns a panic in fn into an error so that one bad caller cannot
// take the writer goroutine, and everybody's writes, down with it.
func runGuarded(fn func(*txn) error, tx *txn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internalErr("write", fmt.Errorf("panic in write function: %v", r))
		}
	}()
	return fn(tx)
}

// nextNow is the timestamp of the next transaction: wall-clock time in
// milliseconds, never earlier than the previous one, so that last_updated
// never decreases along seq (history relies on this to turn times into seq
// bounds), whichever process wrote the previous transaction.
func (db *DB) nextNow() time.Time {
	now := time.Now().UTC().Truncate(time.Millisecond)
	if now.Before(db.lastNow) {
		now = db.lastNow
	}
	db.lastNow = now
	return now
}

// internalErr wraps a database failure as a KindInternal *fhir.Error whose
// client-facing text says nothing about the database; the driver's message
// stays in Cause for the log.
func internalErr(op string, err error) error {
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return fmt.Errorf("store: %s: %w", op, &fhir.Error{
		Kind:   fhir.KindInternal,
		Issues: []fhir.Issue{{Severity: "error", Code: "exception", Diagnostics: "storage failure"}},
		Cause:  err,
	})
}

// maybeAnalyze refreshes the planner's statistics in the background each
// time this process's writes pass 1,000, 10,000, 100,000 … versions, on a
// database whose dialect asks for it (PostgreSQL: autovacuum does it too,
// but only a minute or so after a large load, and until then the planner,
// knowing nothing of the index tables, can choose plans thousands of times
// slower — a chained search took 34 s on a freshly loaded database, under
// 1 ms once analysed). During a bulk load it waits for the commit that
// builds the load's indexes, and then analyses once what the load wrote.
func (db *DB) maybeAnalyze() {
	if db.d.analyze == "" || db.bulk.loading.Load() {
		return
	}
	if db.nextAnalyze == 0 {
		db.nextAnalyze = 1000
	}
	if db.written < db.nextAnalyze {
		return
	}
	for db.nextAnalyze <= db.written {
		db.nextAnalyze *= 10
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if _, err := db.readers.ExecContext(ctx, db.d.analyze); err != nil && !db.isClosed() {
			slog.Warn(db.d.name+": refreshing planner statistics failed", "database", db.where, "error", err)
		}
	}()
}
