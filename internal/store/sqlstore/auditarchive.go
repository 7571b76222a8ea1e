package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store/auditchain"
)

// Retention: the oldest records of the log go to an archive file
// (WriteAuditArchive), and once the file is safely written they are
// purged from the database (PurgeAudit), leaving a signed purge marker
// (audit_purge, migration 0006) that the remaining chain starts from.
// The delete triggers admit only records a marker covers, so the purge
// inserts its marker first, in the transaction that deletes.

// WriteAuditArchive writes to w, as an archive (auditchain.ArchiveWriter),
// the oldest records of the log recorded before cutoff: the log's prefix
// up to the first record recorded at or after cutoff, and never its last
// record (the next append chains to it). Their checkpoints go with them,
// and the purge marker they follow, if any. It returns the archive's
// header and the hash of its last record; Records 0 when there is nothing
// to archive (then nothing is written).
func (db *DB) WriteAuditArchive(ctx context.Context, cutoff time.Time, w io.Writer) (auditchain.ArchiveHeader, []byte, error) {
	h := auditchain.ArchiveHeader{Created: time.Now().UnixMilli(), Before: cutoff.UnixMilli()}
	fail := func(err error) (auditchain.ArchiveHeader, []byte, error) {
		return auditchain.ArchiveHeader{}, nil, readErr(ctx, "audit archive", err)
	}
	var first, last sql.NullInt64
	if err := db.readers.QueryRowContext(ctx, "SELECT min(seq), max(seq) FROM audit_event").Scan(&first, &last); err != nil {
		return fail(err)
	}
	if !first.Valid {
		return h, nil, nil
	}
	through := last.Int64 - 1
	var young int64
	switch err := db.readers.QueryRowContext(ctx, "SELECT seq FROM audit_event WHERE recorded >= ? ORDER BY seq LIMIT 1", h.Before).Scan(&young); {
	case err == nil:
		through = min(through, young-1)
	case !errors.Is(err, sql.ErrNoRows):
		return fail(err)
	}
	if through < first.Int64 {
		return h, nil, nil
	}
	h.From, h.Through = first.Int64, through
	if err := db.readers.QueryRowContext(ctx, "SELECT legacy_through FROM audit_chain").Scan(&h.LegacyThrough); err != nil {
		return fail(err)
	}
	purges, err := db.AuditPurges(ctx)
	if err != nil {
		return auditchain.ArchiveHeader{}, nil, err
	}
	if n := len(purges); n > 0 {
		h.Anchor = &purges[n-1]
	}
	if err := db.readers.QueryRowContext(ctx, "SELECT count(*) FROM audit_event WHERE seq <= ?", through).Scan(&h.Records); err != nil {
		return fail(err)
	}
	aw, err := auditchain.NewArchiveWriter(w, h)
	if err != nil {
		return auditchain.ArchiveHeader{}, nil, err
	}
	cps, err := db.auditCheckpoints(ctx)
	if err != nil {
		return fail(err)
	}
	for _, c := range cps {
		if c.Seq >= h.From && c.Seq <= through {
			if err := aw.Checkpoint(c); err != nil {
				return auditchain.ArchiveHeader{}, nil, err
			}
		}
	}
	// Records up to through never change (appends go after them, and
	// only a purge, which this precedes, deletes): any snapshot will do.
	rows, err := db.readers.QueryContext(ctx, "SELECT seq, recorded, event, prev_hash, hash FROM audit_event WHERE seq <= ? ORDER BY seq", through)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var lastHash []byte
	for rows.Next() {
		var r auditchain.Record
		if err := rows.Scan(&r.Seq, &r.Recorded, &r.Event, &r.Prev, &r.Hash); err != nil {
			return fail(err)
		}
		if err := aw.Record(r); err != nil {
			return auditchain.ArchiveHeader{}, nil, err
		}
		lastHash = r.Hash
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return h, lastHash, aw.Close()
}

// PurgeAudit deletes from the log the records of an archive written by
// WriteAuditArchive (h and the hash of its last record), once the caller
// has it safely on disk as the file archive whose SHA-256 is sum. In one
// write transaction it checks that the log still starts with them and
// that the last one still has that hash, inserts the purge marker signed
// with the audit key, deletes the records and their search terms, and
// appends an AuditEvent by agent saying what was archived where. It
// refuses without the audit key: an unsigned marker would anchor nothing.
func (db *DB) PurgeAudit(ctx context.Context, h auditchain.ArchiveHeader, lastHash []byte, archive string, sum []byte, agent string) (auditchain.Purge, error) {
	if db.auditKey == nil {
		return auditchain.Purge{}, fhir.Errorf(fhir.KindInvalid, "purging the audit log needs the audit signing key (--audit-key)")
	}
	var p auditchain.Purge
	err := db.submitAuditFile(ctx, func(tx *txn) error {
		if err := tx.usable(); err != nil {
			return err
		}
		conn := db.wconn
		var first, last int64
		var hash []byte
		if err := conn.QueryRowContext(ctx, "SELECT min(seq), max(seq) FROM audit_event").Scan(&first, &last); err != nil {
			return err
		}
		err := conn.QueryRowContext(ctx, "SELECT hash FROM audit_event WHERE seq = ?", h.Through).Scan(&hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		switch {
		case first != h.From:
			return fhir.Errorf(fhir.KindConflict, "the log starts at seq %d, the archive at %d: purged meanwhile?", first, h.From)
		case h.Through >= last:
			return fhir.Errorf(fhir.KindInvalid, "the archive reaches the log's last record (seq %d), which must stay", last)
		case !bytes.Equal(hash, lastHash):
			return fhir.Errorf(fhir.KindConflict, "record %d in the log is not the one archived: run emr audit verify", h.Through)
		}
		p = auditchain.SignPurge(db.auditKey, auditchain.Purge{
			Seq: h.Through, Hash: lastHash, Created: tx.now.UnixMilli(), Records: h.Records,
			Archive: archive, ArchiveSHA256: sum,
		})
		if _, err := conn.ExecContext(ctx, `INSERT INTO audit_purge (through_seq, hash, created, records, archive, archive_sha256, key_id, signature)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.Seq, p.Hash, p.Created, p.Records, p.Archive, p.ArchiveSHA256, p.KeyID, p.Signature); err != nil {
			return err
		}
		// The records to purge are indexed first (they may still wait in
		// memory, auditindex.go), so that no index row outlives its record.
		tip, _, err := db.lockAuditTip(ctx)
		if err != nil {
			return err
		}
		if _, err := db.indexAudit(ctx, tip, 0); err != nil {
			return err
		}
		if err := db.purgePostings(ctx, h.Through); err != nil {
			return fmt.Errorf("purge audit_posting: %w", err)
		}
		if _, err := conn.ExecContext(ctx, "DELETE FROM audit_event WHERE seq <= ?", h.Through); err != nil {
			return fmt.Errorf("purge audit_event: %w", err)
		}
		ev := audit.Event(audit.Entry{
			Interaction: "operation", Type: "AuditEvent",
			Query:    "$archive?through=" + strconv.FormatInt(h.Through, 10),
			Agent:    audit.Agent{User: agent},
			Detail:   fmt.Sprintf("archived %d audit records, seq %d to %d (last hash %x), to %s (sha256 %x), and purged them", h.Records, h.From, h.Through, lastHash, archive, sum),
			Recorded: tx.now, Observer: "emr audit archive",
		})
		return tx.AppendAudit(ev)
	})
	if err != nil {
		return auditchain.Purge{}, fmt.Errorf("store: purge audit: %w", err)
	}
	return p, nil
}

// AuditPurges returns the purge markers, oldest first.
func (db *DB) AuditPurges(ctx context.Context) ([]auditchain.Purge, error) {
	rows, err := db.readers.QueryContext(ctx, "SELECT through_seq, hash, created, records, archive, archive_sha256, key_id, signature FROM audit_purge ORDER BY through_seq")
	if err != nil {
		return nil, readErr(ctx, "audit purges", err)
	}
	defer rows.Close()
	var out []auditchain.Purge
	for rows.Next() {
		var p auditchain.Purge
		if err := rows.Scan(&p.Seq, &p.Hash, &p.Created, &p.Records, &p.Archive, &p.ArchiveSHA256, &p.KeyID, &p.Signature); err != nil {
			return nil, readErr(ctx, "audit purges", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(ctx, "audit purges", err)
	}
	return out, nil
}

// OldestAudit returns when the oldest record in the log was recorded
// (false for an empty log).
func (db *DB) OldestAudit(ctx context.Context) (time.Time, bool, error) {
	var ms int64
	err := db.readers.QueryRowContext(ctx, "SELECT recorded FROM audit_event ORDER BY seq LIMIT 1").Scan(&ms)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, readErr(ctx, "oldest audit record", err)
	}
	return time.UnixMilli(ms), true, nil
}
