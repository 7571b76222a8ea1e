// Package sqlite is the embedded default store.Store: FHIR resource versions
// and the audit log in one SQLite database file in WAL mode.
//
// One writer connection runs every write. Concurrent Write and AppendAudit
// calls are collected by a single writer goroutine into one SQLite
// transaction (group commit): each caller's fn runs inside its own SAVEPOINT,
// so a failing fn undoes only itself, and every caller is answered after the
// one durable (synchronous=FULL) COMMIT. Reads go to a separate pool of
// read-only connections and never wait for the writer.
//
// Resources are stored as their canonical JSON (fhir.Resource.JSON) with
// meta.versionId and meta.lastUpdated already set, and parsed eagerly with
// fhir.ParseResource when read, since store.Version carries a parsed
// fhir.Resource. The JSON is not compressed: on a typical 865-byte Patient,
// deflate (BestSpeed) saves 43% but inflating costs about 20µs, twice the
// parse, on every read. Stored JSON always starts with '{', so a later
// codec can be told apart by its first byte without a migration.
//
// Search runs on index rows that the store's Extractor (Options.Extractor)
// derives from each version, written in the version's transaction into one
// table per parameter kind (migrations/0002_search.sql). A query becomes
// one SQL statement (searchsql.go, search.go): the most selective-looking
// condition drives it through an index range, the others probe by the
// resource's integer key; pages are keyset-paged with an opaque cursor, so
// they stay stable while resources are written.
//
// lastUpdated has millisecond precision (the last_updated column is unix
// milliseconds, meta.lastUpdated is written as 2006-01-02T15:04:05.000Z)
// and never decreases in seq order: the writer clamps a clock that steps
// back to the previous transaction's time.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/emr-project/emr/internal/store"
)

// Options tunes a DB. The zero value is a good default.
type Options struct {
	// ReadConns is the size of the reader connection pool
	// (default 2×GOMAXPROCS).
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by another
	// process, e.g. a backup tool (default 5s).
	BusyTimeout time.Duration
	// MaxBatch bounds how many queued writes share one commit (default 256).
	MaxBatch int
	// CacheSizeKiB is SQLite's page cache per connection (default 16 MiB for
	// the writer, a quarter of that for each reader).
	CacheSizeKiB int
	// Extractor turns resources into search index entries; nil indexes
	// nothing (only _id and _lastUpdated, which need no entries, work).
	Extractor store.Extractor
}

// DB is a store.Store on one SQLite database file.
type DB struct {
	path    string
	writer  *sql.DB   // exactly one connection
	wconn   *sql.Conn // that connection, held by the writer goroutine
	readers *sql.DB
	wstmt   writeStmts
	rstmt   readStmts
	istmt   indexStmts
	search  stmtCache // the readers' search statements

	extractor store.Extractor
	// stale is set while the index was built by another extractor version
	// than extractor's (see IndexStale).
	stale atomic.Bool

	maxBatch int
	queue    chan *writeReq
	mu       sync.RWMutex // guards closed against sends on queue
	closed   bool
	stop     chan struct{}
	stopped  chan struct{}

	// Writer goroutine only.
	lastNow  time.Time // keeps last_updated monotonic
	batchErr error     // the first database error in the current batch
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database at path and brings its schema
// up to date. It refuses a database whose schema is newer than this binary's.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: open: no database path")
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.CacheSizeKiB <= 0 {
		opts.CacheSizeKiB = 16 << 10
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	db := &DB{path: path, maxBatch: opts.MaxBatch, extractor: opts.Extractor}
	var err error
	// busy_timeout comes first so that the journal_mode change cannot fail
	// with SQLITE_BUSY while another process holds the file.
	db.writer, err = sql.Open("sqlite", dsn(path, opts.BusyTimeout, false, opts.CacheSizeKiB))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxLifetime(0)
	db.writer.SetConnMaxIdleTime(0)
	if err := db.openWriter(ctx); err != nil {
		db.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Readers open after migrations so that they see the WAL file and the schema.
	db.readers, err = sql.Open("sqlite", dsn(path, opts.BusyTimeout, true, opts.CacheSizeKiB/4))
	if err == nil {
		db.readers.SetMaxOpenConns(opts.ReadConns)
		db.readers.SetMaxIdleConns(opts.ReadConns)
		db.readers.SetConnMaxIdleTime(0)
		err = db.readers.PingContext(ctx)
	}
	if err == nil {
		err = db.rstmt.prepare(ctx, db.readers)
		db.search.db = db.readers
	}
	if err != nil {
		db.closeConns()
		return nil, fmt.Errorf("sqlite: open readers %s: %w", path, err)
	}
	db.queue = make(chan *writeReq, opts.MaxBatch)
	db.stop = make(chan struct{})
	db.stopped = make(chan struct{})
	go db.writeLoop()
	return db, nil
}

func (db *DB) openWriter(ctx context.Context) error {
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return err
	}
	db.wconn = conn
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	if err := migrate(ctx, conn); err != nil {
		return err
	}
	if err := db.wstmt.prepare(ctx, conn); err != nil {
		return err
	}
	if err := db.istmt.prepare(ctx, conn); err != nil {
		return err
	}
	if err := db.checkIndexVersion(ctx); err != nil {
		return err
	}
	var last sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT max(last_updated) FROM resource_version").Scan(&last); err != nil {
		return err
	}
	if last.Valid {
		db.lastNow = time.UnixMilli(last.Int64).UTC()
	}
	return nil
}

// dsn builds the connection string. Every PRAGMA goes in it so that a
// connection the pool reopens is configured like the first one.
func dsn(path string, busy time.Duration, readOnly bool, cacheKiB int) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
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
		// The one writer never needs a read lock it must later upgrade.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	if !filepath.IsAbs(path) {
		u = url.URL{Scheme: "file", Opaque: path, RawQuery: q.Encode()}
	}
	return u.String()
}

// Close waits for queued writes to finish, refuses new ones and releases the
// database.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	close(db.stop)
	<-db.stopped
	// Leave a small WAL behind; failure here loses nothing.
	_, _ = db.wconn.ExecContext(context.Background(), "PRAGMA optimize")
	_, _ = db.wconn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	return db.closeConns()
}

func (db *DB) closeConns() error {
	var errs []error
	db.rstmt.close()
	db.search.close()
	if db.readers != nil {
		errs = append(errs, db.readers.Close())
	}
	db.wstmt.close()
	db.istmt.close()
	if db.wconn != nil {
		errs = append(errs, db.wconn.Close())
	}
	errs = append(errs, db.writer.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", db.path, err)
	}
	return nil
}
