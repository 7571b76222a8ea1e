package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// TestBackupWhileServing backs up a data directory while its server
// takes writes, restores the backup into a new directory and serves it:
// the restored server has every patient acknowledged before the backup
// began and none that was not acknowledged; the backup's files are
// private; the backup and the restore are in the audit logs; the
// restored audit log verifies.
func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	data, backup, restored := filepath.Join(dir, "data"), filepath.Join(dir, "backup"), filepath.Join(dir, "restored")
	s := startServer(t, data)
	var acked atomic.Int64
	create := func(i int64) error {
		body := fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Backup","given":["P%d"]}],"birthDate":"1980-01-01"}`, i)
		status, _, _, err := request("POST", s.base+"/Patient", "application/fhir+json", body)
		if err == nil && status != http.StatusCreated {
			err = fmt.Errorf("create: %d", status)
		}
		if err == nil {
			acked.Add(1)
		}
		return err
	}
	for i := range int64(20) {
		if err := create(i); err != nil {
			t.Fatal(err)
		}
	}
	stop, stopped := make(chan struct{}), make(chan error, 1)
	go func() {
		for i := int64(20); ; i++ {
			select {
			case <-stop:
				stopped <- nil
				return
			default:
			}
			if err := create(i); err != nil {
				stopped <- err
				return
			}
		}
	}()
	before := acked.Load()
	code, stdout, stderr := emrProcess(t, "backup", "--data", data, backup)
	close(stop)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	after := acked.Load()
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("%s(%d patients acknowledged before the backup began, %d after it ended)", stdout, before, after)
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory: %v, mode %v", err, fi.Mode())
	}
	var names []string
	entries, _ := os.ReadDir(backup)
	for _, e := range entries {
		names = append(names, e.Name())
		fi, _ := e.Info()
		if perm := fi.Mode().Perm(); perm&0o077 != 0 && e.Name() != "audit-key.pub" {
			t.Errorf("%s: mode %v", e.Name(), perm)
		}
	}
	if want := []string{"audit-key", "audit-key.pub", "emr-audit.db", "emr.db"}; !slices.Equal(names, want) {
		t.Errorf("backup holds %v, want %v", names, want)
	}

	code, stdout, stderr = emrProcess(t, "restore", "--data", restored, backup)
	if code != 0 || !strings.Contains(stdout, "result:      intact") {
		t.Fatalf("restore: exit %d\n%s\n%s", code, stdout, stderr)
	}
	r := startServer(t, restored)
	status, _, bundle := call(t, "GET", r.base+"/Patient?_summary=count", "", "")
	total, _ := bundle["total"].(float64)
	if status != http.StatusOK || int64(total) < before || int64(total) > after {
		t.Errorf("restored server: %d, %v patients; want %d to %d", status, bundle["total"], before, after)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	r.cmd.Process.Kill()
	r.cmd.Wait()

	user := cliActor(t)
	find := func(dataDir, code, action, dicom string) int {
		found := 0
		for _, ev := range auditEvents(t, dataDir) {
			if emrCode(ev) != code {
				continue
			}
			found++
			if !strings.Contains(fmt.Sprint(ev["agent"]), user) || ev["action"] != action || !strings.Contains(fmt.Sprint(ev["category"]), dicom) {
				t.Errorf("%s event: agent %v, action %v, category %v; want %s, %s, %s", code, ev["agent"], ev["action"], ev["category"], user, action, dicom)
			}
			if code == "backup" && !strings.Contains(fmt.Sprint(ev["entity"]), filepath.Join(backup, "emr.db")) {
				t.Errorf("the backup event does not name the files written: %v", ev["entity"])
			}
		}
		return found
	}
	if n := find(data, "backup", "R", "110106"); n != 1 {
		t.Errorf("the data directory's log has %d backup events, want 1", n)
	}
	if n := find(restored, "restore", "C", "110107"); n != 1 {
		t.Errorf("the restored log has %d restore events, want 1", n)
	}
	if code, stdout, stderr := runEmr("audit", "verify", "--data", restored); code != 0 {
		t.Errorf("audit verify of the restored directory: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestBackupRefuses: usage errors exit 2, a destination that is not new
// or empty and a missing database exit 1, and neither writes anything;
// restore never writes over a data directory, and refuses a damaged
// backup leaving nothing behind.
func TestBackupRefuses(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	auditLog(t, config{dataDir: data}, 3)
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o700)
	os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o600)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"backup", "--data", data}, 2, "give the backup's directory"},
		{[]string{"backup", "--data", data, "a", "b"}, 2, "give the backup's directory"},
		{[]string{"backup", "--db", "postgres://localhost/emr", filepath.Join(dir, "x")}, 2, "pg_basebackup"},
		{[]string{"backup", "--data", data, filepath.Join(data, "inside")}, 2, "inside the data directory"},
		{[]string{"backup", "--data", data, full}, 1, "not empty"},
		{[]string{"backup", "--data", filepath.Join(dir, "nodata"), filepath.Join(dir, "x")}, 1, "no database"},
		{[]string{"restore", "--data", data, full}, 1, "no backup"},
		{[]string{"restore", "--data", full, data}, 1, "never overwrites"},
		{[]string{"restore", "--data", data}, 2, "give the backup's directory"},
	} {
		code, _, stderr := runEmr(c.args...)
		if code != c.code || !strings.Contains(stderr, c.says) {
			t.Errorf("emr %s: exit %d, %q; want %d and %q", strings.Join(c.args, " "), code, stderr, c.code, c.says)
		}
	}
	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Errorf("a refused command wrote into %s: %v", full, entries)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a refused backup made its directory")
	}

	// A damaged backup is refused before anything is written.
	backup := filepath.Join(dir, "backup")
	if code, stdout, stderr := runEmr("backup", "--data", data, backup); code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	f, err := os.OpenFile(filepath.Join(backup, "emr.db"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte(strings.Repeat("junk", 1024)), 4096)
	f.Close()
	target := filepath.Join(dir, "restored")
	if code, _, stderr := runEmr("restore", "--data", target, backup); code != 1 || !strings.Contains(stderr, "damaged") {
		t.Errorf("restore of a damaged backup: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("a refused restore made the data directory")
	}

	// A backup whose audit log was rewritten (its append-only triggers
	// dropped, a record changed) is copied, fails verification, and is
	// removed again.
	tampered := filepath.Join(dir, "tampered")
	if code, stdout, stderr := runEmr("backup", "--data", data, tampered); code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	db, err := sql.Open("sqlite", filepath.Join(tampered, "emr-audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'")
	if err != nil {
		t.Fatal(err)
	}
	var triggers []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		triggers = append(triggers, name)
	}
	rows.Close()
	for _, name := range triggers {
		if _, err := db.Exec("DROP TRIGGER " + name); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := db.Exec("UPDATE audit_event SET event = CAST(replace(CAST(event AS TEXT), 'read', 'reed') AS BLOB) WHERE seq = (SELECT min(seq) FROM audit_event)"); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("changed %d audit records", n)
	}
	db.Close()
	if code, stdout, stderr := runEmr("restore", "--data", target, tampered); code != 1 || !strings.Contains(stderr, "tampered") || !strings.Contains(stdout, "TAMPERED") {
		t.Errorf("restore of a tampered backup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("a restore that failed verification left the data directory")
	}
}
