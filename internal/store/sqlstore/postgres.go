package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Advisory lock keys (any 64-bit numbers no other application on the
// database uses): writes, and applying migrations.
const (
	pgWriteLock     = 0x656d725f77726974 // "emr_writ"
	pgMigrationLock = 0x656d725f6d696772 // "emr_migr"
	pgAuditLock     = 0x656d725f61756469 // "emr_audi"
	pgBulkLock      = 0x656d725f62756c6b // "emr_bulk"
)

// postgresDialect is PostgreSQL 15 or later. Writers from every process
// sharing the database take one transaction-scoped advisory lock, so that
// seq order is commit order and conditional interactions decide on what
// is committed, exactly as with SQLite's single writer.
var postgresDialect = &dialect{
	name:         "postgres",
	begin:        []string{"BEGIN", fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(pgWriteLock))},
	beginAudit:   []string{"BEGIN"},
	auditTip:     fmt.Sprintf("SELECT seq, hash FROM audit_lock_tip(%d)", int64(pgAuditLock)),
	auditAppend:  fmt.Sprintf("SELECT first_seq, last_seq, last_hash FROM audit_append(%d, ?, ?)", int64(pgAuditLock)),
	copyRows:     pgCopyRows,
	insertIgnore: "INSERT INTO",
	ignoreSuffix: " ON CONFLICT DO NOTHING",
	indexInsert:  "INSERT INTO",
	like:         "ILIKE",
	crossJoin:    "JOIN",
	ridSet: func(arg string) string {
		return "SELECT CAST(jsonb_array_elements_text(CAST(" + arg + " AS jsonb)) AS BIGINT)"
	},
	maxText:   "(chr(1114111) || chr(1114111))",
	historyTx: &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	// Not the indexes of constraints (primary keys).
	indexDefs: `SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
		WHERE t.relname = ? AND t.relnamespace = CAST(current_schema() AS regnamespace)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
		ORDER BY c.relname`,
	// resource_current's reference to its version: a trigger per row,
	// 0.07–0.09 s of the server's time for the Synthea sample, where
	// adding it again at the end checks them all in one join.
	foreignKeyDefs: `SELECT k.conname,
			'ALTER TABLE ' || quote_ident(t.relname) || ' DROP CONSTRAINT ' || quote_ident(k.conname),
			'ALTER TABLE ' || quote_ident(t.relname) || ' ADD CONSTRAINT ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid)
		FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
		WHERE k.contype = 'f' AND t.relname = ? AND t.relnamespace = CAST(current_schema() AS regnamespace)
		ORDER BY k.conname`,
	// A session advisory lock on the writer connection: the session ends
	// with the process, however it ends.
	bulkLock: &bulkLock{
		try: func(ctx context.Context, db *DB) (bool, error) {
			var held bool
			err := db.wconn.QueryRowContext(ctx, fmt.Sprintf("SELECT pg_try_advisory_lock(%d)", int64(pgBulkLock))).Scan(&held)
			return held, err
		},
		release: func(ctx context.Context, db *DB) {
			_, _ = db.wconn.ExecContext(ctx, fmt.Sprintf("SELECT pg_advisory_unlock(%d)", int64(pgBulkLock)))
		},
	},
	ftsClear:   "DELETE FROM idx_fts WHERE rid = ?",
	ftsInsert:  "INSERT INTO idx_fts (rid, narrative, content, pkey) VALUES (?, coalesce(?::tsvector, to_tsvector('simple', ?)), coalesce(?::tsvector, to_tsvector('simple', ?)), ?)",
	ftsVectors: true,
	ftsMatch: func(b *sqlBuilder, k, column string, groups [][]string) string {
		// Every word is a bound phrase query, so nothing in it is tsquery
		// syntax ("loinc.org" is the phrase loinc org, as in SQLite); words
		// ANDed (&&), groups ORed (||).
		ors := make([]string, len(groups))
		for i, words := range groups {
			ands := make([]string, len(words))
			for j, w := range words {
				ands[j] = "phraseto_tsquery('simple', " + b.arg(w) + ")"
			}
			ors[i] = "(" + strings.Join(ands, " && ") + ")"
		}
		return k + ".rid IN (SELECT rid FROM idx_fts WHERE " + column + " @@ (" + strings.Join(ors, " || ") + "))"
	},
	patientKey: true,
	// The server builds indexes of different tables side by side; its own
	// parallel workers help only with tables far larger than a clinic's.
	buildsAside:   4,
	analyze:       "ANALYZE",
	migrationsDir: "migrations/postgres",
	lockMigrations: func(ctx context.Context, conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("SELECT pg_advisory_lock(%d)", int64(pgMigrationLock)))
		return err
	},
	unlockMigrations: func(ctx context.Context, conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("SELECT pg_advisory_unlock(%d)", int64(pgMigrationLock)))
		return err
	},
}

// OpenPostgres connects to the PostgreSQL database at dbURL (a postgres://
// URL or a key=value connection string) and brings its schema up to date,
// under an advisory lock so that several servers can start at once. It
// refuses a database whose schema is newer than this binary's.
func OpenPostgres(ctx context.Context, dbURL string, opts Options) (*DB, error) {
	if opts.ReadConns <= 0 {
		// A PostgreSQL query waits on the network and the server, not on
		// this process's CPU: more readers than cores pay off.
		opts.ReadConns = max(8, 4*runtime.GOMAXPROCS(0))
	}
	opts.defaults()
	where := redactURL(dbURL)
	writer, err := openPostgresPool(dbURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	readers, err := openPostgresPool(dbURL)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	// Connect before anything else, so that a server that cannot be reached
	// is reported as such; open then takes this connection as the writer's.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		readers.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, pgConnectErr(err))
	}
	db, err := open(ctx, postgresDialect, where, writer, readers, nil, "", opts, checkPostgres)
	if err != nil {
		return nil, err
	}
	if opts.ReplicaURL != "" {
		r, err := openReplica(ctx, opts.ReplicaURL, opts)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("postgres: open replica %s: %w", redactURL(opts.ReplicaURL), err)
		}
		// Before the first commit of this process, reads wait for the
		// standby to reach where the primary is now.
		db.replica = r
		r.recordCommit(ctx, db.wconn)
		db.afterCommit = r.recordCommit
	}
	return db, nil
}

// pgCopyRows sends rows with COPY … FROM STDIN (binary) on the writer
// connection, in its transaction. The server inserts them in batches, a
// page at a time, instead of parsing and executing a statement per 128
// rows: for a Synthea import this took 0.4 s of the server's CPU and 0.3 s
// of the importer's off 3.5 s and 3.7 s.
func pgCopyRows(ctx context.Context, conn *sql.Conn, table string, cols []string, rows int, args []any) error {
	per := len(args) / rows
	return conn.Raw(func(dc any) error {
		rc, ok := dc.(rebindConn)
		if !ok {
			return fmt.Errorf("copy into %s: the connection is a %T, not pgx's", table, dc)
		}
		n, err := rc.Conn.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(rows, func(i int) ([]any, error) {
			return args[i*per : (i+1)*per], nil
		}))
		if err == nil && n != int64(rows) {
			err = fmt.Errorf("copy into %s: %d of %d rows", table, n, rows)
		}
		return err
	})
}

// openPostgresPool opens a database/sql pool on pgx whose connections
// rewrite the shared SQL's placeholders.
func openPostgresPool(dbURL string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "emr"
	// UTC and ISO dates whatever the server's defaults; the store keeps
	// times as integers, but logs and ad hoc queries read better.
	cfg.RuntimeParams["timezone"] = "UTC"
	if cfg.ConnectTimeout == 0 {
		// A host that drops packets would otherwise hold `emr serve` silent
		// for the operating system's TCP timeout (minutes). The URL's
		// connect_timeout, or PGCONNECT_TIMEOUT, still wins.
		cfg.ConnectTimeout = pgConnectTimeout
	}
	return sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)}), nil
}

// pgConnectTimeout bounds opening one connection unless the URL says.
const pgConnectTimeout = 10 * time.Second

// checkPostgres refuses a server older than 15 with a clear message.
func checkPostgres(ctx context.Context, conn *sql.Conn) error {
	var version int
	if err := conn.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return err
	}
	if version < 150000 {
		return fmt.Errorf("PostgreSQL %d.%d is too old: the store needs 15 or later", version/10000, version%10000)
	}
	return nil
}

// pgConnectErr says plainly that the server could not be reached.
func pgConnectErr(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("cannot connect to the database: %w", err)
	}
	return err
}

// redactURL drops the password from a connection URL for messages. A
// key=value connection string is named by its host, port and database.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		if cfg, err := pgx.ParseConfig(s); err == nil {
			return fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
		}
		return "(the database)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.Redacted()
}

// rebindConnector hands out pgx connections that accept the shared SQL's
// ? and ?N placeholders (rebindDollar).
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return rebindConn{conn.(*stdlib.Conn)}, nil
}

// rebindConn is a pgx connection that rewrites placeholders; every other
// method (transactions, resets, value checks) is pgx's own.
type rebindConn struct{ *stdlib.Conn }

func (c rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebindDollar(query))
}

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebindDollar(query))
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebindDollar(query), args)
}

func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebindDollar(query), args)
}
