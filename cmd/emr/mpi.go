package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/store"
)

// mpiFlags adds the matching flags shared by serve, import and mpi.
func mpiFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.mpiModel, "mpi-model", "", "JSON file of patient-matching weights and grade thresholds, changing the defaults (docs/mpi.md); emr mpi estimate writes one")
	fs.IntVar(&cfg.mpiPerKey, "mpi-per-key", mpi.DefaultPerKey, "patients taken per blocking key when matching")
	fs.IntVar(&cfg.mpiCandidates, "mpi-candidates", mpi.DefaultCandidates, "patients scored per match")
}

// newMatcher builds the matching service on st with the model of cfg.
func newMatcher(cfg config, st store.KeyMatcher, defs *spec.Definitions) (*mpi.Matcher, error) {
	model := mpi.DefaultModel()
	if cfg.mpiModel != "" {
		data, err := os.ReadFile(cfg.mpiModel)
		if err != nil {
			return nil, fmt.Errorf("--mpi-model: %w", err)
		}
		if err := model.UnmarshalJSON(data); err != nil {
			return nil, usageError{fmt.Errorf("--mpi-model %s: %w", cfg.mpiModel, err)}
		}
	}
	if cfg.mpiPerKey < 0 || cfg.mpiCandidates < 0 {
		return nil, usageError{errors.New("--mpi-per-key and --mpi-candidates must not be negative")}
	}
	return &mpi.Matcher{Model: model, Keys: st, Definitions: defs, PerKey: cfg.mpiPerKey, Candidates: cfg.mpiCandidates}, nil
}

// runMPI runs the master patient index commands.
func runMPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "Usage: emr mpi scan|pairs|bench [flags]\n\n  scan   match every patient and queue the likely duplicate pairs for review (resumable)\n  pairs  list the review queue's pairs\n  estimate  re-estimate the matching weights from the patients in the database (EM), for --mpi-model\n  bench  load a generated, hard population and measure $match: latency, precision and recall")
		if len(args) == 0 {
			return usageError{errors.New("no mpi command given")}
		}
		return nil
	}
	switch args[0] {
	case "scan":
		return runMPIScan(ctx, args[1:], stdout, stderr)
	case "pairs":
		return runMPIPairs(ctx, args[1:], stdout, stderr)
	case "bench":
		return runMPIBench(ctx, args[1:], stdout, stderr)
	case "estimate":
		return runMPIEstimate(ctx, args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown mpi command %q (try scan or pairs)", args[0])}
}

// runMPIScan finds the duplicates already in the database: every patient
// is matched as at registration and each pair at --min or above joins the
// review queue (Patient/$duplicates). Interrupted, it carries on where it
// stopped when run again; pairs proposed before, and pairs a reviewer
// called distinct, are never proposed again.
func runMPIScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mpi scan", stderr)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database")
	dbFlags(fs, &cfg, false)
	auditFlags(fs, &cfg)
	mpiFlags(fs, &cfg)
	minGrade := fs.String("min", "probable", "weakest grade queued: certain, probable or possible")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "blocks compared in parallel")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the scan to this file")
	cache := fs.Int("cache", 2000000, "patients kept in memory between blocks (about 3 KB each; fewer means more reads)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	min, err := mpi.ParseGrade(*minGrade)
	if err != nil || min == mpi.None {
		return usageError{fmt.Errorf("--min: want certain, probable or possible, not %q", *minGrade)}
	}
	defs := spec.R5()
	st, where, err := openStore(ctx, cfg, defs)
	if err != nil {
		return err
	}
	defer st.Close()
	if st.IndexStale() {
		return fmt.Errorf("the search index of %s was built by another version; run emr reindex first (the scan finds candidates through it)", where)
	}
	matcher, err := newMatcher(cfg, st, defs)
	if err != nil {
		return err
	}
	if *cache < 1 || *workers < 1 {
		return usageError{errors.New("--cache and --workers must be at least 1")}
	}
	scanner := &mpi.Scanner{Matcher: matcher, Store: st, Queue: &mpi.Queue{Records: st}, Min: min, Workers: *workers, CachePatients: *cache}
	fmt.Fprintf(stdout, "scanning the patients of %s for duplicates (%s or better)\n", where, min)
	p := newProgress(stderr, "keys")
	start := time.Now()
	stats, err := scanner.Run(ctx, p.update)
	p.finish()
	detail := fmt.Sprintf("duplicate scan: %d keys walked, %d pairs compared, %d pairs queued, %d known before, %d blocks too large to compare",
		stats.Keys, stats.Pairs, stats.Proposed, stats.Known, stats.Skipped)
	e := audit.Entry{Interaction: "operation", Query: "mpi-scan?min=" + min.String(), Agent: audit.Agent{User: "cli:" + osUser()},
		Outcome: audit.Success, Detail: detail, Recorded: time.Now(), Observer: "emr mpi scan"}
	if err != nil {
		e.Outcome, e.Detail = audit.SeriousFailure, detail+"; stopped: "+err.Error()
	}
	if aerr := st.AppendAudit(context.WithoutCancel(ctx), audit.Event(e)); aerr != nil && err == nil {
		err = fmt.Errorf("the audit record failed: %w", aerr)
	}
	if err != nil {
		return fmt.Errorf("scan: %w (run it again to continue)", err)
	}
	if stats.Resumed {
		fmt.Fprintln(stdout, "resumed an interrupted scan")
	}
	fmt.Fprintf(stdout, "%s in %s\n", detail, time.Since(start).Round(time.Millisecond))
	return nil
}

// runMPIPairs prints the review queue.
func runMPIPairs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mpi pairs", stderr)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database")
	dbFlags(fs, &cfg, false)
	auditFlags(fs, &cfg)
	status := fs.String("status", mpi.PairOpen, "pairs of this status: open, merged or distinct")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *status {
	case mpi.PairOpen, mpi.PairMerged, mpi.PairDistinct:
	default:
		return usageError{fmt.Errorf("--status: want open, merged or distinct, not %q", *status)}
	}
	st, _, err := openStore(ctx, cfg, spec.R5())
	if err != nil {
		return err
	}
	defer st.Close()
	pairs, err := (&mpi.Queue{Records: st}).List(ctx, *status, mpi.Possible)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		fmt.Fprintf(stdout, "Patient/%s\tPatient/%s\t%s\t%.4f\t%s\n", p.A, p.B, p.Grade, mpi.Score(p.Score), p.Found.Format(time.RFC3339))
	}
	fmt.Fprintf(stderr, "%d %s pairs\n", len(pairs), *status)
	return nil
}

// importDuplicates asks the matcher about every Patient an import creates,
// once its batch has committed (so a duplicate within one import is found
// too, against the earlier record), and queues each pair at probable or
// better for review: an import never refuses a patient, it reports.
//
// During a bulk load the store's search indexes are built only at its end,
// and a match would scan the whole token table for every patient: the
// patients created meanwhile are matched by checkDeferred, once the import
// has returned, against all the others.
type importDuplicates struct {
	matcher  *mpi.Matcher
	store    store.Store
	queue    *mpi.Queue
	found    []string
	deferred []string // ids of Patients created during a bulk load
}

func (d *importDuplicates) check(ctx context.Context, created []*store.Version) error {
	bl, ok := d.store.(store.BulkLoader)
	bulk := ok && bl.BulkLoading()
	for _, v := range created {
		if v.Type != "Patient" {
			continue
		}
		if bulk {
			d.deferred = append(d.deferred, v.ID)
			continue
		}
		if err := d.match(ctx, v, false); err != nil {
			return err
		}
	}
	return nil
}

// checkDeferred matches the Patients created during a bulk load.
func (d *importDuplicates) checkDeferred(ctx context.Context) error {
	for _, id := range d.deferred {
		v, err := d.store.Read(ctx, "Patient", id)
		switch {
		case fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone):
			continue
		case err != nil:
			return err
		}
		// Both patients of a pair were created by this import, and each
		// finds the other: report the pair once.
		if err := d.match(ctx, v, true); err != nil {
			return err
		}
	}
	d.deferred = nil
	return nil
}

// match queues the pairs of v and the patients it matches; onlyNew leaves
// out of the report the pairs already queued.
func (d *importDuplicates) match(ctx context.Context, v *store.Version, onlyNew bool) error {
	matches, err := d.matcher.Match(ctx, d.store, v.Resource, mpi.Query{Min: mpi.Probable, Exclude: v.ID})
	if err != nil {
		return err
	}
	for _, m := range matches {
		isNew, err := d.queue.Propose(ctx, v.ID, m.Version.ID, m.Result, time.Now())
		if err != nil {
			return err
		}
		if onlyNew && !isNew {
			continue
		}
		d.found = append(d.found, fmt.Sprintf("Patient/%s may be Patient/%s (%s, %.4f)", v.ID, m.Version.ID, m.Grade, mpi.Score(m.Score)))
	}
	return nil
}

func (d *importDuplicates) print(w io.Writer) {
	if len(d.found) == 0 {
		return
	}
	fmt.Fprintf(w, "%d possible duplicate patients, queued for review (emr mpi pairs, Patient/$duplicates):\n", len(d.found))
	for _, f := range d.found {
		fmt.Fprintln(w, "  "+f)
	}
}

// runMPIEstimate estimates the weights of the matching model from the
// patients in the database by expectation–maximisation over the candidate
// pairs blocking finds, and writes them as a model file for --mpi-model.
func runMPIEstimate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mpi estimate", stderr)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database")
	dbFlags(fs, &cfg, false)
	auditFlags(fs, &cfg)
	mpiFlags(fs, &cfg)
	out := fs.String("out", "", "file to write the estimated model to (required)")
	samples := fs.Int("samples", 20000, "patients whose candidate pairs are used (0: all)")
	iterations := fs.Int("iterations", 200, "most EM iterations")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	defs := spec.R5()
	st, where, err := openStore(ctx, cfg, defs)
	if err != nil {
		return err
	}
	defer st.Close()
	matcher, err := newMatcher(cfg, st, defs)
	if err != nil {
		return err
	}
	scanner := &mpi.Scanner{Matcher: matcher, Store: st}
	p := newProgress(stderr, "patients")
	res, pairs, err := scanner.Estimate(ctx, *samples, *iterations, p.update)
	p.finish()
	if err != nil {
		return err
	}
	data, err := res.Model.MarshalJSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	// Reading patients to build a model is an access to their data.
	ev := audit.Event(audit.Entry{Interaction: "operation", Query: fmt.Sprintf("mpi-estimate?samples=%d", *samples),
		Agent: audit.Agent{User: "cli:" + osUser()}, Outcome: audit.Success, Recorded: time.Now(), Observer: "emr mpi estimate",
		Detail: fmt.Sprintf("matching weights estimated from %d candidate pairs, written to %s", pairs, *out)})
	if err := st.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
		return fmt.Errorf("the model is written but the audit record failed: %w", err)
	}
	fmt.Fprintf(stdout, "estimated from %d candidate pairs of %s: match share %.4f, %d iterations (converged: %v); written to %s\n",
		pairs, where, res.Prevalence, res.Iterations, res.Converged, *out)
	fmt.Fprintf(stdout, "use it with --mpi-model %s (serve, import, mpi scan)\n", *out)
	return nil
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
