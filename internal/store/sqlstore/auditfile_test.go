package sqlstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/auditchain"
)

// auditRecords returns the stored events of the log, in seq order.
func auditRecords(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.readers.QueryContext(ctx, "SELECT event FROM audit_event ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var events []string
	for rows.Next() {
		var ev []byte
		if err := rows.Scan(&ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, string(ev))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

func verifyIntact(t *testing.T, db *DB) auditchain.Summary {
	t.Helper()
	sum, err := db.VerifyAudit(ctx, auditchain.Config{Report: func(p auditchain.Problem) { t.Errorf("verify: %+v", p) }})
	if err != nil || !sum.Intact() {
		t.Fatalf("verify: %+v, %v", sum, err)
	}
	return sum
}

// writeAudited creates a Patient and, in the same Write, its audit record
// naming it.
func writeAudited(db *DB) (string, error) {
	var id string
	err := db.Write(ctx, func(tx store.Tx) error {
		v, err := tx.Create(fhir.Resource{"resourceType": "Patient", "active": true})
		if err != nil {
			return err
		}
		id = v.ID
		return tx.AppendAudit(fhir.Resource{"resourceType": "AuditEvent", "action": "C",
			"entity": []any{map[string]any{"what": map[string]any{"reference": "Patient/" + id}}}})
	})
	return id, err
}

// TestAuditFileApart checks where the log lives: in its own file, with
// the database file holding none of its tables, reads' records leaving
// the database file unchanged, and writes' records chained from the
// outbox, each once.
func TestAuditFileApart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emr.db")
	db, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(AuditPath(path)); err != nil {
		t.Fatalf("no audit file: %v", err)
	}
	var inMain int
	if err := db.wconn.QueryRowContext(ctx, "SELECT count(*) FROM main.sqlite_master WHERE name LIKE 'audit_%' AND name NOT IN ('audit_outbox', 'audit_file')").Scan(&inMain); err != nil || inMain != 0 {
		t.Fatalf("%d audit tables left in the database file (%v)", inMain, err)
	}
	// A reader connection's data_version changes when another connection
	// commits to the file: then its page cache is dropped.
	reader, err := db.readers.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dataVersion := func() int64 {
		var v int64
		if err := reader.QueryRowContext(ctx, "PRAGMA main.data_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := dataVersion()
	for i := range 20 {
		if err := db.AppendAudit(ctx, chainEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if after := dataVersion(); after != before {
		t.Errorf("appending reads' records changed the database file (data_version %d, then %d)", before, after)
	}
	if _, err := writeAudited(db); err != nil {
		t.Fatal(err)
	}
	if dataVersion() == before {
		t.Errorf("a write did not change the database file's data_version: the check above proves nothing")
	}
	reader.Close()
	var ids []string
	for range 4 {
		id, err := writeAudited(db)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The last write's outbox rows were moved but not deleted yet: the
	// next open must not chain them again.
	db, err = OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	events := auditRecords(t, db)
	if len(events) != 25 {
		t.Errorf("%d records, want 25", len(events))
	}
	if n := countMentions(events, "Patient/"); n != 5 {
		t.Errorf("%d records of writes, want 5", n)
	}
	for _, id := range ids {
		if n := countMentions(events, "Patient/"+id); n != 1 {
			t.Errorf("Patient/%s has %d records, want 1", id, n)
		}
	}
	verifyIntact(t, db)
	if _, err := writeAudited(db); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.readers.QueryRowContext(ctx, "SELECT count(*) FROM audit_outbox WHERE id <= (SELECT through FROM audit_outbox_moved)").Scan(&left); err != nil || left > 1 {
		t.Errorf("%d moved rows left in the outbox after a write (%v), want at most the last write's", left, err)
	}
}

// TestAuditLogSynced: the audit file's commits are not synced one by one,
// so the checkpointer must sync its log soon after them.
func TestAuditLogSynced(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	before := db.walCkpt.syncDone.Load()
	if err := db.AppendAudit(ctx, chainEvent(1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.walCkpt.syncDone.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("the audit file's log was not synced within 10 s of a commit")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countMentions(events []string, ref string) int {
	n := 0
	for _, ev := range events {
		if strings.Contains(ev, `"`+ref) {
			n++
		}
	}
	return n
}

// TestAuditOutboxAfterCrash puts a write's record in the outbox as a crash
// between the write's commit and the chaining would leave it: the next
// open chains it, once.
func TestAuditOutboxAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emr.db")
	db, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeAudited(db); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := rawSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustExec(t, raw, "INSERT INTO audit_outbox (recorded, event) VALUES (?, ?)", time.Now().UnixMilli(),
			fmt.Sprintf(`{"resourceType":"AuditEvent","id":"stranded-%d","action":"U"}`, i))
	}
	raw.Close()
	db, err = OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	events := auditRecords(t, db)
	if len(events) != 4 {
		t.Errorf("%d records, want 4: %q", len(events), events)
	}
	for i := range 3 {
		if n := countMentions(events, fmt.Sprintf("stranded-%d", i)); n != 1 {
			t.Errorf("stranded-%d chained %d times, want once", i, n)
		}
	}
	verifyIntact(t, db)
}

// TestAuditFileMustMatch refuses to open a database whose audit file is
// gone or is another database's, rather than start the log afresh.
func TestAuditFileMustMatch(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	for _, path := range []string{a, b} {
		db, err := OpenSQLite(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AppendAudit(ctx, chainEvent(1)); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// b's log in a's place.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(AuditPath(a) + suffix)
	}
	if _, err := OpenSQLite(ctx, a, Options{}); err == nil || !strings.Contains(err.Error(), "missing or empty") {
		t.Errorf("open without the audit file: %v, want a refusal", err)
	}
	body, err := os.ReadFile(AuditPath(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(AuditPath(a) + suffix)
	}
	if err := os.WriteFile(AuditPath(a), body, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSQLite(ctx, a, Options{}); err == nil || !strings.Contains(err.Error(), "another database") {
		t.Errorf("open with another database's audit file: %v, want a refusal", err)
	}
}

// TestAuditFileCopyResumes opens a database of schema version 8, whose log
// is in the database file, after a run that copied the log but was cut
// short before dropping it: the open finishes the move without copying
// twice. And it refuses when the old log grew after the copy.
func TestAuditFileCopyResumes(t *testing.T) {
	for _, grew := range []bool{false, true} {
		t.Run(fmt.Sprintf("grew=%v", grew), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "emr.db")
			raw, err := rawSQLite(path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			conn, err := raw.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			list, err := loadMigrations(sqliteDialect.migrationsDir)
			if err != nil {
				t.Fatal(err)
			}
			mustExecConn := oldSchema(t, conn)
			insert := func(seq int) {
				mustExecConn("INSERT INTO main.audit_event (seq, recorded, event) VALUES (?, ?, ?)", seq, 1700000000000+seq,
					fmt.Sprintf(`{"resourceType":"AuditEvent","id":"old-%d"}`, seq))
			}
			for v := 1; v <= 8; v++ {
				if _, err := migrateStep(ctx, conn, list[:v]); err != nil {
					t.Fatal(err)
				}
				if v == 3 {
					for seq := 1; seq <= 10; seq++ {
						insert(seq)
					}
				}
			}
			// The copy, as an interrupted run left it.
			half := &DB{d: sqliteDialect, where: path, wconn: conn, auditPath: AuditPath(path)}
			var opts Options
			opts.defaults()
			half.auditDSN = sqliteDSN(half.auditPath, opts, false)
			if err := half.beforeMigration(ctx, 9); err != nil {
				t.Fatal(err)
			}
			if grew {
				// An older emr opened the database meanwhile (the
				// legacy rows have no hash, so none is needed).
				insert(11)
			}
			conn.Close()
			raw.Close()

			db, err := OpenSQLite(ctx, path, Options{})
			if grew {
				if err == nil || !strings.Contains(err.Error(), "lacks") {
					t.Fatalf("open after the old log grew: %v, want a refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			events := auditRecords(t, db)
			if len(events) != 10 {
				t.Fatalf("%d records, want the 10 copied once", len(events))
			}
			verifyIntact(t, db)
		})
	}
}

// TestWriteAndAuditSurviveKill kills (SIGKILL) a process that creates
// patients, each with its audit record in the same Write, and checks the
// reopened store: every acknowledged patient is there with exactly one
// record, and no record names a patient that is not (a write and its
// record commit together, even with the log in a file of its own).
func TestWriteAndAuditSurviveKill(t *testing.T) {
	if path := os.Getenv(auditKillChildEnv); path != "" {
		auditKillChild(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "emr.db")
	deadline := time.Now().Add(30 * time.Second)
	acked, killed := killChild(t, "TestWriteAndAuditSurviveKill", auditKillChildEnv, path, func(lines []string) bool {
		return len(lines) >= 400 || time.Now().After(deadline)
	})
	if !killed {
		t.Fatalf("child exited by itself after %d writes", len(acked))
	}
	t.Logf("child acknowledged %d audited writes before SIGKILL", len(acked))
	db, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer db.Close()
	events := auditRecords(t, db)
	for _, id := range acked {
		if _, err := db.Read(ctx, "Patient", id); err != nil {
			t.Errorf("acknowledged write Patient/%s lost: %v", id, err)
		}
	}
	rows, err := db.readers.QueryContext(ctx, "SELECT id FROM resource_current WHERE type = 'Patient'")
	if err != nil {
		t.Fatal(err)
	}
	patients := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		patients[id] = true
	}
	rows.Close()
	for id := range patients {
		if n := countMentions(events, "Patient/"+id); n != 1 {
			t.Errorf("Patient/%s has %d audit records, want 1", id, n)
		}
	}
	if len(events) != len(patients) {
		t.Errorf("%d audit records for %d patients", len(events), len(patients))
	}
	verifyIntact(t, db)
}

const auditKillChildEnv = "EMR_SQLITE_AUDIT_KILL_CHILD"

func auditKillChild(path string) {
	db, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				id, err := writeAudited(db)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Println(id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestOutboxDeletedAfterSync: moved outbox rows may go only once a sync
// that began after their move has ended.
func TestOutboxDeletedAfterSync(t *testing.T) {
	var s outboxState
	s.moves = []outboxMove{{through: 5, gen: 3}, {through: 9, gen: 4}}
	for _, tc := range []struct{ synced, want int64 }{{0, 0}, {2, 0}, {3, 5}, {3, 5}, {4, 9}, {10, 9}} {
		if got := s.safeThrough(tc.synced); got != tc.want {
			t.Errorf("synced through sync %d: rows up to %d may go, want %d", tc.synced, got, tc.want)
		}
	}
	if len(s.moves) != 0 {
		t.Errorf("%d moves left, want none", len(s.moves))
	}
}
