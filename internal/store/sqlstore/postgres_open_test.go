package sqlstore

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/storetest"
)

// TestPostgresConcurrentOpen opens one fresh, empty database from several
// goroutines at once, as several servers starting together would: the
// migration lock must let exactly one of them apply each migration and the
// others find the schema done. Each DB has its own connections, so to
// PostgreSQL they are separate clients, as separate processes would be.
func TestPostgresConcurrentOpen(t *testing.T) {
	const openers = 8
	dsn := pgtest.DSN(t)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		dbs   = make([]*DB, openers)
		errs  = make([]error, openers)
	)
	for i := range openers {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = OpenPostgres(ctx, dsn, Options{ReadConns: 2, Extractor: storetest.Extractor()})
		})
	}
	close(start)
	wg.Wait()
	for i, db := range dbs {
		if db != nil {
			defer db.Close()
		}
		if errs[i] != nil {
			t.Errorf("opener %d: %v", i, errs[i])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	list, err := loadMigrations(postgresDialect.migrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := dbs[0].readers.QueryContext(ctx, "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var version, n int
		if err := rows.Scan(&version, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("schema_migrations has version %d %d times, want once", version, n)
		}
		got = append(got, version)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(list) || len(got) > 0 && (got[0] != 1 || got[len(got)-1] != len(list)) {
		t.Errorf("schema_migrations versions %v, want 1 to %d", got, len(list))
	}

	// Every opener is a working store: each writes, and all writes are
	// there, in one history, whichever DB reads them.
	for i, db := range dbs {
		err := db.Write(ctx, func(tx store.Tx) error {
			_, err := tx.Create(fhir.Resource{"resourceType": "Patient"})
			return err
		})
		if err != nil {
			t.Fatalf("write through opener %d: %v", i, err)
		}
	}
	page, err := dbs[openers-1].History(ctx, store.HistoryQuery{Type: "Patient"})
	if err != nil || len(page.Versions) != openers {
		t.Fatalf("history: %d versions, %v; want %d", len(page.Versions), err, openers)
	}
}

// TestPostgresRefusesNewerSchema mirrors TestRefusesNewerSchema: a binary
// must not run on a schema a newer one has migrated, which it does not
// know.
func TestPostgresRefusesNewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	db, err := OpenPostgres(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.wconn.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = OpenPostgres(ctx, dsn, Options{})
	if err == nil {
		db.Close()
		t.Fatalf("OpenPostgres of a newer schema succeeded, want a refusal")
	}
	for _, want := range []string{"schema version 999", "newer than this binary"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("OpenPostgres of a newer schema: got %q, want it to say %q", err, want)
		}
	}
	// The refusal changed nothing and left no migration lock held: with
	// the schema back to this binary's version, the database opens.
	if _, err := pgExec(dsn, "DELETE FROM schema_migrations WHERE version = 999"); err != nil {
		t.Fatal(err)
	}
	db, err = OpenPostgres(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("OpenPostgres once the schema is back to this binary's: %v", err)
	}
	db.Close()
}

// pgExec runs one statement on a connection of its own.
func pgExec(dsn, query string) (int64, error) {
	pool, err := openPostgresPool(dsn)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	res, err := pool.ExecContext(ctx, query)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// TestPostgresUnreachable opens a database on servers that cannot be used:
// the error must say so plainly, and must not show the password. Nothing
// here needs a PostgreSQL server.
func TestPostgresUnreachable(t *testing.T) {
	// A port nothing listens on: connecting is refused at once.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	// A port that accepts connections and never answers, like a server
	// behind a firewall that drops packets: only a deadline ends the wait.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	for _, tc := range []struct {
		name, addr string
		timeout    time.Duration
		// timedOut: the open can only end by the context's deadline.
		timedOut bool
	}{
		{"closed port", closedAddr, time.Minute, false},
		{"silent server", silent.Addr().String(), 500 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			openCtx, cancel := context.WithTimeout(ctx, tc.timeout)
			defer cancel()
			db, err := OpenPostgres(openCtx, "postgres://emr:s3cret@"+tc.addr+"/emr?sslmode=disable", Options{})
			if err == nil {
				db.Close()
				t.Fatalf("OpenPostgres succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "cannot connect to the database") {
				t.Errorf("got %q, want it to say it cannot connect to the database", msg)
			}
			if !strings.Contains(msg, tc.addr+"/emr") {
				t.Errorf("got %q, want it to name the database %s/emr", msg, tc.addr)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("got %q, which shows the password", msg)
			}
			// A refused connection fails by itself, long before the deadline.
			if got := errors.Is(err, context.DeadlineExceeded); got != tc.timedOut {
				t.Errorf("got %q: ended by the deadline %v, want %v", msg, got, tc.timedOut)
			}
		})
	}
}
