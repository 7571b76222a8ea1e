package pgtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestDSN(t *testing.T) {
	first, second := pgtest.DSN(t), pgtest.DSN(t)
	if first == second {
		t.Fatalf("two calls gave the same DSN %s", first)
	}
	a, b := connect(t, first), connect(t, second)
	for _, conn := range []*pgx.Conn{a, b} {
		var tables int
		var collation string
		err := conn.QueryRow(t.Context(), `SELECT
			(SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')),
			(SELECT datcollate FROM pg_database WHERE datname = current_database())`).Scan(&tables, &collation)
		if err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("%s: got %d tables, want 0", conn.Config().Database, tables)
		}
		// The store relies on text sorting by bytes, as in SQLite.
		if collation != "C" {
			t.Errorf("%s: got collation %q, want C", conn.Config().Database, collation)
		}
	}
	if a.Config().Database == b.Config().Database {
		t.Fatalf("two calls gave the same database %s", a.Config().Database)
	}
	if _, err := a.Exec(t.Context(), "CREATE TABLE only_in_first (id int)"); err != nil {
		t.Fatal(err)
	}
	var found bool
	if err := b.QueryRow(t.Context(), "SELECT to_regclass('only_in_first') IS NOT NULL").Scan(&found); err != nil {
		t.Fatal(err)
	}
	if found {
		t.Error("a table created in the first database is in the second")
	}
}

func TestDSNDropsDatabaseAtCleanup(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		conn := connect(t, pgtest.DSN(t)) // left open: the drop must force it closed
		name = conn.Config().Database
	})
	var exists bool
	err := connect(t, pgtest.DSN(t)).QueryRow(t.Context(),
		"SELECT exists (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestReplica(t *testing.T) {
	primary := pgtest.StartCluster(t, pgtest.ClusterOptions{Settings: map[string]string{"work_mem": "7MB"}})
	if _, err := os.Stat(filepath.Join(primary.Dir(), "postgres.log")); err != nil {
		t.Errorf("no server log: %v", err)
	}
	replica := primary.StartReplica(t)
	if replica.Port() == primary.Port() {
		t.Fatalf("replica and primary share port %d", primary.Port())
	}
	// Made after the replica: CREATE DATABASE replicates too.
	dsn := primary.CreateDatabase(t, "emr")
	if _, err := connect(t, dsn).Exec(t.Context(), `CREATE TABLE patient (id text PRIMARY KEY);
		INSERT INTO patient VALUES ('pt1'), ('pt2')`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := pgtest.WaitReplayed(ctx, dsn, replica.DSN("emr")); err != nil {
		t.Fatal(err)
	}

	standby := connect(t, replica.DSN("emr"))
	var count int
	if err := standby.QueryRow(ctx, "SELECT count(*) FROM patient").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 2 {
		t.Errorf("replica: got %d patients, want 2", count)
	}
	// ClusterOptions.Settings reach the server, and the replica copies them.
	var workMem string
	if err := standby.QueryRow(ctx, "SHOW work_mem").Scan(&workMem); err != nil {
		t.Fatal(err)
	}
	if workMem != "7MB" {
		t.Errorf("replica: got work_mem %s, want 7MB", workMem)
	}

	_, err := standby.Exec(ctx, "INSERT INTO patient VALUES ('pt3')")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Errorf("write on the replica: got error %v, want SQLSTATE 25006 (read_only_sql_transaction)", err)
	}
	if err := pgtest.WaitReplayed(ctx, dsn, dsn); err == nil {
		t.Error("WaitReplayed with a primary for replica: got no error")
	}
}
