package importer

import (
	"bytes"
	"context"
	"fmt"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// writer is the one goroutine that writes: it gathers units into batches
// of about BatchSize resources, each one Store.Write.
type writer struct {
	ctx        context.Context
	opts       Options
	summary    *Summary
	totalBytes int64
	doneBytes  int64
	done       int64
	batch      []*unit
	batchSize  int
	// gate is the workers' share of the cores (nil: no limit); waiting
	// says how many results wait to be written.
	gate    *cores
	waiting func() int
}

func newWriter(ctx context.Context, opts Options, totalBytes int64) *writer {
	return &writer{ctx: ctx, opts: opts, totalBytes: totalBytes,
		summary: &Summary{ByType: map[string]Counts{}}}
}

// outcome of writing one resource.
type outcome int

const (
	created outcome = iota
	updated
	unchanged
)

func (w *writer) run(results <-chan *result) error {
	for r := range results {
		for _, p := range r.problems {
			w.problem(p)
		}
		w.summary.Skipped = append(w.summary.Skipped, r.skipped...)
		for typ, n := range r.failed {
			w.count(typ, Counts{Read: n, Failed: n})
			w.done += n
		}
		w.doneBytes += r.bytes
		for _, u := range r.units {
			w.batch = append(w.batch, u)
			w.batchSize += len(u.items)
		}
		if w.batchSize >= w.opts.BatchSize {
			if err := w.flush(); err != nil {
				return err
			}
		}
		w.progress(false)
	}
	if err := w.flush(); err != nil {
		return err
	}
	w.progress(true)
	return nil
}

func (w *writer) problem(p Problem) {
	w.summary.Problems = append(w.summary.Problems, p)
	if w.opts.Report != nil {
		w.opts.Report(p)
	}
}

func (w *writer) count(typ string, c Counts) {
	sum := w.summary.ByType[typ]
	sum.add(c)
	w.summary.ByType[typ] = sum
}

func (w *writer) progress(final bool) {
	if w.opts.Progress == nil {
		return
	}
	total := w.done
	if !final && w.doneBytes > 0 && w.doneBytes < w.totalBytes {
		total = w.done * w.totalBytes / w.doneBytes
	}
	w.opts.Progress(w.done, total)
}

// flush writes the batch in one transaction. If that fails, it writes
// each unit (an atomic unit whole, the others resource by resource) on its
// own, so one bad resource costs only itself.
func (w *writer) flush() error {
	batch := w.batch
	w.batch, w.batchSize = nil, 0
	if len(batch) == 0 {
		return nil
	}
	var items []item
	for _, u := range batch {
		items = append(items, u.items...)
	}
	outcomes, err := w.write(items)
	if err == nil {
		w.record(items, outcomes)
		return nil
	}
	if w.ctx.Err() != nil {
		return context.Cause(w.ctx)
	}
	if len(items) == 1 {
		w.fail(batch[0], items, err)
		return nil
	}
	for _, u := range batch {
		groups := [][]item{u.items}
		if !u.atomic {
			groups = groups[:0]
			for _, it := range u.items {
				groups = append(groups, []item{it})
			}
		}
		for _, g := range groups {
			outcomes, err := w.write(g)
			switch {
			case err == nil:
				w.record(g, outcomes)
			case w.ctx.Err() != nil:
				return context.Cause(w.ctx)
			default:
				w.fail(u, g, err)
			}
		}
	}
	return nil
}

// write stores items in one Store.Write and says what became of each.
func (w *writer) write(items []item) ([]outcome, error) {
	var outcomes []outcome
	var written []*store.Version
	if w.gate != nil {
		// Results for about a batch wait (each is a file or a chunk of
		// lines): the writer will not run short while it keeps its core.
		w.gate.writing(w.waiting() >= 2)
		defer w.gate.writing(false)
	}
	err := w.opts.Store.Write(w.ctx, func(tx store.Tx) error {
		outcomes, written = outcomes[:0], written[:0] // a backend may run fn again
		if pf, ok := tx.(store.Prefetcher); ok {
			// One query for the batch's current versions, not one each.
			refs := make([]string, len(items))
			for i, it := range items {
				refs[i] = it.res.Type() + "/" + it.res.ID()
			}
			if err := pf.Prefetch(refs); err != nil {
				return err
			}
		}
		outcomes = append(outcomes, make([]outcome, len(items))...)
		done, fresh, err := createNew(tx, items)
		if err != nil {
			return err
		}
		written = append(written, fresh...)
		for i, it := range items {
			if done[i] {
				outcomes[i] = created
				continue
			}
			o, v, err := put(tx, it)
			if err != nil {
				return fmt.Errorf("%s: %s/%s: %w", it.where, it.res.Type(), it.res.ID(), err)
			}
			outcomes[i] = o
			if v != nil {
				written = append(written, v)
			}
		}
		if w.opts.Audit != nil && len(written) > 0 {
			if err := w.opts.Audit(tx, written); err != nil {
				return fmt.Errorf("audit: %w", err)
			}
		}
		return nil
	})
	if err == nil && w.opts.Created != nil {
		var fresh []*store.Version
		for _, v := range written {
			if v.VersionID == 1 {
				fresh = append(fresh, v)
			}
		}
		if len(fresh) > 0 {
			if err := w.opts.Created(w.ctx, fresh); err != nil {
				return outcomes, fmt.Errorf("after the write: %w", err)
			}
		}
	}
	return outcomes, err
}

// readied prepares the resources of r for writing when st can: their
// index entries are extracted here, in the parallel workers, rather than
// by the one writer. A resource whose extraction fails is left for the
// writer, which reports the error where it reports every other.
func readied(st store.Store, r *result) *result {
	p, ok := st.(store.Preparer)
	if !ok {
		return r
	}
	for _, u := range r.units {
		for i := range u.items {
			if ready, err := p.Prepare(u.items[i].res); err == nil {
				u.items[i].ready = ready
			}
		}
	}
	return r
}

// createNew writes, where tx is a store.BatchCreator, the items that are
// new (prepared, not stored, once in the batch) in one go, and returns
// which it wrote and their versions; put writes the others.
func createNew(tx store.Tx, items []item) (map[int]bool, []*store.Version, error) {
	bc, ok := tx.(store.BatchCreator)
	if !ok {
		return nil, nil, nil
	}
	count := map[string]int{}
	for _, it := range items {
		count[it.res.Type()+"/"+it.res.ID()]++
	}
	var (
		at []int
		ps []*store.Prepared
	)
	for i, it := range items {
		if it.ready == nil || count[it.res.Type()+"/"+it.res.ID()] > 1 {
			continue
		}
		if _, err := tx.Read(it.res.Type(), it.res.ID()); !fhir.IsKind(err, fhir.KindNotFound) {
			continue // stored (or deleted, or unreadable): put decides
		}
		at, ps = append(at, i), append(ps, it.ready)
	}
	if len(ps) == 0 {
		return nil, nil, nil
	}
	vs, err := bc.CreatePrepared(ps)
	if err != nil {
		return nil, nil, fmt.Errorf("%d new resources: %w", len(ps), err)
	}
	done := make(map[int]bool, len(at))
	for _, i := range at {
		done[i] = true
	}
	return done, vs, nil
}

// put stores res under its own id unless the stored version is the same,
// and returns the version written (nil when unchanged).
func put(tx store.Tx, it item) (outcome, *store.Version, error) {
	res := it.res
	cur, err := tx.Read(res.Type(), res.ID())
	switch {
	case err == nil && sameContent(cur.Resource, res):
		return unchanged, nil, nil
	case err != nil && !fhir.IsKind(err, fhir.KindNotFound) && !fhir.IsKind(err, fhir.KindGone):
		return 0, nil, err
	}
	var v *store.Version
	var isNew bool
	if pu, ok := tx.(store.PreparedUpdater); ok && it.ready != nil {
		v, isNew, err = pu.UpdatePrepared(it.ready, 0)
	} else {
		v, isNew, err = tx.Update(res, 0)
	}
	if err != nil {
		return 0, nil, err
	}
	if isNew {
		return created, v, nil
	}
	return updated, v, nil
}

// sameContent compares two resources apart from meta.versionId and
// meta.lastUpdated, which the store sets.
func sameContent(a, b fhir.Resource) bool {
	return bytes.Equal(withoutBookkeeping(a), withoutBookkeeping(b))
}

func withoutBookkeeping(r fhir.Resource) []byte {
	meta, ok := r["meta"].(map[string]any)
	if !ok {
		return r.JSON()
	}
	trimmed := make(map[string]any, len(meta))
	for k, v := range meta {
		if k != "versionId" && k != "lastUpdated" {
			trimmed[k] = v
		}
	}
	shallow := make(map[string]any, len(r))
	for k, v := range r {
		shallow[k] = v
	}
	if len(trimmed) == 0 {
		delete(shallow, "meta")
	} else {
		shallow["meta"] = trimmed
	}
	return fhir.Resource(shallow).JSON()
}

func (w *writer) record(items []item, outcomes []outcome) {
	for i, it := range items {
		c := Counts{Read: 1, Kept: int64(it.kept)}
		switch outcomes[i] {
		case created:
			c.Created = 1
		case updated:
			c.Updated = 1
		case unchanged:
			c.Unchanged = 1
		}
		w.count(it.res.Type(), c)
	}
	w.done += int64(len(items))
}

func (w *writer) fail(u *unit, items []item, err error) {
	where := u.where
	if len(items) == 1 && !u.atomic {
		where = items[0].where
	}
	w.problem(Problem{File: u.file, Where: where, Message: "not stored: " + err.Error()})
	for _, it := range items {
		w.count(it.res.Type(), Counts{Read: 1, Failed: 1})
	}
	w.done += int64(len(items))
}
