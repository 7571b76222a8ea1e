package mpi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// scanKind and scanKey name the record holding a scan's progress.
const (
	scanKind = "mpi-scan"
	scanKey  = "progress"
)

// scanPage is how many patients a scan reads at once by default.
const scanPage = 500

// Scanner finds the duplicates already in the store: every current patient
// is matched (through the index, as at registration) and each pair at Min
// or above goes to the review queue. It runs under no caller's access
// limits: it is an administrator's tool, and the queue it fills is shown
// to authorised reviewers only.
type Scanner struct {
	Matcher *Matcher
	Store   store.Store
	Queue   *Queue
	// Min is the weakest grade queued (Probable when zero).
	Min Grade
	// Workers match patients in parallel (default 2).
	Workers int
	// PageSize is how many patients are read at once (default 500); the
	// progress is saved after each page.
	PageSize int
}

// ScanStats says what a scan did.
type ScanStats struct {
	Patients int64 // patients matched by this run
	Proposed int64 // new pairs queued
	Known    int64 // pairs found that were proposed before
	Resumed  bool  // the run went on from an interrupted one
}

// scanProgress is the saved position of a scan: the cursor of the next
// page and the counts so far.
type scanProgress struct {
	Cursor string
	Done   int64
}

// Run scans every patient, calling progress(done, total) as it goes. An
// interrupted scan (error, cancelled context, killed process) resumes
// from the last page it finished when run again; a finished one starts
// over.
func (s *Scanner) Run(ctx context.Context, progress func(done, total int64)) (ScanStats, error) {
	var stats ScanStats
	min := max(s.Min, Possible)
	if s.Min == None {
		min = Probable
	}
	saved, version, err := s.loadProgress(ctx)
	if err != nil {
		return stats, err
	}
	stats.Resumed = saved.Cursor != ""
	total, err := s.countPatients(ctx)
	if err != nil {
		return stats, err
	}
	done := saved.Done
	cursor := saved.Cursor
	for {
		page, next, err := s.page(ctx, cursor)
		if err != nil {
			return stats, err
		}
		if err := s.matchAll(ctx, page, min, &stats); err != nil {
			return stats, err
		}
		done += int64(len(page))
		if progress != nil {
			progress(done, max(total, done))
		}
		if next == "" {
			// Finished: the next run starts from the beginning.
			err := s.saveProgress(ctx, scanProgress{}, &version)
			return stats, err
		}
		cursor = next
		if err := s.saveProgress(ctx, scanProgress{Cursor: cursor, Done: done}, &version); err != nil {
			return stats, err
		}
	}
}

// matchAll matches a page of patients with the workers.
func (s *Scanner) matchAll(ctx context.Context, page []*store.Version, min Grade, stats *ScanStats) error {
	workers := max(s.Workers, 1)
	if s.Workers == 0 {
		workers = 2
	}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(page) || ctx.Err() != nil {
					return
				}
				v := page[i]
				matches, err := s.Matcher.Match(ctx, s.Store, v.Resource, Query{Min: min, Exclude: v.ID})
				var proposed, known int64
				for _, m := range matches {
					if err != nil {
						break
					}
					var isNew bool
					isNew, err = s.Queue.Propose(ctx, v.ID, m.Version.ID, m.Result, time.Now())
					if isNew {
						proposed++
					} else {
						known++
					}
				}
				mu.Lock()
				stats.Patients++
				stats.Proposed += proposed
				stats.Known += known
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// page reads a page of current patients from cursor ("" for the first).
func (s *Scanner) page(ctx context.Context, cursor string) ([]*store.Version, string, error) {
	params := url.Values{"_count": {fmt.Sprint(cmp.Or(s.PageSize, scanPage))}, "_total": {"none"}}
	q, err := search.Parse(s.Matcher.Definitions, "Patient", params, search.ParseOptions{})
	if err != nil {
		return nil, "", err
	}
	q.Cursor = cursor
	res, err := s.Store.Search(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("mpi: scan: %w", err)
	}
	var live []*store.Version
	for _, v := range res.Matches {
		if !replaced(v.Resource) {
			live = append(live, v)
		}
	}
	return live, res.Next, nil
}

func (s *Scanner) countPatients(ctx context.Context) (int64, error) {
	q, err := search.Parse(s.Matcher.Definitions, "Patient", url.Values{"_count": {"0"}, "_total": {"accurate"}}, search.ParseOptions{})
	if err != nil {
		return 0, err
	}
	res, err := s.Store.Search(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("mpi: scan: count: %w", err)
	}
	return res.Total, nil
}

func (s *Scanner) loadProgress(ctx context.Context) (scanProgress, int64, error) {
	var p scanProgress
	rec, err := s.Queue.Records.GetRecord(ctx, scanKind, scanKey)
	switch {
	case fhir.IsKind(err, fhir.KindNotFound):
		return p, 0, nil
	case err != nil:
		return p, 0, fmt.Errorf("mpi: scan progress: %w", err)
	}
	if err := json.Unmarshal(rec.Value, &p); err != nil {
		return scanProgress{}, rec.Version, nil // unreadable: start over
	}
	return p, rec.Version, nil
}

// saveProgress replaces the progress record; version is the one read (0:
// none yet) and becomes the one written. Two scans at once: the second to
// save fails rather than both going on.
func (s *Scanner) saveProgress(ctx context.Context, p scanProgress, version *int64) error {
	value, err := json.Marshal(p)
	if err != nil {
		return err
	}
	v, err := s.Queue.Records.PutRecord(ctx, &store.Record{Kind: scanKind, Key: scanKey, Value: value}, *version)
	if err != nil {
		return fmt.Errorf("mpi: scan progress (is another scan running?): %w", err)
	}
	*version = v
	return nil
}

// replaced reports whether a patient was merged into another (its link
// says replaced-by): it is no longer a person of its own to match.
func replaced(res fhir.Resource) bool {
	links, _ := res["link"].([]any)
	for _, l := range links {
		if m, _ := l.(map[string]any); m["type"] == "replaced-by" {
			return true
		}
	}
	return false
}
