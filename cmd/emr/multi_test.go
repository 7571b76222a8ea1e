package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/store/pgtest"
)

// startPostgresServers starts n `emr serve --db dsn` processes at once, so
// that they migrate the database together when it is new, and waits until
// all of them listen.
func startPostgresServers(t *testing.T, dsn string, n int) []*server {
	t.Helper()
	servers := make([]*server, n)
	for i := range servers {
		// EMR_TEST_ARGS is split at spaces; a pgtest DSN has none.
		servers[i] = spawnServer(t, t.TempDir(), "EMR_TEST_ARGS=serve --addr 127.0.0.1:0 --db "+dsn)
	}
	for _, s := range servers {
		s.waitListening(t)
	}
	return servers
}

// TestTwoServersOnePostgres runs two server processes on one PostgreSQL
// database, as a hospital runs several behind a load balancer: what one
// writes the other reads at once, and conditional interactions and
// transactions hold across both, because every write takes the database's
// advisory write lock.
func TestTwoServersOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	servers := startPostgresServers(t, pgtest.DSN(t), 2)
	a, b := servers[0], servers[1]

	t.Run("read, search, history and update across servers", func(t *testing.T) {
		status, _, p := call(t, "POST", a.base+"/Patient", fhirJSON,
			`{"resourceType":"Patient","identifier":[{"system":"urn:emr-test:mrn","value":"MULTI-1"}],"name":[{"family":"Zweiserver","given":["Ada"]}]}`)
		if status != 201 {
			t.Fatalf("create on A: %d %v", status, p)
		}
		id := p["id"].(string)
		status, h, got := call(t, "GET", b.base+"/Patient/"+id, "", "")
		if status != 200 || h.Get("ETag") != `W/"1"` {
			t.Fatalf("read on B: %d ETag %s, want 200 W/\"1\"", status, h.Get("ETag"))
		}
		if name := got["name"].([]any)[0].(map[string]any); name["family"] != "Zweiserver" {
			t.Errorf("read on B: name %v, want the one A stored", name)
		}
		for _, query := range []string{"family=Zweiserver", "identifier=" + url.QueryEscape("urn:emr-test:mrn|MULTI-1")} {
			status, _, bundle := call(t, "GET", b.base+"/Patient?"+query, "", "")
			if ids := entryIDs(bundle); status != 200 || !slices.Equal(ids, []string{id}) {
				t.Errorf("search %s on B: %d %v, want [%s]", query, status, ids, id)
			}
		}
		status, _, hist := call(t, "GET", b.base+"/Patient/"+id+"/_history", "", "")
		if ids := entryIDs(hist); status != 200 || len(ids) != 1 {
			t.Errorf("history on B: %d %v, want the one version", status, ids)
		}

		status, h, _ = call(t, "PUT", b.base+"/Patient/"+id, fhirJSON,
			`{"resourceType":"Patient","id":"`+id+`","gender":"female","name":[{"family":"Zweiserver","given":["Ada"]}]}`, `If-Match: W/"1"`)
		if status != 200 || h.Get("ETag") != `W/"2"` {
			t.Fatalf("update on B: %d ETag %s, want 200 W/\"2\"", status, h.Get("ETag"))
		}
		status, h, got = call(t, "GET", a.base+"/Patient/"+id, "", "")
		if status != 200 || h.Get("ETag") != `W/"2"` || got["gender"] != "female" {
			t.Errorf("read on A after the update on B: %d ETag %s gender %v, want version 2", status, h.Get("ETag"), got["gender"])
		}
		status, _, hist = call(t, "GET", a.base+"/Patient/"+id+"/_history", "", "")
		if ids := entryIDs(hist); status != 200 || len(ids) != 2 {
			t.Errorf("history on A: %d %v, want both versions", status, ids)
		}
	})

	t.Run("concurrent conditional creates make one patient", func(t *testing.T) {
		// Several rounds, since whether the two servers' transactions
		// overlap is up to timing: without the write lock, two patients
		// appear in some round of most runs.
		const clients, rounds = 20, 10
		type outcome struct {
			status int
			id     string // the patient answered
			err    error
		}
		for round := range rounds {
			mrn := fmt.Sprintf("urn:emr-test:mrn|COND-%d", round)
			system, value, _ := strings.Cut(mrn, "|")
			body := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":%q,"value":%q}]}`, system, value)
			outcomes := make([]outcome, clients)
			parallel(clients, func(i int) {
				status, _, doc, err := request("POST", servers[i%2].base+"/Patient", fhirJSON, body, "If-None-Exist: identifier="+mrn)
				id, _ := doc["id"].(string)
				outcomes[i] = outcome{status, id, err}
			})
			statuses := map[int]int{} // status: how many clients got it
			ids := map[string]bool{}
			for i, o := range outcomes {
				if o.err != nil {
					t.Errorf("%s, client %d: %v", mrn, i, o.err)
				}
				statuses[o.status]++
				if o.id != "" {
					ids[o.id] = true
				}
			}
			if statuses[201] != 1 || statuses[200] != clients-1 || len(ids) != 1 {
				t.Errorf("%s: statuses %v (status: clients) naming %d patients; want one 201, %d 200 and one patient",
					mrn, statuses, len(ids), clients-1)
			}
			for _, s := range servers {
				status, _, bundle := call(t, "GET", s.base+"/Patient?identifier="+url.QueryEscape(mrn), "", "")
				if ids := entryIDs(bundle); status != 200 || len(ids) != 1 {
					t.Errorf("search %s on %s: %d %v, want one patient", mrn, s.base, status, ids)
				}
			}
			if t.Failed() {
				return
			}
		}
	})

	t.Run("concurrent If-Match updates: one wins each version", func(t *testing.T) {
		const clients, rounds = 10, 5
		status, _, p := call(t, "POST", a.base+"/Patient", fhirJSON, `{"resourceType":"Patient","active":true}`)
		if status != 201 {
			t.Fatalf("create: %d", status)
		}
		id := p["id"].(string)
		for version := 1; version <= rounds; version++ {
			statuses := make([]int, clients)
			etags := make([]string, clients)
			parallel(clients, func(i int) {
				body := fmt.Sprintf(`{"resourceType":"Patient","id":"%s","name":[{"given":["Writer%d"]}]}`, id, i)
				status, h, _, err := request("PUT", servers[i%2].base+"/Patient/"+id, fhirJSON, body, fmt.Sprintf(`If-Match: W/"%d"`, version))
				if err != nil {
					status = -1
				}
				statuses[i] = status
				etags[i] = h.Get("ETag")
			})
			won := 0
			for i, status := range statuses {
				switch status {
				case 200:
					won++
					if want := fmt.Sprintf(`W/"%d"`, version+1); etags[i] != want {
						t.Errorf("version %d: the winner's ETag %s, want %s", version, etags[i], want)
					}
				case 412:
				default:
					t.Errorf("version %d, client %d: status %d, want 200 or 412", version, i, status)
				}
			}
			if won != 1 {
				t.Fatalf("version %d: %d of %d updates with If-Match succeeded, want exactly 1 (statuses %v)", version, won, clients, statuses)
			}
		}
		for _, s := range servers {
			status, h, _ := call(t, "GET", s.base+"/Patient/"+id, "", "")
			if want := fmt.Sprintf(`W/"%d"`, rounds+1); status != 200 || h.Get("ETag") != want {
				t.Errorf("read on %s: %d ETag %s, want %s", s.base, status, h.Get("ETag"), want)
			}
		}
	})

	t.Run("a transaction on A is seen whole or not at all on B", func(t *testing.T) {
		// Big enough that committing takes a while (about 150ms here), so
		// that B's searches start before and during it. Each search on B
		// then waits for A's commit before it answers, because B records
		// the search's AuditEvent, and that write waits for the write lock
		// A holds; so B samples a few times per transaction, not hundreds.
		const observations, rounds, pollers = 200, 3, 2
		for round := range rounds {
			code := fmt.Sprintf("TX-%d", round)
			count := b.base + "/Observation?_summary=count&code=" + url.QueryEscape("urn:emr-test:tx|"+code)
			done := make(chan struct{})
			counts := make([][]int, pollers)
			var wg sync.WaitGroup
			for p := range pollers {
				wg.Go(func() {
					for {
						select {
						case <-done:
							return
						default:
						}
						counts[p] = append(counts[p], total(request("GET", count, "", "")))
					}
				})
			}
			status, _, resp := call(t, "POST", a.base, fhirJSON, transactionBundle(round, code, observations))
			close(done)
			wg.Wait()
			if status != 200 || resp["type"] != "transaction-response" {
				t.Fatalf("transaction %d on A: %d %v", round, status, resp)
			}
			for _, n := range slices.Concat(counts...) {
				if n != 0 && n != observations {
					t.Errorf("transaction %d: a search on B while A committed it found %d of its %d observations (counts %v)", round, n, observations, counts)
					break
				}
			}
			if n := total(request("GET", count, "", "")); n != observations {
				t.Errorf("transaction %d: after A answered, B finds %d observations, want %d", round, n, observations)
			}
		}
	})

	// Last: it kills A.
	t.Run("kill -9 of A loses no acknowledged write", func(t *testing.T) {
		var (
			mu    sync.Mutex
			acked []string
		)
		ackedOne := make(chan struct{}, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var writers sync.WaitGroup
		for w := range 4 {
			writers.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					body := fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"KillA%d","given":["N%d"]}]}`, w, i)
					status, _, doc, err := request("POST", a.base+"/Patient", fhirJSON, body)
					if err != nil {
						return // A is gone
					}
					if status == 201 {
						mu.Lock()
						acked = append(acked, doc["id"].(string))
						mu.Unlock()
						select {
						case ackedOne <- struct{}{}:
						default:
						}
					}
				}
			})
		}
		// Kill A right after it acknowledges a write, while the other
		// writers' requests are in flight (some mid-transaction, holding
		// the write lock).
		time.Sleep(500 * time.Millisecond)
		select {
		case <-ackedOne:
		default:
		}
		select {
		case <-ackedOne:
		case <-time.After(30 * time.Second):
			t.Fatal("A acknowledged no write")
		}
		a.cmd.Process.Signal(syscall.SIGKILL)
		a.cmd.Wait()
		cancel()
		writers.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, id := range acked {
			if status, _, _ := call(t, "GET", b.base+"/Patient/"+id, "", ""); status != 200 {
				t.Errorf("Patient/%s, acknowledged by A before kill -9: %d on B, want 200", id, status)
			}
		}
		// B still writes: the dead process's lock went with its session.
		if status, _, _ := call(t, "POST", b.base+"/Patient", fhirJSON, `{"resourceType":"Patient"}`); status != 201 {
			t.Errorf("create on B after A was killed: %d, want 201", status)
		}
		t.Logf("%d writes acknowledged by A, all read on B after kill -9", len(acked))
	})
}

// TestServeUnreachableDatabase checks that `emr serve` on a PostgreSQL
// server it cannot reach exits 1 with a message that says so and names
// the database, without its password.
func TestServeUnreachableDatabase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var stdout, stderr bytes.Buffer
	args := []string{"serve", "--addr", "127.0.0.1:0", "--db", "postgres://emr:s3cret@" + addr + "/emr"}
	code := run(context.Background(), args, &stdout, &stderr)
	msg := stderr.String()
	if code != 1 {
		t.Errorf("exit code %d, want 1; stderr %q", code, msg)
	}
	for _, want := range []string{"cannot connect to the database", "postgres://emr:xxxxx@" + addr + "/emr"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q, want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cret") || strings.Contains(stdout.String(), "s3cret") {
		t.Errorf("the output shows the password: stdout %q, stderr %q", stdout.String(), msg)
	}
}

// parallel runs fn(0) … fn(n-1) in goroutines released together, and waits
// for them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// entryIDs returns the ids of the resources in a Bundle's entries.
func entryIDs(bundle map[string]any) []string {
	entries, _ := bundle["entry"].([]any)
	ids := []string{}
	for _, e := range entries {
		res, _ := e.(map[string]any)["resource"].(map[string]any)
		id, _ := res["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

// total returns the total of a searchset Bundle from request, or -1 if
// the search failed.
func total(status int, _ http.Header, bundle map[string]any, err error) int {
	n, ok := bundle["total"].(float64)
	if err != nil || status != 200 || !ok {
		return -1
	}
	return int(n)
}

// transactionBundle is a transaction creating a patient and n observations
// of it, all coded code, so that a search finds them together.
func transactionBundle(round int, code string, n int) string {
	patient := fmt.Sprintf("urn:uuid:%08x-0000-4000-8000-000000000000", round)
	entries := []string{fmt.Sprintf(`{"fullUrl":%q,"resource":{"resourceType":"Patient","active":true},"request":{"method":"POST","url":"Patient"}}`, patient)}
	for i := range n {
		entries = append(entries, fmt.Sprintf(`{"fullUrl":"urn:uuid:%08x-0000-4000-8000-%012x","resource":{"resourceType":"Observation","status":"final",`+
			`"code":{"coding":[{"system":"urn:emr-test:tx","code":%q}]},"subject":{"reference":%q}},"request":{"method":"POST","url":"Observation"}}`,
			round, i+1, code, patient))
	}
	return `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
}
