package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Infrastructure records (store.Records) live in one table, record
// (migrations 0003). They are few and small next to resources, so their
// statements are not prepared. Reads go to the primary, never a replica:
// a revoked session must be gone at once for every server.

const recordColumns = "kind, key, owner, version, expires, value"

func scanRecord(row interface{ Scan(...any) error }) (*store.Record, error) {
	var r store.Record
	var expires int64
	if err := row.Scan(&r.Kind, &r.Key, &r.Owner, &r.Version, &expires, &r.Value); err != nil {
		return nil, err
	}
	if expires != 0 {
		r.Expires = time.UnixMilli(expires).UTC()
	}
	return &r, nil
}

func recordNotFound(kind, key string) error {
	return fhir.Errorf(fhir.KindNotFound, "no %s %q", kind, key)
}

// GetRecord implements store.Records.
func (db *DB) GetRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	r, err := scanRecord(db.readers.QueryRowContext(ctx,
		`SELECT `+recordColumns+` FROM record WHERE kind = ? AND key = ? AND (expires = 0 OR expires > ?)`,
		kind, key, db.recordNow().UnixMilli()))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("store: record: %w", recordNotFound(kind, key))
	case err != nil:
		return nil, readErr(ctx, "record "+kind, err)
	}
	return r, nil
}

// ListRecords implements store.Records.
func (db *DB) ListRecords(ctx context.Context, kind, owner string) ([]*store.Record, error) {
	q := `SELECT ` + recordColumns + ` FROM record WHERE kind = ? AND (expires = 0 OR expires > ?)`
	args := []any{kind, db.recordNow().UnixMilli()}
	if owner != "" {
		q += ` AND owner = ?`
		args = append(args, owner)
	}
	rows, err := db.readers.QueryContext(ctx, q+` ORDER BY key`, args...)
	if err != nil {
		return nil, readErr(ctx, "records "+kind, err)
	}
	defer rows.Close()
	var out []*store.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, readErr(ctx, "records "+kind, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(ctx, "records "+kind, err)
	}
	return out, nil
}

// PutRecord implements store.Records.
func (db *DB) PutRecord(ctx context.Context, r *store.Record, ifVersion int64) (int64, error) {
	var v int64
	err := db.submit(ctx, func(tx *txn) (err error) {
		v, err = tx.PutRecord(r, ifVersion)
		return err
	})
	return v, err
}

// DeleteRecord implements store.Records.
func (db *DB) DeleteRecord(ctx context.Context, kind, key string) error {
	return db.submit(ctx, func(tx *txn) error { return tx.DeleteRecord(kind, key) })
}

// DeleteExpiredRecords implements store.Records.
func (db *DB) DeleteExpiredRecords(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := db.submit(ctx, func(tx *txn) error {
		if err := tx.usable(); err != nil {
			return err
		}
		res, err := tx.db.wconn.ExecContext(tx.ctx, `DELETE FROM record WHERE expires <> 0 AND expires <= ?`, now.UnixMilli())
		if err != nil {
			return tx.dbErr("expire records", err)
		}
		n, err = res.RowsAffected()
		if err != nil {
			return tx.dbErr("expire records", err)
		}
		return nil
	})
	return n, err
}

// GetRecord implements store.Tx.
func (tx *txn) GetRecord(kind, key string) (*store.Record, error) {
	if err := tx.usable(); err != nil {
		return nil, err
	}
	r, err := scanRecord(tx.db.wconn.QueryRowContext(tx.ctx,
		`SELECT `+recordColumns+` FROM record WHERE kind = ? AND key = ? AND (expires = 0 OR expires > ?)`,
		kind, key, tx.db.recordNow().UnixMilli()))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("store: record: %w", recordNotFound(kind, key))
	case err != nil:
		return nil, tx.dbErr("record "+kind, err)
	}
	return r, nil
}

// PutRecord implements store.Tx.
func (tx *txn) PutRecord(r *store.Record, ifVersion int64) (int64, error) {
	if err := tx.usable(); err != nil {
		return 0, err
	}
	if r == nil || r.Kind == "" || r.Key == "" {
		return 0, fmt.Errorf("store: record: %w", fhir.Errorf(fhir.KindInvalid, "a record needs a kind and a key"))
	}
	if ifVersion < store.AnyVersion {
		return 0, fmt.Errorf("store: record: %w", fhir.Errorf(fhir.KindInvalid, "ifVersion %d is not a version", ifVersion))
	}
	var cur, expires int64
	err := tx.db.wconn.QueryRowContext(tx.ctx, `SELECT version, expires FROM record WHERE kind = ? AND key = ?`,
		r.Kind, r.Key).Scan(&cur, &expires)
	stored := err == nil // a row is there, perhaps expired
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, tx.dbErr("record "+r.Kind, err)
	}
	live := stored && (expires == 0 || expires > tx.db.recordNow().UnixMilli())
	switch {
	case ifVersion == 0 && live:
		return 0, fmt.Errorf("store: record: %w", fhir.Errorf(fhir.KindConflict, "%s %q exists", r.Kind, r.Key))
	case ifVersion > 0 && (!live || cur != ifVersion):
		return 0, fmt.Errorf("store: record: %w", fhir.Errorf(fhir.KindPreconditionFailed,
			"%s %q is not at version %d", r.Kind, r.Key, ifVersion))
	}
	next := int64(1)
	if live {
		next = cur + 1
	}
	var exp int64
	if !r.Expires.IsZero() {
		exp = max(r.Expires.UnixMilli(), 1)
	}
	value := r.Value
	if value == nil {
		value = []byte{}
	}
	if stored {
		_, err = tx.db.wconn.ExecContext(tx.ctx, `UPDATE record SET owner = ?, version = ?, expires = ?, value = ? WHERE kind = ? AND key = ?`,
			r.Owner, next, exp, value, r.Kind, r.Key)
	} else {
		_, err = tx.db.wconn.ExecContext(tx.ctx, `INSERT INTO record (`+recordColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			r.Kind, r.Key, r.Owner, next, exp, value)
	}
	if err != nil {
		return 0, tx.dbErr("record "+r.Kind, err)
	}
	return next, nil
}

// DeleteRecord implements store.Tx.
func (tx *txn) DeleteRecord(kind, key string) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if _, err := tx.db.wconn.ExecContext(tx.ctx, `DELETE FROM record WHERE kind = ? AND key = ?`, kind, key); err != nil {
		return tx.dbErr("record "+kind, err)
	}
	return nil
}
