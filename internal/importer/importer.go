package importer

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/store"
)

// Converter turns an R4 resource into its R5 form. It returns an error
// (any error; its message is reported with the resource's location) for a
// resource it cannot convert. The import no longer uses the R4 resource
// it gives: the result may share parts of it. The R4→R5 converter of
// internal/fhir/r4 is plugged in here by cmd/emr.
type Converter func(fhir.Resource) (res fhir.Resource, kept int, err error)

// Validator checks a resource before it is stored; a result with an issue
// of severity error or fatal rejects it. *validate.Validator is one.
type Validator interface {
	Validate(res fhir.Resource) []fhir.Issue
}

// Options configure an import.
type Options struct {
	Store     store.Store
	Validator Validator
	// FHIRVersion is the version of every file: VersionAuto (the default,
	// "") detects it per file, VersionR4 and VersionR5 force it.
	FHIRVersion Version
	// ConvertR4 converts R4 resources to R5; nil refuses R4 files.
	ConvertR4 Converter
	// Label, when set, marks each resource before it is validated (the
	// security labels of sensitive categories, as the API does).
	Label func(fhir.Resource)
	// Workers parse and validate in parallel (default GOMAXPROCS).
	Workers int
	// BatchSize is the number of resources written per Store.Write (default
	// 500); a transaction Bundle is never split, so a batch may be larger.
	BatchSize int
	// Progress, when set, is called now and then from one goroutine with
	// the resources done and an estimate of the total (from the bytes read
	// so far), which is exact once done == total.
	Progress func(done, total int64)
	// Report, when set, is called from one goroutine for every problem as
	// it is found.
	Report func(Problem)
	// Audit, when set, is called inside each write transaction with the
	// versions it created or updated (unchanged resources are not
	// written), so that the audit record of what was imported commits
	// with it, or neither does. cmd/emr records an AuditEvent per patient.
	Audit func(tx store.Tx, written []*store.Version) error
	// Created, when set, is called after each committed write with the
	// resources it created (not those updated or unchanged), from the one
	// writing goroutine: cmd/emr asks the patient matcher about each new
	// Patient there. An error stops the import. During a bulk load (see
	// Import) searches scan whole tables: a Created that searches should
	// ask store.BulkLoader.BulkLoading and leave its searches until Import
	// has returned.
	Created func(ctx context.Context, created []*store.Version) error
}

// Problem is a file, line, entry or resource that was not imported.
type Problem struct {
	File string
	// Where is the location inside File: "line 12", "entry 3", or "" for
	// the whole file.
	Where   string
	Type    string // resource type, when known
	Message string
}

func (p Problem) String() string {
	loc := p.File
	if p.Where != "" {
		loc += ": " + p.Where
	}
	if p.Type != "" {
		loc += " (" + p.Type + ")"
	}
	return loc + ": " + p.Message
}

// Counts are the outcomes of one resource type. Read = Created + Updated +
// Unchanged + Failed.
type Counts struct {
	Read, Created, Updated, Unchanged, Failed int64
	// Kept counts the elements of R4 input with no R5 home, kept as
	// cross-version extensions (not a failure: nothing is lost).
	Kept int64
}

func (c *Counts) add(o Counts) {
	c.Read += o.Read
	c.Created += o.Created
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Failed += o.Failed
	c.Kept += o.Kept
}

// Summary is the outcome of an import.
type Summary struct {
	Files  int               // files read
	ByType map[string]Counts // per resource type
	// Problems are every problem reported, sorted by file and position.
	Problems []Problem
	// Skipped are files that hold no FHIR data (e.g. a bulk export's
	// log.ndjson), with why; they are not problems.
	Skipped []Problem
}

// Total sums the counts of every type.
func (s *Summary) Total() Counts {
	var t Counts
	for _, c := range s.ByType {
		t.add(c)
	}
	return t
}

// Types returns the resource types in the summary, sorted.
func (s *Summary) Types() []string {
	types := make([]string, 0, len(s.ByType))
	for t := range s.ByType {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// OK reports whether everything read was imported.
func (s *Summary) OK() bool { return len(s.Problems) == 0 }

// Import reads every path (a file, or a directory walked recursively for
// *.json and *.ndjson files) into opts.Store. Bad files and resources are
// reported in the Summary and skipped; the error is for what stops the
// whole import: a path that cannot be read, a store that fails, or ctx
// being cancelled. Whatever was committed before an error stays.
//
// Into a store that holds no resources, Import loads in bulk when the
// store can (store.BulkLoader): the store builds most of its search
// indexes once, when the import ends (however it ends), instead of row by
// row.
func Import(ctx context.Context, opts Options, paths ...string) (sum *Summary, err error) {
	if opts.Store == nil || opts.Validator == nil {
		return nil, fmt.Errorf("import: Store and Validator are required")
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	files, totalBytes, err := listFiles(paths)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if bl, ok := opts.Store.(store.BulkLoader); ok {
		bulk, err := bl.BeginBulk(ctx)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		if bulk {
			defer func() {
				// Even when cancelled: the indexes are built now rather
				// than at the store's next Open.
				if eerr := bl.EndBulk(context.WithoutCancel(ctx)); eerr != nil && err == nil {
					err = fmt.Errorf("import: %w", eerr)
				}
			}()
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	jobs := make(chan *job, opts.Workers*2)
	results := make(chan *result, opts.Workers*2)
	var readErr error
	go func() {
		defer close(jobs)
		readErr = readFiles(ctx, opts, files, jobs)
	}()
	var wg sync.WaitGroup
	gate := newCores(opts.Workers)
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				gate.enter()
				r := readied(opts.Store, process(opts, j))
				gate.leave()
				select {
				case results <- r:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	w := newWriter(ctx, opts, totalBytes)
	w.gate, w.waiting = gate, func() int { return len(results) }
	w.summary.Files = len(files)
	werr := w.run(results)
	if werr != nil {
		cancel(werr)
		for range results { // let the workers and the reader finish
		}
	}
	sum = w.summary
	sortProblems(sum.Problems)
	sortProblems(sum.Skipped)
	switch {
	case werr != nil:
		return sum, fmt.Errorf("import: %w", werr)
	case readErr != nil:
		return sum, fmt.Errorf("import: %w", readErr)
	case ctx.Err() != nil:
		return sum, fmt.Errorf("import: %w", context.Cause(ctx))
	}
	return sum, nil
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return positionOf(ps[i].Where) < positionOf(ps[j].Where)
	})
}

// positionOf is the number in "line 12" or "entry 3", for sorting.
func positionOf(where string) int {
	_, num, _ := strings.Cut(where, " ")
	n := 0
	for _, r := range num {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// ConvertR4 is the R4→R5 conversion of internal/fhir/r4 as a Converter:
// kept counts the elements with no R5 home, kept as cross-version
// extensions. The result shares what R4 and R5 define alike with res
// (r4.ToR5Owned), which the import drops once converted.
func ConvertR4(res fhir.Resource) (fhir.Resource, int, error) {
	out, rep, err := r4.ToR5Owned(res)
	if err != nil {
		return nil, 0, err
	}
	return out, rep.KeptTotal(), nil
}
