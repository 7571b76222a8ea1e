package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emr-project/emr/internal/store"
)

// Bulk loads (store.BulkLoader).
//
// Into an empty store an import inserts about fifteen index rows per
// resource, and keeping the secondary indexes of the index tables
// (idx_token_code, idx_reference_target, …: keyed by value, so every
// insert lands somewhere else in the B-tree) up to date is a third of the
// writer's time on SQLite. A bulk load drops them and builds each once at
// the end, from the finished tables, for a fraction of that. PostgreSQL
// builds several at once, on connections beside the writer's (buildAside).
//
// On SQLite the full-text index also stops merging its segments until
// the end, when it is merged whole (dialect.bulkFTS); on PostgreSQL the
// foreign keys go too, and are added again at the end
// (dialect.foreignKeyDefs), which checks every row in one join. Those
// statements are kept with the dropped indexes, under names beginning
// with "~" (bulkStep), and run in the writer's transaction.
//
// What stays: every table's primary key and every UNIQUE index (writes
// rely on them), and bulkKept. What is dropped is read from the database's
// own catalogue when the load begins (dialect.indexDefs) and kept,
// statement by statement, in search_meta until built again: the
// migrations stay the one definition, and the rows are the durable record
// that a load has not finished. Searches meanwhile scan where they would
// seek, and so stay correct.
//
// A running load holds a lock that its process's death releases, however
// it dies (dialect.bulkLock: an flock on SQLite, a session advisory lock
// on PostgreSQL), so an Open that finds the rows can tell a load still
// running in another process (leave it) from an abandoned one (build the
// indexes before serving).

var _ store.BulkLoader = (*DB)(nil)

// bulkTables are the tables whose secondary indexes a bulk load may drop:
// the index tables, full text (PostgreSQL's GIN indexes; SQLite's is a
// virtual table, with none), and the resource tables, whose secondary
// indexes serve history by type and searches without an indexed
// condition (three of the nine B-trees each new resource goes into on
// PostgreSQL).
var bulkTables = append(slices.Clip(indexTables), "idx_fts", "resource_version", "resource_key")

// bulkKept are secondary indexes that a bulk load keeps because writes,
// not only searches, use them:
//   - idx_compartment_rid finds a resource's compartment rows when it is
//     written again (clearIndex), where a table scan per update would make
//     a load that updates quadratic. During a load its rids only grow, so
//     each insert is an append, at little cost.
//   - resource_version_time gives each write transaction the latest
//     last_updated (beginBatch), one seek instead of a scan.
var bulkKept = []string{"idx_compartment_rid", "resource_version_time"}

// bulkFKTables are the tables whose foreign keys a bulk load may drop.
var bulkFKTables = append(slices.Clip(bulkTables), "resource_current")

// metaBulkIndex prefixes the search_meta keys that name an index a bulk
// load dropped; the value is the statement that creates it.
const metaBulkIndex = "bulk_index "

// bulkKeys are the bounds of the metaBulkIndex keys, for a range on
// search_meta's primary key (LIKE would take '_' as a wildcard).
var bulkKeys = []any{metaBulkIndex, metaBulkIndex[:len(metaBulkIndex)-1] + "!"}

// bulkState is the bulk load this DB began.
type bulkState struct {
	mu      sync.Mutex
	running bool
	file    *os.File // SQLite: the flock, while this DB holds it
	// loading is set from the load's start until its indexes are built:
	// planner statistics gathered meanwhile would be stale at once, so
	// maybeAnalyze waits for the load's last commit.
	loading atomic.Bool
}

// bulkLock takes and releases the lock a running bulk load holds, on the
// writer connection or beside it; the caller owns the connection (the
// writer goroutine, or Open and Close around it).
type bulkLock struct {
	// try takes the lock without waiting: false while another holds it.
	try func(ctx context.Context, db *DB) (bool, error)
	// release lets it go.
	release func(ctx context.Context, db *DB)
}

// BeginBulk implements store.BulkLoader.
func (db *DB) BeginBulk(ctx context.Context) (bool, error) {
	if db.d.indexDefs == "" || db.d.bulkLock == nil {
		return false, nil
	}
	db.bulk.mu.Lock()
	defer db.bulk.mu.Unlock()
	if db.bulk.running {
		return false, nil
	}
	var begun bool
	err := db.submit(ctx, func(tx *txn) error {
		if err := tx.usable(); err != nil {
			return err
		}
		held, err := db.d.bulkLock.try(tx.ctx, db)
		if err != nil {
			return tx.dbErr("begin bulk load", err)
		}
		if !held {
			return nil // another process is loading in bulk
		}
		begun, err = tx.dropForBulk()
		if err != nil || !begun {
			db.d.bulkLock.release(tx.ctx, db)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: begin bulk load: %w", err)
	}
	db.bulk.running = begun
	db.bulk.loading.Store(begun)
	return begun, nil
}

// EndBulk implements store.BulkLoader: the indexes are built in one write
// transaction, which other writes wait for (about 0.1 s for 12,000
// Synthea resources on SQLite).
func (db *DB) EndBulk(ctx context.Context) error {
	db.bulk.mu.Lock()
	defer db.bulk.mu.Unlock()
	if !db.bulk.running {
		return nil
	}
	db.buildAside(ctx)
	err := db.submit(ctx, func(tx *txn) error {
		if err := tx.usable(); err != nil {
			return err
		}
		if _, err := tx.db.buildBulkIndexes(tx.ctx); err != nil {
			return tx.dbErr("end bulk load", err)
		}
		// This transaction's commit refreshes the statistics (maybeAnalyze).
		db.bulk.loading.Store(false)
		// Released before the commit: another process that finds the
		// records meanwhile waits for the write lock to build them, and
		// then finds none.
		db.d.bulkLock.release(tx.ctx, db)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: end bulk load: %w", err)
	}
	db.bulk.running = false
	return nil
}

// BulkLoading implements store.BulkLoader.
func (db *DB) BulkLoading() bool {
	db.bulk.mu.Lock()
	defer db.bulk.mu.Unlock()
	return db.bulk.running
}

// dropForBulk drops the droppable indexes, recording each, if the store
// holds no resources. The caller holds the bulk lock, so index records
// left in search_meta are an abandoned load's: on a store that is not
// empty they are built here.
func (tx *txn) dropForBulk() (bool, error) {
	if err := tx.usable(); err != nil {
		return false, err
	}
	ctx, conn := tx.ctx, tx.db.wconn
	var resources int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM resource_key LIMIT 1) AS t").Scan(&resources); err != nil {
		return false, tx.dbErr("begin bulk load", err)
	}
	if resources > 0 {
		if _, err := tx.db.buildBulkIndexes(ctx); err != nil {
			return false, tx.dbErr("begin bulk load", err)
		}
		return false, nil
	}
	defs, err := tx.db.droppableIndexes(ctx)
	if err != nil {
		return false, tx.dbErr("begin bulk load", err)
	}
	if fts := tx.db.d.bulkFTS; fts[0] != "" {
		if _, err := conn.ExecContext(ctx, fts[0]); err != nil {
			return false, tx.dbErr("begin bulk load", err)
		}
		// Sorted after the index names: the merge runs last.
		if _, err := conn.ExecContext(ctx, sqlSetMeta, metaBulkIndex+bulkFTSName, fts[1]); err != nil {
			return false, tx.dbErr("begin bulk load", err)
		}
	}
	fks, err := tx.db.droppableForeignKeys(ctx)
	if err != nil {
		return false, tx.dbErr("begin bulk load", err)
	}
	for _, def := range append(defs, fks...) {
		if _, err := conn.ExecContext(ctx, sqlSetMeta, metaBulkIndex+def.name, def.sql); err != nil {
			return false, tx.dbErr("begin bulk load", err)
		}
		if _, err := conn.ExecContext(ctx, def.drop); err != nil {
			return false, tx.dbErr("begin bulk load", err)
		}
	}
	return true, nil
}

// indexDef is what a bulk load drops: its name, the statement that
// creates it again, and the one that drops it.
type indexDef struct{ name, sql, drop string }

// bulkFTSName is the name the end of a load's full-text statements are
// recorded under, with the dropped indexes.
const bulkFTSName = "~full text"

// bulkFKPrefix begins the names a dropped foreign key's ADD statement is
// recorded under.
const bulkFKPrefix = "~foreign key "

// bulkStep tells a recorded statement that is not an index's (the full
// text's end, a foreign key) by its name: it runs only in the writer's
// transaction, after the indexes (the names sort after theirs).
func bulkStep(name string) bool { return strings.HasPrefix(name, "~") }

// droppableIndexes lists the secondary indexes of bulkTables that a bulk
// load may drop: neither UNIQUE nor in bulkKept.
func (db *DB) droppableIndexes(ctx context.Context) ([]indexDef, error) {
	return db.catalogue(ctx, db.d.indexDefs, bulkTables, func(rows *sql.Rows) (indexDef, bool, error) {
		var def indexDef
		if err := rows.Scan(&def.name, &def.sql); err != nil {
			return def, false, err
		}
		def.drop = "DROP INDEX " + def.name
		unique := strings.HasPrefix(strings.ToUpper(def.sql), "CREATE UNIQUE")
		return def, !unique && !slices.Contains(bulkKept, def.name), nil
	})
}

// droppableForeignKeys lists the foreign keys of bulkFKTables, when the
// database drops them for a load.
func (db *DB) droppableForeignKeys(ctx context.Context) ([]indexDef, error) {
	if db.d.foreignKeyDefs == "" {
		return nil, nil
	}
	return db.catalogue(ctx, db.d.foreignKeyDefs, bulkFKTables, func(rows *sql.Rows) (indexDef, bool, error) {
		var def indexDef
		err := rows.Scan(&def.name, &def.drop, &def.sql)
		def.name = bulkFKPrefix + def.name
		return def, true, err
	})
}

// catalogue runs query, a catalogue query bound to a table's name, for
// each of tables, and returns what scan makes of its rows, those it keeps.
func (db *DB) catalogue(ctx context.Context, query string, tables []string, scan func(*sql.Rows) (indexDef, bool, error)) ([]indexDef, error) {
	var defs []indexDef
	for _, table := range tables {
		rows, err := db.wconn.QueryContext(ctx, query, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			def, keep, err := scan(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if keep {
				defs = append(defs, def)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// buildBulkIndexes creates the indexes a bulk load dropped (and merges
// the full text, and adds its foreign keys again) and forgets their
// records, inside the caller's transaction on the writer connection, and
// returns how many indexes it built.
func (db *DB) buildBulkIndexes(ctx context.Context) (int, error) {
	defs, err := bulkIndexes(ctx, db.wconn)
	if err != nil {
		return 0, err
	}
	built := 0
	for _, def := range defs {
		if _, err := db.wconn.ExecContext(ctx, def.sql); err != nil {
			return 0, fmt.Errorf("build %s: %w", def.name, err)
		}
		if !bulkStep(def.name) {
			built++
		}
	}
	if _, err := db.wconn.ExecContext(ctx, "DELETE FROM search_meta WHERE key >= ? AND key < ?", bulkKeys...); err != nil {
		return 0, err
	}
	return built, nil
}

// bulkIndexes lists what a bulk load has yet to build, from its records
// in search_meta, in their order. An index is created only if it does not
// exist (buildAside may have built it).
func bulkIndexes(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]indexDef, error) {
	rows, err := q.QueryContext(ctx, "SELECT key, value FROM search_meta WHERE key >= ? AND key < ? ORDER BY key", bulkKeys...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var defs []indexDef
	for rows.Next() {
		var def indexDef
		if err := rows.Scan(&def.name, &def.sql); err != nil {
			return nil, err
		}
		def.name = strings.TrimPrefix(def.name, metaBulkIndex)
		if !bulkStep(def.name) {
			def.sql = ifNotExists(def.sql)
		}
		defs = append(defs, def)
	}
	return defs, rows.Err()
}

// ifNotExists makes a CREATE [UNIQUE] INDEX statement, as both databases'
// catalogues give it, do nothing when the index exists.
func ifNotExists(stmt string) string {
	for _, head := range []string{"CREATE INDEX ", "CREATE UNIQUE INDEX "} {
		if rest, ok := strings.CutPrefix(stmt, head); ok && !strings.HasPrefix(rest, "IF NOT EXISTS ") {
			return head + "IF NOT EXISTS " + rest
		}
	}
	return stmt
}

// buildAside builds the indexes a bulk load dropped, dialect.buildsAside
// at a time, each CREATE INDEX on a reader connection in a transaction of
// its own, before the writer's transaction finds them built and deletes
// their records. The writer is idle meanwhile: the load has ended. One
// that fails here is only logged: the writer's transaction builds what is
// missing, and reports its failure. A process that dies part way leaves
// the records, and the next Open builds what is missing.
func (db *DB) buildAside(ctx context.Context) {
	if db.d.buildsAside == 0 {
		return
	}
	defs, err := bulkIndexes(ctx, db.readers)
	if err != nil {
		slog.Warn("store: listing the indexes a bulk load dropped failed; built one by one", "database", db.where, "error", err)
		return
	}
	next := make(chan indexDef)
	var wg sync.WaitGroup
	for range min(db.d.buildsAside, len(defs)) {
		wg.Go(func() {
			for def := range next {
				if _, err := db.readers.ExecContext(ctx, def.sql); err != nil {
					slog.Warn("store: building an index beside the writer failed; built in its transaction", "database", db.where, "index", def.name, "error", err)
				}
			}
		})
	}
	for _, def := range defs {
		if !bulkStep(def.name) {
			next <- def
		}
	}
	close(next)
	wg.Wait()
}

// finishBulk builds, outside the writer goroutine (at Open, or at Close
// after it has stopped), the indexes of a bulk load that did not end: one
// this DB began, or one whose process died. A load running in another
// process is left to it.
func (db *DB) finishBulk(ctx context.Context) error {
	if db.d.indexDefs == "" {
		return nil
	}
	db.bulk.mu.Lock()
	defer db.bulk.mu.Unlock()
	own := db.bulk.running
	var pending int
	if err := db.wconn.QueryRowContext(ctx, "SELECT count(*) FROM search_meta WHERE key >= ? AND key < ?", bulkKeys...).Scan(&pending); err != nil {
		return err
	}
	if pending == 0 && !own {
		return nil
	}
	if !own && db.d.bulkLock != nil {
		held, err := db.d.bulkLock.try(ctx, db)
		if err != nil {
			return fmt.Errorf("bulk load lock: %w", err)
		}
		if !held {
			slog.Warn("store: another process is loading the database in bulk; searches are slower until it ends",
				"database", db.where)
			return nil
		}
	}
	if db.d.bulkLock != nil {
		defer db.d.bulkLock.release(ctx, db)
	}
	built, err := db.inTx(ctx, db.buildBulkIndexes)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	db.bulk.running = false
	if !own {
		slog.Warn("store: a bulk load did not finish (the process ended during an import); built the search indexes it had dropped",
			"database", db.where, "indexes", built)
	}
	return nil
}

// inTx runs fn in a write transaction of its own on the writer
// connection, which the writer goroutine must not be using.
func (db *DB) inTx(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
	for _, stmt := range db.d.begin {
		if _, err := db.wconn.ExecContext(ctx, stmt); err != nil {
			return 0, err
		}
	}
	n, err := fn(ctx)
	if err == nil {
		_, err = db.wconn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		_, _ = db.wconn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return 0, err
	}
	return n, nil
}
