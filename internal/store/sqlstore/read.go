package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/emr-project/emr/internal/audit"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Read implements store.Store on the reader pool.
func (db *DB) Read(ctx context.Context, typ, id string) (*store.Version, error) {
	var v *store.Version
	err := db.onReads(ctx, func(r *readSide) (err error) {
		v, err = scanVersion(r.stmts.readCurrent.QueryRowContext(ctx, typ, id))
		return err
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("store: read %s/%s: %w", typ, id, notFound(typ, id))
	case err != nil:
		return nil, readErr(ctx, fmt.Sprintf("read %s/%s", typ, id), err)
	case v.Deleted:
		return v, fmt.Errorf("store: read %s/%s: %w", typ, id, gone(typ, id, v.VersionID))
	}
	return v, nil
}

// VRead implements store.Store on the reader pool.
func (db *DB) VRead(ctx context.Context, typ, id string, versionID int64) (*store.Version, error) {
	var v *store.Version
	err := db.onReads(ctx, func(r *readSide) (err error) {
		v, err = scanVersion(r.stmts.vread.QueryRowContext(ctx, typ, id, versionID))
		return err
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("store: vread %s/%s/%d: %w", typ, id, versionID, versionNotFound(typ, id, versionID))
	case err != nil:
		return nil, readErr(ctx, fmt.Sprintf("vread %s/%s/%d", typ, id, versionID), err)
	}
	return v, nil
}

// readErr passes a caller's cancellation through as itself and hides
// everything else behind internalErr.
func readErr(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("store: %s: %w", op, ctxErr)
	}
	return internalErr(op, err)
}

// ScanAudit calls fn with every audit event recorded after seq afterSeq, in
// the order recorded, until fn returns an error (which ScanAudit returns).
// Audit verification and the conformance suite read the log this way.
func (db *DB) ScanAudit(ctx context.Context, afterSeq int64, fn func(seq int64, event fhir.Resource) error) error {
	rows, err := db.readers.QueryContext(ctx, "SELECT seq, event FROM audit_event WHERE seq > ? ORDER BY seq", afterSeq)
	if err != nil {
		return readErr(ctx, "scan audit", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq  int64
			body []byte
		)
		if err := rows.Scan(&seq, &body); err != nil {
			return readErr(ctx, "scan audit", err)
		}
		json, err := audit.Render(body)
		if err != nil {
			return internalErr(fmt.Sprintf("scan audit: event %d", seq), err)
		}
		ev, err := fhir.ParseResource(json)
		if err != nil {
			return internalErr(fmt.Sprintf("scan audit: event %d", seq), err)
		}
		if err := fn(seq, ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return readErr(ctx, "scan audit", err)
	}
	return nil
}
