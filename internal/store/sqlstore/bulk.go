package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/store"
)

// Bulk loads (store.BulkLoader), on SQLite.
//
// Into an empty store an import inserts about fifteen index rows per
// resource, and keeping the secondary indexes of the index tables
// (idx_token_code, idx_reference_target, …: keyed by value, so every
// insert lands somewhere else in the B-tree) up to date is half of the
// writer's time. A bulk load drops them and builds each once at the end,
// from rows already in order: a third of the cost.
//
// What stays: every table's primary key and every UNIQUE index (writes
// rely on them), and bulkKept. What is dropped is read from the schema
// itself (sqlite_master) when the load begins and kept, statement by
// statement, in search_meta until they are built again: the migrations
// stay the one definition, and the rows are the durable record that a load
// has not finished. Searches meanwhile scan where they would seek, and so
// stay correct.
//
// A load in progress holds an flock on the database's path + "-bulk"
// (lockBulk). The kernel drops it when the process dies, however it dies,
// so an Open that finds the rows can tell a load still running in another
// process (the lock is held: leave it be) from an abandoned one (build the
// indexes before serving).

var _ store.BulkLoader = (*DB)(nil)

// bulkKept are secondary indexes of the index tables that a bulk load
// keeps because writes, not only searches, use them: idx_compartment_rid
// finds a resource's compartment rows when it is written again
// (clearIndex), where a table scan per update would make a load that
// updates quadratic. During a load its rids only grow, so each insert is
// an append, at little cost.
var bulkKept = []string{"idx_compartment_rid"}

// metaBulkIndex prefixes the search_meta keys that name an index a bulk
// load dropped; the value is the statement that creates it.
const metaBulkIndex = "bulk_index "

// bulkKeys are the bounds of the metaBulkIndex keys, for a range on
// search_meta's primary key (LIKE would take '_' as a wildcard).
var bulkKeys = []any{metaBulkIndex, metaBulkIndex[:len(metaBulkIndex)-1] + "!"}

// bulkState is the bulk load this DB began.
type bulkState struct {
	mu   sync.Mutex
	lock *os.File // the flock, while a load runs
}

// BeginBulk implements store.BulkLoader. It begins a load only on SQLite
// (see docs/scaling.md for PostgreSQL) and where lockBulk can tell a
// running load from an abandoned one.
func (db *DB) BeginBulk(ctx context.Context) (bool, error) {
	if db.d.indexDefs == "" || !bulkLocks {
		return false, nil
	}
	db.bulk.mu.Lock()
	defer db.bulk.mu.Unlock()
	if db.bulk.lock != nil {
		return false, nil
	}
	lock, ok, err := lockBulk(db.where)
	if err != nil {
		return false, fmt.Errorf("%s: begin bulk load: %w", db.d.name, err)
	}
	if !ok {
		return false, nil // another process is loading in bulk
	}
	var begun bool
	err = db.submit(ctx, func(tx *txn) error {
		var err error
		begun, err = tx.dropForBulk()
		return err
	})
	if err != nil || !begun {
		lock.Close()
		if err != nil {
			return false, fmt.Errorf("store: begin bulk load: %w", err)
		}
		return false, nil
	}
	db.bulk.lock = lock
	return true, nil
}

// EndBulk implements store.BulkLoader: the indexes are built in one write
// transaction, which other writes wait for (about 0.1 s for 12,000
// Synthea resources).
func (db *DB) EndBulk(ctx context.Context) error {
	db.bulk.mu.Lock()
	defer db.bulk.mu.Unlock()
	if db.bulk.lock == nil {
		return nil
	}
	err := db.submit(ctx, func(tx *txn) error {
		if err := tx.usable(); err != nil {
			return err
		}
		if _, err := tx.db.buildBulkIndexes(tx.ctx); err != nil {
			return tx.dbErr("end bulk load", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: end bulk load: %w", err)
	}
	db.bulk.lock.Close()
	db.bulk.lock = nil
	return nil
}

// BulkLoading implements store.BulkLoader.
func (db *DB) BulkLoading() bool {
	db.bulk.mu.Lock()
	defer db.bulk.mu.Unlock()
	return db.bulk.lock != nil
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
	var any int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM resource_key LIMIT 1) AS t").Scan(&any); err != nil {
		return false, tx.dbErr("begin bulk load", err)
	}
	if any > 0 {
		if _, err := tx.db.buildBulkIndexes(ctx); err != nil {
			return false, tx.dbErr("begin bulk load", err)
		}
		return false, nil
	}
	defs, err := tx.db.droppableIndexes(ctx)
	if err != nil {
		return false, tx.dbErr("begin bulk load", err)
	}
	for _, def := range defs {
		if _, err := conn.ExecContext(ctx, sqlSetMeta, metaBulkIndex+def.name, def.sql); err != nil {
			return false, tx.dbErr("begin bulk load", err)
		}
		if _, err := conn.ExecContext(ctx, "DROP INDEX "+def.name); err != nil {
			return false, tx.dbErr("begin bulk load", err)
		}
	}
	return true, nil
}

type indexDef struct{ name, sql string }

// droppableIndexes lists the secondary indexes of the index tables that
// a bulk load may drop: neither UNIQUE nor in bulkKept.
func (db *DB) droppableIndexes(ctx context.Context) ([]indexDef, error) {
	var defs []indexDef
	for _, table := range indexTables {
		rows, err := db.wconn.QueryContext(ctx, db.d.indexDefs, table)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var def indexDef
			if err := rows.Scan(&def.name, &def.sql); err != nil {
				rows.Close()
				return nil, err
			}
			unique := strings.HasPrefix(strings.ToUpper(def.sql), "CREATE UNIQUE")
			if !unique && !slices.Contains(bulkKept, def.name) {
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

// buildBulkIndexes creates the indexes a bulk load dropped and forgets
// their records, inside the caller's transaction on the writer
// connection, and returns how many it built.
func (db *DB) buildBulkIndexes(ctx context.Context) (int, error) {
	rows, err := db.wconn.QueryContext(ctx, "SELECT key, value FROM search_meta WHERE key >= ? AND key < ? ORDER BY key", bulkKeys...)
	if err != nil {
		return 0, err
	}
	var defs []indexDef
	for rows.Next() {
		var def indexDef
		if err := rows.Scan(&def.name, &def.sql); err != nil {
			rows.Close()
			return 0, err
		}
		def.name = strings.TrimPrefix(def.name, metaBulkIndex)
		defs = append(defs, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, def := range defs {
		if _, err := db.wconn.ExecContext(ctx, def.sql); err != nil {
			return 0, fmt.Errorf("build %s: %w", def.name, err)
		}
	}
	if _, err := db.wconn.ExecContext(ctx, "DELETE FROM search_meta WHERE key >= ? AND key < ?", bulkKeys...); err != nil {
		return 0, err
	}
	return len(defs), nil
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
	var pending int
	if err := db.wconn.QueryRowContext(ctx, "SELECT count(*) FROM search_meta WHERE key >= ? AND key < ?", bulkKeys...).Scan(&pending); err != nil {
		return err
	}
	if pending == 0 {
		if db.bulk.lock != nil {
			db.bulk.lock.Close()
			db.bulk.lock = nil
		}
		return nil
	}
	own := db.bulk.lock != nil
	if !own {
		lock, ok, err := lockBulk(db.where)
		if err != nil {
			return fmt.Errorf("bulk load lock: %w", err)
		}
		if !ok {
			slog.Warn("store: another process is loading the database in bulk; searches are slower until it ends",
				"database", db.where)
			return nil
		}
		db.bulk.lock = lock
	}
	defer func() {
		db.bulk.lock.Close()
		db.bulk.lock = nil
	}()
	built, err := db.inTx(ctx, db.buildBulkIndexes)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
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
