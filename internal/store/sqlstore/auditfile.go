package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	sqlite "modernc.org/sqlite"

	"github.com/emr-project/emr/internal/audit"
)

// The audit log in a file of its own, on SQLite.
//
// Every audited read commits its AuditEvent (auditchain.go). In one file,
// each such commit changed the database the readers read, and SQLite's
// pager drops a connection's whole page cache when it finds the database
// changed: reads got dearer by about as much as the commits cost
// (docs/audit.md). So the log lives in <name>-audit.db beside <name>.db,
// attached to every connection as the schema "audit": the audit tables are
// only there (migration 0009), and the statements that name them without
// a schema find them. A batch of audit appends commits to the audit file
// alone and the database file does not change.
//
// A write and its records must commit together, and SQLite in WAL mode
// commits each file of a transaction on its own. So a batch that writes
// puts its records in the database file's audit_outbox, in its own
// transaction, and after that commit the writer chains them into the log
// and raises audit.audit_outbox_moved in one transaction of the audit
// file (moveOutbox). A crash between the two leaves the records in the
// outbox, which the next open (or any process's next write) moves; an
// outbox row is never chained twice, since the mark moves with the chain,
// and the moved rows are deleted by a later write, once the audit file's
// log has been synced since the move (its commits are not synced one by
// one). Answered callers so never lose a record, and a write is never
// without its record.
//
// The two files belong together: each keeps the same random id
// (audit_file), and the store refuses to open a pair whose ids differ
// (a lost log, or another database's), rather than start the log afresh.
// A backup takes both files, the database file first: the audit file
// copied after it holds every record the outbox had and then deleted.
// docs/audit.md says how.

// AuditPath is the audit log's file beside the SQLite database at path:
// emr.db's is emr-audit.db.
func AuditPath(path string) string {
	if ext := filepath.Ext(path); ext != "" {
		return strings.TrimSuffix(path, ext) + "-audit" + ext
	}
	return path + "-audit"
}

// auditFileDialect applies the audit file's migrations
// (migrations/sqlite-audit) with the audit file as the main database.
var auditFileDialect = func() *dialect {
	d := *sqliteDialect
	d.migrationsDir = "migrations/sqlite-audit"
	return &d
}()

// attachedConnector opens connections to a SQLite database with the audit
// file attached as "audit", and pragmas then run on it.
type attachedConnector struct {
	base    driver.Connector
	attach  string // the file name ATTACH is given
	pragmas []string
}

func (c *attachedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	exec, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, errors.New("sqlite: the driver's connection cannot execute statements")
	}
	run := func(query string, args ...driver.NamedValue) error {
		_, err := exec.ExecContext(ctx, query, args)
		return err
	}
	if err := run("ATTACH DATABASE ? AS audit", driver.NamedValue{Ordinal: 1, Value: c.attach}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("attach the audit log: %w", err)
	}
	for _, p := range c.pragmas {
		if err := run(p); err != nil {
			conn.Close()
			return nil, fmt.Errorf("audit log: %s: %w", p, err)
		}
	}
	return conn, nil
}

func (c *attachedConnector) Driver() driver.Driver { return c.base.Driver() }

// openAttached is sql.Open of the database at path, configured by opts,
// with its audit file attached: read-write (creating it) or read-only.
func openAttached(path string, opts Options, readOnly bool) (*sql.DB, error) {
	base, err := sqlite.NewConnector(sqliteDSN(path, opts, readOnly))
	if err != nil {
		return nil, err
	}
	c := &attachedConnector{base: base, attach: AuditPath(path)}
	if readOnly {
		// mode=ro needs a URI; the database's DSN is one, so ATTACH
		// takes URIs on its connections.
		c.attach = fileURI(AuditPath(path), "mode=ro")
	} else {
		// WAL. A commit is written to the log before it returns, so it
		// survives the process being killed at once; the log is synced
		// beside the checkpointer (walcheckpoint.go), so a commit survives
		// the loss of power or of the machine within about
		// walCheckpointEvery. The outbox rows a commit moves are deleted
		// only once a sync has covered it (outboxState).
		c.pragmas = []string{
			"PRAGMA audit.journal_mode = WAL",
			"PRAGMA audit.synchronous = NORMAL",
			fmt.Sprintf("PRAGMA audit.cache_size = -%d", opts.CacheSizeKiB/4),
		}
	}
	return sql.OpenDB(c), nil
}

// auditTables are the tables migration 0009 moves into the audit file,
// with their columns.
var auditTables = []struct{ name, cols string }{
	{"audit_event", "seq, recorded, event, prev_hash, hash"},
	{"audit_chain", "legacy_through"},
	{"audit_checkpoint", "seq, hash, created, key_id, signature"},
	{"audit_purge", "through_seq, hash, created, records, archive, archive_sha256, key_id, signature"},
	{"audit_indexed", "through"},
	{"audit_posting", "name, key, last, first, seqs"},
}

// beforeMigration runs before the database file's migration version, on
// the writer connection, outside any transaction.
func (db *DB) beforeMigration(ctx context.Context, version int) error {
	if version != 9 {
		return nil
	}
	if err := db.migrateAuditFile(ctx); err != nil {
		return err
	}
	return db.copyAuditTables(ctx)
}

// migrateAuditFile brings the audit file's schema up to date, on a
// connection of its own that opens it as its main database.
func (db *DB) migrateAuditFile(ctx context.Context) error {
	pool, err := sql.Open("sqlite", db.auditDSN)
	if err != nil {
		return err
	}
	defer pool.Close()
	conn, err := pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := migrate(ctx, conn, auditFileDialect, nil); err != nil {
		return fmt.Errorf("audit log %s: %w", db.auditPath, err)
	}
	return nil
}

// copyAuditTables copies the rows of the database file's audit tables into
// the audit file and marks it copied, in one transaction of the audit
// file, unless that was done (by a run cut short before migration 0009, or
// by another process). Dropping them (migration 0009) is a transaction of
// its own, afterwards: no crash between the two loses a record.
func (db *DB) copyAuditTables(ctx context.Context) (err error) {
	conn := db.wconn
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
		}
	}()
	var inMain, copied int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = 'audit_event'").Scan(&inMain); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, "SELECT copied FROM audit.audit_file").Scan(&copied); err != nil {
		return err
	}
	switch {
	case inMain == 0:
		// Another process moved the log and dropped these meanwhile.
	case copied == 1:
		// Copied, but not dropped yet: unless the database file's log
		// grew since (an older emr ran on it), which would lose records.
		var same bool
		if err := conn.QueryRowContext(ctx, `SELECT coalesce((SELECT max(seq) FROM main.audit_event), 0) = coalesce((SELECT max(seq) FROM audit.audit_event), 0)`).Scan(&same); err != nil {
			return err
		}
		if !same {
			return fmt.Errorf("audit log: %s holds records that its copy in %s lacks (an older emr wrote after the copy): move it aside and open again", db.where, db.auditPath)
		}
	default:
		for _, t := range auditTables {
			if _, err := conn.ExecContext(ctx, "INSERT INTO audit."+t.name+" ("+t.cols+") SELECT "+t.cols+" FROM main."+t.name); err != nil {
				return fmt.Errorf("audit log: copy %s: %w", t.name, err)
			}
		}
		if _, err := conn.ExecContext(ctx, "UPDATE audit.audit_file SET copied = 1"); err != nil {
			return err
		}
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

// checkAuditFile runs once the database file's schema is current: it
// brings the audit file's up to date and checks that the two files belong
// together. (What a crash left in the outbox is chained once the chain is
// open: openWriter.)
func (db *DB) checkAuditFile(ctx context.Context) error {
	var tables int
	if err := db.wconn.QueryRowContext(ctx, "SELECT count(*) FROM audit.sqlite_master").Scan(&tables); err != nil {
		return err
	}
	if tables == 0 {
		return fmt.Errorf("the audit log %s is missing or empty, though %s has moved its log there: restore both files from one backup", db.auditPath, db.where)
	}
	if err := db.migrateAuditFile(ctx); err != nil {
		return err
	}
	var same bool
	if err := db.wconn.QueryRowContext(ctx, "SELECT (SELECT id FROM main.audit_file) = (SELECT id FROM audit.audit_file)").Scan(&same); err != nil {
		return err
	}
	if !same {
		return fmt.Errorf("the audit log %s belongs to another database than %s: restore both files from one backup", db.auditPath, db.where)
	}
	return nil
}

// sealApart takes the place of sealAudit in a batch that writes, with the
// audit log apart: the records of functions that change only the audit
// file (a purge) are chained there, to commit with that change, and the
// others go to the outbox, to commit with their writes.
func (db *DB) sealApart(ctx context.Context) error {
	var direct, stash []pendingAudit
	for _, p := range db.pending {
		if p.direct {
			direct = append(direct, p)
		} else {
			stash = append(stash, p)
		}
	}
	if len(direct) > 0 {
		db.pending = direct
		if err := db.sealAudit(ctx); err != nil {
			return err
		}
	}
	db.pending = stash
	return db.stashAudit(ctx)
}

// outboxState is what the writer knows of the outbox's moved rows.
type outboxState struct {
	moves   []outboxMove // moves whose commit may not be synced yet
	safe    int64        // rows up to this id are chained and synced: they may go
	deleted int64        // rows up to this id were deleted by a committed write
	delete  int64        // what the running write batch deletes up to
	stashed bool         // the running write batch put rows in the outbox
	unmoved bool         // committed rows may wait in the outbox (a move failed)
}

// outboxMove is a moveOutbox commit: the outbox rows up to through, and the
// first sync of the audit file's log that started after it (gen).
type outboxMove struct{ through, gen int64 }

// safeThrough moves safe on by the moves that a sync has covered since,
// and returns it.
func (s *outboxState) safeThrough(synced int64) int64 {
	i := 0
	for ; i < len(s.moves) && s.moves[i].gen <= synced; i++ {
		s.safe = max(s.safe, s.moves[i].through)
	}
	s.moves = s.moves[i:]
	return s.safe
}

// stashAudit puts the running write batch's audit events into
// audit_outbox, in its transaction, and deletes the rows moved before whose
// move is synced: until then an unsynced log holds their only other copy.
func (db *DB) stashAudit(ctx context.Context) error {
	db.outbox.stashed = len(db.pending) > 0
	db.outbox.delete = db.outbox.safeThrough(db.walCkpt.syncDone.Load())
	if db.outbox.delete > db.outbox.deleted {
		if _, err := db.wconn.ExecContext(ctx, "DELETE FROM audit_outbox WHERE id <= ?", db.outbox.delete); err != nil {
			return err
		}
	}
	return db.insertRows(ctx, &db.outboxInserts, "INSERT INTO audit_outbox (recorded, event)", "", 2, auditInsertChunk, len(db.pending),
		func(args []any, i int) []any { return append(args, db.pending[i].recorded, db.pending[i].event) })
}

// moveOutbox chains the outbox's records that are not in the log yet
// into it, in one transaction of the audit file that also records how far
// it got, and says how many it moved. A search's wish for the index to be
// current (auditIndexState.wanted) carries over from the write batch that
// ran before.
func (db *DB) moveOutbox(ctx context.Context) (moved int, err error) {
	wanted := db.aidx.wanted
	var last int64
	err = db.auditTx(ctx, false, func(int64, []byte) error {
		db.aidx.wanted = wanted
		clear(db.pending)
		db.pending = db.pending[:0]
		rows, err := db.wconn.QueryContext(ctx, "SELECT id, recorded, event FROM audit_outbox WHERE id > (SELECT through FROM audit_outbox_moved) ORDER BY id")
		if err != nil {
			return err
		}
		for rows.Next() {
			var p pendingAudit
			if err := rows.Scan(&last, &p.recorded, &p.event); err != nil {
				rows.Close()
				return err
			}
			// Terms that do not parse stay nil: the indexer reads the
			// record from the log and reports it (logTerms).
			p.terms, _ = audit.StoredTerms(p.event)
			db.pending = append(db.pending, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := db.sealAudit(ctx); err != nil {
			return err
		}
		if last == 0 {
			return nil
		}
		_, err = db.wconn.ExecContext(ctx, "UPDATE audit_outbox_moved SET through = ?", last)
		return err
	})
	if err != nil {
		return 0, err
	}
	if last > 0 {
		// Not synced by this commit (the audit file's are not): the rows
		// may go once a sync that started after it has ended.
		db.outbox.moves = append(db.outbox.moves, outboxMove{through: last, gen: db.walCkpt.syncStarted.Load() + 1})
		db.walCkpt.kicked()
	}
	return len(db.pending), nil
}

// openOutbox runs at open, after moveOutbox: it syncs the audit file's
// log, so that every row a run before moved may be deleted.
func (db *DB) openOutbox(ctx context.Context) error {
	if err := db.walCkpt.syncLogs(); err != nil {
		return err
	}
	var through int64
	if err := db.wconn.QueryRowContext(ctx, "SELECT through FROM audit_outbox_moved").Scan(&through); err != nil {
		return err
	}
	db.outbox.safe = max(db.outbox.safe, through)
	return nil
}

// insertRows inserts n rows of cols values each, on the writer
// connection, with statements head VALUES (?, …), … tail of at most chunk
// rows, prepared once per size and kept in *cache. row appends row i's
// values to args, in order.
func (db *DB) insertRows(ctx context.Context, cache *map[int]*sql.Stmt, head, tail string, cols, chunk, n int, row func(args []any, i int) []any) error {
	for from := 0; from < n; {
		k := min(n-from, chunk)
		stmt, err := db.rowsStmt(ctx, cache, head, cols, k, tail)
		if err != nil {
			return err
		}
		args := db.rowArgs[:0]
		for i := from; i < from+k; i++ {
			args = row(args, i)
		}
		_, err = stmt.ExecContext(ctx, args...)
		clear(args) // drop references to the rows' values
		db.rowArgs = args
		if err != nil {
			return err
		}
		from += k
	}
	return nil
}

// rowsStmt returns the statement head VALUES (?, …), … of n rows of cols
// values each, then tail, prepared on the writer connection the first time
// and kept in *cache.
func (db *DB) rowsStmt(ctx context.Context, cache *map[int]*sql.Stmt, head string, cols, n int, tail string) (*sql.Stmt, error) {
	if stmt := (*cache)[n]; stmt != nil {
		return stmt, nil
	}
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	stmt, err := db.wconn.PrepareContext(ctx, head+" VALUES "+strings.Repeat(row+", ", n-1)+row+tail)
	if err != nil {
		return nil, err
	}
	if *cache == nil {
		*cache = map[int]*sql.Stmt{}
	}
	(*cache)[n] = stmt
	return stmt, nil
}
