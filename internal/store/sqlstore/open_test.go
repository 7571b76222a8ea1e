package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

var ctx = context.Background()

func TestReopenKeepsDataAndMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emr.db")
	db, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	err = db.Write(ctx, func(tx store.Tx) error {
		v, err := tx.Create(fhir.Resource{"resourceType": "Patient"})
		if v != nil {
			id = v.ID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if _, err := db.Read(ctx, "Patient", id); err != nil {
		t.Fatalf("read after reopen: %v", err)
	}
	var n int
	if err := db.readers.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	list, _ := loadMigrations(sqliteDialect.migrationsDir)
	if n != len(list) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(list))
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emr.db")
	db, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.wconn.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = OpenSQLite(ctx, path, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Open of a newer schema: got %v, want a refusal", err)
	}
}

func TestPragmas(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"audit.journal_mode", "wal"},
		{"audit.synchronous", "1"}, // NORMAL: synced every 100 ms at most (walcheckpoint.go)
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	} {
		var got string
		if err := db.wconn.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("writer PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
	if _, err := db.readers.ExecContext(ctx, "INSERT INTO audit_event (recorded, event) VALUES (0, '{}')"); err == nil {
		t.Errorf("a reader connection accepted a write")
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	if err := db.AppendAudit(ctx, fhir.Resource{"resourceType": "AuditEvent"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"UPDATE audit_event SET event = '{}'", "DELETE FROM audit_event"} {
		if _, err := db.wconn.ExecContext(ctx, stmt); err == nil {
			t.Errorf("%s: succeeded on the append-only audit log", stmt)
		}
	}
}

func TestPanicInWriteFn(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	err := db.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.Create(fhir.Resource{"resourceType": "Patient"}); err != nil {
			return err
		}
		panic("boom")
	})
	if fhir.KindOf(err) != fhir.KindInternal {
		t.Fatalf("Write with a panicking fn: got %v, want a KindInternal error", err)
	}
	page, err := db.History(ctx, store.HistoryQuery{})
	if err != nil || len(page.Versions) != 0 {
		t.Fatalf("history after the panic: %d versions, %v; want none", len(page.Versions), err)
	}
	if err := db.Write(ctx, func(tx store.Tx) error { return nil }); err != nil {
		t.Fatalf("Write after a panic: %v", err)
	}
}

func TestCancelWhileQueued(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	release := make(chan struct{})
	started := make(chan struct{})
	go db.Write(ctx, func(tx store.Tx) error {
		close(started)
		<-release // hold the writer so the next call stays queued
		return nil
	})
	<-started
	qctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	ran := false
	err := db.Write(qctx, func(tx store.Tx) error { ran = true; return nil })
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued Write past its deadline: got %v, want DeadlineExceeded", err)
	}
	// A later write is answered only after the abandoned one was skipped.
	if err := db.Write(ctx, func(tx store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Errorf("the abandoned fn ran")
	}
}

func TestWriteAfterClose(t *testing.T) {
	db := openTest(t)
	db.Close()
	if err := db.Write(ctx, func(tx store.Tx) error { return nil }); err == nil {
		t.Fatalf("Write after Close succeeded")
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestTxUnusableAfterFn(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	var leaked store.Tx
	if err := db.Write(ctx, func(tx store.Tx) error { leaked = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := leaked.Create(fhir.Resource{"resourceType": "Patient"}); err == nil {
		t.Fatalf("Create on a finished Tx succeeded")
	}
}

// TestDatabaseErrorDoomsBatch forces a database error inside a write (a
// version row that should not exist makes the insert of the next version
// violate the unique index) and checks that a fn which swallows the error
// gets nothing kept and cannot write after it.
func TestDatabaseErrorDoomsBatch(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	if err := db.Write(ctx, func(tx store.Tx) error {
		_, _, err := tx.Update(fhir.Resource{"resourceType": "Patient", "id": "x"}, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.wconn.ExecContext(ctx, `INSERT INTO resource_version (type, id, version_id, last_updated, deleted)
		VALUES ('Patient', 'x', 2, 0, 1)`); err != nil {
		t.Fatal(err)
	}
	var updateErr, createErr error
	err := db.Write(ctx, func(tx store.Tx) error {
		_, _, updateErr = tx.Update(fhir.Resource{"resourceType": "Patient", "id": "x"}, 0)
		_, createErr = tx.Create(fhir.Resource{"resourceType": "Patient"})
		return nil // swallow both
	})
	if fhir.KindOf(updateErr) != fhir.KindInternal || createErr == nil {
		t.Fatalf("got update error %v and create error %v, want an internal error and a refusal", updateErr, createErr)
	}
	if err == nil {
		t.Fatalf("Write whose fn swallowed a database error returned nil")
	}
	var fe *fhir.Error
	if !errors.As(updateErr, &fe) {
		t.Fatalf("update error %v is not a *fhir.Error", updateErr)
	}
	for _, issue := range fe.Issues {
		if strings.Contains(issue.Diagnostics, "UNIQUE") {
			t.Errorf("driver error leaked into the client message: %q", issue.Diagnostics)
		}
	}
	page, err := db.History(ctx, store.HistoryQuery{Type: "Patient"})
	if err != nil || len(page.Versions) != 2 {
		t.Fatalf("history: %d versions, %v; want the 2 from before", len(page.Versions), err)
	}
	if err := db.Write(ctx, func(tx store.Tx) error { _, err := tx.Create(fhir.Resource{"resourceType": "Patient"}); return err }); err != nil {
		t.Fatalf("the next batch: %v", err)
	}
}
