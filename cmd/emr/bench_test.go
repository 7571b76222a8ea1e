package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rowPattern is one line of the results table: kind, count, errors, q/s,
// then four latencies.
var rowPattern = regexp.MustCompile(`(?m)^([a-z-]+)\s+(\d+)\s+(\d+)\s+[\d.]+(\s+\S+){4}\s+\d+$`)

// TestBench runs `emr bench` end to end on a tiny population: load, measure
// every kind in process, then resume the load and measure over HTTP.
func TestBench(t *testing.T) {
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "results.json")
	var out, errOut bytes.Buffer
	args := []string{"bench", "--patients", "50", "--iterations", "5", "--data", dir, "--json", jsonFile, "--seed", "3"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("emr %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "emr bench: 50 patients") || !strings.Contains(out.String(), "load: patients 0–50") {
		t.Errorf("stdout lacks the summary:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "resources/s") {
		t.Errorf("stderr lacks the load progress:\n%s", errOut.String())
	}
	rows := map[string][]string{}
	for _, m := range rowPattern.FindAllStringSubmatch(out.String(), -1) {
		rows[m[1]] = m
	}
	for _, kind := range []string{"read", "name-birthdate", "identifier", "observations", "conditions", "everything", "ui-finder", "ui-chart", "create"} {
		row, ok := rows[kind]
		if !ok {
			t.Errorf("no row for %s in:\n%s", kind, out.String())
			continue
		}
		if row[2] != "5" {
			t.Errorf("%s: count %s, want 5", kind, row[2])
		}
		// Search lands separately; until then those kinds answer 501,
		// which the bench must report as errors, not crash on.
		if row[3] != "0" && (kind == "read" || kind == "create" || !strings.Contains(out.String(), "HTTP 501")) {
			t.Errorf("%s: %s errors:\n%s", kind, row[3], out.String())
		}
	}

	var report benchReport
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatalf("--json output: %v\n%s", err, data)
	}
	if report.Patients != 50 || len(report.Results) != 9 || report.Load == nil || report.Load.ResourcesPerSecond <= 0 {
		t.Errorf("--json output: got %s", data)
	}
	if !bytes.Contains(data, []byte(`"p99_ms"`)) {
		t.Errorf("--json output lacks p99_ms: %s", data)
	}

	// A second run keeps the 50 patients, loads 10 more, and measures over
	// loopback HTTP.
	out.Reset()
	errOut.Reset()
	args = []string{"bench", "--patients", "60", "--iterations", "3", "--data", dir, "--seed", "3", "--http", "--queries", "read,create"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("emr %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "load: patients 50–60") || !strings.Contains(out.String(), "http, concurrency") {
		t.Errorf("second run:\n%s", out.String())
	}
	for _, m := range rowPattern.FindAllStringSubmatch(out.String(), -1) {
		if m[3] != "0" {
			t.Errorf("second run, %s: %s errors:\n%s", m[1], m[3], out.String())
		}
	}

	// Another seed in the same directory is refused.
	args = []string{"bench", "--patients", "60", "--iterations", "1", "--data", dir, "--seed", "4", "--queries", "none"}
	if code := run(context.Background(), args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "same seed") {
		t.Errorf("another seed: exit %d, stderr %q; want 1 and a hint about the seed", code, errOut.String())
	}
}

// TestBenchLeavesRealDataAlone: EMR_DATA may point at a real database,
// which the bench must not fill with generated patients.
func TestBenchLeavesRealDataAlone(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "emr.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--data", dir, "--patients", "1", "--queries", "none"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "did not create") {
		t.Errorf("exit %d, stderr %q; want 1 and a refusal", code, errOut.String())
	}
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--queries", "nonsense"},
		{"bench", "--patients", "0"},
		{"bench", "--duration", "0s"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append(args, "--data", t.TempDir()), &out, &errOut); code != 2 {
			t.Errorf("emr %v: exit %d, want 2 (stderr %q)", args, code, errOut.String())
		}
	}
}
