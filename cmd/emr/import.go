package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"text/tabwriter"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/importer"
	"github.com/emr-project/emr/internal/mpi"
)

// errImportIncomplete makes `emr import` exit 1 after it has imported what
// it could: the problems are already printed.
var errImportIncomplete = errors.New("some files or resources were not imported (see above)")

// runImport loads FHIR Bundles and NDJSON files into the store.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	fs.Usage = importUsage(fs.Usage, stderr)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database")
	dbFlags(fs, &cfg, false)
	auditFlags(fs, &cfg)
	fs.BoolVar(&cfg.invariants, "invariants", true, "check the R5 invariants (FHIRPath constraints) of every resource")
	fhirVersion := fs.String("fhir-version", "auto", "FHIR version of the input: auto (detected per file), 4.0 or 5.0")
	batch := fs.Int("batch", 500, "resources written per transaction")
	workers := fs.Int("workers", 0, "parallel parsers and validators; 0 means one per CPU")
	mpiFlags(fs, &cfg)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the import to this file")
	// Paths and flags may come in any order (emr import dir --data x):
	// parse up to each path, set it aside and go on; parseFlags then only
	// fills the flags not given from the environment.
	paths, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usageError{errors.New("no PATH given: emr import [flags] PATH…")}
	}
	version, err := importer.ParseVersion(*fhirVersion)
	if err != nil {
		return usageError{fmt.Errorf("--fhir-version: %v", err)}
	}
	if *batch < 1 {
		return usageError{errors.New("--batch must be at least 1")}
	}

	if os.Getenv("GOGC") == "" {
		// An import allocates at a great rate and holds little (a few
		// batches): collecting garbage less often costs some 150 MB and
		// gains about a tenth of the time.
		debug.SetGCPercent(400)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	defs := spec.R5()
	st, dbPath, err := openStore(ctx, cfg, defs)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "importing into %s\n", dbPath)
	auditor := importAuditor{agent: audit.Agent{User: "cli:" + osUser()}}
	matcher, err := newMatcher(cfg, st, defs)
	if err != nil {
		return err
	}
	dups := &importDuplicates{matcher: matcher, store: st, queue: &mpi.Queue{Records: st}}
	p := newProgress(stderr, "resources")
	sum, err := importer.Import(ctx, importer.Options{
		Store:       st,
		Validator:   newValidator(defs, cfg.invariants),
		FHIRVersion: version,
		ConvertR4:   importer.ConvertR4,
		Label:       access.DefaultLabeler().Label,
		Audit:       auditor.batch,
		Created:     dups.check,
		Workers:     *workers,
		BatchSize:   *batch,
		Progress:    p.update,
		Report: func(pr importer.Problem) {
			if p.tty {
				fmt.Fprint(stderr, "\r\033[K")
			}
			fmt.Fprintln(stderr, pr)
		},
	}, paths...)
	if ctx.Err() == nil {
		// The patients created in a bulk load, now that the indexes are
		// built; before the last progress line, whose rate counts them.
		if derr := dups.checkDeferred(ctx); derr != nil && err == nil {
			err = fmt.Errorf("import: duplicate check: %w", derr)
		}
	}
	p.finish()
	if sum != nil {
		printSummary(stdout, sum)
		dups.print(stdout)
	}
	if aerr := auditor.recordRun(st, paths, sum, err); aerr != nil && err == nil {
		return fmt.Errorf("recording the import in the audit log: %w", aerr)
	}
	if err != nil {
		return err
	}
	if !sum.OK() {
		return errImportIncomplete
	}
	return nil
}

// printSummary writes the table of outcomes per resource type.
func printSummary(w io.Writer, sum *importer.Summary) {
	for _, s := range sum.Skipped {
		fmt.Fprintf(w, "skipped %s\n", s)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "type\tread\tcreated\tupdated\tunchanged\tfailed\tkept as extensions\t")
	row := func(name string, c importer.Counts) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", name, c.Read, c.Created, c.Updated, c.Unchanged, c.Failed, c.Kept)
	}
	for _, t := range sum.Types() {
		row(t, sum.ByType[t])
	}
	row("total", sum.Total())
	tw.Flush()
	fmt.Fprintf(w, "%d files, %d problems\n", sum.Files, len(sum.Problems))
	if k := sum.Total().Kept; k > 0 {
		fmt.Fprintf(w, "%d elements of R4 input have no R5 home and were kept as cross-version extensions\n", k)
	}
}

func importUsage(flags func(), stderr io.Writer) func() {
	return func() {
		fmt.Fprintln(stderr, "emr import [flags] PATH…: load FHIR JSON Bundles (transaction, batch, collection),")
		fmt.Fprintln(stderr, "single resources and NDJSON files, or directories of them (recursively), into the store.")
		fmt.Fprintln(stderr, "Ids are kept, so running it again creates nothing new. Exit code 0 when everything was")
		fmt.Fprintln(stderr, "imported, 1 when some file or resource failed (the rest is imported), 2 for usage errors.")
		fmt.Fprintln(stderr)
		flags()
	}
}
