package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// GeneratorVersion changes whenever the generator's output changes, so
// that a data directory never mixes patients of two versions.
const GeneratorVersion = 1

// StateFile is the name, inside the data directory, of the file recording
// what has been loaded.
const StateFile = "bench-state.json"

// State is what a data directory holds: Patients patients 0..Patients-1 of
// the generator with these Options, in Resources resources. It is written
// after every committed batch, so an interrupted load resumes where it
// stopped; a batch committed but not yet recorded is simply written again
// (same ids, so new versions, never duplicates).
type State struct {
	// Generator is GeneratorVersion at the time of loading.
	Generator int     `json:"generator"`
	Options   Options `json:"options"`
	Patients  int     `json:"patients"`
	Resources int64   `json:"resources"`
}

// ReadState returns the state of dir, or a zero State when nothing was loaded.
func ReadState(dir string) (State, error) {
	var s State
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("bench: read state: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("bench: read state %s: %w", filepath.Join(dir, StateFile), err)
	}
	return s, nil
}

// writeState replaces the state file atomically (write, fsync, rename).
func writeState(dir string, s State) error {
	data, _ := json.MarshalIndent(s, "", "  ")
	tmp := filepath.Join(dir, StateFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("bench: write state: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, StateFile))
	}
	if err != nil {
		return fmt.Errorf("bench: write state: %w", err)
	}
	return nil
}

// LoadOptions configure Load.
type LoadOptions struct {
	Dir       string // where the state file lives (the data directory)
	Patients  int    // load until this many patients are stored
	BatchSize int    // patients per transaction (default 50)
	Workers   int    // generating goroutines (default GOMAXPROCS)
	// Progress, when not nil, receives a progress line every Interval
	// (default 2s) and a summary at the end.
	Progress io.Writer
	Interval time.Duration
}

// LoadResult says what one Load call did.
type LoadResult struct {
	From, To  int   // patients From..To-1 were written by this call
	Resources int64 // resources written by this call
	Elapsed   time.Duration
	State     State // the directory's state afterwards
}

// ResourcesPerSecond is the load throughput.
func (r LoadResult) ResourcesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Resources) / r.Elapsed.Seconds()
}

// batch is the resources of patients [start, start+n).
// clinicalUpTo is how many of the first n patients have clinical data.
func clinicalUpTo(o Options, n int) int {
	if o.ClinicalPatients <= 0 {
		return n
	}
	return min(n, o.ClinicalPatients)
}

type batch struct {
	start, n  int
	resources []fhir.Resource
}

// Load writes generated patients into st until opt.Patients are stored,
// keeping those already there. Several goroutines generate batches in
// parallel; one writes them in order, one transaction per batch, so the
// state file always describes a prefix of the population. It fails if dir
// was loaded with other generator options (another seed, say).
func Load(ctx context.Context, st store.Store, g *Generator, opt LoadOptions) (LoadResult, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 50
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Interval <= 0 {
		opt.Interval = 2 * time.Second
	}
	state, err := ReadState(opt.Dir)
	if err != nil {
		return LoadResult{}, err
	}
	sameButClinical := state.Options
	sameButClinical.ClinicalPatients = g.opt.ClinicalPatients
	if state.Patients > 0 && sameButClinical != g.opt {
		return LoadResult{}, fmt.Errorf("bench: %s holds patients generated with %+v, not %+v; use the same seed or another data directory",
			opt.Dir, state.Options, g.opt)
	}
	if state.Patients > 0 && state.Generator != GeneratorVersion {
		return LoadResult{}, fmt.Errorf("bench: %s was loaded by generator version %d, this is version %d; use another data directory",
			opt.Dir, state.Generator, GeneratorVersion)
	}
	if state.Patients > 0 && clinicalUpTo(state.Options, state.Patients) != clinicalUpTo(g.opt, state.Patients) {
		return LoadResult{}, fmt.Errorf("bench: %s holds %d patients with clinical data up to patient %d; --clinical %d would disagree; use another data directory",
			opt.Dir, state.Patients, clinicalUpTo(state.Options, state.Patients), g.opt.ClinicalPatients)
	}
	state.Options, state.Generator = g.opt, GeneratorVersion
	res := LoadResult{From: state.Patients, To: state.Patients, State: state}
	if state.Patients >= opt.Patients {
		return res, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Futures in patient order: the writer waits on each in turn while the
	// workers fill them in any order. The buffer bounds memory.
	jobs := make(chan chan batch, 2*opt.Workers)
	work := make(chan func(), 2*opt.Workers)
	for range opt.Workers {
		go func() {
			for f := range work {
				f()
			}
		}()
	}
	go func() {
		defer close(jobs)
		defer close(work)
		for start := state.Patients; start < opt.Patients; start += opt.BatchSize {
			n := min(opt.BatchSize, opt.Patients-start)
			out := make(chan batch, 1)
			job := func() {
				b := batch{start: start, n: n}
				for i := start; i < start+n; i++ {
					b.resources = append(b.resources, g.Patient(i).Resources...)
				}
				out <- b
			}
			select {
			case work <- job:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- out:
			case <-ctx.Done():
				return
			}
		}
	}()

	begin := time.Now()
	// The writer updates state; progress reads only these and the atomics.
	startPatients, startResources := int64(state.Patients), state.Resources
	var written atomic.Int64
	var done atomic.Int64
	done.Store(int64(state.Patients))
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if opt.Progress == nil {
			return
		}
		t := time.NewTicker(opt.Interval)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				elapsed := time.Since(begin)
				rate := float64(written.Load()) / elapsed.Seconds()
				d := done.Load()
				eta := "?"
				if p := float64(d-startPatients) / elapsed.Seconds(); p > 0 {
					eta = (time.Duration(float64(int64(opt.Patients)-d)/p) * time.Second).Round(time.Second).String()
				}
				fmt.Fprintf(opt.Progress, "bench: loaded %d/%d patients, %d resources, %.0f resources/s, ETA %s\n",
					d, opt.Patients, startResources+written.Load(), rate, eta)
			}
		}
	}()

	var loadErr error
	for out := range jobs {
		var b batch
		select {
		case b = <-out:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			loadErr = ctx.Err()
			break
		}
		err := st.Write(ctx, func(tx store.Tx) error {
			for _, r := range b.resources {
				if _, _, err := tx.Update(r, 0); err != nil {
					return fmt.Errorf("%s/%s: %w", r.Type(), r.ID(), err)
				}
			}
			return nil
		})
		if err != nil {
			loadErr = fmt.Errorf("bench: load patients %d–%d: %w", b.start, b.start+b.n-1, err)
			break
		}
		state.Patients = b.start + b.n
		state.Resources += int64(len(b.resources))
		if err := writeState(opt.Dir, state); err != nil {
			loadErr = err
			break
		}
		written.Add(int64(len(b.resources)))
		done.Store(int64(state.Patients))
	}
	cancel()
	close(stopProgress)
	<-progressDone
	res.To, res.Resources, res.Elapsed, res.State = state.Patients, written.Load(), time.Since(begin), state
	if opt.Progress != nil {
		fmt.Fprintf(opt.Progress, "bench: loaded patients %d–%d: %d resources in %s, %.0f resources/s\n",
			res.From, res.To, res.Resources, res.Elapsed.Round(time.Millisecond), res.ResourcesPerSecond())
	}
	return res, loadErr
}
