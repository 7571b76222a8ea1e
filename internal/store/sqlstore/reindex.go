package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// Keys of search_meta.
const (
	metaExtractorVersion = "extractor_version"
	metaReindex          = "reindex" // "<last rid done> <resources done> <version>"
)

// sqlSetMeta sets a search_meta key.
const sqlSetMeta = `INSERT INTO search_meta (key, value) VALUES (?, ?)
	ON CONFLICT (key) DO UPDATE SET value = excluded.value`

// indexFormat versions how the store writes index rows from the
// extractor's entries. Together with the extractor's version it is the
// index's version: a change of either marks existing indexes stale.
// index/2: values cut at maxKeyBytes, full text folded by search.Normalize
// and cut into words by ftsWords. index/3: _content without references,
// URIs, dates and times (fullText).
const indexFormat = "index/3"

// indexVersion is the version of the index this store writes.
func (db *DB) indexVersion() string { return db.extractor.Version() + " " + indexFormat }

// reindexBatch is how many resources one reindex transaction rebuilds: small
// enough that other writes queued behind it wait only milliseconds.
const reindexBatch = 200

// IndexStale reports whether the search index was built by an extractor
// version other than the store's (or by none): searches may then miss or
// wrongly match resources written before, until Reindex has run.
func (db *DB) IndexStale() bool { return db.stale.Load() }

// checkIndexVersion compares the stored extractor version with the
// store's at Open. A store without resources simply adopts the version.
func (db *DB) checkIndexVersion(ctx context.Context) error {
	if db.extractor == nil {
		return nil
	}
	want := db.indexVersion()
	var stored string
	err := db.wconn.QueryRowContext(ctx, "SELECT value FROM search_meta WHERE key = ?", metaExtractorVersion).Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if stored == want {
		return nil
	}
	var any int
	err = db.wconn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM resource_key WHERE deleted = 0 LIMIT 1) AS t").Scan(&any)
	if err != nil {
		return err
	}
	if any == 0 {
		_, err := db.wconn.ExecContext(ctx, sqlSetMeta, metaExtractorVersion, want)
		return err
	}
	db.stale.Store(true)
	slog.Warn("store: the search index was built by another extractor version; run reindex",
		"database", db.where, "index_version", stored, "extractor_version", want)
	return nil
}

// Reindex implements store.Store. Each batch of resources is rebuilt in its
// own write transaction together with the progress row, so an interrupted
// reindex resumes after the last batch committed.
func (db *DB) Reindex(ctx context.Context, progress func(done, total int64)) error {
	if db.extractor == nil {
		return fmt.Errorf("store: reindex: %w", fhir.Errorf(fhir.KindNotSupported, "the store has no search extractor"))
	}
	version := db.indexVersion()
	var total int64
	if err := db.readers.QueryRowContext(ctx, "SELECT count(*) FROM resource_key WHERE deleted = 0").Scan(&total); err != nil {
		return readErr(ctx, "reindex", err)
	}
	var after, done int64
	var state string
	err := db.readers.QueryRowContext(ctx, "SELECT value FROM search_meta WHERE key = ?", metaReindex).Scan(&state)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return readErr(ctx, "reindex", err)
	}
	if f := strings.SplitN(state, " ", 3); len(f) == 3 && f[2] == version {
		after, _ = strconv.ParseInt(f[0], 10, 64)
		done, _ = strconv.ParseInt(f[1], 10, 64)
	}
	for {
		if progress != nil {
			progress(done, total)
		}
		var n int
		var last int64
		err := db.submit(ctx, func(tx *txn) error {
			var err error
			n, last, err = tx.reindexBatch(after, version, done)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: reindex: %w", err)
		}
		if n == 0 {
			db.stale.Store(false)
			if progress != nil {
				progress(done, total)
			}
			return nil
		}
		after, done = last, done+int64(n)
	}
}

// reindexBatch rebuilds the index of up to reindexBatch resources after rid
// after. With none left it records version as the index's version.
func (tx *txn) reindexBatch(after int64, version string, done int64) (n int, last int64, err error) {
	if err := tx.usable(); err != nil {
		return 0, 0, err
	}
	type item struct {
		rid      int64
		typ, id  string
		resource []byte
	}
	rows, err := tx.db.wconn.QueryContext(tx.ctx, `SELECT k.rid, k.type, k.id, v.resource
		FROM resource_key k JOIN resource_version v ON v.seq = k.seq
		WHERE k.rid > ? AND k.deleted = 0 ORDER BY k.rid LIMIT ?`, after, reindexBatch)
	if err != nil {
		return 0, 0, tx.dbErr("reindex", err)
	}
	var items []item
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.rid, &it.typ, &it.id, &it.resource); err != nil {
			rows.Close()
			return 0, 0, tx.dbErr("reindex", err)
		}
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, tx.dbErr("reindex", err)
	}
	db := tx.db
	if len(items) == 0 {
		if _, err := db.wconn.ExecContext(tx.ctx, sqlSetMeta, metaExtractorVersion, version); err != nil {
			return 0, 0, tx.dbErr("reindex", err)
		}
		if _, err := db.wconn.ExecContext(tx.ctx, "DELETE FROM search_meta WHERE key = ?", metaReindex); err != nil {
			return 0, 0, tx.dbErr("reindex", err)
		}
		return 0, 0, nil
	}
	for _, it := range items {
		res, err := fhir.ParseResource(it.resource)
		if err != nil {
			return 0, 0, internalErr(fmt.Sprintf("reindex %s/%s", it.typ, it.id), err)
		}
		entries, err := db.extractor.Extract(res)
		if err != nil {
			return 0, 0, fmt.Errorf("reindex %s/%s: %w", it.typ, it.id, err)
		}
		if err := db.clearIndex(tx.ctx, it.rid); err != nil {
			return 0, 0, tx.dbErr("reindex", err)
		}
		if err := db.writeIndex(tx.ctx, it.rid, it.typ, it.id, res, entries, patientKey(it.typ, it.id, entries), nil); err != nil {
			return 0, 0, tx.dbErr("reindex", err)
		}
		last = it.rid
	}
	state := fmt.Sprintf("%d %d %s", last, done+int64(len(items)), version)
	if _, err := db.wconn.ExecContext(tx.ctx, sqlSetMeta, metaReindex, state); err != nil {
		return 0, 0, tx.dbErr("reindex", err)
	}
	return len(items), last, nil
}
