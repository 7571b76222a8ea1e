package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/store/auditchain"
)

// The audit log is a hash chain (internal/store/auditchain). A Write or
// AppendAudit does not insert its events itself: txn.AppendAudit keeps them
// in db.pending, and the batch inserts them all at its end (sealAudit),
// under the audit lock held until its commit, numbering each the last seq
// in the database plus one and chaining it to the last hash. So seq order is
// chain order, seq has no gaps, and appends from every process sharing the
// database form one chain. On PostgreSQL the audit lock is an advisory lock
// of its own: an audited read never waits for the write lock, and a write
// batch, which holds the write lock already, takes the audit lock after it
// (one order, no deadlock). SQLite's one writer needs no more.

// pendingAudit is an event appended in the running batch.
type pendingAudit struct {
	recorded int64 // unix milliseconds
	event    []byte
	terms    []audit.Term // its search terms, for audit_posting
	// direct: appended by a function that changes only the audit log's
	// tables, so that with the log in a file of its own the record goes
	// there, not to the outbox (sealApart).
	direct bool
}

// auditInsertChunk is the most records one INSERT statement appends.
const auditInsertChunk = 32

// checkpoint state, kept by the writer goroutine.
type checkpointState struct {
	seq     int64     // the last checkpoint this process knows of
	created time.Time // and when it was made
}

// sealAudit appends the batch's pending events to the chain and writes a
// checkpoint when one is due. It runs at the end of the batch's
// transaction.
func (db *DB) sealAudit(ctx context.Context) error {
	if len(db.pending) == 0 && !db.aidx.wanted {
		return nil
	}
	seq, hash, err := db.lockAuditTip(ctx)
	if err != nil {
		return err
	}
	err = db.insertRows(ctx, &db.auditInserts, "INSERT INTO audit_event (seq, recorded, event, prev_hash, hash)", "", 5, auditInsertChunk, len(db.pending),
		func(args []any, i int) []any {
			p := db.pending[i]
			seq++
			h := auditchain.Hash(hash, seq, p.recorded, p.event)
			args = append(args, seq, p.recorded, p.event, nonNil(hash), h)
			hash = h
			if p.terms != nil {
				// Without them the indexer reads the record from the log.
				db.aidx.sealed = append(db.aidx.sealed, sealedTerms{seq, p.terms})
			}
			return args
		})
	if err != nil {
		return err
	}
	if db.aidx.due(seq) {
		if _, err := db.indexAudit(ctx, seq, 0); err != nil {
			return err
		}
	}
	return db.maybeCheckpoint(ctx, seq, hash, false)
}

// appendAuditAtOnce appends the batch's pending events in one statement
// of their own (dialect.auditAppend), outside any transaction, when
// nothing else has to happen under the audit lock: it reports false,
// having done nothing, when a search waits for the index (which must be
// current when the batch answers), when the tip is a record without a
// hash, or when the dialect cannot. The postings and a checkpoint that
// have become due are written afterwards, in a transaction of their own
// (catchUpAfterAppend). An audited read's batch on PostgreSQL so takes
// one round trip where it took four.
func (db *DB) appendAuditAtOnce(ctx context.Context) (last int64, ok bool, err error) {
	if db.d.auditAppend == "" || db.aidx.wanted || len(db.pending) == 0 {
		return 0, false, nil
	}
	recorded, events := make([]int64, len(db.pending)), make([][]byte, len(db.pending))
	for i, p := range db.pending {
		recorded[i], events[i] = p.recorded, p.event
	}
	var (
		first int64
		hash  []byte
	)
	err = db.wconn.QueryRowContext(ctx, db.d.auditAppend, recorded, events).Scan(&first, &last, &hash)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "EA001":
		return 0, false, nil // the tip needs chaining, or is tampered with: sealAudit says which
	case err != nil:
		return 0, false, err
	}
	for i, p := range db.pending {
		db.aidx.sealed = append(db.aidx.sealed, sealedTerms{first + int64(i), p.terms})
	}
	return last, true, nil
}

// catchUpAfterAppend writes, after appendAuditAtOnce, the postings and the
// checkpoint that have become due, in a transaction holding the audit
// lock. The records are durable already: a failure here is logged, and
// the next batch, search or open does the work.
func (db *DB) catchUpAfterAppend(ctx context.Context, last int64) {
	if !db.aidx.due(last) && !db.checkpointDue(last, time.Now(), false) {
		return
	}
	err := db.auditTx(ctx, true, func(tip int64, hash []byte) error {
		if db.aidx.due(tip) {
			if _, err := db.indexAudit(ctx, tip, 0); err != nil {
				return err
			}
		}
		return db.maybeCheckpoint(ctx, tip, hash, false)
	})
	if err != nil {
		slog.Warn(db.d.name+": indexing or checkpointing the audit log after an append failed; done later", "database", db.where, "error", err)
	}
}

// lockAuditTip takes the audit lock for the rest of the transaction and
// returns the last record's seq and hash (0 and nil for an empty log),
// chaining first any record that has no hash yet.
func (db *DB) lockAuditTip(ctx context.Context) (int64, []byte, error) {
	for {
		var (
			seq  int64
			hash []byte
		)
		// Again after chaining old records: taking the lock twice in one
		// transaction is harmless.
		err := db.wstmt.auditTip.QueryRowContext(ctx).Scan(&seq, &hash)
		switch {
		case err == sql.ErrNoRows:
			return 0, nil, nil
		case err != nil:
			return 0, nil, err
		case hash != nil:
			return seq, hash, nil
		}
		// Records from before the chain (a database made by an older
		// version, not yet opened by this one since). A record after them
		// without a hash had it removed: appending to it would launder the
		// change, and an audit log that cannot be trusted must not grow
		// (so audited reads fail until it is looked into).
		if n, err := db.chainUnhashed(ctx, 10000); err != nil || n == 0 {
			return 0, nil, cmp.Or(err, fmt.Errorf("audit record %d has lost its hash: the log was tampered with (run emr audit verify)", seq))
		}
	}
}

// chainUnhashed gives up to limit records without a hash, the first ones
// in seq order, their place in the chain, and says how many it did. Only
// records from before the chain (audit_chain.legacy_through) are chained:
// any other without a hash lost it to tampering, which verification must
// see. The caller holds the audit lock.
func (db *DB) chainUnhashed(ctx context.Context, limit int) (int, error) {
	rows, err := db.wconn.QueryContext(ctx, `SELECT seq, recorded, event FROM audit_event
		WHERE hash IS NULL AND seq <= (SELECT legacy_through FROM audit_chain) ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return 0, err
	}
	type record struct {
		seq, recorded int64
		event         []byte
	}
	var todo []record
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.seq, &r.recorded, &r.event); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(todo) == 0 {
		return 0, err
	}
	var prev []byte
	err = db.wconn.QueryRowContext(ctx, "SELECT hash FROM audit_event WHERE seq < ? ORDER BY seq DESC LIMIT 1", todo[0].seq).Scan(&prev)
	if err != nil && err != sql.ErrNoRows {
		return 0, err
	}
	for _, r := range todo {
		h := auditchain.Hash(prev, r.seq, r.recorded, r.event)
		if _, err := db.wconn.ExecContext(ctx, "UPDATE audit_event SET prev_hash = ?, hash = ? WHERE seq = ?", nonNil(prev), h, r.seq); err != nil {
			return 0, err
		}
		prev = h
	}
	return len(todo), nil
}

// maybeCheckpoint signs the chain's tip (seq, hash) when a checkpoint is
// due: CheckpointEvery records or CheckpointInterval after the last one,
// or always when force is set and the tip is not signed yet. The caller
// holds the audit lock; the checkpoint counts once the transaction commits
// (commitAudit).
func (db *DB) maybeCheckpoint(ctx context.Context, seq int64, hash []byte, force bool) error {
	if db.auditKey == nil || seq == 0 {
		return nil
	}
	now := time.Now()
	if !db.checkpointDue(seq, now, force) {
		return nil
	}
	// Another process may have made one since: ask the database.
	if err := db.loadCheckpointState(ctx); err != nil {
		return err
	}
	if !db.checkpointDue(seq, now, force) {
		return nil
	}
	cp := auditchain.Sign(db.auditKey, seq, hash, now.UnixMilli())
	if _, err := db.wconn.ExecContext(ctx, db.d.insertIgnore+" audit_checkpoint (seq, hash, created, key_id, signature) VALUES (?, ?, ?, ?, ?)"+db.d.ignoreSuffix,
		cp.Seq, cp.Hash, cp.Created, cp.KeyID, cp.Signature); err != nil {
		return err
	}
	db.ckptPending = &checkpointState{seq: seq, created: now}
	return nil
}

// checkpointDue reports whether the tip seq is to be signed at now, as far
// as this process knows.
func (db *DB) checkpointDue(seq int64, now time.Time, force bool) bool {
	if db.auditKey == nil || seq <= db.ckpt.seq {
		return false
	}
	return force || seq-db.ckpt.seq >= db.ckEvery || now.Sub(db.ckpt.created) >= db.ckInterval
}

// loadCheckpointState reads the last checkpoint in the database.
func (db *DB) loadCheckpointState(ctx context.Context) error {
	var seq, created int64
	err := db.wconn.QueryRowContext(ctx, "SELECT seq, created FROM audit_checkpoint ORDER BY seq DESC LIMIT 1").Scan(&seq, &created)
	switch {
	case err == sql.ErrNoRows:
		// No checkpoint yet: the interval counts from the first opening
		// by this process.
		if db.ckpt.created.IsZero() {
			db.ckpt.created = time.Now()
		}
		db.ckpt.seq = 0
	case err != nil:
		return err
	default:
		db.ckpt = checkpointState{seq: seq, created: time.UnixMilli(created)}
	}
	return nil
}

// commitAudit records, after a commit, the checkpoint it made and what it
// appended and indexed.
func (db *DB) commitAudit() {
	db.aidx.commit()
	if db.ckptPending != nil {
		db.ckpt = *db.ckptPending
		db.ckptPending = nil
	}
}

// auditTx runs fn in a transaction of its own holding the audit lock (and
// not the write lock): chaining old records at open, and checkpoints that
// no append brings (on a timer, on close).
// With tip false fn is given 0 and nil: the tip is not read (nor the
// records before it chained, all in this one transaction).
func (db *DB) auditTx(ctx context.Context, tip bool, fn func(seq int64, hash []byte) error) (err error) {
	db.aidx.begin()
	for _, stmt := range db.d.beginAudit {
		if _, err := db.wconn.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	defer func() {
		if err != nil {
			_, _ = db.wconn.ExecContext(ctx, "ROLLBACK")
			db.ckptPending = nil
			db.aidx.begin()
		}
	}()
	var (
		seq  int64
		hash []byte
	)
	if tip {
		seq, hash, err = db.lockAuditTip(ctx)
	} else {
		// The lock only; the tip may be a record still to chain.
		var rows *sql.Rows
		if rows, err = db.wstmt.auditTip.QueryContext(ctx); err == nil {
			err = rows.Close()
		}
	}
	if err != nil {
		return err
	}
	if err := fn(seq, hash); err != nil {
		return err
	}
	if _, err := db.wconn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	db.commitAudit()
	if db.walCkpt != nil {
		db.walCkpt.kicked() // which syncs SQLite's audit file
	}
	return nil
}

// openAuditChain runs once the schema is current: it chains the records an
// older version left without a hash, a transaction per 10,000 so that
// appends by other processes are not held up for long, and signs the tip.
func (db *DB) openAuditChain(ctx context.Context) error {
	if err := db.loadCheckpointState(ctx); err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	chained := 0
	for {
		n := 0
		err := db.auditTx(ctx, false, func(int64, []byte) (err error) {
			n, err = db.chainUnhashed(ctx, 10000)
			return err
		})
		if err != nil {
			return fmt.Errorf("audit chain: %w", err)
		}
		if n == 0 {
			break
		}
		chained += n
	}
	if chained > 0 {
		// The records from before the chain are chained now: seal them.
		slog.Info(db.d.name+": audit log chained", "database", db.where, "records", chained)
		if err := db.checkpointNow(ctx, true); err != nil {
			return fmt.Errorf("audit chain: checkpoint: %w", err)
		}
	}
	return nil
}

// checkpointNow writes a checkpoint of the tip if one is due (or, with
// force, whenever the tip is not signed yet).
func (db *DB) checkpointNow(ctx context.Context, force bool) error {
	if db.auditKey == nil {
		return nil
	}
	return db.auditTx(ctx, true, func(seq int64, hash []byte) error {
		return db.maybeCheckpoint(ctx, seq, hash, force)
	})
}

func (db *DB) logCheckpointErr(err error) {
	if err != nil {
		slog.Warn(db.d.name+": writing an audit checkpoint failed", "database", db.where, "error", err)
	}
}

// nonNil stores an empty previous hash (the first record's) as an empty
// value rather than NULL, which means "not chained".
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
