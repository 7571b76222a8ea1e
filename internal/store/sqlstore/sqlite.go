package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// sqliteDialect is SQLite in WAL mode: one file, one writer at a time
// (BEGIN IMMEDIATE), readers that never wait for it.
var sqliteDialect = &dialect{
	name:             "sqlite",
	begin:            []string{"BEGIN IMMEDIATE"},
	beginAudit:       []string{"BEGIN IMMEDIATE"},
	auditTip:         "SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1",
	lastInsertID:     true,
	insertIgnore:     "INSERT OR IGNORE INTO",
	indexInsert:      "INSERT OR IGNORE INTO",
	like:             "LIKE",
	crossJoin:        "CROSS JOIN",
	ridSet:           func(arg string) string { return "SELECT value FROM json_each(" + arg + ")" },
	maxText:          "char(1114111, 1114111)",
	versionIndexHint: " INDEXED BY resource_version_instance",
	// A primary key's index (an autoindex) has no sql.
	indexDefs: "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
	bulkLock:  sqliteBulkLock,
	// FTS5 merges segments as it writes them (automerge, 4 by default):
	// two thirds of the full text's cost in a load, for an index that is
	// merged whole at the end ('optimize', a tenth of that). Segments
	// stay bounded meanwhile: crisismerge still merges a level of 16.
	bulkFTS: [2]string{
		"INSERT INTO idx_fts (idx_fts, rank) VALUES ('automerge', 0)",
		"INSERT INTO idx_fts (idx_fts, rank) VALUES ('automerge', 4); INSERT INTO idx_fts (idx_fts) VALUES ('optimize')",
	},
	// SQLite's read transaction is one snapshot whatever its level.
	historyTx: &sql.TxOptions{ReadOnly: true},
	ftsClear:  "DELETE FROM idx_fts WHERE rowid = ?",
	ftsInsert: "INSERT INTO idx_fts (rowid, narrative, content) VALUES (?, ?, ?)",
	ftsMatch: func(b *sqlBuilder, k, column string, groups [][]string) string {
		// An FTS5 query: each word quoted, so that nothing in it is FTS5
		// syntax; words ANDed, groups ORed.
		ors := make([]string, len(groups))
		for i, words := range groups {
			quoted := make([]string, len(words))
			for j, w := range words {
				// textQuery's words hold only letters, digits and
				// spaces: nothing to escape, and spaces make a phrase.
				quoted[j] = `"` + w + `"`
			}
			ors[i] = "(" + strings.Join(quoted, " ") + ")"
		}
		match := "{" + column + "} : (" + strings.Join(ors, " OR ") + ")"
		return k + ".rid IN (SELECT rowid FROM idx_fts WHERE idx_fts MATCH " + b.arg(match) + ")"
	},
	migrationsDir: "migrations/sqlite",
	// A migration runs in an IMMEDIATE transaction that also reads the
	// schema version: that is the lock.
	lockMigrations:   func(context.Context, *sql.Conn) error { return nil },
	unlockMigrations: func(context.Context, *sql.Conn) error { return nil },
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// brings its schema up to date. It refuses a database whose schema is newer
// than this binary's.
func OpenSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: open: no database path")
	}
	opts.defaults()
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	// busy_timeout comes first so that the journal_mode change cannot fail
	// with SQLITE_BUSY while another process holds the file.
	writer, err := openAttached(path, opts, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Readers are opened lazily by the pool, after migrations, so that they
	// see the WAL file and the schema.
	readers, err := openAttached(path, opts, true)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ckpt, err := openAttached(path, opts, false)
	if err != nil {
		writer.Close()
		readers.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db, err := open(ctx, sqliteDialect, path, writer, readers, ckpt, AuditPath(path), opts, func(ctx context.Context, conn *sql.Conn) error {
		if err := checkWAL(ctx, conn); err != nil {
			return err
		}
		return dropStat4(ctx, conn)
	})
	if err != nil {
		return nil, err
	}
	db.onClose = func(ctx context.Context, conn *sql.Conn) {
		// Leave a small WAL behind; failure here loses nothing.
		_, _ = conn.ExecContext(ctx, "PRAGMA optimize")
		_ = dropStat4(ctx, conn)
		_, _ = conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return db, nil
}

// dropStat4 keeps of the planner's statistics the averages
// (sqlite_stat1) and drops the samples of values (sqlite_stat4) that a
// full ANALYZE gathers in this SQLite (built with STAT4): the PRAGMA
// optimize of Close gathers none, but an operator's ANALYZE, or
// PRAGMA optimize=0x10002, does. With samples, a statement whose plan
// looked at a bound value is compiled again each time that value changes:
// every search is parsed and planned anew, whatever the statement cache
// keeps (BenchmarkSearchPatientByIdentifier 74-81 µs with samples, 26-30
// without). The averages choose the same indexes for the project's
// searches (TestSearchPlansAnalyzed). The statements prepared on conn are
// planned again with what is left.
func dropStat4(ctx context.Context, conn *sql.Conn) error {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat4'").Scan(&n); err != nil || n == 0 {
		return err
	}
	var samples int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM sqlite_stat4 LIMIT 1) AS t").Scan(&samples); err != nil || samples == 0 {
		return err
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM sqlite_stat4"); err != nil {
		return err
	}
	// Loads what is left for this connection; others load it as they
	// open (the readers open after the writer).
	_, err := conn.ExecContext(ctx, "ANALYZE sqlite_schema")
	return err
}

func checkWAL(ctx context.Context, conn *sql.Conn) error {
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	return nil
}

// sqliteDSN builds the connection string. Every PRAGMA goes in it so that a
// connection the pool reopens is configured like the first one.
func sqliteDSN(path string, opts Options, readOnly bool) string {
	cacheKiB := opts.CacheSizeKiB
	if readOnly {
		cacheKiB /= 4
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheKiB))
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(ON)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL: the WAL is fsync'd at every commit, so an acknowledged write
		// survives power loss, not only a crash of the process.
		q.Add("_pragma", "synchronous(FULL)")
		// Checkpoints run off the writer (walcheckpoint.go); the
		// writer's own only bound the log.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walSafetyPages))
		// The one writer never needs a read lock it must later upgrade
		// (migrate's transactions; the writer's own say BEGIN IMMEDIATE).
		q.Set("_txlock", "immediate")
	}
	return fileURI(path, q.Encode())
}

// fileURI is the SQLite URI of the file at path with the query.
func fileURI(path, query string) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: query}
	if !filepath.IsAbs(path) {
		u = url.URL{Scheme: "file", Opaque: path, RawQuery: query}
	}
	return u.String()
}
