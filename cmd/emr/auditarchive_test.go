package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store/auditchain"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// TestAuditArchiveCommand runs `emr audit archive` and then `emr audit
// verify` on the log and on the archive, on SQLite and PostgreSQL:
// intact after the purge, the archive continuing into the log, and each
// tampering found: a record dropped from the archive, the first record
// left in the log removed.
func TestAuditArchiveCommand(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			cfg := config{dataDir: filepath.Join(dir, "data")}
			where := []string{"--data", cfg.dataDir}
			rawDriver, rawDSN := "sqlite", sqlstore.AuditPath(filepath.Join(cfg.dataDir, "emr.db")) // the log's own file
			if backend == "postgres" {
				cfg.dbURL = pgtest.DSN(t)
				cfg.auditKey = filepath.Join(dir, "audit-key")
				where = []string{"--db", cfg.dbURL, "--audit-key", cfg.auditKey}
				rawDriver, rawDSN = "pgx", cfg.dbURL
			}
			auditLog(t, cfg, 25)
			time.Sleep(10 * time.Millisecond)
			cutoff := time.Now().UTC().Format(time.RFC3339Nano)
			out := filepath.Join(dir, "audit-2026.ndjson.gz")
			args := func(extra ...string) []string { return append(append([]string{}, where...), extra...) }

			// Inside the retention period: refused without --force.
			if code, _, stderr := runEmr(append([]string{"audit", "archive"}, args("--before", cutoff, "--out", out)...)...); code != 2 || !strings.Contains(stderr, "inside the retention period") {
				t.Fatalf("archive inside retention: exit %d:\n%s", code, stderr)
			}
			code, stdout, stderr := runEmr(append([]string{"audit", "archive"}, args("--before", cutoff, "--out", out, "--force")...)...)
			if code != 0 || !strings.Contains(stdout, "archived 24 audit records") {
				t.Fatalf("archive: exit %d:\n%s\n%s", code, stdout, stderr)
			}
			if code, stdout, _ := runEmr(append([]string{"audit", "verify"}, args()...)...); code != 0 || !strings.Contains(stdout, "records:     2, seq 25 to 26") {
				t.Fatalf("verify after the purge: exit %d:\n%s", code, stdout)
			}
			code, stdout, _ = runEmr(append([]string{"audit", "verify", "--archive", out}, args()...)...)
			if code != 0 || !strings.Contains(stdout, "continuity:  the purge marker") || !strings.Contains(stdout, "result:      intact") {
				t.Fatalf("verify --archive: exit %d:\n%s", code, stdout)
			}

			// Its AuditEvents, compact ones rendered.
			code, stdout, stderr = runEmr("audit", "show", "--archive", out)
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if code != 0 || len(lines) != 24 {
				t.Fatalf("show: exit %d, %d lines:\n%s\n%s", code, len(lines), stdout, stderr)
			}
			reads := 0
			for _, l := range lines {
				ev, err := fhir.ParseResource([]byte(l))
				if err != nil || ev.Type() != "AuditEvent" {
					t.Fatalf("show printed %q (%v)", l, err)
				}
				if strings.Contains(l, `"patient":{"reference":"Patient/p`) {
					reads++
				}
			}
			if reads != 12 {
				t.Errorf("show printed %d compact reads, want 12:\n%s", reads, stdout)
			}
			if code, _, stderr := runEmr("audit", "show"); code != 2 || !strings.Contains(stderr, "--archive is required") {
				t.Errorf("show without --archive: exit %d: %s", code, stderr)
			}

			// A record dropped from the archive.
			bad := filepath.Join(dir, "bad.ndjson.gz")
			os.WriteFile(bad, dropArchiveLine(t, out, 9), 0o600)
			if code, stdout, _ := runEmr(append([]string{"audit", "verify", "--archive", bad}, args()...)...); code != 1 || !strings.Contains(stdout, auditchain.Missing) || !strings.Contains(stdout, "not the one purged") {
				t.Errorf("verify of an archive missing a record: exit %d:\n%s", code, stdout)
			}
			// The log's first record after the purge removed.
			raw, err := sql.Open(rawDriver, rawDSN)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			drop := "DROP TRIGGER audit_event_no_delete"
			if backend == "postgres" {
				drop += " ON audit_event"
			}
			for _, stmt := range []string{drop, "DELETE FROM audit_event WHERE seq = 25"} {
				if _, err := raw.Exec(stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			if code, stdout, _ := runEmr(append([]string{"audit", "verify"}, args()...)...); code != 1 || !strings.Contains(stdout, "seq 26 (") || !strings.Contains(stdout, auditchain.Missing) {
				t.Errorf("verify after removing the first record left: exit %d:\n%s", code, stdout)
			}
		})
	}
}

// dropArchiveLine returns the archive at path without its line n (1 is
// the header).
func dropArchiveLine(t *testing.T, path string, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	sc := bufio.NewScanner(gz)
	for i := 1; sc.Scan(); i++ {
		if i != n {
			w.Write(append(sc.Bytes(), '\n'))
		}
	}
	w.Close()
	return out.Bytes()
}
