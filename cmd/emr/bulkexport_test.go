package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServeBulkExport exports through a running server as a backend
// service would: kick-off with its token, poll, download the NDJSON the
// manifest lists, find the files in --export-dir, cancel.
func TestServeBulkExport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	exportDir := filepath.Join(t.TempDir(), "exports")
	s := startServer(t, t.TempDir(), "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --export-dir "+exportDir)
	for _, r := range []struct{ path, body string }{
		{"/Patient/p1", `{"resourceType":"Patient","id":"p1","name":[{"family":"One"}]}`},
		{"/Patient/p2", `{"resourceType":"Patient","id":"p2","name":[{"family":"Two"}]}`},
		{"/Observation/o1", `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}`},
	} {
		if status, _, _ := call(t, "PUT", s.base+r.path, fhirJSON, r.body); status != http.StatusCreated {
			t.Fatalf("PUT %s: %d", r.path, status)
		}
	}
	if status, _, _, err := request("GET", s.base+"/$export", "", "", "Prefer: respond-async", "Authorization: "); err != nil || status != http.StatusUnauthorized {
		t.Errorf("without a token: %d %v", status, err)
	}
	status, h, body := call(t, "GET", s.base+"/Patient/$export?_type=Patient,Observation", "", "", "Prefer: respond-async", "Accept: application/fhir+json")
	if status != http.StatusAccepted || h.Get("Content-Location") == "" {
		t.Fatalf("kick-off: %d %v %v", status, h, body)
	}
	poll := h.Get("Content-Location")
	var manifest map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		status, _, manifest = call(t, "GET", poll, "", "")
		if status != http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the export did not finish")
		}
	}
	if status != http.StatusOK {
		t.Fatalf("poll: %d %v", status, manifest)
	}
	token, err := s.bearer()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range manifest["output"].([]any) {
		u := f.(map[string]any)["url"].(string)
		if !strings.HasPrefix(u, s.base+"/$export-file?") {
			t.Errorf("file URL %s", u)
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/fhir+ndjson")
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			got = append(got, strings.SplitN(strings.SplitN(sc.Text(), `"id":"`, 2)[1], `"`, 2)[0])
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/fhir+ndjson" {
			t.Errorf("download: %d %v", resp.StatusCode, resp.Header)
		}
	}
	slices.Sort(got)
	if strings.Join(got, " ") != "o1 p1 p2" {
		t.Errorf("exported %v", got)
	}
	job := strings.SplitN(poll, "_jobId=", 2)[1]
	files, _ := os.ReadDir(filepath.Join(exportDir, job, "attempt-1"))
	if len(files) != 2 {
		t.Errorf("%d files in the export directory", len(files))
	}
	if info, err := os.Stat(filepath.Join(exportDir, job)); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("the job's directory: %v %v", info, err)
	}
	if status, _, _ := call(t, "DELETE", poll, "", ""); status != http.StatusAccepted {
		t.Errorf("DELETE: %d", status)
	}
	if _, err := os.Stat(filepath.Join(exportDir, job)); !os.IsNotExist(err) {
		t.Errorf("the files of a cancelled export stay: %v", err)
	}
	if status, _, _ := call(t, "GET", poll, "", ""); status != http.StatusNotFound {
		t.Errorf("after DELETE: %d", status)
	}
}
