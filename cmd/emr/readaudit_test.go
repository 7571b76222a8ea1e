package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
)

// TestAnsweredReadsAuditedAfterKill9 is the crash bound of read audits:
// zero. A server answering many concurrent reads and searches is killed
// with SIGKILL; afterwards every read and search that got a 200 before
// the kill has its AuditEvent in the log, because the gate answers a read
// only after its event's commit (fsync'd on SQLite) has returned.
func TestAnsweredReadsAuditedAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	readsSurviveKill9(t, startServer(t, dir), config{dataDir: dir})
	// The chain is intact too: the kill left no half-written record.
	if code, stdout, stderr := runEmr("audit", "verify", "--data", dir); code != 0 {
		t.Errorf("emr audit verify after kill -9: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestAnsweredReadsAuditedAfterKill9Postgres is the same on PostgreSQL:
// the answer follows the COMMIT of the read's event, so killing the
// server process loses no answered read's audit. (pgtest runs PostgreSQL
// with fsync off; a crash of the database server itself is PostgreSQL's
// durability, synchronous_commit on by default, not this test's.)
func TestAnsweredReadsAuditedAfterKill9Postgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dsn := pgtest.DSN(t)
	s := startServer(t, t.TempDir(), "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --db "+dsn)
	readsSurviveKill9(t, s, config{dbURL: dsn})
}

func readsSurviveKill9(t *testing.T, s *server, db config) {
	const patients = 20
	ids := make([]string, patients)
	for i := range ids {
		status, _, p := call(t, "POST", s.base+"/Patient", fhirJSON, fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Kill%d"}]}`, i))
		if status != 201 {
			t.Fatalf("create: %d %v", status, p)
		}
		ids[i] = p["id"].(string)
	}
	token, err := s.bearer()
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		reads    = map[string]int{}  // answered reads (200) per patient id
		searches = map[string]bool{} // answered searches, by their unique family
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				// Reads of the patients, and searches each of a family of its
				// own, so that its event (which records the query) is its own.
				id, family, path := ids[(w+i)%patients], "", ""
				if i%2 == 0 {
					path = "/Patient/" + id
				} else {
					family = fmt.Sprintf("Gone%dx%d", w, i)
					path = "/Patient?family=" + family
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", s.base+path, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					continue
				}
				mu.Lock()
				if family == "" {
					reads[id]++
				} else {
					searches[family] = true
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	cancel()
	wg.Wait()
	answeredReads := 0
	for _, n := range reads {
		answeredReads += n
	}
	if answeredReads == 0 || len(searches) == 0 {
		t.Fatalf("%d reads and %d searches answered before the kill; want some of each", answeredReads, len(searches))
	}

	// Each read's event names the version it read; each search's, its query.
	audited := map[string]int{}
	auditedSearch := map[string]bool{}
	for _, ev := range auditEventsOf(t, db) {
		code, _ := ev["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
		if outcome := ev["outcome"].(map[string]any)["code"].(map[string]any)["code"]; outcome != "0" {
			continue
		}
		for _, en := range entities(ev) {
			what, _ := en["what"].(map[string]any)
			switch ref, _ := what["reference"].(string); {
			case code == "read" && strings.HasPrefix(ref, "Patient/"):
				audited[strings.Split(ref, "/")[1]]++
			case code == "search-type" && en["query"] != nil:
				raw, _ := base64.StdEncoding.DecodeString(en["query"].(string))
				if q, err := url.ParseQuery(string(raw)); err == nil {
					auditedSearch[q.Get("family")] = true
				}
			}
		}
	}
	for id, n := range reads {
		if audited[id] < n {
			t.Errorf("Patient/%s: %d reads answered 200 before the kill, %d audited after it", id, n, audited[id])
		}
	}
	// The search index answers for them too: what waited in memory to be
	// indexed at the kill is indexed from the log when the store opens.
	st, _, err := openStore(context.Background(), db, spec.R5())
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range reads {
		page, err := st.SearchAudit(context.Background(), store.AuditQuery{
			Terms: [][]audit.Term{{{Name: audit.ParamPatient, Value: "Patient/" + id}}}, Count: 1, Total: true})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total < int64(n) {
			t.Errorf("Patient/%s: %d reads answered before the kill, an audit search finds %d", id, n, page.Total)
		}
	}
	st.Close()
	lost := 0
	for family := range searches {
		if !auditedSearch[family] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d searches answered 200 before the kill have no AuditEvent", lost, len(searches))
	}
	if !t.Failed() {
		t.Logf("%d reads and %d searches answered before kill -9, every one audited", answeredReads, len(searches))
	}
}

func entities(ev fhir.Resource) []map[string]any {
	var out []map[string]any
	list, _ := ev["entity"].([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
