package fhirapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// exportBatch is how many patients' compartments one query covers.
const exportBatch = 100

// nudgeExports wakes RunBulkExports for a job just accepted.
func (s *Server) nudgeExports() {
	select {
	case s.exportWake <- struct{}{}:
	default:
	}
}

// RunBulkExports runs the export jobs waiting, on this server and those
// of servers that stopped, until ctx ends; it also removes the files of
// jobs cancelled or expired. Without Options.Bulk it returns at once.
func (s *Server) RunBulkExports(ctx context.Context) {
	if s.opt.Bulk == nil {
		return
	}
	c := &claimer{runner: newJobID()[:12], slots: make(chan struct{}, positiveOr(s.opt.Bulk.Concurrent, 1)), seen: map[string]seenJob{}}
	defer c.running.Wait()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var swept time.Time
	for {
		s.claimExports(ctx, c)
		if time.Since(swept) > time.Minute {
			s.sweepExports(ctx)
			swept = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.exportWake:
		}
	}
}

// claimer is a server's side of running jobs.
type claimer struct {
	runner  string
	slots   chan struct{}
	running sync.WaitGroup
	// seen is when this server first saw each running job's record at
	// its version: a job whose record has not changed for BulkExport.Stale by
	// this server's clock has a runner that stopped. (Its heartbeat's
	// time, written by another server's clock, is not compared.)
	seen map[string]seenJob
}

type seenJob struct {
	version int64
	at      time.Time
}

// claimExports starts the jobs no one runs, oldest first, while this
// server has a slot: those accepted, and those whose runner has been
// silent too long.
func (s *Server) claimExports(ctx context.Context, c *claimer) {
	recs, err := s.opt.Store.ListRecords(ctx, exportKind, "")
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("fhirapi: bulk export: listing jobs", "err", err)
		}
		return
	}
	jobs := make([]*exportJob, len(recs))
	for i, rec := range recs {
		jobs[i] = &exportJob{}
		if err := json.Unmarshal(rec.Value, jobs[i]); err != nil {
			jobs[i] = nil
		}
	}
	order := make([]int, 0, len(recs))
	for i := range recs {
		if jobs[i] != nil {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return jobs[a].Created.Compare(jobs[b].Created) })
	now := time.Now()
	live := map[string]bool{}
	for _, i := range order {
		rec, j := recs[i], jobs[i]
		live[rec.Key] = true
		if j.State == jobRunning {
			if sj, ok := c.seen[rec.Key]; !ok || sj.version != rec.Version {
				c.seen[rec.Key] = seenJob{version: rec.Version, at: now}
				continue
			} else if now.Sub(sj.at) < s.opt.Bulk.stale() {
				continue
			}
		} else if j.State != jobAccepted {
			continue
		}
		select {
		case c.slots <- struct{}{}:
		default:
			return
		}
		j.Attempt++
		if j.Attempt > exportAttempts {
			// Started and stopped too often (a server killed by it, again
			// and again): failed, so that it stops coming back.
			j.State, j.Failure, j.FailureStatus = jobFailed, "it was started "+strconv.Itoa(exportAttempts)+" times and did not finish", http.StatusInternalServerError
			_, _ = s.putJob(ctx, j, rec, rec.Version, time.Now().Add(s.opt.Bulk.retention()))
			<-c.slots
			continue
		}
		t := time.Now().UTC()
		j.State, j.Runner, j.Heartbeat, j.TransactionTime = jobRunning, c.runner, t, t
		j.Progress, j.Output, j.Errors, j.Deleted = "starting", nil, nil, nil
		version, err := s.putJob(ctx, j, rec, rec.Version, rec.Expires)
		if err != nil {
			<-c.slots // another server took it, or it was cancelled
			continue
		}
		c.running.Add(1)
		go func() {
			defer func() { <-c.slots; c.running.Done() }()
			s.runJob(ctx, j, rec, version)
		}()
	}
	for key := range c.seen {
		if !live[key] {
			delete(c.seen, key)
		}
	}
}

func (s *Server) putJob(ctx context.Context, j *exportJob, rec *store.Record, ifVersion int64, expires time.Time) (int64, error) {
	value, err := json.Marshal(j)
	if err != nil {
		return 0, err
	}
	return s.opt.Store.PutRecord(ctx, &store.Record{Kind: exportKind, Key: j.ID, Owner: rec.Owner, Expires: expires, Value: value}, ifVersion)
}

// runJob runs a claimed job to its end, saying it is alive meanwhile. A
// job whose record changed under it (cancelled, or taken over after a
// stall) stops and leaves the record to whoever changed it, removing only
// its own attempt's files.
func (s *Server) runJob(ctx context.Context, j *exportJob, rec *store.Record, version int64) {
	dir := s.attemptDir(j)
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	progress := "starting"
	lost := false
	var revoked error
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(s.opt.Bulk.heartbeat())
		defer t.Stop()
		lastBeat := time.Now()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
			}
			if rv := s.opt.Bulk.Revalidate; rv != nil && j.Principal != nil {
				if err := rv(jctx, j.Principal); err != nil && jctx.Err() == nil {
					if fhir.IsKind(err, fhir.KindForbidden) {
						mu.Lock()
						revoked = err
						mu.Unlock()
						cancel()
						return
					}
					s.log.Warn("fhirapi: bulk export: checking the requester", "job", j.ID, "err", err)
				}
			}
			mu.Lock()
			j.Heartbeat, j.Progress = time.Now().UTC(), progress
			pctx, pcancel := context.WithTimeout(jctx, s.opt.Bulk.heartbeat())
			v, err := s.putJob(pctx, j, rec, version, rec.Expires)
			pcancel()
			switch {
			case err == nil:
				version, lastBeat = v, time.Now()
			case jctx.Err() != nil:
			case fhir.IsKind(err, fhir.KindPreconditionFailed) || fhir.IsKind(err, fhir.KindNotFound) || time.Since(lastBeat) > s.opt.Bulk.stale()*2/3:
				// Cancelled, taken over, or silent so long that another
				// server may take it over: stop.
				lost = true
				cancel()
			default:
				// A store error for now (a busy writer): the next beat tries again.
				s.log.Warn("fhirapi: bulk export heartbeat", "job", j.ID, "err", err)
			}
			mu.Unlock()
		}
	}()
	var out *exportOutput
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("fhirapi: bulk export panicked", "job", j.ID, "panic", p)
				err = fhir.Errorf(fhir.KindInternal, "panic: %v", p)
			}
		}()
		if rv := s.opt.Bulk.Revalidate; rv != nil && j.Principal != nil {
			if err := rv(jctx, j.Principal); fhir.IsKind(err, fhir.KindForbidden) {
				mu.Lock()
				revoked = err
				mu.Unlock()
				return err
			} else if err != nil {
				// The store, for now: the heartbeats ask again.
				s.log.Warn("fhirapi: bulk export: checking the requester", "job", j.ID, "err", err)
			}
		}
		out, err = s.export(jctx, j, dir, func(p string) { mu.Lock(); progress = p; mu.Unlock() })
		return err
	}()
	cancel()
	<-beat
	if lost || (ctx.Err() != nil && revoked == nil) {
		// Cancelled, taken over, or this server stopping: the record
		// says what happens next; this attempt's files are no one's.
		_ = os.RemoveAll(dir)
		return
	}
	j.Heartbeat, j.Progress = time.Now().UTC(), ""
	switch {
	case revoked != nil:
		_ = os.RemoveAll(dir)
		j.State, j.Failure, j.FailureStatus = jobFailed, "the requester may no longer export this: "+failureText(revoked), http.StatusForbidden
	case err != nil:
		s.log.Error("fhirapi: bulk export failed", "job", j.ID, "err", err)
		_ = os.RemoveAll(dir)
		j.State, j.Failure, j.FailureStatus = jobFailed, failureText(err), statusOf(fhir.KindOf(err))
	default:
		j.State, j.Output, j.Errors, j.Deleted = jobComplete, out.output, out.errors, out.deleted
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.Bulk.stale())
	defer fcancel()
	if _, err := s.putJob(fctx, j, rec, version, time.Now().Add(s.opt.Bulk.retention())); err != nil {
		_ = os.RemoveAll(dir)
	}
}

// failureText is what a failed job's poll says: a client's error as it
// is, anything else without its cause.
func failureText(err error) string {
	if fe, ok := asFHIRError(err); ok && fe.Kind != fhir.KindInternal && len(fe.Issues) > 0 {
		return fe.Issues[0].Diagnostics
	}
	return "internal error; the details are in the server log"
}

// sweepExports removes the directories of jobs that are no more, and of
// attempts that are not their job's current one. Only names this server
// makes are looked at: another application's directories stay.
func (s *Server) sweepExports(ctx context.Context) {
	entries, err := os.ReadDir(s.opt.Bulk.Dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !isJobID(e.Name()) {
			continue
		}
		dir := filepath.Join(s.opt.Bulk.Dir, e.Name())
		rec, err := s.opt.Store.GetRecord(ctx, exportKind, e.Name())
		if err != nil && !fhir.IsKind(err, fhir.KindNotFound) {
			continue
		}
		var current string
		if err == nil {
			var j exportJob
			if json.Unmarshal(rec.Value, &j) != nil {
				continue
			}
			current = "attempt-" + strconv.Itoa(j.Attempt)
		}
		attempts, _ := os.ReadDir(dir)
		for _, a := range attempts {
			info, err := a.Info()
			if err != nil || a.Name() == current || !strings.HasPrefix(a.Name(), "attempt-") || time.Since(info.ModTime()) < s.opt.Bulk.stale() {
				continue
			}
			_ = os.RemoveAll(filepath.Join(dir, a.Name()))
		}
		if current == "" {
			_ = os.Remove(dir) // once empty
		}
	}
}

// isJobID reports whether name is a job id as newJobID makes them.
func isJobID(name string) bool {
	if len(name) != 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// exportOutput lists a finished job's files.
type exportOutput struct {
	output, errors, deleted []exportFile
}

// exportRun is one run of a job.
type exportRun struct {
	s    *Server
	j    *exportJob
	ctx  context.Context // with the requester as principal
	w    *exportWriter
	note func(string)
	// window are the parameters every query has: changed by the
	// transaction time, and after _since.
	window url.Values
	// seen are the ids written per type of the resources that can come
	// twice across batches of patients: those that refer to several
	// patients. Most refer to one, and are not kept: an export of a
	// million patients does not hold every id it wrote.
	seen map[string]map[string]bool
	// batchSeen are the ids written per type in this batch of patients
	// (or, in a system export, of the type), where several _typeFilter
	// queries can find one resource twice.
	batchSeen map[string]map[string]bool
	// refs are the ids the written resources refer to, per type of
	// j.Spec.Referenced.
	refs map[string]map[string]bool
	// members are the patients of a group export, or of the patient
	// parameter; nil for every patient.
	members map[string]bool
}

// agent is the requester, for the audit records of what the run reads.
func (run *exportRun) agent() audit.Agent {
	a := run.j.Agent
	if p := run.j.Principal; p != nil {
		a.User, a.Client = p.User, p.Client
	}
	return a
}

// export writes a job's files into dir.
func (s *Server) export(ctx context.Context, j *exportJob, dir string, note func(string)) (*exportOutput, error) {
	if j.Principal != nil {
		ctx = access.WithPrincipal(ctx, j.Principal)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Writes stamped up to the transaction time have committed by now.
	if wait := s.opt.Bulk.settle() - time.Since(j.TransactionTime); wait > 0 {
		note("waiting for writes up to the transaction time to settle")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	w := &exportWriter{dir: dir, limit: s.opt.Bulk.fileResources(), files: map[string]*exportOut{}}
	defer w.abort()
	run := &exportRun{s: s, j: j, ctx: ctx, w: w, note: note,
		window: url.Values{"_lastUpdated": {"le" + j.TransactionTime.UTC().Format("2006-01-02T15:04:05.000Z07:00")}},
		seen:   map[string]map[string]bool{}, batchSeen: map[string]map[string]bool{}, refs: map[string]map[string]bool{}}
	if !j.Spec.Since.IsZero() {
		run.window.Add("_lastUpdated", "gt"+j.Spec.Since.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	var err error
	if j.Spec.Level == exportSystem {
		for i, typ := range j.Spec.Types {
			note(fmt.Sprintf("%s (type %d of %d), %d resources written", typ, i+1, len(j.Spec.Types), w.total))
			if err = run.pages(typ, nil, nil); err != nil {
				break
			}
			clear(run.batchSeen)
		}
	} else {
		err = run.patients()
	}
	if err == nil && !j.Spec.Since.IsZero() {
		err = run.deletions()
	}
	if err != nil {
		return nil, err
	}
	return w.finish()
}

// patients exports the compartments of a patient or group export's
// patients, a batch at a time, then what they refer to of the
// Referenced types.
func (run *exportRun) patients() error {
	j := run.j
	var batch []string
	done := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		for _, typ := range j.Spec.Types {
			if slices.Contains(j.Spec.Referenced, typ) {
				continue
			}
			run.note(fmt.Sprintf("patients %d to %d: %s; %d resources written", done+1, done+len(batch), typ, run.w.total))
			if typ == "Patient" {
				if err := run.pages(typ, url.Values{"_id": {strings.Join(batch, ",")}}, nil); err != nil {
					return err
				}
				continue
			}
			if err := run.pages(typ, nil, batch); err != nil {
				return err
			}
		}
		done += len(batch)
		batch = batch[:0]
		clear(run.batchSeen)
		return nil
	}
	if j.Spec.Level == exportGroup || len(j.Spec.Patients) > 0 {
		run.members = map[string]bool{}
	}
	add := func(id string) error {
		if run.members != nil {
			run.members[id] = true
		}
		batch = append(batch, id)
		if len(batch) == exportBatch {
			return flush()
		}
		return nil
	}
	var err error
	switch {
	case j.Spec.Level == exportGroup:
		err = run.groupMembers(add)
	case len(j.Spec.Patients) > 0:
		for _, id := range j.Spec.Patients {
			if err = add(id); err != nil {
				break
			}
		}
	default:
		err = run.everyPatient(add)
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	for _, typ := range j.Spec.Referenced {
		ids := make([]string, 0, len(run.refs[typ]))
		for id := range run.refs[typ] {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for len(ids) > 0 {
			n := min(len(ids), exportBatch)
			run.note(fmt.Sprintf("%s referred to; %d resources written", typ, run.w.total))
			// What is referred to comes whenever it last changed: only
			// the transaction time bounds it.
			q := url.Values{"_id": {strings.Join(ids[:n], ",")}}
			if err := run.query(typ, q, nil, false); err != nil {
				return err
			}
			ids = ids[n:]
		}
	}
	return nil
}

// deletions lists, in the manifest's deleted files, the resources of
// the export's types deleted after _since and still deleted at the
// transaction time: each a line of a transaction Bundle with its DELETE.
// A deleted resource can no longer be checked against a caller's limits
// (its index rows are gone), so, as a read of a deleted resource, only a
// caller who may see every resource of the type learns of its deletion; for
// the others an OperationOutcome in the error files says the type's
// deletions are not listed. On a patient or group export a deletion counts
// when the version before it was the patient's, or of one of the group's
// patients.
func (run *exportRun) deletions() error {
	s, j := run.s, run.j
	since := j.Spec.Since.Add(time.Millisecond).Truncate(time.Millisecond)
	for _, typ := range j.Spec.Types {
		if slices.Contains(j.Spec.Referenced, typ) {
			continue
		}
		run.note(fmt.Sprintf("deletions of %s; %d resources written", typ, run.w.total))
		q := store.HistoryQuery{Type: typ, Since: since, Count: 1000}
		gr := access.Request{Interaction: "history-type", Type: typ, Query: "$export?_jobId=" + j.ID, Agent: run.agent()}
		seen := map[string]bool{}
		for {
			if err := run.ctx.Err(); err != nil {
				return err
			}
			var page *store.HistoryPage
			err := s.opt.Gate.Read(run.ctx, gr, func() ([]access.Touched, error) {
				var err error
				page, err = s.opt.Gate.Guard(run.ctx, s.opt.Store).History(run.ctx, q)
				if err != nil {
					return nil, err
				}
				var touched []access.Touched
				for _, v := range page.Versions {
					if v.Deleted {
						touched = append(touched, access.Touched{Type: v.Type, ID: v.ID, VersionID: v.VersionID})
					}
				}
				return touched, nil
			})
			if fhir.IsKind(err, fhir.KindForbidden) {
				oo := fhir.OperationOutcome(fhir.Issue{Severity: "warning", Code: "forbidden",
					Diagnostics: "the deletions of " + typ + " since _since are not listed: the requester may see only some " + typ + " resources, and a deleted one can no longer be checked against those limits"})
				if err := run.w.write(listError, "OperationOutcome", oo.JSON()); err != nil {
					return err
				}
				break
			}
			if err != nil {
				return err
			}
			for _, v := range page.Versions {
				if v.LastUpdated.After(j.TransactionTime) {
					continue // changed after the export: its state then is older
				}
				if seen[v.ID] {
					continue
				}
				seen[v.ID] = true
				if !v.Deleted {
					continue
				}
				if j.Spec.Level != exportSystem {
					ok, err := run.deletedInScope(v)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
				}
				line, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
					map[string]any{"request": map[string]any{"method": "DELETE", "url": v.Type + "/" + v.ID}}}})
				if err := run.w.write(listDeleted, "Bundle", line); err != nil {
					return err
				}
			}
			if !page.More || len(page.Versions) == 0 {
				break
			}
			q.Before = page.Versions[len(page.Versions)-1].Seq
		}
	}
	return nil
}

// deletedInScope reports whether a deleted resource was, before its
// deletion, in the compartment of a patient the export covers.
func (run *exportRun) deletedInScope(v *store.Version) (bool, error) {
	if v.VersionID < 2 {
		return false, nil
	}
	prev, err := run.s.opt.Store.VRead(run.ctx, v.Type, v.ID, v.VersionID-1)
	if err != nil {
		if fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone) {
			return false, nil
		}
		return false, err
	}
	patient, ok := strings.CutPrefix(audit.PatientOf(prev.Resource), "Patient/")
	if !ok {
		return false, nil
	}
	if run.members == nil {
		return true, nil // every patient: the caller sees every resource of the type
	}
	return run.members[patient], nil
}

// groupMembers calls add with each current Patient member of the Group,
// as the requester may read it now.
func (run *exportRun) groupMembers(add func(string) error) error {
	s, j := run.s, run.j
	var v *store.Version
	gr := access.Request{Interaction: "read", Type: "Group", ID: j.Spec.Group, Query: "$export?_jobId=" + j.ID, Agent: run.agent()}
	err := s.opt.Gate.Read(run.ctx, gr, func() ([]access.Touched, error) {
		var err error
		v, err = s.opt.Gate.Guard(run.ctx, s.opt.Store).Read(run.ctx, "Group", j.Spec.Group)
		return []access.Touched{access.TouchedVersion(v)}, err
	})
	if err != nil {
		return fmt.Errorf("the Group: %w", err)
	}
	members, _ := v.Resource["member"].([]any)
	seen := map[string]bool{}
	for _, m := range members {
		mm, _ := m.(map[string]any)
		if inactive, _ := mm["inactive"].(bool); inactive {
			continue
		}
		entity, _ := mm["entity"].(map[string]any)
		ref, _ := entity["reference"].(string)
		ref = strings.TrimPrefix(ref, j.Base+"/")
		id, ok := strings.CutPrefix(ref, "Patient/")
		if !ok || !fhir.ValidID(id) || seen[id] || (len(j.Spec.Patients) > 0 && !slices.Contains(j.Spec.Patients, id)) {
			continue
		}
		seen[id] = true
		if err := add(id); err != nil {
			return err
		}
	}
	return nil
}

// everyPatient calls add with each patient the requester may see.
func (run *exportRun) everyPatient(add func(string) error) error {
	q, err := search.Parse(run.s.opt.Definitions, "Patient", url.Values{"_count": {"1000"}, "_total": {"none"}, "_elements": {"id"}}, search.ParseOptions{})
	if err != nil {
		return err
	}
	for {
		if err := run.ctx.Err(); err != nil {
			return err
		}
		res, err := run.s.runSearch(run.ctx, access.Request{Interaction: "search-type", Type: "Patient",
			Query: "$export?_jobId=" + run.j.ID + " (the patients)", Agent: run.agent()}, q)
		if err != nil {
			return err
		}
		for _, v := range res.Matches {
			if err := add(v.ID); err != nil {
				return err
			}
		}
		if res.Next == "" {
			return nil
		}
		q.Cursor = res.Next
	}
}

// pages exports the resources of typ that params select (and the
// _typeFilter of typ, if any), in the compartments of patients when
// given.
func (run *exportRun) pages(typ string, params url.Values, patients []string) error {
	filters := run.j.Spec.TypeFilters[typ]
	if len(filters) == 0 {
		filters = []string{""}
	}
	dedupe := len(filters) > 1 || patients != nil || params != nil
	for _, f := range filters {
		q := url.Values{}
		for k, v := range params {
			q[k] = slices.Clone(v)
		}
		for k, v := range run.window {
			q[k] = append(q[k], v...)
		}
		if f != "" {
			extra, err := url.ParseQuery(f)
			if err != nil {
				return err
			}
			for k, v := range extra {
				q[k] = append(q[k], v...)
			}
		}
		if err := run.query(typ, q, patients, dedupe); err != nil {
			return err
		}
	}
	return nil
}

// query pages through one search and writes what it finds.
func (run *exportRun) query(typ string, params url.Values, patients []string, dedupe bool) error {
	s, j := run.s, run.j
	params.Set("_count", "1000")
	params.Set("_total", "none")
	if _, ok := params["_lastUpdated"]; !ok {
		params["_lastUpdated"] = run.window["_lastUpdated"][:1]
	}
	opts := search.ParseOptions{Base: j.Base}
	if len(patients) > 0 {
		opts.Compartment = &search.CompartmentRef{Type: "Patient", ID: patients[0]}
	}
	q, err := search.Parse(s.opt.Definitions, typ, params, opts)
	if err != nil {
		return err
	}
	if len(patients) > 1 {
		q.MoreCompartments = patients[1:]
	}
	gr := access.Request{Interaction: "operation", Type: typ, Query: "$export?_jobId=" + j.ID, Agent: run.agent()}
	for {
		if err := run.ctx.Err(); err != nil {
			return err
		}
		res, err := s.runSearch(run.ctx, gr, q)
		if err != nil {
			return err
		}
		for _, v := range res.Matches {
			if dedupe && (once(run.batchSeen, typ, v.ID) || (len(patients) > 0 && patientsReferred(v.Resource, j.Base) > 1 && once(run.seen, typ, v.ID))) {
				continue
			}
			if err := run.write(v); err != nil {
				return err
			}
		}
		if res.Next == "" {
			return nil
		}
		q.Cursor = res.Next
	}
}

// once reports whether typ/id is in seen already, and puts it there.
func once(seen map[string]map[string]bool, typ, id string) bool {
	if seen[typ] == nil {
		seen[typ] = map[string]bool{}
	}
	if seen[typ][id] {
		return true
	}
	seen[typ][id] = true
	return false
}

// patientsReferred counts the distinct patients res refers to: a resource
// can be in the compartments of those patients, and so come in more than
// one batch of them.
func patientsReferred(res fhir.Resource, base string) int {
	refs := map[string]map[string]bool{}
	collectRefs(map[string]any(res), []string{"Patient"}, base, refs)
	return len(refs["Patient"])
}

// write writes one resource as the requester may see it.
func (run *exportRun) write(v *store.Version) error {
	s, j := run.s, run.j
	res := s.opt.Gate.Mask(run.ctx, v.Resource)
	if len(j.Spec.Referenced) > 0 {
		collectRefs(map[string]any(res), j.Spec.Referenced, j.Base, run.refs)
	}
	if j.Spec.Elements != "" {
		var err error
		if res, err = s.shape(res, url.Values{"_elements": {elementsFor(j.Spec.Elements, v.Type)}}); err != nil {
			return err
		}
	}
	if j.R4 {
		conv, _, err := r4.ToR4(res)
		if err != nil {
			oo := fhir.OperationOutcome(fhir.Issue{Severity: "error", Code: "not-supported",
				Diagnostics: fmt.Sprintf("%s/%s has no R4 form and is left out: %v", v.Type, v.ID, err)})
			return run.w.write(listError, "OperationOutcome", oo.JSON())
		}
		res = conv
	}
	return run.w.write(listOutput, v.Type, res.JSON())
}

// elementsFor is the part of an _elements list that applies to typ.
func elementsFor(elements, typ string) string {
	var out []string
	for _, e := range strings.Split(elements, ",") {
		e = strings.TrimSpace(e)
		if t, elem, dotted := strings.Cut(e, "."); dotted {
			if t != typ {
				continue
			}
			e = elem
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return "id" // only what is mandatory
	}
	return strings.Join(out, ",")
}

// collectRefs adds to refs the ids of types that v refers to, as Type/id
// or as an absolute URL under base.
func collectRefs(v any, types []string, base string, refs map[string]map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "reference" {
				if ref, ok := x.(string); ok {
					typ, id, ok := strings.Cut(strings.TrimPrefix(ref, base+"/"), "/")
					if ok && slices.Contains(types, typ) && fhir.ValidID(id) {
						if refs[typ] == nil {
							refs[typ] = map[string]bool{}
						}
						refs[typ][id] = true
					}
				}
				continue
			}
			collectRefs(x, types, base, refs)
		}
	case []any:
		for _, x := range v {
			collectRefs(x, types, base, refs)
		}
	}
}

// exportWriter writes the NDJSON files of a run: per list and type, a new
// file every limit lines.
type exportWriter struct {
	dir   string
	limit int
	files map[string]*exportOut
	order []string // list:type in the order first written
	total int      // resources written to the output list
}

// The manifest's lists.
const (
	listOutput  = "output"
	listError   = "error"
	listDeleted = "deleted"
)

type exportOut struct {
	typ   string
	list  string
	part  int
	f     *os.File
	w     *bufio.Writer
	count int
	done  []exportFile
}

func (x *exportWriter) write(list, typ string, line []byte) error {
	key := list + ":" + typ
	o := x.files[key]
	if o == nil {
		o = &exportOut{typ: typ, list: list}
		x.files[key] = o
		x.order = append(x.order, key)
	}
	if o.f != nil && o.count >= x.limit {
		if err := o.close(); err != nil {
			return err
		}
	}
	if o.f == nil {
		o.part++
		name := fmt.Sprintf("%s-%d.ndjson", typ, o.part)
		if list != listOutput {
			name = list + "-" + name
		}
		f, err := os.OpenFile(filepath.Join(x.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		o.f, o.w, o.count = f, bufio.NewWriterSize(f, 256<<10), 0
		o.done = append(o.done, exportFile{Type: typ, Name: name})
	}
	if _, err := o.w.Write(line); err != nil {
		return err
	}
	if err := o.w.WriteByte('\n'); err != nil {
		return err
	}
	o.count++
	o.done[len(o.done)-1].Count = o.count
	if list == listOutput {
		x.total++
	}
	return nil
}

// close flushes, syncs and closes the file being written.
func (o *exportOut) close() error {
	err := o.w.Flush()
	if err == nil {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	o.f, o.w = nil, nil
	return err
}

// finish closes every file, durably, and lists them.
func (x *exportWriter) finish() (*exportOutput, error) {
	out := &exportOutput{output: []exportFile{}, errors: []exportFile{}, deleted: []exportFile{}}
	for _, key := range x.order {
		o := x.files[key]
		if o.f != nil {
			if err := o.close(); err != nil {
				return nil, err
			}
		}
		switch o.list {
		case listError:
			out.errors = append(out.errors, o.done...)
		case listDeleted:
			out.deleted = append(out.deleted, o.done...)
		default:
			out.output = append(out.output, o.done...)
		}
	}
	d, err := os.Open(x.dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return nil, err
	}
	return out, nil
}

// abort closes what is still open (after a failure; finish closed the rest).
func (x *exportWriter) abort() {
	for _, o := range x.files {
		if o.f != nil {
			_ = o.f.Close()
			o.f = nil
		}
	}
}
