package fhirapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Bulk Data export (FHIR Bulk Data Access 2.0.0, the asynchronous pattern):
//
//	GET|POST [base]/$export, [base]/Patient/$export, [base]/Group/[id]/$export
//	    with Prefer: respond-async: 202 and Content-Location, the status URL
//	GET    [base]/$export-poll-status?_jobId=…   202 while it runs, 200 and the manifest when done
//	DELETE [base]/$export-poll-status?_jobId=…   cancels the job and removes its files
//	GET    [base]/$export-file?_jobId=…&name=…   one NDJSON file of the manifest
//
// A job is a store record (kind exportKind) holding what was asked, by
// whom and how far it got; its files are in BulkExport.Dir. Any server of
// a database runs the jobs waiting (RunBulkExports), so the request, the
// work and the downloads may each reach a different one.

// BulkExport configures the Bulk Data export; Options.Bulk nil leaves it out.
type BulkExport struct {
	// Dir holds one directory of NDJSON files per job. Servers sharing a
	// database must share it (a network file system), as they share the
	// jobs.
	Dir string
	// Retention is how long a finished job's files stay (default 24 h).
	Retention time.Duration
	// PerRequester bounds the unfinished jobs of one user or client
	// (default 2); more answer 429.
	PerRequester int
	// FileResources bounds the resources of one file (default 100,000).
	FileResources int
	// Concurrent bounds the jobs one server runs at once (default 1).
	Concurrent int
	// Settle is how long a job waits after its transaction time before it
	// reads (default 5 s): a write stamped before that time but not yet
	// committed (a long transaction, another server's clock a little
	// behind) is in the export then, not lost between this one and the
	// next one's _since.
	Settle time.Duration
	// Revalidate, when set, says whether the requester may still export:
	// called when a job starts and at each heartbeat with the principal
	// of the kick-off. An error of kind fhir.KindForbidden (the account
	// disabled, its role changed, the client removed) fails the job; any
	// other is logged and asked again at the next heartbeat.
	Revalidate func(ctx context.Context, p *access.Principal) error
	// Stale is how long a running job's record may stay unchanged, by the
	// clock of the server watching it, before that server runs the job
	// again (default 30 s); a runner says it is alive every sixth of it.
	Stale time.Duration
}

const (
	exportKind = "bulk-export"
	// exportRetryAfter is the polling interval the status answer asks for.
	exportRetryAfter = 2
	// exportAttempts bounds how often a job is started (again after its
	// runner stopped answering) before it is failed.
	exportAttempts = 3
	// exportWaiting is how long a job not yet finished is kept at most.
	exportWaiting = 7 * 24 * time.Hour
)

// Job states.
const (
	jobAccepted = "accepted"
	jobRunning  = "running"
	jobComplete = "complete"
	jobFailed   = "failed"
)

// exportJob is the record of one export.
type exportJob struct {
	ID   string     `json:"id"`
	Spec exportSpec `json:"spec"`
	// Request is the kick-off URL; Base the API base its files are under.
	Request string `json:"request"`
	Base    string `json:"base"`
	R4      bool   `json:"r4,omitempty"` // files in R4 (the R4 API asked)
	// Principal is the requester, as the gate saw it at the kick-off: the
	// job reads with its rights. Agent is the kick-off's for the audit.
	Principal *access.Principal `json:"principal,omitempty"`
	Agent     audit.Agent       `json:"agent"`
	Created   time.Time         `json:"created"`

	State           string       `json:"state"`
	Runner          string       `json:"runner,omitempty"`
	Heartbeat       time.Time    `json:"heartbeat,omitzero"`
	TransactionTime time.Time    `json:"transactionTime,omitzero"`
	Progress        string       `json:"progress,omitempty"`
	Output          []exportFile `json:"output,omitempty"`
	Errors          []exportFile `json:"errors,omitempty"`
	Deleted         []exportFile `json:"deleted,omitempty"`
	// Attempt numbers the runs of the job: each writes its own directory
	// (attemptDir), so that a runner taken over cannot touch the files
	// of the one that took over.
	Attempt int `json:"attempt,omitempty"`
	// Failure says why a failed job failed, and FailureStatus is the HTTP
	// status its poll answers (4xx for what the requester can mend).
	Failure       string `json:"failure,omitempty"`
	FailureStatus int    `json:"failureStatus,omitempty"`
}

// exportFile is one file of a finished job.
type exportFile struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// requesterOf is the owner of a job's record: its user and client, for
// counting a requester's unfinished jobs.
func requesterOf(p *access.Principal) string {
	if p == nil {
		return "[]"
	}
	b, _ := json.Marshal([]string{p.User, p.Client})
	return string(b)
}

// sameRequester reports whether the caller of a poll, download or cancel
// is the job's requester with the same rights: the same user through the
// same client, with the same role, patient and scopes. A token of the
// same user bound to another patient, or with narrower scopes, is someone
// else (break-glass grants aside, which an export never uses).
func sameRequester(caller, requester *access.Principal) bool {
	canon := func(p *access.Principal) string {
		if p == nil {
			return "null"
		}
		cp := *p
		cp.Emergencies, cp.Purpose = nil, ""
		if len(cp.Grants) == 0 && cp.Grants != nil {
			cp.Grants = []access.Grant{}
		}
		// The same scopes asked in another order are the same rights.
		cp.Grants = slices.Clone(cp.Grants)
		slices.SortFunc(cp.Grants, func(a, b access.Grant) int {
			ka, _ := json.Marshal(a)
			kb, _ := json.Marshal(b)
			return strings.Compare(string(ka), string(kb))
		})
		b, _ := json.Marshal(cp)
		return string(b)
	}
	return canon(caller) == canon(requester)
}

// The options, or their defaults.
func (b *BulkExport) retention() time.Duration { return positiveOr(b.Retention, 24*time.Hour) }
func (b *BulkExport) perRequester() int        { return positiveOr(b.PerRequester, 2) }
func (b *BulkExport) stale() time.Duration     { return positiveOr(b.Stale, 30*time.Second) }
func (b *BulkExport) heartbeat() time.Duration { return b.stale() / 6 }
func (b *BulkExport) settle() time.Duration    { return positiveOr(b.Settle, 5*time.Second) }
func (b *BulkExport) fileResources() int       { return positiveOr(b.FileResources, 100_000) }

func positiveOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// bulkRoute serves the export's own routes and reports whether path was
// one; the others go the usual way. r4 is the R4 API's.
func (s *Server) bulkRoute(w http.ResponseWriter, r *http.Request, r4 bool) bool {
	path := strings.Trim(r.URL.Path, "/")
	var level, group string
	switch {
	case path == "$export":
		level = exportSystem
	case path == "Patient/$export":
		level = exportPatient
	case strings.HasPrefix(path, "Group/") && strings.HasSuffix(path, "/$export") && strings.Count(path, "/") == 2:
		level, group = exportGroup, strings.TrimSuffix(strings.TrimPrefix(path, "Group/"), "/$export")
	case path == "$export-poll-status":
		s.bulkAnswer(w, r, r4, s.exportStatus(w, r))
		return true
	case path == "$export-file":
		s.bulkAnswer(w, r, r4, s.exportDownload(w, r))
		return true
	default:
		return false
	}
	s.bulkAnswer(w, r, r4, s.exportKickoff(w, r, r4, level, group))
	return true
}

// bulkAnswer writes err, if any, as the API of the request would.
func (s *Server) bulkAnswer(w http.ResponseWriter, r *http.Request, r4 bool, err error) {
	switch {
	case err == nil:
	case r4:
		s.writeR4Error(w, r, err)
	default:
		s.writeError(w, r, err)
	}
}

func (s *Server) bulkEnabled() error {
	if s.opt.Bulk == nil {
		return fhir.Errorf(fhir.KindNotSupported, "Bulk Data export is not enabled on this server")
	}
	return nil
}

// exportKickoff starts a job: 202 with the status URL.
func (s *Server) exportKickoff(w http.ResponseWriter, r *http.Request, r4 bool, level, group string) error {
	if err := s.bulkEnabled(); err != nil {
		return err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed(&request{method: r.Method}, "GET, POST")
	}
	if group != "" && !fhir.ValidID(group) {
		return fhir.Errorf(fhir.KindNotFound, "%q is not a valid resource id", group)
	}
	prefer := strings.ToLower(strings.Join(r.Header.Values("Prefer"), ","))
	if !strings.Contains(prefer, "respond-async") {
		return fhir.Errorf(fhir.KindInvalid, "$export runs asynchronously: send Prefer: respond-async")
	}
	if accept := r.Header.Get("Accept"); accept != "" && !acceptsJSON(strings.ReplaceAll(accept, "fhirVersion=4.0", "")) {
		return fhir.Errorf(fhir.KindNotAcceptable, "$export answers in application/fhir+json, not %q", accept)
	}
	var params []exportParam
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		q.Del("_format")
		q.Del("_pretty")
		params = exportParamsOfQuery(q)
		if len(q["patient"]) > 0 {
			return fhir.Errorf(fhir.KindInvalid, "$export: patient is a parameter of a POST kick-off (a Parameters resource)")
		}
	case http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes))
		if err != nil {
			return fhir.Errorf(fhir.KindInvalid, "could not read the request body")
		}
		// R4's Parameters of a kick-off read the same as R5's.
		list, err := parametersBody(&request{body: body})
		if err != nil {
			return err
		}
		if params, err = exportParamsOf(list); err != nil {
			return err
		}
	}
	exportable := s.exportable(r4)
	sp, err := parseExport(s.opt.Definitions, level, group, params, exportable, strings.Contains(prefer, "handling=lenient"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	gr := access.Request{Interaction: "operation", Type: levelType(level), ID: group, Query: "$export?" + r.URL.RawQuery,
		Agent: audit.Agent{Address: remoteAddr(r)}}
	// The caller must be able to search each type: a type asked for by
	// name is refused, a type of the default list left out.
	var types []string
	for _, t := range sp.Types {
		if err := s.opt.Gate.Decide(ctx, access.Request{Interaction: "search-type", Type: t}); err != nil {
			if fhir.KindOf(err) == fhir.KindUnauthorized || sp.TypesGiven {
				s.opt.Gate.RecordFailure(ctx, gr, err)
				return err
			}
			continue
		}
		types = append(types, t)
	}
	if len(types) == 0 {
		err := fhir.Errorf(fhir.KindForbidden, "$export: the caller may search none of the types of this export")
		s.opt.Gate.RecordFailure(ctx, gr, err)
		return err
	}
	sp.Types = types
	sp.Referenced = slices.DeleteFunc(sp.Referenced, func(t string) bool { return !slices.Contains(types, t) })
	// A filter is a search: of a type exported in full, and on nothing the
	// caller's role may not see (whether a resource is exported would tell
	// what a masked element holds).
	for typ, filters := range sp.TypeFilters {
		if !slices.Contains(types, typ) || slices.Contains(sp.Referenced, typ) {
			err := fhir.Errorf(fhir.KindInvalid, "$export: _typeFilter names %s, which this export does not search (a type the caller may not search, or one exported only as referred to)", typ)
			s.opt.Gate.RecordFailure(ctx, gr, err)
			return err
		}
		if err := s.checkTypeFilters(ctx, typ, filters); err != nil {
			s.opt.Gate.RecordFailure(ctx, gr, err)
			return err
		}
	}
	if level == exportGroup {
		if _, err := s.opt.Gate.Guard(ctx, s.opt.Store).Read(ctx, "Group", group); err != nil {
			s.opt.Gate.RecordFailure(ctx, gr, err)
			return err
		}
	}
	owner := requesterOf(p)
	jobs, err := s.opt.Store.ListRecords(ctx, exportKind, owner)
	if err != nil {
		return err
	}
	unfinished := 0
	for _, rec := range jobs {
		var j exportJob
		if json.Unmarshal(rec.Value, &j) == nil && (j.State == jobAccepted || j.State == jobRunning) {
			unfinished++
		}
	}
	if unfinished >= s.opt.Bulk.perRequester() {
		oo := fhir.OperationOutcome(fhir.Issue{Severity: "error", Code: "throttled",
			Diagnostics: "$export: " + strconv.Itoa(unfinished) + " exports of this requester are still running; wait for one to finish, or cancel one"})
		w.Header().Set("Retry-After", "60")
		writeJSON(w, r, http.StatusTooManyRequests, mediaFHIRJSON, oo.JSON())
		return nil
	}
	job := &exportJob{
		ID: newJobID(), Spec: *sp, Base: s.baseURL(r), R4: r4, Agent: gr.Agent, Created: time.Now().UTC(), State: jobAccepted,
	}
	job.Request = job.Base + "/" + strings.Trim(r.URL.Path, "/")
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		job.Request += "?" + r.URL.RawQuery
	}
	if p != nil {
		cp := *p
		cp.Emergencies = nil // an export is not an emergency access
		job.Principal = &cp
	}
	// The kick-off is recorded as the request it is; what the job reads
	// is recorded page by page as it reads. A job whose kick-off could not
	// be recorded does not stay.
	created := false
	err = s.opt.Gate.Read(ctx, gr, func() ([]access.Touched, error) {
		value, _ := json.Marshal(job)
		_, err := s.opt.Store.PutRecord(ctx, &store.Record{Kind: exportKind, Key: job.ID, Owner: owner, Value: value,
			Expires: job.Created.Add(exportWaiting)}, 0)
		created = err == nil
		return nil, err
	})
	if err != nil {
		if created {
			_ = s.opt.Store.DeleteRecord(context.WithoutCancel(ctx), exportKind, job.ID)
		}
		return err
	}
	s.nudgeExports()
	w.Header().Set("Content-Location", job.Base+"/$export-poll-status?_jobId="+job.ID)
	issues := []fhir.Issue{{Severity: "information", Code: "informational", Diagnostics: "export " + job.ID + " accepted"}}
	for _, name := range sp.Ignored {
		issues = append(issues, fhir.Issue{Severity: "warning", Code: "not-supported", Diagnostics: "parameter " + name + " is not supported and was ignored"})
	}
	writeJSON(w, r, http.StatusAccepted, mediaFHIRJSON, fhir.OperationOutcome(issues...).JSON())
	return nil
}

func levelType(level string) string {
	switch level {
	case exportPatient:
		return "Patient"
	case exportGroup:
		return "Group"
	}
	return ""
}

// exportable are the types an export may hold: every resource type the
// store keeps (the audit log has its own archive), with an R4 form for
// the R4 API.
func (s *Server) exportable(r4 bool) []string {
	var out []string
	for _, t := range s.opt.Model.ResourceTypes() {
		if t == "AuditEvent" || (r4 && !r4Convertible(t)) {
			continue
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// job returns the job r names, as its requester sees it: a job of someone
// else is not found, as a job that never was.
func (s *Server) job(r *http.Request) (*exportJob, *store.Record, error) {
	if err := s.bulkEnabled(); err != nil {
		return nil, nil, err
	}
	id := r.URL.Query().Get("_jobId")
	notFound := fhir.Errorf(fhir.KindNotFound, "there is no export %q (finished exports are kept for a while, then removed)", id)
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/\\.") {
		return nil, nil, notFound
	}
	rec, err := s.opt.Store.GetRecord(r.Context(), exportKind, id)
	if fhir.IsKind(err, fhir.KindNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	var j exportJob
	if err := json.Unmarshal(rec.Value, &j); err != nil {
		return nil, nil, err
	}
	if !sameRequester(access.PrincipalFrom(r.Context()), j.Principal) {
		return nil, nil, notFound
	}
	return &j, rec, nil
}

// exportStatus answers a poll, or cancels the job (DELETE).
func (s *Server) exportStatus(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodDelete {
		return methodNotAllowed(&request{method: r.Method}, "GET, DELETE")
	}
	j, rec, err := s.job(r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodDelete {
		// The cancel is recorded with the job's id, as the kick-off was.
		gr := access.Request{Interaction: "operation", Query: "$export-poll-status?_jobId=" + j.ID + " DELETE", Agent: audit.Agent{Address: remoteAddr(r)}}
		err := s.opt.Gate.Read(r.Context(), gr, func() ([]access.Touched, error) {
			return nil, s.opt.Store.DeleteRecord(r.Context(), exportKind, j.ID)
		})
		if err != nil {
			return err
		}
		// A runner elsewhere stops at its next heartbeat and removes what
		// it wrote; files of a finished job go now.
		if j.State != jobAccepted && j.State != jobRunning {
			_ = os.RemoveAll(s.jobDir(j.ID))
		}
		oo := fhir.OperationOutcome(fhir.Issue{Severity: "information", Code: "informational", Diagnostics: "export " + j.ID + " cancelled and its files removed"})
		writeJSON(w, r, http.StatusAccepted, mediaFHIRJSON, oo.JSON())
		return nil
	}
	switch j.State {
	case jobAccepted, jobRunning:
		progress := j.Progress
		if progress == "" {
			progress = "waiting to start"
		}
		w.Header().Set("X-Progress", progress)
		w.Header().Set("Retry-After", strconv.Itoa(exportRetryAfter))
		w.WriteHeader(http.StatusAccepted)
		return nil
	case jobFailed:
		// Answered as it is, not as an internal error of this request.
		status := j.FailureStatus
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		code := "exception"
		if status < 500 {
			code = "processing"
		}
		oo := fhir.OperationOutcome(fhir.Issue{Severity: "error", Code: code, Diagnostics: "export " + j.ID + " failed: " + j.Failure})
		writeJSON(w, r, status, mediaFHIRJSON, oo.JSON())
		return nil
	}
	body, err := json.Marshal(s.manifest(j))
	if err != nil {
		return err
	}
	if !rec.Expires.IsZero() {
		w.Header().Set("Expires", rec.Expires.UTC().Format(http.TimeFormat))
	}
	writeJSON(w, r, http.StatusOK, "application/json", body)
	return nil
}

// manifest is the completion answer of a job.
func (s *Server) manifest(j *exportJob) map[string]any {
	files := func(list []exportFile) []any {
		out := []any{}
		for _, f := range list {
			out = append(out, map[string]any{"type": f.Type, "url": j.Base + "/$export-file?_jobId=" + j.ID + "&name=" + f.Name, "count": f.Count})
		}
		return out
	}
	m := map[string]any{
		"transactionTime":     j.TransactionTime.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"request":             j.Request,
		"requiresAccessToken": true,
		"output":              files(j.Output),
		"error":               files(j.Errors),
	}
	if !j.Spec.Since.IsZero() {
		m["deleted"] = files(j.Deleted)
	}
	if len(j.Spec.Ignored) > 0 {
		m["extension"] = map[string]any{"https://github.com/emr-project/emr/bulk-export-ignored": j.Spec.Ignored}
	}
	return m
}

// exportDownload serves one file of a finished job, recorded as an export
// before a byte leaves.
func (s *Server) exportDownload(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(&request{method: r.Method}, "GET")
	}
	if accept := r.Header.Get("Accept"); accept != "" && !acceptsNDJSON(accept) {
		return fhir.Errorf(fhir.KindNotAcceptable, "export files are application/fhir+ndjson, not %q", accept)
	}
	j, _, err := s.job(r)
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("name")
	var file *exportFile
	for _, f := range slices.Concat(j.Output, j.Errors, j.Deleted) {
		if f.Name == name {
			file = &f
			break
		}
	}
	if j.State != jobComplete || file == nil {
		return fhir.Errorf(fhir.KindNotFound, "export %s has no file %q", j.ID, name)
	}
	// The requester must still be allowed to search what the file holds.
	if s.opt.Model.IsResource(file.Type) && file.Type != "OperationOutcome" && file.Type != "Bundle" {
		if err := s.opt.Gate.Decide(r.Context(), access.Request{Interaction: "search-type", Type: file.Type}); err != nil {
			return err
		}
	}
	f, err := os.Open(filepath.Join(s.attemptDir(j), file.Name))
	if errors.Is(err, os.ErrNotExist) {
		return fhir.Errorf(fhir.KindNotFound, "the file %q of export %s is not on this server (its export directory must be shared by the servers of a database)", name, j.ID)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	p := access.PrincipalFrom(r.Context())
	agent := j.Agent
	agent.Address = remoteAddr(r)
	if p != nil {
		agent.User, agent.Client = p.User, p.Client
	}
	ev := audit.Event(audit.Entry{Category: audit.CategoryExport, Interaction: "bulk-export-download", Type: file.Type,
		Query: "_jobId=" + j.ID, Files: []string{file.Name}, Agent: agent, Outcome: audit.Success, Recorded: time.Now()})
	if err := s.opt.Store.AppendAudit(r.Context(), ev); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/fhir+ndjson")
	http.ServeContent(w, r, "", info.ModTime(), f)
	return nil
}

func acceptsNDJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch mt {
		case "application/fhir+ndjson", "application/ndjson", "*/*", "application/*":
			return true
		}
	}
	return false
}

// jobDir holds a job's attempts; attemptDir the files of its current one.
func (s *Server) jobDir(id string) string { return filepath.Join(s.opt.Bulk.Dir, id) }

func (s *Server) attemptDir(j *exportJob) string {
	return filepath.Join(s.jobDir(j.ID), "attempt-"+strconv.Itoa(j.Attempt))
}

// checkTypeFilters refuses _typeFilter queries that search what the
// caller's role may not see.
func (s *Server) checkTypeFilters(ctx context.Context, typ string, filters []string) error {
	for _, f := range filters {
		values, err := url.ParseQuery(f)
		if err != nil {
			return fhir.Errorf(fhir.KindInvalid, "$export: _typeFilter %s?%s: %v", typ, f, err)
		}
		q, err := search.Parse(s.opt.Definitions, typ, values, search.ParseOptions{})
		if err != nil {
			return err
		}
		if err := s.checkMaskedSearch(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
