package access_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// BenchmarkAuditCost measures what auditing costs reads and searches: the
// whole FHIR API (routing, the role policy of a physician, the store) on
// one database, through a gate that audits (Audited: each answer waits for
// its AuditEvent's commit, fsync'd, shared with concurrent requests by
// group commit) and through a gate that records nothing (NotAudited, a
// gate only this test binary can make). Both run in one invocation, in
// alternating rounds (EMR_BENCH_AUDIT_ROUNDS, 5 by default), and the log
// line after each kind of request gives the cost as a fraction of the
// unaudited throughput: the median of the rounds', each round's, and the
// median times. On a shared machine the unaudited figure alone moves by
// ±20% from run to run: one pair says little. A second line gives the
// same from this process's CPU time per request (cpu-ns/op, getrusage),
// which other work on the machine moves far less than the clock: where
// the requests keep the cores busy, throughput is the cores over it. On
// SQLite that is all of the work; on PostgreSQL the server's CPU is
// another process's and is not in it.
//
//	go test ./internal/access -run '^$' -bench AuditCost -benchtime 1s -v
//
// PostgreSQL runs when pgtest has a server (its clusters run with fsync
// off, so there the cost is the commit round trip without the disk flush).
func BenchmarkAuditCost(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		defs := spec.R5()
		st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(defs)})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchAuditCost(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		defs := spec.R5()
		st, err := sqlstore.OpenPostgres(context.Background(), pgtest.DSN(b), sqlstore.Options{Extractor: search.NewExtractor(defs)})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchAuditCost(b, st)
	})
}

const benchPatients = 200

func benchAuditCost(b *testing.B, st store.Store) {
	defs := spec.R5()
	policy := access.NewRolePolicy(defs, access.DefaultRoles(defs))
	handler := func(gate *access.Gate) http.Handler {
		api := fhirapi.New(fhirapi.Options{
			Store: st, Gate: gate, Validator: validate.New(defs), Model: defs.APIModel(), Definitions: defs,
			BaseURL: "http://emr.test/fhir", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}).Mount("/fhir")
		who := &access.Principal{User: "dr.bench", Role: "physician"}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			api.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), who)))
		})
	}
	type stack struct {
		name    string
		handler http.Handler
	}
	stacks := []stack{
		{"Audited", handler(access.NewGate(st, policy, "bench"))},
		{"NotAudited", handler(access.NewUnauditedGate(st, policy, "bench"))},
	}
	ids := make([]string, benchPatients)
	for i := range ids {
		body := fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Costa%03d","given":["Ana"]}],"gender":"female","birthDate":"1970-01-01"}`, i)
		rec := serve(stacks[0].handler, "POST", "/fhir/Patient", body)
		if rec.Code != http.StatusCreated {
			b.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		loc := rec.Header().Get("Location")
		ids[i] = strings.Split(strings.TrimPrefix(loc, "http://emr.test/fhir/Patient/"), "/")[0]
	}
	kinds := []struct {
		name string
		path func(i int) string
	}{
		{"read", func(i int) string { return "/fhir/Patient/" + ids[i%len(ids)] }},
		{"search", func(i int) string { return fmt.Sprintf("/fhir/Patient?family=Costa%03d", i%len(ids)) }},
	}
	for _, kind := range kinds {
		// serial is one client; parallel16 and parallel128 are 8 and 64
		// concurrent requests per core: the more requests wait at once,
		// the more audit events share a commit (and its fsync).
		for _, mode := range []struct {
			name        string
			parallelism int
		}{{"serial", 0}, {"parallel16", 8}, {"parallel128", 64}} {
			// Rounds alternate the two gates (and which goes first), so that
			// drift in the machine and the database falls on both; the cost
			// reported is the median of the rounds'.
			var clock, cpu costRounds
			for round := range auditCostRounds(b) {
				perOp, cpuPerOp := map[string]time.Duration{}, map[string]time.Duration{}
				order := stacks
				if round%2 == 1 {
					order = []stack{stacks[1], stacks[0]}
				}
				for _, stack := range order {
					b.Run(kind.name+"/"+mode.name+"/"+stack.name, func(b *testing.B) {
						h := stack.handler
						cpu0 := sharedtest.ProcessCPU()
						if mode.parallelism == 0 {
							for i := 0; b.Loop(); i++ {
								if rec := serve(h, "GET", kind.path(i), ""); rec.Code != http.StatusOK {
									b.Fatalf("status %d: %s", rec.Code, rec.Body)
								}
							}
						} else {
							b.SetParallelism(mode.parallelism)
							b.RunParallel(func(pb *testing.PB) {
								for i := 0; pb.Next(); i++ {
									if rec := serve(h, "GET", kind.path(i), ""); rec.Code != http.StatusOK {
										b.Errorf("status %d: %s", rec.Code, rec.Body)
										return
									}
								}
							})
						}
						perOp[stack.name] = b.Elapsed() / time.Duration(max(b.N, 1))
						b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
						if cpu0 > 0 {
							cpuPerOp[stack.name] = (sharedtest.ProcessCPU() - cpu0) / time.Duration(max(b.N, 1))
							b.ReportMetric(float64(cpuPerOp[stack.name].Nanoseconds()), "cpu-ns/op")
						}
					})
				}
				clock.add(perOp["Audited"], perOp["NotAudited"])
				cpu.add(cpuPerOp["Audited"], cpuPerOp["NotAudited"])
			}
			clock.log(b, kind.name+" "+mode.name, "the unaudited throughput")
			cpu.log(b, kind.name+" "+mode.name, "this process's CPU per request")
		}
	}
}

// costRounds collects, round by round, the time per request of each
// gate and audit's cost: 1 - unaudited / audited.
type costRounds struct {
	costs              []float64
	audited, unaudited []time.Duration
}

func (c *costRounds) add(audited, unaudited time.Duration) {
	if audited > 0 && unaudited > 0 {
		c.costs = append(c.costs, 100*(1-float64(unaudited)/float64(audited)))
		c.audited, c.unaudited = append(c.audited, audited), append(c.unaudited, unaudited)
	}
}

// log reports the median cost, each round's, and the median times.
func (c *costRounds) log(b *testing.B, what, of string) {
	if len(c.costs) == 0 {
		return
	}
	rounds := slices.Clone(c.costs)
	costs, audited, unaudited := slices.Sorted(slices.Values(c.costs)), slices.Sorted(slices.Values(c.audited)), slices.Sorted(slices.Values(c.unaudited))
	b.Logf("%s: audit costs %.1f%% of %s (median of %d rounds %.1f; audited median %v/op, not audited %v/op)",
		what, costs[len(costs)/2], of, len(costs), rounds, audited[len(audited)/2], unaudited[len(unaudited)/2])
}

func serve(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://emr.test"+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// auditCostRounds is how many alternating rounds BenchmarkAuditCost runs
// of each kind of request: EMR_BENCH_AUDIT_ROUNDS, 5 by default.
func auditCostRounds(b *testing.B) int {
	s := os.Getenv("EMR_BENCH_AUDIT_ROUNDS")
	if s == "" {
		return 5
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("EMR_BENCH_AUDIT_ROUNDS=%q: want a positive number", s)
	}
	return n
}
