// Package sqlstore is the store.Store on SQL databases: embedded SQLite
// (the default, one file) and PostgreSQL (hospitals, several servers on one
// database). One engine serves both; a dialect (dialect.go) holds the few
// differences, and each database has its own numbered migrations
// (migrations/sqlite, migrations/postgres) that build the same logical
// schema.
//
// One writer connection runs every write. Concurrent Write and AppendAudit
// calls are collected by a single writer goroutine into one transaction
// (group commit): each caller's fn runs inside its own SAVEPOINT, so a
// failing fn undoes only itself, and every caller is answered after the one
// durable COMMIT. Each transaction first takes the database's write lock
// (SQLite's BEGIN IMMEDIATE, a PostgreSQL advisory lock), so writes are
// serialised across every process sharing the database and seq order is
// commit order. Reads go to a separate pool of connections and never wait
// for the writer.
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
// table per parameter kind (migrations/sqlite/0002_search.sql). A query
// becomes one SQL statement (searchsql.go, search.go): the most
// selective-looking condition drives it through an index range, the others
// probe by the resource's integer key; pages are keyset-paged with an
// opaque cursor, so they stay stable while resources are written.
//
// lastUpdated has millisecond precision (the last_updated column is unix
// milliseconds, meta.lastUpdated is written as 2006-01-02T15:04:05.000Z)
// and never decreases in seq order: the writer clamps a clock that steps
// back to the latest time in the database.
package sqlstore

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emr-project/emr/internal/store"
)

// Options tunes a DB. The zero value is a good default.
type Options struct {
	// ReadConns is the size of the reader connection pool
	// (default 2×GOMAXPROCS).
	ReadConns int
	// MaxBatch bounds how many queued writes share one commit (default 256).
	MaxBatch int
	// Extractor turns resources into search index entries; nil indexes
	// nothing (only _id and _lastUpdated, which need no entries, work).
	Extractor store.Extractor

	// SQLite only.
	//
	// BusyTimeout is how long a connection waits for a lock held by another
	// process, e.g. a backup tool (default 5s).
	BusyTimeout time.Duration
	// CacheSizeKiB is SQLite's page cache per connection (default 16 MiB for
	// the writer, a quarter of that for each reader).
	CacheSizeKiB int

	// AuditKey signs checkpoints of the audit log's hash chain
	// (auditchain.Sign); nil signs none, though every record is still
	// chained. Keep the key out of the database: with it, whoever can
	// rewrite the database can re-sign a rewritten chain.
	AuditKey ed25519.PrivateKey
	// CheckpointEvery is how many audit records may follow the last
	// checkpoint before the next is written (default 10,000), and
	// CheckpointInterval how long (default 10 minutes). Close writes one
	// too.
	CheckpointEvery    int64
	CheckpointInterval time.Duration

	// PostgreSQL only.
	//
	// ReplicaURL, when set, is a read replica (a streaming standby) that
	// serves reads and searches. A read falls back to the primary until the
	// replica has replayed this process's last commit, so a client always
	// reads its own writes (see replica.go).
	ReplicaURL string
	// Now is the clock records (store.Records: sessions, tokens) expire
	// by; default time.Now. Tests that run the application on a settable
	// clock give the store the same one.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 2 * runtime.GOMAXPROCS(0)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 10000
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 10 * time.Minute
	}
	if o.CacheSizeKiB <= 0 {
		o.CacheSizeKiB = 16 << 10
	}
}

// DB is a store.Store on one SQL database.
type DB struct {
	d       *dialect
	where   string    // the database, for errors and logs (a path, or a URL without password)
	writer  *sql.DB   // exactly one connection
	wconn   *sql.Conn // that connection, held by the writer goroutine
	readers *sql.DB   // the primary's reader pool (rd.pool)
	rd      readSide  // reads on the primary
	replica *replica  // PostgreSQL with Options.ReplicaURL: reads on the standby
	wstmt   writeStmts
	wsearch stmtCache // the writer connection's search statements
	istmt   indexStmts

	extractor store.Extractor
	// stale is set while the index was built by another extractor version
	// than extractor's (see IndexStale).
	stale atomic.Bool
	// bulk is the bulk load this DB began (bulk.go).
	bulk bulkState

	maxBatch int
	queue    chan *writeReq
	mu       sync.RWMutex // guards closed against sends on queue
	closed   bool
	stop     chan struct{}
	stopped  chan struct{}

	// auditPath is SQLite's audit file (auditfile.go), auditDSN the
	// connection string that opens it as a database of its own; "" on
	// PostgreSQL, whose log stays in the database.
	auditPath, auditDSN string

	// onClose runs on the writer connection after the last write.
	onClose func(ctx context.Context, conn *sql.Conn)
	// recordNow is Options.Now.
	recordNow func() time.Time
	// walCkpt checkpoints SQLite's write-ahead log off the writer
	// (walcheckpoint.go); nil on PostgreSQL.
	walCkpt *walCheckpointer
	// afterCommit runs on the writer connection after each commit.
	afterCommit func(ctx context.Context, conn *sql.Conn)

	// Writer goroutine only.
	written     int64     // versions this process has committed
	nextAnalyze int64     // written at which to refresh statistics next (PostgreSQL)
	batchWrites int64     // versions written by the batch running now
	lastNow     time.Time // keeps last_updated monotonic
	batchErr    error     // the first database error in the current batch

	// The audit chain (auditchain.go); writer goroutine only.
	auditKey       ed25519.PrivateKey
	ckEvery        int64
	ckInterval     time.Duration
	pending        []pendingAudit    // the running batch's audit events
	auditInserts   map[int]*sql.Stmt // INSERTs of n chained records
	postingInserts map[int]*sql.Stmt // INSERTs of n audit_posting rows
	rowArgs        []any             // insertRows' arguments, reused
	createBatch    *sql.Stmt         // PostgreSQL: createBatch's statement (batchcreate.go)
	prefetches     map[int]*sql.Stmt // Prefetch's queries for n resources
	outboxInserts  map[int]*sql.Stmt // INSERTs of n audit_outbox rows (auditfile.go)
	outbox         outboxState       // its rows moved into the audit file (auditfile.go)
	aidx           auditIndexState   // what waits to be indexed (auditindex.go)
	ckpt           checkpointState   // the last checkpoint known
	ckptPending    *checkpointState  // made by the running transaction
}

var _ store.Store = (*DB)(nil)

// open finishes opening a DB on its pools: it takes the writer
// connection, brings the schema up to date, prepares statements and starts
// the writer goroutine. check, when not nil, runs first on the writer
// connection. walPool, when not nil, is SQLite's checkpointer's
// (walcheckpoint.go), and auditPath, when not "", SQLite's audit file
// (auditfile.go). On failure it closes every pool.
func open(ctx context.Context, d *dialect, where string, writer, readers, walPool *sql.DB, auditPath string, opts Options, check func(context.Context, *sql.Conn) error) (*DB, error) {
	db := &DB{d: d, where: where, writer: writer, readers: readers, maxBatch: opts.MaxBatch, extractor: opts.Extractor,
		auditKey: opts.AuditKey, ckEvery: opts.CheckpointEvery, ckInterval: opts.CheckpointInterval, recordNow: opts.Now}
	if auditPath != "" {
		db.auditPath, db.auditDSN = auditPath, sqliteDSN(auditPath, opts, false)
	}
	if walPool != nil {
		var logs []string // synced by the checkpointer's syncer
		if auditPath != "" {
			logs = append(logs, auditPath+"-wal")
		}
		db.startWALCheckpointer(walPool, logs...)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	readers.SetMaxOpenConns(opts.ReadConns)
	readers.SetMaxIdleConns(opts.ReadConns)
	readers.SetConnMaxIdleTime(0)
	db.rd.pool = readers
	if err := db.openWriter(ctx, check); err != nil {
		db.closeConns()
		return nil, fmt.Errorf("%s: open %s: %w", d.name, where, err)
	}
	if err := db.rd.open(ctx); err != nil {
		db.closeConns()
		return nil, fmt.Errorf("%s: open readers %s: %w", d.name, where, err)
	}
	db.queue = make(chan *writeReq, opts.MaxBatch)
	db.stop = make(chan struct{})
	db.stopped = make(chan struct{})
	go db.writeLoop()
	if err := db.buildConsentRules(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: open %s: %w", d.name, where, err)
	}
	return db, nil
}

func (db *DB) openWriter(ctx context.Context, check func(context.Context, *sql.Conn) error) error {
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return err
	}
	db.wconn = conn
	db.wsearch.db = conn
	if check != nil {
		if err := check(ctx, conn); err != nil {
			return err
		}
	}
	var before func(context.Context, int) error
	if db.auditPath != "" {
		before = db.beforeMigration
	}
	if err := migrate(ctx, conn, db.d, before); err != nil {
		return err
	}
	if db.auditPath != "" {
		if err := db.checkAuditFile(ctx); err != nil {
			return err
		}
	}
	if err := db.wstmt.prepare(ctx, conn, db.d); err != nil {
		return err
	}
	if err := db.istmt.prepare(ctx, conn, db.d); err != nil {
		return err
	}
	if err := db.openAuditChain(ctx); err != nil {
		return err
	}
	if db.auditPath != "" {
		if n, err := db.moveOutbox(ctx); err != nil {
			return fmt.Errorf("audit log: chaining the records of writes: %w", err)
		} else if n > 0 {
			slog.Info("sqlite: audit records of writes chained after a restart", "database", db.where, "records", n)
		}
		if err := db.openOutbox(ctx); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
	}
	if n, err := db.catchUpAuditIndex(ctx); err != nil {
		return err
	} else if n > 0 {
		slog.Info(db.d.name+": audit log indexed for search", "database", db.where, "records", n)
	}
	if err := db.checkIndexVersion(ctx); err != nil {
		return err
	}
	return db.finishBulk(ctx)
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
	if db.BulkLoading() {
		// Failing here loses nothing: the next Open builds them.
		if err := db.finishBulk(context.Background()); err != nil {
			slog.Warn("store: building the indexes of a bulk load at close failed", "database", db.where, "error", err)
		}
	}
	// The checkpointer stops before onClose, which may checkpoint the
	// log itself; closeConns then finds it stopped.
	ckptErr := db.stopWALCheckpointer()
	if db.onClose != nil {
		db.onClose(context.Background(), db.wconn)
	}
	return errors.Join(ckptErr, db.closeConns())
}

func (db *DB) closeConns() error {
	var errs []error
	errs = append(errs, db.stopWALCheckpointer())
	if db.replica != nil {
		errs = append(errs, db.replica.side.close())
	}
	errs = append(errs, db.rd.close())
	db.wstmt.close()
	db.wsearch.close()
	db.istmt.close()
	for _, cache := range []map[int]*sql.Stmt{db.auditInserts, db.postingInserts, db.outboxInserts, db.prefetches} {
		for _, stmt := range cache {
			stmt.Close()
		}
	}
	if db.createBatch != nil {
		db.createBatch.Close()
	}
	if db.wconn != nil {
		errs = append(errs, db.wconn.Close())
	}
	errs = append(errs, db.writer.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: close %s: %w", db.d.name, db.where, err)
	}
	return nil
}

// isClosed reports whether Close has begun.
func (db *DB) isClosed() bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.closed
}

// Where names the database: the SQLite file's path, or the PostgreSQL URL
// without its password.
func (db *DB) Where() string { return db.where }

// Backend names the kind of database: "sqlite" or "postgres".
func (db *DB) Backend() string { return db.d.name }
