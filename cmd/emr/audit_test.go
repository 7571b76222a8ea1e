package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/auditchain"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// auditLog writes n audit records through the store cfg opens, the way
// `emr serve` would (with its key), and closes it.
func auditLog(t *testing.T, cfg config, n int) {
	t.Helper()
	cfg.checkpointEvery = 10
	st, _, err := openStore(context.Background(), cfg, spec.R5())
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if enc, ok := store.Store(st).(store.EncodedAuditAppender); ok && i%2 == 1 {
			// Every other one in compact form, as the gate records reads.
			ev, _ := audit.Encode(audit.Entry{Interaction: "read", Type: "Patient", ID: fmt.Sprint("p", i), Patient: fmt.Sprint("Patient/p", i),
				Agent: audit.Agent{User: "ana"}, Recorded: time.Now()}, fmt.Sprint("ev", i))
			if err := enc.AppendEncodedAudit(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ev := fhir.Resource{"resourceType": "AuditEvent", "code": map[string]any{"text": fmt.Sprint("read ", i)}}
		if err := st.AppendAudit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func runEmr(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestAuditVerifyCommand runs `emr audit verify` on a SQLite data
// directory: exit 0 and a summary on an intact log, 1 with the problem's
// position after tampering, 2 for usage errors.
func TestAuditVerifyCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	auditLog(t, config{dataDir: data}, 25)
	if info, err := os.Stat(filepath.Join(data, "audit-key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("audit key: %v, mode %v; want a 0600 file", err, info.Mode())
	}

	code, stdout, stderr := runEmr("audit", "verify", "--data", data)
	if code != 0 || !strings.Contains(stdout, "records:     25, seq 1 to 25") || !strings.Contains(stdout, "result:      intact") {
		t.Fatalf("intact log: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// What an operator keeps outside the database: the last checkpoint.
	last := regexp.MustCompile(`last:\s+seq (\d+), \S+, hash ([0-9a-f]{64})`).FindStringSubmatch(stdout)
	if last == nil || last[1] != "25" {
		t.Fatalf("no last checkpoint at seq 25 in:\n%s", stdout)
	}
	known := last[1] + ":" + last[2]
	if code, stdout, _ := runEmr("audit", "verify", "--data", data, "--checkpoint", known); code != 0 {
		t.Errorf("--checkpoint %s: exit %d:\n%s", known, code, stdout)
	}
	// With only the public key, copied elsewhere.
	pub := filepath.Join(t.TempDir(), "audit.pub")
	body, _ := os.ReadFile(filepath.Join(data, "audit-key.pub"))
	os.WriteFile(pub, body, 0o644)
	if code, stdout, _ := runEmr("audit", "verify", "--data", data, "--public-key", pub); code != 0 {
		t.Errorf("--public-key: exit %d:\n%s", code, stdout)
	}

	other := filepath.Join(t.TempDir(), "other-key")
	if _, _, err := auditchain.LoadOrCreateKey(other); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runEmr("audit", "verify", "--data", t.TempDir(), "--public-key", pub); code != 1 || !strings.Contains(stderr, "no database") {
		t.Errorf("verify of a directory without a database: exit %d, want 1:\n%s", code, stderr)
	}
	// Another key than the one that signed: every checkpoint is suspect.
	if code, stdout, _ := runEmr("audit", "verify", "--data", data, "--audit-key", other); code != 1 || !strings.Contains(stdout, auditchain.BadSignature) {
		t.Errorf("verify with another key: exit %d, want 1 with bad signatures:\n%s", code, stdout)
	}

	// The log is in its own file (sqlstore.AuditPath).
	raw, err := sql.Open("sqlite", sqlstore.AuditPath(filepath.Join(data, "emr.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, stmt := range []string{
		"DROP TRIGGER audit_event_seal",
		`UPDATE audit_event SET event = '{"resourceType":"AuditEvent"}' WHERE seq = 14`,
	} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	code, stdout, stderr = runEmr("audit", "verify", "--data", data)
	if code != 1 || !strings.Contains(stdout, "seq 14 (") || !strings.Contains(stdout, auditchain.Altered) || !strings.Contains(stdout, "TAMPERED, 1 problem\n") {
		t.Errorf("tampered log: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// The attacker recomputes the chain from the edit on and removes every
	// checkpoint: the log now looks intact, except to a verification told
	// the checkpoint kept elsewhere.
	rechainFrom(t, raw, 14)
	for _, stmt := range []string{"DROP TRIGGER audit_checkpoint_no_delete", "DELETE FROM audit_checkpoint"} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if code, stdout, _ := runEmr("audit", "verify", "--data", data); code != 0 || !strings.Contains(stdout, "checkpoints: 0") {
		t.Errorf("rewritten log without checkpoints: exit %d, want 0 (undetectable without one kept elsewhere):\n%s", code, stdout)
	}
	code, stdout, _ = runEmr("audit", "verify", "--data", data, "--checkpoint", known)
	if code != 1 || !strings.Contains(stdout, "seq 25 (") || !strings.Contains(stdout, auditchain.CheckpointMismatch) {
		t.Errorf("rewritten log with --checkpoint %s: exit %d, want 1 with a mismatch at seq 25:\n%s", known, code, stdout)
	}

	for _, args := range [][]string{
		{"audit"},
		{"audit", "check"},
		{"audit", "verify", "--no-such-flag"},
		{"audit", "verify", "--data", t.TempDir()}, // no key there
		{"audit", "verify", "--data", data, "--public-key", filepath.Join(data, "emr.db")},
		{"audit", "verify", "--data", data, "--checkpoint", "25:abc"},
		{"audit", "verify", "--data", data, "--checkpoint", "x"},
	} {
		if code, _, stderr := runEmr(args...); code != 2 {
			t.Errorf("emr %s: exit %d, want 2; stderr:\n%s", strings.Join(args, " "), code, stderr)
		}
	}
}

// TestAuditVerifyCommandPostgres is TestAuditVerifyCommand on PostgreSQL,
// with the key in a file of its own (--audit-key).
func TestAuditVerifyCommandPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "keys", "audit-key")
	auditLog(t, config{dataDir: filepath.Join(dir, "data"), dbURL: dsn, auditKey: key}, 25)
	code, stdout, stderr := runEmr("audit", "verify", "--db", dsn, "--public-key", key+".pub")
	if code != 0 || !strings.Contains(stdout, "result:      intact") {
		t.Fatalf("intact log: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, stmt := range []string{
		"DROP TRIGGER audit_event_no_delete ON audit_event",
		"DELETE FROM audit_event WHERE seq = 3",
	} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	code, stdout, stderr = runEmr("audit", "verify", "--db", dsn, "--audit-key", key)
	if code != 1 || !strings.Contains(stdout, "seq 4 (") || !strings.Contains(stdout, auditchain.Missing) {
		t.Errorf("tampered log: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestAuditVerifyScale writes EMR_TEST_AUDIT_RECORDS audit records (it
// skips without) into EMR_TEST_AUDIT_DATA (or a temporary directory) and
// times `emr audit verify` on them, in process:
//
//	EMR_TEST_AUDIT_RECORDS=1000000 go test ./cmd/emr -run TestAuditVerifyScale -v
func TestAuditVerifyScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EMR_TEST_AUDIT_RECORDS"))
	if n <= 0 {
		t.Skip("set EMR_TEST_AUDIT_RECORDS to the number of records to verify")
	}
	data := os.Getenv("EMR_TEST_AUDIT_DATA")
	if data == "" {
		data = t.TempDir()
	}
	st, _, err := openStore(context.Background(), config{dataDir: data}, spec.R5())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for done := 0; done < n; done += 1000 {
		err := st.Write(context.Background(), func(tx store.Tx) error {
			for i := range min(1000, n-done) {
				ev := fhir.Resource{"resourceType": "AuditEvent", "action": "R",
					"recorded": "2026-11-23T09:00:00.000Z",
					"code":     map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}}},
					"agent":    []any{map[string]any{"who": map[string]any{"reference": "Practitioner/123"}, "networkString": "10.0.0.7"}},
					"source":   map[string]any{"observer": map[string]any{"display": "emr"}},
					"entity":   []any{map[string]any{"what": map[string]any{"reference": fmt.Sprintf("Patient/p%d", done+i)}}}}
				if err := tx.AppendAudit(ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records written in %s", n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	code, stdout, stderr := runEmr("audit", "verify", "--data", data)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("emr audit verify took %s:\n%s", time.Since(start).Round(time.Millisecond), stdout)
}

// TestAuditChainTwoServers runs two `emr serve` processes on one
// PostgreSQL database with one --audit-key, sends them creates and audited
// reads at once, stops them cleanly, and verifies the log: one chain in
// seq order through both servers' checkpoints, every request in it.
func TestAuditChainTwoServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dsn := pgtest.DSN(t)
	key := filepath.Join(t.TempDir(), "audit-key")
	args := "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --db " + dsn + " --audit-key " + key + " --audit-checkpoint-every 25"
	// One starts first, so that the key is made once (LoadOrCreateKey
	// would still give both the same one).
	a := startServer(t, t.TempDir(), args)
	b := startServer(t, t.TempDir(), args)
	if !strings.Contains(a.banner, "checkpoints signed by key") || !strings.Contains(a.banner, key) {
		t.Errorf("start-up message does not name the audit key:\n%s", a.banner)
	}
	status, _, p := call(t, "POST", a.base+"/Patient", fhirJSON, `{"resourceType":"Patient","name":[{"family":"Kette"}]}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, p)
	}
	id := p["id"].(string)
	const perServer = 60
	var failed atomic.Int64
	parallel(8, func(i int) {
		s := []*server{a, b}[i%2]
		for j := range perServer / 4 {
			method, path, body := "GET", "/Patient/"+id, ""
			if j%3 == 0 {
				method, path, body = "POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Kette"}]}`
			}
			if status, _, _, err := request(method, s.base+path, fhirJSON, body); err != nil || status >= 300 {
				failed.Add(1)
			}
		}
	})
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d requests failed", n)
	}
	for _, s := range []*server{a, b} {
		s.cmd.Process.Signal(syscall.SIGTERM)
		if err := s.cmd.Wait(); err != nil {
			t.Fatalf("shutdown: %v\n%s", err, s.out)
		}
	}
	code, stdout, stderr := runEmr("audit", "verify", "--db", dsn, "--audit-key", key)
	if code != 0 || !strings.Contains(stdout, "result:      intact") || strings.Contains(stdout, "unsealed") {
		t.Fatalf("exit %d, want an intact, sealed log; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// The create, 2×60 requests: each audited once at least.
	if m := regexp.MustCompile(`records:\s+(\d+)`).FindStringSubmatch(stdout); m == nil || atoiOr0(m[1]) < 1+2*perServer {
		t.Errorf("want at least %d records:\n%s", 1+2*perServer, stdout)
	}
	t.Log(stdout)
}

func atoiOr0(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// rechainFrom recomputes the chain from seq on, as an attacker can.
func rechainFrom(t *testing.T, raw *sql.DB, from int64) {
	t.Helper()
	var prev []byte
	if err := raw.QueryRow("SELECT hash FROM audit_event WHERE seq = ?", from-1).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	type rec struct {
		seq, recorded int64
		event         []byte
	}
	var recs []rec
	rows, err := raw.Query("SELECT seq, recorded, event FROM audit_event WHERE seq >= ? ORDER BY seq", from)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r rec
		if err := rows.Scan(&r.seq, &r.recorded, &r.event); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	for _, r := range recs {
		h := auditchain.Hash(prev, r.seq, r.recorded, r.event)
		if _, err := raw.Exec("UPDATE audit_event SET prev_hash = ?, hash = ? WHERE seq = ?", prev, h, r.seq); err != nil {
			t.Fatal(err)
		}
		prev = h
	}
}
