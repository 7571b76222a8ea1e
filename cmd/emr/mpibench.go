package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/store"
)

// emr mpi bench measures record matching on data built to be hard
// (mpi.Generate: people of many cultures, duplicates corrupted as real
// registrations are, twins, households and namesakes): it loads the
// population into a bench database once (resumable, the truth of who is
// whom kept beside it in mpi-truth.tsv), then sends a sample of the stored
// patients to POST Patient/$match through the API the server runs (the
// gate, the audit, the store's key index) and reports the latency and, from
// the truth, the precision of each grade and the recall.

// mpiBenchState is the load state of a bench database (mpi-bench.json).
type mpiBenchState struct {
	Seed     int64 `json:"seed"`
	Patients int   `json:"patients"` // the dataset's size
	Loaded   int   `json:"loaded"`   // records stored so far, in dataset order
}

const (
	mpiBenchStateFile = "mpi-bench.json"
	mpiTruthFile      = "mpi-truth.tsv"
)

// mpiGradeFigures are the figures of one grade (or of it and better).
type mpiGradeFigures struct {
	Pairs     int     `json:"pairs"`      // pairs returned at this grade
	True      int     `json:"true"`       // of them, one person
	Precision float64 `json:"precision"`  // True / Pairs
	Recall    float64 `json:"recall"`     // true pairs found at this grade or better / true pairs
	TruePairs int     `json:"true_pairs"` // the true pairs of the queries
}

type mpiBenchReport struct {
	Version  string                     `json:"version"`
	Backend  string                     `json:"backend"`
	Patients int                        `json:"patients"`
	Seed     int64                      `json:"seed"`
	Queries  int                        `json:"queries"`
	Load     *benchLoad                 `json:"load,omitempty"`
	Latency  map[string]float64         `json:"latency_ms"` // p50, p90, p99, max
	Grades   map[string]mpiGradeFigures `json:"grades"`     // "certain", "certain+probable", "all"
}

func runMPIBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mpi bench", stderr)
	dataDir := fs.String("data", "./emr-mpi-bench", "data directory of the benchmark database; the loaded population is kept between runs")
	dbURL := fs.String("db", "", "PostgreSQL database URL to load and query instead of the SQLite database in --data (which then holds only the load state)")
	patients := fs.Int("patients", 10000, "size of the generated population (a data directory holds one size and seed)")
	seed := fs.Int64("seed", 7, "seed of the generated population")
	queries := fs.Int("queries", 2000, "stored patients sent to $match, spread over the population")
	batch := fs.Int("batch", 1000, "patients per write transaction while loading")
	jsonFile := fs.String("json", "", "also write the results as JSON to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the $match queries to this file")
	var mcfg config
	mpiFlags(fs, &mcfg)
	explain := fs.Bool("explain", false, "list on stderr each certain or probable pair that is two people, and each true pair missed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *patients < 2 || *queries < 1 || *batch < 1 {
		return usageError{errors.New("--patients must be at least 2, --queries and --batch at least 1")}
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	state, err := loadMPIBenchState(*dataDir, *dbURL, *seed, *patients)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := openApp(ctx, config{dataDir: *dataDir, dbURL: *dbURL, maxBody: fhirapi.DefaultMaxBodyBytes, mpiModel: mcfg.mpiModel, mpiPerKey: mcfg.mpiPerKey, mpiCandidates: mcfg.mpiCandidates}, logger)
	if err != nil {
		return err
	}
	defer func() { a.close() }()

	report := mpiBenchReport{Version: versionString(), Backend: a.backend, Patients: *patients, Seed: *seed}
	if state.Loaded < state.Patients {
		load, err := loadMPIPopulation(ctx, a.store, *dataDir, state, *batch, stderr)
		if err != nil {
			return err
		}
		report.Load = load
		// Measure what a server started on the loaded database sees: the
		// store closes (SQLite checkpoints its WAL and refreshes the
		// planner's statistics) and opens again.
		a.close()
		if a, err = openApp(ctx, config{dataDir: *dataDir, dbURL: *dbURL, maxBody: fhirapi.DefaultMaxBodyBytes, mpiModel: mcfg.mpiModel, mpiPerKey: mcfg.mpiPerKey, mpiCandidates: mcfg.mpiCandidates}, logger); err != nil {
			return err
		}
	}
	truth, err := readMPITruth(*dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "emr mpi bench: %d patients (seed %d) in %s\n", *patients, *seed, a.dbPath)
	if l := report.Load; l != nil {
		fmt.Fprintf(stdout, "load: %d patients in %.1f s, %.0f patients/s\n", l.Resources, l.Seconds, l.ResourcesPerSecond)
	}

	api := asCaller(a.api, &access.Principal{User: "emr mpi bench", Role: "admin"})
	ids := sampleIDs(truth, *queries)
	report.Queries = len(ids)
	var latencies []time.Duration
	var results []matchResult
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	p := newProgress(stderr, "queries")
	for i, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, err := a.store.Read(ctx, "Patient", id)
		if err != nil {
			return fmt.Errorf("read the query patient %s: %w", id, err)
		}
		query := v.Resource.Clone()
		delete(query, "id")
		delete(query, "meta")
		body := `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":` + string(query.JSON()) + `}]}`
		start := time.Now()
		found, err := postMatch(api, body)
		latencies = append(latencies, time.Since(start))
		if err != nil {
			return fmt.Errorf("$match of %s: %w", id, err)
		}
		results = append(results, matchResult{query: id, found: found})
		p.update(int64(i+1), int64(len(ids)))
	}
	p.finish()
	if *explain {
		explainMatches(ctx, stderr, a.store, results, truth)
	}
	report.Latency = latencyFigures(latencies)
	report.Grades = gradeFigures(results, truth)
	printMPIBench(stdout, report)
	if *jsonFile != "" {
		data, _ := json.MarshalIndent(report, "", "  ")
		if err := os.WriteFile(*jsonFile, append(data, '\n'), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// loadMPIBenchState reads the bench state of dir, or starts one; a
// database it did not load is refused (EMR_DATA configures serve too:
// never fill a real database with generated patients).
func loadMPIBenchState(dir, dbURL string, seed int64, patients int) (*mpiBenchState, error) {
	path := filepath.Join(dir, mpiBenchStateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, "emr.db")); err == nil && dbURL == "" {
			return nil, fmt.Errorf("%s holds a database that emr mpi bench did not create; give --data an empty directory", dir)
		}
		return &mpiBenchState{Seed: seed, Patients: patients}, nil
	}
	if err != nil {
		return nil, err
	}
	var st mpiBenchState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Seed != seed || st.Patients != patients {
		return nil, usageError{fmt.Errorf("%s holds %d patients of seed %d; give those, or another --data", dir, st.Patients, st.Seed)}
	}
	return &st, nil
}

// loadMPIPopulation stores the dataset's records from state.Loaded on, in
// dataset order with ids mb-<index>, saving the state and the truth after
// each transaction so that an interrupted load resumes.
func loadMPIPopulation(ctx context.Context, st store.Store, dir string, state *mpiBenchState, batch int, progressTo io.Writer) (*benchLoad, error) {
	truthFile, err := os.OpenFile(filepath.Join(dir, mpiTruthFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer truthFile.Close()
	from := state.Loaded
	start := time.Now()
	p := newProgress(progressTo, "patients")
	var (
		pending []mpi.Record
		lines   strings.Builder
		index   int
		stopErr error
	)
	flush := func() error {
		first := state.Loaded
		err := st.Write(ctx, func(tx store.Tx) error {
			for i, r := range pending {
				res := r.Patient.Clone()
				res.SetID("mb-" + strconv.Itoa(first+i))
				if _, _, err := tx.Update(res, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		lines.Reset()
		for i, r := range pending {
			fmt.Fprintf(&lines, "mb-%d\t%d\n", first+i, r.PersonID)
		}
		if _, err := truthFile.WriteString(lines.String()); err != nil {
			return err
		}
		state.Loaded += len(pending)
		pending = pending[:0]
		p.update(int64(state.Loaded), int64(state.Patients))
		data, _ := json.Marshal(state)
		return os.WriteFile(filepath.Join(dir, mpiBenchStateFile), data, 0o600)
	}
	mpi.Generate(state.Seed, state.Patients).Each(func(r mpi.Record) {
		defer func() { index++ }()
		if stopErr != nil || index < state.Loaded {
			return
		}
		if stopErr = ctx.Err(); stopErr != nil {
			return
		}
		pending = append(pending, r)
		if len(pending) == batch {
			stopErr = flush()
		}
	})
	if stopErr == nil && len(pending) > 0 {
		stopErr = flush()
	}
	p.finish()
	if stopErr != nil {
		return nil, fmt.Errorf("load (run again to continue): %w", stopErr)
	}
	elapsed := time.Since(start)
	n := int64(state.Loaded - from)
	return &benchLoad{From: from, To: state.Loaded, Resources: n, Seconds: elapsed.Seconds(), ResourcesPerSecond: float64(n) / elapsed.Seconds()}, nil
}

// readMPITruth reads who is whom: patient id → person.
func readMPITruth(dir string) (map[string]int, error) {
	f, err := os.Open(filepath.Join(dir, mpiTruthFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	truth := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, person, ok := strings.Cut(sc.Text(), "\t")
		n, err := strconv.Atoi(person)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s: bad line %q", mpiTruthFile, sc.Text())
		}
		truth[id] = n
	}
	return truth, sc.Err()
}

// sampleIDs picks n patients spread evenly over the population, half of
// them among the patients that have a duplicate (recall needs them), in a
// fixed order.
func sampleIDs(truth map[string]int, n int) []string {
	size := map[int]int{}
	for _, person := range truth {
		size[person]++
	}
	var dup, single []string
	for i := range len(truth) {
		id := "mb-" + strconv.Itoa(i)
		if size[truth[id]] > 1 {
			dup = append(dup, id)
		} else {
			single = append(single, id)
		}
	}
	pick := func(from []string, k int) []string {
		if k >= len(from) {
			return from
		}
		out := make([]string, 0, k)
		for i := range k {
			out = append(out, from[i*len(from)/k])
		}
		return out
	}
	half := n / 2
	out := pick(dup, half)
	return append(out, pick(single, n-len(out))...)
}

// matchResult is what $match answered for one stored patient.
type matchResult struct {
	query string
	found []matchFound
}

type matchFound struct {
	id    string
	grade string
}

func postMatch(h http.Handler, body string) ([]matchFound, error) {
	req := httptest.NewRequest(http.MethodPost, "http://localhost/fhir/Patient/$match", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.300s", rec.Code, rec.Body)
	}
	b, err := fhir.ParseResource(rec.Body.Bytes())
	if err != nil {
		return nil, err
	}
	var out []matchFound
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		entry, _ := e.(map[string]any)
		res, _ := entry["resource"].(map[string]any)
		search, _ := entry["search"].(map[string]any)
		exts, _ := search["extension"].([]any)
		grade := ""
		if len(exts) > 0 {
			grade, _ = exts[0].(map[string]any)["valueCode"].(string)
		}
		out = append(out, matchFound{id: fhir.Resource(res).ID(), grade: grade})
	}
	return out, nil
}

func latencyFigures(ds []time.Duration) map[string]float64 {
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := min(len(ds)-1, int(q*float64(len(ds))))
		return float64(ds[i].Microseconds()) / 1000
	}
	return map[string]float64{"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": at(1)}
}

// gradeFigures computes precision per grade and recall from the truth:
// the query's own stored record is left out of what $match found.
func gradeFigures(results []matchResult, truth map[string]int) map[string]mpiGradeFigures {
	size := map[int]int{}
	for _, person := range truth {
		size[person]++
	}
	levels := map[string][]string{
		"certain": {"certain"}, "probable": {"probable"}, "possible": {"possible"},
		"certain+probable": {"certain", "probable"}, "all": {"certain", "probable", "possible"},
	}
	out := map[string]mpiGradeFigures{}
	for name, grades := range levels {
		var f mpiGradeFigures
		for _, r := range results {
			person := truth[r.query]
			f.TruePairs += size[person] - 1
			for _, m := range r.found {
				if m.id == r.query || !slices.Contains(grades, m.grade) {
					continue
				}
				f.Pairs++
				if truth[m.id] == person {
					f.True++
				}
			}
		}
		if f.Pairs > 0 {
			f.Precision = float64(f.True) / float64(f.Pairs)
		}
		if f.TruePairs > 0 {
			f.Recall = float64(f.True) / float64(f.TruePairs)
		}
		out[name] = f
	}
	return out
}

func printMPIBench(w io.Writer, r mpiBenchReport) {
	fmt.Fprintf(w, "$match of %d stored patients: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		r.Queries, r.Latency["p50"], r.Latency["p90"], r.Latency["p99"], r.Latency["max"])
	fmt.Fprintf(w, "%-17s %8s %8s %10s %8s\n", "grade", "pairs", "true", "precision", "recall")
	for _, name := range []string{"certain", "probable", "possible", "certain+probable", "all"} {
		f := r.Grades[name]
		fmt.Fprintf(w, "%-17s %8d %8d %9.3f%% %7.2f%%\n", name, f.Pairs, f.True, 100*f.Precision, 100*f.Recall)
	}
}

// explainMatches lists the errors of the certain and probable grades: each
// pair graded so that is two people, and each true pair not graded so,
// with both patients' names and birth dates, for tuning the model.
func explainMatches(ctx context.Context, w io.Writer, st store.Store, results []matchResult, truth map[string]int) {
	describe := func(id string) string {
		v, err := st.Read(ctx, "Patient", id)
		if err != nil {
			return id + " (" + err.Error() + ")"
		}
		p := v.Resource
		return fmt.Sprintf("%s %v %v %v %v", id, p["name"], p["birthDate"], p["telecom"], p["address"])
	}
	byPerson := map[int][]string{}
	for id, person := range truth {
		byPerson[person] = append(byPerson[person], id)
	}
	for _, r := range results {
		found := map[string]string{}
		for _, m := range r.found {
			found[m.id] = m.grade
			if m.id != r.query && (m.grade == "certain" || m.grade == "probable") && truth[m.id] != truth[r.query] {
				fmt.Fprintf(w, "two people graded %s:\n  %s\n  %s\n", m.grade, describe(r.query), describe(m.id))
			}
		}
		for _, other := range byPerson[truth[r.query]] {
			if g := found[other]; other != r.query && g != "certain" && g != "probable" {
				fmt.Fprintf(w, "one person graded %q:\n  %s\n  %s\n", g, describe(r.query), describe(other))
			}
		}
	}
}
