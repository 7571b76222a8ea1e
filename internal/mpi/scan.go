package mpi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
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

// scanPage is how many patients a page of Estimate reads by default.
const scanPage = 500

// Scanner finds the duplicates already in the store, the way record
// linkage does it in bulk: it walks the index of blocking keys in key
// order (store.KeyMatcher.KeyBlocks) and compares the patients within each
// block, each pair once (in the block of the first key the two share), so
// the work grows with the pairs that share a key, not with the square of
// the population. Each pair at Min or above goes to the review queue. It
// runs under no caller's access limits: it is an administrator's tool,
// and the queue it fills is shown to authorised reviewers only.
type Scanner struct {
	Matcher *Matcher
	Store   store.Store
	Queue   *Queue
	// Min is the weakest grade queued (Probable when zero).
	Min Grade
	// Workers compare blocks in parallel (default 2).
	Workers int
	// PageSize is how many patients Estimate reads at once (default 500).
	PageSize int
	// MaxBlock is the largest block compared (default 500): a key shared
	// by more patients (a clinic's phone) says nothing about them; their
	// pairs are found through their other keys.
	MaxBlock int
	// ChunkKeys is how many index rows are compared between two saves of
	// the progress (default 20,000).
	ChunkKeys int
	// CachePatients bounds the patients held in memory between blocks
	// (default 2,000,000; 3.4 GB of memory at 1,000,000): a patient appears in the
	// block of each of its keys, far apart in key order, and is read once
	// while it stays cached.
	CachePatients int
}

// ScanStats says what a scan did.
type ScanStats struct {
	Keys     int64 // index rows (patient, key) walked by this run
	Pairs    int64 // pairs compared
	Proposed int64 // new pairs queued
	Known    int64 // pairs at Min or above that were queued before
	Skipped  int64 // blocks larger than MaxBlock, not compared
	Resumed  bool  // the run went on from an interrupted one
}

// scanProgress is the saved position of a scan: the last key whose block
// was compared, and the index rows done so far.
type scanProgress struct {
	After string
	Done  int64
}

// keyBlock is the patients sharing one blocking key.
type keyBlock struct {
	code string
	ids  []string // nil for a block too large to compare
}

// scanned is a patient as the scan compares it.
type scanned struct {
	person   Person
	keys     []string // sorted
	replaced bool
}

// proposal is a pair found at Min or above.
type proposal struct {
	a, b string
	r    Result
}

// Run scans every patient, calling progress(done, total) in index rows of
// this run (a resumed run counts what was left).
// An interrupted scan (error, cancelled context, killed process) resumes
// after the last chunk it saved when run again; a finished one starts
// over. The pairs of a chunk and its progress commit together.
func (s *Scanner) Run(ctx context.Context, progress func(done, total int64)) (ScanStats, error) {
	var stats ScanStats
	min := cmp.Or(s.Min, Probable)
	maxBlock, chunkKeys := cmp.Or(s.MaxBlock, 500), cmp.Or(s.ChunkKeys, 20000)
	saved, version, err := s.loadProgress(ctx)
	if err != nil {
		return stats, err
	}
	stats.Resumed = saved.After != ""
	total, err := s.Matcher.Keys.KeyCount(ctx, "Patient", KeyParam)
	if err != nil {
		return stats, err
	}
	var (
		chunk []keyBlock
		rows  int64
		done  = saved.Done
		cache = &personCache{m: map[string]*scanned{}, limit: cmp.Or(s.CachePatients, 2000000)}
	)
	flush := func() error {
		found, err := s.compareChunk(ctx, chunk, cache, min, &stats)
		if err != nil {
			return err
		}
		done += rows
		if err := s.saveChunk(ctx, found, scanProgress{After: chunk[len(chunk)-1].code, Done: done}, &version, &stats); err != nil {
			return err
		}
		stats.Keys += rows
		chunk, rows = chunk[:0], 0
		if progress != nil {
			// This run's part, so that a resumed run's rate is its own.
			progress(done-saved.Done, max(total, done)-saved.Done)
		}
		cache.trim()
		return nil
	}
	err = s.Matcher.Keys.KeyBlocks(ctx, "Patient", KeyParam, saved.After, func(code string, ids []string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows += int64(len(ids))
		if len(ids) > maxBlock {
			stats.Skipped++
			ids = nil // nothing to compare, but the place counts
		}
		chunk = append(chunk, keyBlock{code, ids})
		if rows >= int64(chunkKeys) {
			return flush()
		}
		return nil
	})
	if err == nil && len(chunk) > 0 {
		err = flush()
	}
	if err != nil {
		return stats, err
	}
	// Finished: the next run starts from the beginning.
	return stats, s.saveChunk(ctx, nil, scanProgress{}, &version, &stats)
}

// compareChunk compares the pairs of every block of the chunk with the
// workers, each pair in the block of the first key its two patients
// share, and returns those at min or above.
func (s *Scanner) compareChunk(ctx context.Context, chunk []keyBlock, cache *personCache, least Grade, stats *ScanStats) ([]proposal, error) {
	// The patients first, read in batches through the store.
	var missing []string
	for _, b := range chunk {
		for _, id := range b.ids {
			if !cache.has(id) {
				missing = append(missing, id)
				cache.reserve(id)
			}
		}
	}
	// Read by id, each on its own (a point lookup is cheaper than a search
	// by a long _id list), by the workers.
	loaded := make([]*scanned, len(missing))
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		readErr atomic.Value
	)
	workers := cmp.Or(s.Workers, 2)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(missing) || ctx.Err() != nil || readErr.Load() != nil {
					return
				}
				v, err := s.Store.Read(ctx, "Patient", missing[i])
				if err != nil {
					if !fhir.IsKind(err, fhir.KindNotFound) && !fhir.IsKind(err, fhir.KindGone) {
						readErr.Store(err)
					}
					continue
				}
				p := FromPatient(v.Resource)
				keys := p.BlockingKeys()
				slices.Sort(keys)
				loaded[i] = &scanned{person: p, keys: keys, replaced: replaced(v.Resource)}
			}
		}()
	}
	wg.Wait()
	if err := readErr.Load(); err != nil {
		return nil, fmt.Errorf("mpi: scan: %w", err.(error))
	}
	for i, id := range missing {
		cache.put(id, loaded[i])
	}
	next.Store(0)
	var (
		mu       sync.Mutex
		found    []proposal
		compared int64
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []proposal
			var pairs int64
			for {
				i := int(next.Add(1)) - 1
				if i >= len(chunk) || ctx.Err() != nil {
					break
				}
				b := chunk[i]
				for x := 0; x < len(b.ids); x++ {
					a := cache.get(b.ids[x])
					if a == nil || a.replaced {
						continue
					}
					for y := x + 1; y < len(b.ids); y++ {
						c := cache.get(b.ids[y])
						if c == nil || c.replaced || firstShared(a.keys, c.keys) != b.code {
							continue // gone, merged away, or compared in an earlier block
						}
						pairs++
						if r := s.Matcher.Model.Compare(a.person, c.person); r.Grade >= least {
							mine = append(mine, proposal{b.ids[x], b.ids[y], r})
						}
					}
				}
			}
			mu.Lock()
			found = append(found, mine...)
			compared += pairs
			mu.Unlock()
		}()
	}
	wg.Wait()
	stats.Pairs += compared
	return found, ctx.Err()
}

// firstShared returns the first key two sorted key lists share ("" for
// none).
func firstShared(a, b []string) string {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			return a[i]
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return ""
}

// saveChunk queues a chunk's pairs that are new and saves the progress, in
// one transaction: a pair is never queued twice, and a resumed scan
// starts after the last chunk whose pairs are in.
func (s *Scanner) saveChunk(ctx context.Context, found []proposal, p scanProgress, version *int64, stats *ScanStats) error {
	value, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var proposed, known int64
	now := time.Now()
	err = s.Store.Write(ctx, func(tx store.Tx) error {
		proposed, known = 0, 0
		for _, f := range found {
			isNew, err := s.Queue.proposeIn(tx, f.a, f.b, f.r, now)
			if err != nil {
				return err
			}
			if isNew {
				proposed++
			} else {
				known++
			}
		}
		v, err := tx.PutRecord(&store.Record{Kind: scanKind, Key: scanKey, Value: value}, *version)
		if err != nil {
			return fmt.Errorf("mpi: scan progress (is another scan running?): %w", err)
		}
		*version = v
		return nil
	})
	if err != nil {
		return err
	}
	stats.Proposed += proposed
	stats.Known += known
	return nil
}

// personCache holds the patients read so far; past its limit it is
// emptied (and patients are read again as their keys come).
type personCache struct {
	m     map[string]*scanned
	limit int
}

func (c *personCache) has(id string) bool        { _, ok := c.m[id]; return ok }
func (c *personCache) reserve(id string)         { c.m[id] = nil }
func (c *personCache) put(id string, s *scanned) { c.m[id] = s }
func (c *personCache) get(id string) *scanned    { return c.m[id] }
func (c *personCache) trim() {
	if len(c.m) > c.limit {
		clear(c.m)
	}
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
