package pgtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ClusterOptions configures a cluster started by StartCluster.
type ClusterOptions struct {
	// Settings are server settings (name → value) written to
	// postgresql.conf after, and so overriding, the defaults described in
	// the package comment. A replica copies its primary's.
	Settings map[string]string
}

// Cluster is a running PostgreSQL server in a directory of its own, which
// trusts every connection from 127.0.0.1 as user postgres.
type Cluster struct {
	bins     *binaries
	dir      string
	lock     *os.File // held while the directory is in use; see lockDir
	port     int
	server   *postmaster
	replicas atomic.Int64 // numbers the replication slots of StartReplica

	stopOnce sync.Once
	stopErr  error
}

// defaultSettings go into every cluster's postgresql.conf.
var defaultSettings = []struct{ name, value string }{
	{"listen_addresses", "127.0.0.1"},
	{"max_connections", "200"},
	// A crash loses a throw-away cluster and nothing else.
	{"fsync", "off"},
	{"full_page_writes", "off"},
	// What StartReplica needs; mostly the defaults, stated so as not to depend on them.
	{"wal_level", "replica"},
	{"max_wal_senders", "10"},
	{"max_replication_slots", "10"},
	{"hot_standby", "on"},
	// The server's stderr is postgres.log.
	{"logging_collector", "off"},
}

// hbaConf replaces initdb's pg_hba.conf: trust, replication included, and
// only from where the server listens.
const hbaConf = `# Written by pgtest: a throw-away cluster trusts every local connection.
local all         all              trust
host  all         all 127.0.0.1/32 trust
local replication all              trust
host  replication all 127.0.0.1/32 trust
`

// StartCluster initialises and starts a cluster for t alone, and stops and
// removes it when t's test ends. See the package comment for when it skips t
// and when it fails it.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	c, err := startCluster(opts)
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() {
		if err := c.remove(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

func startCluster(opts ClusterOptions) (*Cluster, error) {
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c, err := newCluster(bins)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = bins.run(ctx, c.dir, "initdb", "-D", c.dataDir(), "--auth=trust", "-U", "postgres",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if err == nil {
		err = c.configure(opts.Settings)
	}
	if err == nil {
		err = c.start()
	}
	if err != nil {
		return nil, errors.Join(err, c.remove())
	}
	return c, nil
}

// newCluster makes the directory of a cluster that does not exist yet.
// Not t.TempDir(): the server's user must be able to enter it.
func newCluster(bins *binaries) (*Cluster, error) {
	sweepOnce.Do(sweepStale)
	dir, err := os.MkdirTemp("", dirPattern)
	if err != nil {
		return nil, err
	}
	c := &Cluster{bins: bins, dir: dir}
	if c.lock, err = lockDir(dir); err == nil && bins.user != nil {
		err = os.Chown(dir, bins.user.uid, bins.user.gid)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cluster directory: %w", err), c.remove())
	}
	return c, nil
}

var sweepOnce sync.Once

// configure writes the settings into the files initdb made; writing to
// existing files keeps them owned by the server's user.
func (c *Cluster) configure(settings map[string]string) error {
	var conf strings.Builder
	conf.WriteString("\n# Added by pgtest.\n")
	set := func(name, value string) {
		fmt.Fprintf(&conf, "%s = '%s'\n", name, strings.ReplaceAll(value, "'", "''"))
	}
	for _, s := range defaultSettings {
		set(s.name, s.value)
	}
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		set(name, settings[name])
	}
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf.String())
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("postgresql.conf: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.dataDir(), "pg_hba.conf"), []byte(hbaConf), 0); err != nil {
		return fmt.Errorf("pg_hba.conf: %w", err)
	}
	return nil
}

// DSN returns the postgres:// URL of database dbname as user postgres.
func (c *Cluster) DSN(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, url.PathEscape(dbname))
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Dir returns the cluster's directory: data/, postgres.log and the socket.
func (c *Cluster) Dir() string { return c.dir }

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

// CreateDatabase creates database name and returns its URL; t fails if it
// cannot. The database goes with the cluster.
func (c *Cluster) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	if err := createDatabase(c.DSN("postgres"), name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return c.DSN(name)
}

// Stop shuts the server down (a fast shutdown: open transactions are rolled
// back and connections closed) and waits for it to exit. It is safe to call
// more than once; the cluster stops by itself when its test ends.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.server != nil {
			c.stopErr = c.server.stop(30 * time.Second)
		}
	})
	return c.stopErr
}

// remove stops the server and deletes its directory.
func (c *Cluster) remove() error {
	err := c.Stop()
	err = errors.Join(err, os.RemoveAll(c.dir))
	if c.lock != nil {
		err = errors.Join(err, c.lock.Close())
	}
	if err != nil {
		return fmt.Errorf("remove cluster %s: %w", c.dir, err)
	}
	return nil
}
