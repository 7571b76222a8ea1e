package pgtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// StartReplica starts a streaming hot standby of c on a port of its own and
// stops and removes it when t's test ends. It is made with pg_basebackup -R
// -X stream and a replication slot on c, so c keeps the WAL the standby has
// yet to receive. It accepts reads only: writes fail with SQLSTATE 25006
// (read_only_sql_transaction). t fails if the standby cannot be made.
func (c *Cluster) StartReplica(t testing.TB) *Cluster {
	t.Helper()
	r, err := c.startReplica()
	if err != nil {
		t.Fatalf("pgtest: start a replica of %s: %v", c.dir, err)
	}
	t.Cleanup(func() {
		if err := r.remove(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return r
}

func (c *Cluster) startReplica() (*Cluster, error) {
	r, err := newCluster(c.bins)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slot := fmt.Sprintf("pgtest_replica_%d", c.replicas.Add(1))
	err = r.bins.run(ctx, r.dir, "pg_basebackup", "-D", r.dataDir(),
		"-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres",
		"-R", "-X", "stream", "-C", "-S", slot,
		"--checkpoint=fast", // the default spreads the backup's checkpoint over minutes
		"--no-sync")
	if err == nil {
		err = r.start()
	}
	if err != nil {
		return nil, errors.Join(err, r.remove())
	}
	return r, nil
}

// WaitReplayed waits until the standby at replicaDSN has replayed the WAL
// of the primary at primaryDSN up to where it was when WaitReplayed was
// called: the standby then shows every transaction the primary had
// committed, including the creation of the database replicaDSN names, which
// need not exist on the standby yet. It returns an error if either server
// cannot be queried, if replicaDSN is not a standby, or if ctx ends first.
func WaitReplayed(ctx context.Context, primaryDSN, replicaDSN string) error {
	primary, err := pgx.Connect(ctx, primaryDSN)
	if err != nil {
		return fmt.Errorf("pgtest: connect to the primary: %w", err)
	}
	var target string
	err = primary.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target)
	primary.Close(context.Background())
	if err != nil {
		return fmt.Errorf("pgtest: primary WAL position: %w", err)
	}
	var replica *pgx.Conn
	defer func() {
		if replica != nil {
			replica.Close(context.Background())
		}
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var standby, replayed bool
		if replica == nil {
			replica, err = pgx.Connect(ctx, replicaDSN)
		}
		if err == nil {
			err = replica.QueryRow(ctx, `SELECT pg_is_in_recovery(),
				coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`, target).Scan(&standby, &replayed)
		}
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == "3D000":
			// The database is not on the standby until it replays its creation.
		case err != nil:
			return fmt.Errorf("pgtest: replica WAL position: %w", err)
		case !standby:
			return errors.New("pgtest: WaitReplayed: the replica is not a standby")
		case replayed:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: replica has not replayed up to %s: %w", target, context.Cause(ctx))
		case <-tick.C:
		}
	}
}
