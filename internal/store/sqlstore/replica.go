package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// replica is a PostgreSQL streaming standby that serves reads and
// searches, taking them off the primary.
//
// Read-your-writes: after each commit the writer records the primary's WAL
// position (committed). A read goes to the standby only once the standby
// has replayed up to that position, so a request served by this process
// always sees every write this process acknowledged before it, its
// client's own writes among them; otherwise it reads the primary. The
// standby's replay position is cached (replayed) and asked again only when
// a commit is newer than the cache. A standby that cannot answer sends the
// reads to the primary; they return to it once it answers again.
//
// Writes by other processes may be seen late through the standby (by its
// replication lag): a client that writes through one server and reads
// through another needs sticky sessions for read-your-writes.
type replica struct {
	side      readSide
	committed atomic.Uint64 // primary WAL position after this process's last commit
	replayed  atomic.Uint64 // the standby's replay position when last asked
	failedAt  atomic.Int64  // unix nanos of the last failure to ask; 0 when healthy
}

// replicaRetry is how long a standby that failed to answer is left alone.
const replicaRetry = 5 * time.Second

// caughtUp reports whether the standby has replayed this process's last
// commit.
func (r *replica) caughtUp(ctx context.Context, db *DB) bool {
	want := r.committed.Load()
	if want <= r.replayed.Load() {
		return true
	}
	if at := r.failedAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < replicaRetry {
		return false
	}
	var lsn sql.NullString
	err := r.side.pool.QueryRowContext(ctx, "SELECT pg_last_wal_replay_lsn()::text").Scan(&lsn)
	if err != nil || !lsn.Valid {
		if ctx.Err() == nil {
			r.fail(db, err)
		}
		return false
	}
	r.failedAt.Store(0)
	got, err := parseLSN(lsn.String)
	if err != nil {
		return false
	}
	for {
		old := r.replayed.Load()
		if got <= old || r.replayed.CompareAndSwap(old, got) {
			break
		}
	}
	return want <= got
}

// fail sets the standby aside for replicaRetry: reads go to the primary.
func (r *replica) fail(db *DB, err error) {
	r.failedAt.Store(time.Now().UnixNano())
	r.replayed.Store(0) // ask again before trusting it
	slog.Warn("postgres: the read replica failed; reading from the primary for a while", "database", db.where, "error", err)
}

// recordCommit runs on the writer connection after each commit.
func (r *replica) recordCommit(ctx context.Context, conn *sql.Conn) {
	var lsn string
	if err := conn.QueryRowContext(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		// Unknown position: read the primary until the next commit says.
		r.committed.Store(^uint64(0))
		return
	}
	if pos, err := parseLSN(lsn); err == nil {
		r.committed.Store(pos)
	}
}

// parseLSN reads PostgreSQL's "XXXXXXXX/XXXXXXXX" WAL position.
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("bad WAL position %q", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("bad WAL position %q", s)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("bad WAL position %q", s)
	}
	return h<<32 | l, nil
}

// openReplica connects the standby at url and checks that it is one.
func openReplica(ctx context.Context, url string, opts Options) (*replica, error) {
	pool, err := openPostgresPool(url)
	if err != nil {
		return nil, err
	}
	pool.SetMaxOpenConns(opts.ReadConns)
	pool.SetMaxIdleConns(opts.ReadConns)
	pool.SetConnMaxIdleTime(0)
	r := &replica{side: readSide{pool: pool}}
	var standby bool
	if err := pool.QueryRowContext(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
		pool.Close()
		return nil, pgConnectErr(err)
	}
	if !standby {
		pool.Close()
		return nil, fmt.Errorf("%s is not a standby (pg_is_in_recovery() is false)", redactURL(url))
	}
	if err := r.side.open(ctx); err != nil {
		r.side.close()
		return nil, err
	}
	return r, nil
}
