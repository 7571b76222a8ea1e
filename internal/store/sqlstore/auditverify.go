package sqlstore

import (
	"context"
	"crypto/ed25519"
	"database/sql"

	"github.com/emr-project/emr/internal/store/auditchain"
)

// VerifyAudit checks the whole audit log against its hash chain and its
// checkpoints, trusting the signatures of cfg.Keys and the pairs in
// cfg.Known, and returns what it saw (the store fills in cfg.Checkpoints
// and cfg.LegacyThrough). Each problem goes to cfg.Report as it is found;
// an error means the log could not be read to the end (the summary then
// covers what was). It streams the log in seq order on one reader
// connection, in constant memory.
func (db *DB) VerifyAudit(ctx context.Context, cfg auditchain.Config) (auditchain.Summary, error) {
	// Checkpoints first: every one of them then names a record the scan's
	// later snapshot holds, whatever is appended meanwhile.
	var err error
	cfg.Checkpoints, err = db.auditCheckpoints(ctx)
	if err != nil {
		return auditchain.Summary{}, readErr(ctx, "verify audit: checkpoints", err)
	}
	if err := db.readers.QueryRowContext(ctx, "SELECT legacy_through FROM audit_chain").Scan(&cfg.LegacyThrough); err != nil {
		return auditchain.Summary{}, readErr(ctx, "verify audit", err)
	}
	// After a purge the log starts from the newest purge marker.
	purges, err := db.AuditPurges(ctx)
	if err != nil {
		return auditchain.Summary{}, err
	}
	if n := len(purges); n > 0 {
		cfg.Anchor = &purges[n-1]
	}
	v := auditchain.NewVerifier(cfg)
	rows, err := db.readers.QueryContext(ctx, "SELECT seq, recorded, event, prev_hash, hash FROM audit_event ORDER BY seq")
	if err != nil {
		return v.Finish(), readErr(ctx, "verify audit", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r                 auditchain.Record
			event, prev, hash sql.RawBytes // valid until Next: Add keeps nothing of them
		)
		if err := rows.Scan(&r.Seq, &r.Recorded, &event, &prev, &hash); err != nil {
			return v.Finish(), readErr(ctx, "verify audit", err)
		}
		r.Event, r.Prev, r.Hash = event, prev, hash
		v.Add(r)
	}
	if err := rows.Err(); err != nil {
		return v.Finish(), readErr(ctx, "verify audit", err)
	}
	return v.Finish(), nil
}

// auditCheckpoints returns every checkpoint of the audit log.
func (db *DB) auditCheckpoints(ctx context.Context) ([]auditchain.Checkpoint, error) {
	rows, err := db.readers.QueryContext(ctx, "SELECT seq, hash, created, key_id, signature FROM audit_checkpoint ORDER BY seq")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cps []auditchain.Checkpoint
	for rows.Next() {
		var c auditchain.Checkpoint
		if err := rows.Scan(&c.Seq, &c.Hash, &c.Created, &c.KeyID, &c.Signature); err != nil {
			return nil, err
		}
		cps = append(cps, c)
	}
	return cps, rows.Err()
}

// AuditKeyID names the key signing this store's checkpoints ("" for none).
func (db *DB) AuditKeyID() string {
	if db.auditKey == nil {
		return ""
	}
	return auditchain.KeyID(db.auditKey.Public().(ed25519.PublicKey))
}
