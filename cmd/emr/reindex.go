package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/emr-project/emr/internal/fhir/spec"
)

// runReindex rebuilds the search index of every current resource, e.g.
// after an upgrade that changed the definitions or the extraction rules.
// It can be interrupted and run again: it carries on where it stopped.
func runReindex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reindex", stderr)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database")
	dbFlags(fs, &cfg, false)
	auditFlags(fs, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, dbPath, err := openStore(ctx, cfg, spec.R5())
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "reindexing %s\n", dbPath)
	p := newProgress(stderr, "resources")
	err = st.Reindex(ctx, p.update)
	p.finish()
	if err != nil {
		return fmt.Errorf("reindex: %w (run it again to continue)", err)
	}
	fmt.Fprintln(stdout, "reindex complete")
	return nil
}

// progress reports done/total with a rate and an ETA: rewritten in place on
// a terminal, one line every few seconds otherwise.
type progress struct {
	w         io.Writer
	unit      string
	tty       bool
	start     time.Time
	last      time.Time
	done, all int64
	shown     int64 // done at the last line printed, -1 before any
}

func newProgress(w io.Writer, unit string) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	now := time.Now()
	return &progress{w: w, unit: unit, tty: tty, start: now, last: now, shown: -1}
}

func (p *progress) update(done, total int64) {
	p.done, p.all = done, total
	now := time.Now()
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if (now.Sub(p.last) < every && done < total) || done == p.shown {
		return
	}
	p.last = now
	p.print()
}

func (p *progress) print() {
	p.shown = p.done
	elapsed := time.Since(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed
	}
	eta := "?"
	if rate > 0 && p.all >= p.done {
		eta = (time.Duration(float64(p.all-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	line := fmt.Sprintf("%d/%d %s, %.0f/s, ETA %s", p.done, p.all, p.unit, rate, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) finish() {
	// Again when the work went on after the last line (an import's index
	// build and duplicate check): the last line gives the whole's rate.
	if p.shown != p.done || time.Since(p.last) >= 100*time.Millisecond {
		p.print()
	}
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
