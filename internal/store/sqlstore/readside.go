package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/emr-project/emr/internal/fhir"
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

// onReads runs fn on reads(ctx). When the replica fails it (a database
// error, not an answer such as no rows or a refused query), the replica is
// set aside for a while and fn runs again on the primary.
func (db *DB) onReads(ctx context.Context, fn func(r *readSide) error) error {
	r := db.reads(ctx)
	err := fn(r)
	if err == nil || r == &db.rd || ctx.Err() != nil || !readFailure(err) {
		return err
	}
	db.replica.fail(db, err)
	return fn(&db.rd)
}

// readFailure tells a failure of the database from an answer.
func readFailure(err error) bool {
	if errors.Is(err, sql.ErrNoRows) {
		return false
	}
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return fe.Kind == fhir.KindInternal
	}
	return true
}

// reads is where a read runs: the replica when there is one and it has
// replayed every commit of this process, the primary otherwise.
func (db *DB) reads(ctx context.Context) *readSide {
	if db.replica != nil && db.replica.caughtUp(ctx, db) {
		return &db.replica.side
	}
	return &db.rd
}
