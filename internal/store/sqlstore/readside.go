package sqlstore

import (
	"context"
	"database/sql"
)

// readSide is a connection pool that serves reads and searches, with its
// prepared statements: the primary's reader pool, or a read replica's.
type readSide struct {
	pool   *sql.DB
	stmts  readStmts
	search stmtCache // search statements by SQL text
}

func (r *readSide) open(ctx context.Context) error {
	r.search.db = r.pool
	if err := r.pool.PingContext(ctx); err != nil {
		return err
	}
	return r.stmts.prepare(ctx, r.pool)
}

func (r *readSide) close() error {
	r.stmts.close()
	r.search.close()
	if r.pool == nil {
		return nil
	}
	return r.pool.Close()
}

// reads is where a read runs: the replica when there is one and it has
// replayed every commit of this process, the primary otherwise.
func (db *DB) reads(ctx context.Context) *readSide {
	if db.replica != nil && db.replica.caughtUp(ctx, db) {
		return &db.replica.side
	}
	return &db.rd
}
