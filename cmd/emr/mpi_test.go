package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMPICommands: an import queues the duplicates it brings in, emr mpi
// pairs lists them, and emr mpi scan finds those already there without
// proposing a pair twice.
func TestMPICommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	first := filepath.Join(dir, "first.ndjson")
	second := filepath.Join(dir, "second.ndjson")
	os.WriteFile(first, []byte(`{"resourceType":"Patient","id":"a1","name":[{"family":"Nguyễn","given":["Văn","An"]}],"gender":"male","birthDate":"1975-09-02","telecom":[{"system":"phone","value":"+84 90 123 4567"}]}
{"resourceType":"Patient","id":"b1","name":[{"family":"Schmidt","given":["Hannah"]}],"gender":"female","birthDate":"1990-01-15"}
`), 0o600)
	// a2 is a1 registered again elsewhere: no accents, day and month swapped.
	os.WriteFile(second, []byte(`{"resourceType":"Patient","id":"a2","name":[{"family":"Nguyen","given":["Van","An"]}],"gender":"male","birthDate":"1975-02-09","telecom":[{"system":"phone","value":"0901234567"}]}
`), 0o600)

	if code, stdout, stderr := emrProcess(t, "import", "--data", data, first); code != 0 || strings.Contains(stdout, "possible duplicate") {
		t.Fatalf("first import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr := emrProcess(t, "import", "--data", data, second)
	if code != 0 || !strings.Contains(stdout, "1 possible duplicate patients") || !strings.Contains(stdout, "Patient/a2 may be Patient/a1") {
		t.Fatalf("import of a duplicate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = emrProcess(t, "mpi", "pairs", "--data", data)
	if code != 0 || !strings.Contains(stdout, "Patient/a1\tPatient/a2\t") || !strings.Contains(stderr, "1 open pairs") {
		t.Errorf("mpi pairs: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = emrProcess(t, "mpi", "scan", "--data", data)
	if code != 0 || !strings.Contains(stdout, "0 pairs queued, 1 known before") {
		t.Errorf("mpi scan: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, args := range [][]string{{"mpi"}, {"mpi", "merge"}, {"mpi", "scan", "--min", "maybe", "--data", data}, {"mpi", "pairs", "--status", "closed", "--data", data}} {
		if code, _, stderr := emrProcess(t, args...); code != 2 {
			t.Errorf("emr %v: exit %d, want 2: %s", args, code, stderr)
		}
	}
}

// TestMPIBenchCommand runs the matching benchmark on a small population:
// it loads, resumes without loading again, and reports the figures.
func TestMPIBenchCommand(t *testing.T) {
	data := t.TempDir()
	code, stdout, stderr := emrProcess(t, "mpi", "bench", "--data", data, "--patients", "300", "--queries", "60")
	if code != 0 || !strings.Contains(stdout, "load: 300 patients") || !strings.Contains(stdout, "certain+probable") || !regexpMatch(`\$match of 60 stored patients: p50 [0-9.]+ ms`, stdout) {
		t.Fatalf("mpi bench: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = emrProcess(t, "mpi", "bench", "--data", data, "--patients", "300", "--queries", "10")
	if code != 0 || strings.Contains(stdout, "load:") {
		t.Errorf("second run loaded again: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := emrProcess(t, "mpi", "bench", "--data", data, "--patients", "400"); code != 2 {
		t.Errorf("another size on the same data: exit %d, want 2: %s", code, stderr)
	}
}

// TestImportDuplicatesInBulk: an import into a new store loads in bulk and
// matches its patients only once the indexes are built, and still reports
// a duplicate within the import, once.
func TestImportDuplicatesInBulk(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file := filepath.Join(dir, "patients.ndjson")
	os.WriteFile(file, []byte(`{"resourceType":"Patient","id":"a1","name":[{"family":"Nguyễn","given":["Văn","An"]}],"gender":"male","birthDate":"1975-09-02","telecom":[{"system":"phone","value":"+84 90 123 4567"}]}
{"resourceType":"Patient","id":"b1","name":[{"family":"Schmidt","given":["Hannah"]}],"gender":"female","birthDate":"1990-01-15"}
{"resourceType":"Patient","id":"a2","name":[{"family":"Nguyen","given":["Van","An"]}],"gender":"male","birthDate":"1975-02-09","telecom":[{"system":"phone","value":"0901234567"}]}
`), 0o600)
	code, stdout, stderr := emrProcess(t, "import", "--data", data, file)
	if code != 0 || !strings.Contains(stdout, "1 possible duplicate patients") ||
		!(strings.Contains(stdout, "Patient/a2 may be Patient/a1") || strings.Contains(stdout, "Patient/a1 may be Patient/a2")) {
		t.Fatalf("import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = emrProcess(t, "mpi", "pairs", "--data", data)
	if code != 0 || !strings.Contains(stdout, "Patient/a1\tPatient/a2\t") || !strings.Contains(stderr, "1 open pairs") {
		t.Errorf("mpi pairs: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
