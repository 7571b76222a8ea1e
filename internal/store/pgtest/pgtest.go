// Package pgtest gives tests a real, throw-away PostgreSQL server.
//
// DSN returns the URL of a fresh, empty database and drops the database when
// the test ends. The databases live on one server shared by the test process:
// the server named by EMR_TEST_POSTGRES (a postgres:// URL whose user may
// CREATE DATABASE) or, without it, a cluster this package initialises and
// starts the first time DSN is called. StartCluster gives a test a cluster of
// its own, StartReplica a streaming hot standby of it, and WaitReplayed waits
// for a standby to catch up with its primary.
//
// Clusters are made from the PostgreSQL 15 binaries in
// /usr/lib/postgresql/15/bin, or from the initdb found on PATH. Initialising
// and starting one takes under a second. When no server can be had (no
// binaries, or the cluster does not start), the test is skipped with the
// reason, unless EMR_TEST_POSTGRES_REQUIRED=1: then it fails. CI sets it, so a
// PostgreSQL suite cannot pass there by skipping. A server named by
// EMR_TEST_POSTGRES that cannot be used is always a failure.
//
// A package whose tests call DSN should run them through Main, which stops
// the shared cluster and removes its directory once they are done:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Main is not required, because it cannot be relied on anyway: it does not
// run after a test panics or times out. So, on Linux, every server is started
// with a parent-death signal and shuts down when the test process exits,
// however it exits, and a directory left behind is removed, once a minute
// old, by the next test process that starts a cluster. Elsewhere, without Main, the shared server
// outlives the tests.
//
// The clusters are for tests, not for keeping data. Every connection from
// 127.0.0.1 or the Unix socket is trusted (superuser postgres, no password);
// the server listens on 127.0.0.1 only, on a free port. fsync and
// full_page_writes are off; synchronous_commit keeps its default, so commits
// behave as in production. initdb runs with --locale=C, so text sorts by
// bytes, as in SQLite. max_connections is 200, for concurrency tests. When the
// test process runs as root, which PostgreSQL refuses, the binaries run as the
// postgres OS user.
//
// A cluster's directory (Cluster.Dir) holds data/, the data directory;
// postgres.log, the server's log, whose tail is in every start-up failure
// message; and the server's Unix socket.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	envServer   = "EMR_TEST_POSTGRES"
	envRequired = "EMR_TEST_POSTGRES_REQUIRED"
)

// shared is the server DSN makes databases on, set up once per test process.
var shared struct {
	once    sync.Once
	admin   string   // URL of the database to connect to when creating and dropping others
	cluster *Cluster // the cluster started for DSN; nil when the server is EMR_TEST_POSTGRES
	err     error
	canSkip bool // err means no server could be started, not that the one configured is unusable
}

// Main runs the tests of m, stops and removes the cluster DSN started, if it
// did, and exits with the tests' code. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with cleanups of its own: it runs the tests,
// stops the shared cluster and returns the exit code.
func Run(m *testing.M) int {
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	return code
}

// DSN returns a postgres:// URL of a new, empty database on the shared server
// and drops the database (WITH (FORCE), closing connections still open) when
// t's test ends. The first call starts the shared cluster unless
// EMR_TEST_POSTGRES names a server. See the package comment for when it skips
// t and when it fails it.
func DSN(t testing.TB) string {
	t.Helper()
	shared.once.Do(setUpShared)
	if shared.err != nil {
		if shared.canSkip {
			skipOrFail(t, shared.err)
		}
		t.Fatalf("pgtest: %v", shared.err)
	}
	name := databaseName(t)
	if err := createDatabase(shared.admin, name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(shared.admin, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	dsn, err := withDatabase(shared.admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

func setUpShared() {
	if server := os.Getenv(envServer); server != "" {
		if _, err := withDatabase(server, "postgres"); err != nil {
			shared.err = fmt.Errorf("%s: %w", envServer, err)
			return
		}
		shared.admin = server
		return
	}
	c, err := startCluster(ClusterOptions{})
	if err != nil {
		shared.err, shared.canSkip = err, true
		return
	}
	shared.cluster, shared.admin = c, c.DSN("postgres")
}

// skipOrFail ends t for want of a server: a skip, unless the environment says
// the PostgreSQL tests must run.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if required, _ := strconv.ParseBool(os.Getenv(envRequired)); required {
		t.Fatalf("pgtest: no PostgreSQL server, and %s forbids skipping: %v", envRequired, err)
	}
	t.Skipf("pgtest: no PostgreSQL server (install PostgreSQL 15 or set %s): %v", envServer, err)
}

// databaseName returns a name unique among the test processes that may share
// a server, which still says what test made it: pgtest_<random>_<test name>.
func databaseName(t testing.TB) string {
	test := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name()))
	name := fmt.Sprintf("pgtest_%08x_%s", rand.Uint32(), test)
	const maxIdentifier = 63 // PostgreSQL's NAMEDATALEN - 1; longer names are truncated
	return name[:min(len(name), maxIdentifier)]
}

// withDatabase returns the URL server with its database replaced by name.
func withDatabase(server, name string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("%q is not a postgres:// URL", server)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}

func createDatabase(admin, name string) error {
	if err := execSQL(admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func dropDatabase(admin, name string) error {
	if err := execSQL(admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// execSQL runs one statement on a connection of its own: creating and
// dropping databases is rare enough not to need a pool, and then nothing
// needs closing when the tests end.
func execSQL(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	return errors.Join(err, conn.Close(ctx))
}
