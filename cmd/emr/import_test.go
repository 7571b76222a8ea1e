package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/sharedtest"
)

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// emrProcess runs the real main in a child process with args and returns
// its exit code, stdout and stderr.
func emrProcess(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EMR_TEST_MAIN=1", "EMR_TEST_ARGS="+strings.Join(args, " "))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatal(err)
	return 0, "", ""
}

// TestImportCommand runs `emr import` as a user would: exit 0 and a
// summary when everything is imported, nothing new on a second run, exit 1
// with the bad line named when a line fails, 2 for usage errors.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o700)
	good := `{"resourceType":"Patient","id":"p1","gender":"female"}
{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/p1"}}
`
	os.WriteFile(filepath.Join(in, "good.ndjson"), []byte(good), 0o600)

	code, stdout, stderr := emrProcess(t, "import", "--data", data, in)
	if code != 0 || !strings.Contains(stdout, "Observation") || !regexpMatch(`total\s+2\s+2\s+0\s+0\s+0`, stdout) {
		t.Fatalf("first import: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, _ = emrProcess(t, "import", in, "--data", data) // flags after the path work too
	if code != 0 || !regexpMatch(`total\s+2\s+0\s+0\s+2\s+0`, stdout) {
		t.Errorf("second import: exit %d, want everything unchanged:\n%s", code, stdout)
	}

	os.WriteFile(filepath.Join(in, "bad.ndjson"), []byte(`{"resourceType":"Patient","id":"p2"}
{"resourceType":"Patient","id":"p3","gender":"sometimes"}
`), 0o600)
	code, stdout, stderr = emrProcess(t, "import", "--data", data, in)
	if code != 1 || !strings.Contains(stderr, "bad.ndjson: line 2 (Patient): invalid: Patient.gender") ||
		!regexpMatch(`Patient\s+3\s+1\s+0\s+1\s+1`, stdout) {
		t.Errorf("import with a bad line: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	for _, args := range [][]string{
		{"import", "--data", data},
		{"import", "--fhir-version", "3.0", "--data", data, in},
		{"import", "--no-such-flag", in},
	} {
		if code, _, stderr := emrProcess(t, args...); code != 2 {
			t.Errorf("emr %v: exit %d, want 2; stderr %s", args, code, stderr)
		}
	}
	if code, _, stderr := emrProcess(t, "import", "--data", data, filepath.Join(dir, "missing")); code != 1 || !strings.Contains(stderr, "missing") {
		t.Errorf("missing path: exit %d, stderr %s", code, stderr)
	}
}

// TestImportR4NDJSON imports Synthea's R4 bulk export: detected as R4,
// converted to R5, every resource stored, exit 0; the log.ndjson of the
// export is skipped.
func TestImportR4NDJSON(t *testing.T) {
	shared := sharedtest.Path(t, "testdata", "synthea-bulk-ndjson-10pt")
	code, stdout, stderr := emrProcess(t, "import", "--data", t.TempDir(), shared)
	if code != 0 || !regexpMatch(`total\s+(\d+)\s+(\d+)\s+0\s+0\s+0\s+\d+`, stdout) || !strings.Contains(stdout, ", 0 problems") {
		t.Errorf("exit %d, stdout:\n%s\nstderr (start):\n%.600s", code, stdout, stderr)
	}
}
