package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// txn is the store.Tx given to one Write fn. It runs on the writer
// connection inside that fn's savepoint.
type txn struct {
	db   *DB
	ctx  context.Context // the batch's, not the caller's
	now  time.Time
	done bool // fn has returned: the Tx must not be used any more
}

var _ store.Tx = (*txn)(nil)

var errTxDone = fhir.Errorf(fhir.KindInternal, "store.Tx used after its Write function returned")

// Write implements store.Store.
func (db *DB) Write(ctx context.Context, fn func(tx store.Tx) error) error {
	return db.submit(ctx, func(tx *txn) error { return fn(tx) })
}

// AppendAudit implements store.Store: the events share a commit with other
// queued writes and audits.
func (db *DB) AppendAudit(ctx context.Context, events ...fhir.Resource) error {
	if len(events) == 0 {
		return nil
	}
	return db.submit(ctx, func(tx *txn) error {
		for _, ev := range events {
			if err := tx.AppendAudit(ev); err != nil {
				return err
			}
		}
		return nil
	})
}

func (tx *txn) Now() time.Time { return tx.now }

func (tx *txn) Read(typ, id string) (*store.Version, error) {
	if tx.done {
		return nil, errTxDone
	}
	v, err := scanVersion(tx.db.wstmt.readCurrent.QueryRowContext(tx.ctx, typ, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("sqlite: read %s/%s: %w", typ, id, notFound(typ, id))
	case err != nil:
		return nil, internalErr(fmt.Sprintf("read %s/%s", typ, id), err)
	case v.Deleted:
		return v, fmt.Errorf("sqlite: read %s/%s: %w", typ, id, gone(typ, id, v.VersionID))
	}
	return v, nil
}

func (tx *txn) Create(res fhir.Resource) (*store.Version, error) {
	if tx.done {
		return nil, errTxDone
	}
	typ := res.Type()
	if typ == "" {
		return nil, fmt.Errorf("sqlite: create: %w", fhir.Errorf(fhir.KindInvalid, "the resource has no resourceType"))
	}
	res.SetID(store.NewID())
	return tx.insert(typ, res.ID(), 1, res, "create")
}

func (tx *txn) Update(res fhir.Resource, ifMatch int64) (*store.Version, bool, error) {
	if tx.done {
		return nil, false, errTxDone
	}
	typ, id := res.Type(), res.ID()
	if typ == "" || !fhir.ValidID(id) {
		return nil, false, fmt.Errorf("sqlite: update %s/%s: %w", typ, id,
			fhir.Errorf(fhir.KindInvalid, "update needs a resourceType and a valid id"))
	}
	current, _, exists, err := tx.current(typ, id, ifMatch, "update")
	if err != nil {
		return nil, false, err
	}
	v, err := tx.insert(typ, id, current+1, res, "update")
	return v, err == nil && !exists, err
}

func (tx *txn) Delete(typ, id string, ifMatch int64) (*store.Version, error) {
	if tx.done {
		return nil, errTxDone
	}
	current, deleted, exists, err := tx.current(typ, id, ifMatch, "delete")
	if err != nil || !exists || deleted {
		return nil, err
	}
	return tx.insert(typ, id, current+1, nil, "delete")
}

// current returns the current version of typ/id and checks ifMatch against
// it. A deleted resource has no current representation, so like a missing
// one it never matches an If-Match.
func (tx *txn) current(typ, id string, ifMatch int64, op string) (versionID int64, deleted, exists bool, err error) {
	err = tx.db.wstmt.currentState.QueryRowContext(tx.ctx, typ, id).Scan(&versionID, &deleted)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		versionID, exists, err = 0, false, nil
	case err != nil:
		return 0, false, false, internalErr(fmt.Sprintf("%s %s/%s", op, typ, id), err)
	default:
		exists = true
	}
	if ifMatch != 0 && (!exists || deleted || versionID != ifMatch) {
		return 0, false, false, fmt.Errorf("sqlite: %s %s/%s: %w", op, typ, id,
			fhir.Errorf(fhir.KindPreconditionFailed, "If-Match version %d does not match the current version of %s/%s", ifMatch, typ, id))
	}
	return versionID, deleted, exists, nil
}

// insert writes version versionID of typ/id (a tombstone when res is nil)
// and makes it current.
func (tx *txn) insert(typ, id string, versionID int64, res fhir.Resource, op string) (*store.Version, error) {
	var body []byte
	if res != nil {
		stamp(res, versionID, tx.now)
		body = res.JSON()
	}
	deleted := res == nil
	ms := tx.now.UnixMilli()
	result, err := tx.db.wstmt.insertVersion.ExecContext(tx.ctx, typ, id, versionID, ms, deleted, body)
	if err != nil {
		return nil, internalErr(fmt.Sprintf("%s %s/%s", op, typ, id), err)
	}
	seq, err := result.LastInsertId()
	if err != nil {
		return nil, internalErr(fmt.Sprintf("%s %s/%s", op, typ, id), err)
	}
	if _, err := tx.db.wstmt.setCurrent.ExecContext(tx.ctx, typ, id, versionID, seq, deleted); err != nil {
		return nil, internalErr(fmt.Sprintf("%s %s/%s", op, typ, id), err)
	}
	return &store.Version{
		Type: typ, ID: id, VersionID: versionID, LastUpdated: tx.now,
		Deleted: deleted, Resource: res, Seq: seq,
	}, nil
}

// AppendAudit records event in this transaction. An event without an id is
// given one (store.NewID), as a stored resource needs it.
func (tx *txn) AppendAudit(event fhir.Resource) error {
	if tx.done {
		return errTxDone
	}
	if event == nil {
		return fmt.Errorf("sqlite: audit: %w", fhir.Errorf(fhir.KindInvalid, "no audit event"))
	}
	if event.ID() == "" {
		event.SetID(store.NewID())
	}
	if _, err := tx.db.wstmt.insertAudit.ExecContext(tx.ctx, tx.now.UnixMilli(), event.JSON()); err != nil {
		return internalErr("audit", err)
	}
	return nil
}
