// Package access is the one gate every interaction with patient data passes
// through: it asks the Policy whether the caller may do what it asks, and
// records the interaction as an AuditEvent — in the same transaction as a
// write, and durably before answering a read. The real policy (roles, SMART
// scopes, consent) plugs in as a Policy; until then AllowAll decides.
package access

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Request describes one interaction as the gate sees it.
type Request struct {
	Interaction string // FHIR restful-interaction code
	Type, ID    string
	Query       string
	Agent       audit.Agent
	Purpose     string
	// Patient ("Patient/123") is the patient a refused interaction
	// concerned, when known, for its audit record; the gate fills it in
	// for a request about a Patient itself.
	Patient string
	// emergency are the patients the caller reaches by break-glass, whose
	// accesses are flagged.
	emergency map[string]bool
}

// Policy decides whether a request may proceed. It returns nil to allow, or
// an error (normally of kind fhir.KindForbidden) to refuse.
type Policy interface {
	Decide(ctx context.Context, req Request) error
}

// Limiter is a Policy that also says which resources of a type the caller
// may see or touch, as rules the store applies inside its queries.
type Limiter interface {
	// Limit returns the access rules for perm ('c', 'r', 'u', 'd' or 's')
	// on types (any type when empty): nil when every resource is allowed,
	// an Access without rules when none is.
	Limit(ctx context.Context, perm byte, types []string) *search.Access
}

// AllowAll allows everything, and everything is still audited: for tests
// of what lies behind the gate, and tools that run as the system.
type AllowAll struct{}

func (AllowAll) Decide(context.Context, Request) error { return nil }

// Denied wraps the error a caller sees (normally "not found": a denied
// read looks like a missing resource) for an interaction refused by
// access control, so that the audit record says it was denied.
func Denied(shown error, reason string) error { return &deniedError{shown: shown, reason: reason} }

type deniedError struct {
	shown  error
	reason string
}

func (e *deniedError) Error() string { return e.shown.Error() }
func (e *deniedError) Unwrap() error { return e.shown }

// Gate checks and records every interaction.
type Gate struct {
	policy   Policy
	store    store.Store
	observer string
	now      func() time.Time
	// unaudited makes the gate record nothing. Only a test can set it
	// (export_test.go): it is the baseline against which a benchmark
	// measures what auditing costs. Audit cannot be turned off otherwise.
	unaudited bool
	// written are called with what each write interaction (Write,
	// Within) wrote, inside its transaction (OnWrite).
	written []WriteHook
}

// WriteHook is told, inside the transaction of a write interaction the
// gate allowed, which versions it touched, and may add to the
// transaction (an outbox record, a Task): the versions it writes, which
// it returns, are audited with the interaction's own. Its error fails
// the interaction.
type WriteHook func(tx store.Tx, req Request, touched []Touched) ([]Touched, error)

// OnWrite adds a hook every later write interaction (Write, Within)
// calls, after its function and before its audit record. Operations
// (WriteOperation: $merge, …) do not call it.
func (g *Gate) OnWrite(hook WriteHook) { g.written = append(g.written, hook) }

// wrote calls the write hooks and returns touched with what they wrote.
// A hook acts for the EMR, not for the caller: it is given the
// transaction without the caller's limits (inside a transaction Bundle,
// Within is handed the guarded one).
func (g *Gate) wrote(tx store.Tx, req Request, touched []Touched) ([]Touched, error) {
	for {
		w, ok := tx.(interface{ Unwrap() store.Tx })
		if !ok {
			break
		}
		tx = w.Unwrap()
	}
	all := touched
	for _, hook := range g.written {
		more, err := hook(tx, req, touched)
		if err != nil {
			return nil, err
		}
		all = append(all, more...)
	}
	return all, nil
}

// NewGate returns a gate that decides with policy and records into st.
// observer names this server in AuditEvent.source.
func NewGate(st store.Store, policy Policy, observer string) *Gate {
	return &Gate{policy: policy, store: st, observer: observer, now: time.Now}
}

// Touched is what an interaction acted on, reported back for the audit record.
type Touched struct {
	Type, ID  string
	VersionID int64
	Patient   string // "Patient/id" when known
}

// TouchedVersion describes a stored version for the audit record.
func TouchedVersion(v *store.Version) Touched {
	if v == nil {
		return Touched{}
	}
	return Touched{Type: v.Type, ID: v.ID, VersionID: v.VersionID, Patient: audit.PatientOf(v.Resource)}
}

// Read runs a read-only interaction: decide, run fn, then durably record the
// outcome before returning. If the audit record cannot be written the
// interaction fails: nothing is shown that was not recorded.
func (g *Gate) Read(ctx context.Context, req Request, fn func() ([]Touched, error)) error {
	req = identify(ctx, req)
	if err := g.policy.Decide(ctx, req); err != nil {
		g.recordFailure(ctx, req, err)
		return err
	}
	touched, err := fn()
	if err != nil {
		g.recordFailure(ctx, req, err)
		return err
	}
	if g.unaudited {
		return nil
	}
	return g.appendEvents(ctx, req, touched, audit.Success, "")
}

// Write runs a writing interaction: decide, then run fn inside one store
// transaction together with its audit record, so both commit or neither.
// A failure is recorded separately.
func (g *Gate) Write(ctx context.Context, req Request, fn func(tx store.Tx) ([]Touched, error)) error {
	req = identify(ctx, req)
	if err := g.policy.Decide(ctx, req); err != nil {
		g.recordFailure(ctx, req, err)
		return err
	}
	err := g.store.Write(ctx, func(tx store.Tx) error {
		touched, err := fn(g.guardTx(ctx, tx))
		if err != nil {
			return err
		}
		return g.committing(tx, req, touched)
	})
	if err != nil {
		g.recordFailure(ctx, req, err)
	}
	return err
}

// Within runs an interaction that is part of a larger transaction (an entry
// of a transaction Bundle): decided and audited inside tx.
func (g *Gate) Within(ctx context.Context, tx store.Tx, req Request, fn func() ([]Touched, error)) error {
	req = identify(ctx, req)
	if err := g.policy.Decide(ctx, req); err != nil {
		return err
	}
	touched, err := fn()
	if err != nil {
		return err
	}
	return g.committing(tx, req, touched)
}

// committing calls the write hooks on what a write interaction touched
// and records it all, inside its transaction tx.
func (g *Gate) committing(tx store.Tx, req Request, touched []Touched) error {
	touched, err := g.wrote(tx, req, touched)
	if err != nil {
		return err
	}
	return g.recordIn(tx, req, touched)
}

// identify fills the request's agent and purpose from the caller ctx
// carries, where the request does not say.
func identify(ctx context.Context, req Request) Request {
	p := PrincipalFrom(ctx)
	if p == nil {
		return req
	}
	if req.Agent.User == "" {
		req.Agent.User = p.User
	}
	if req.Agent.Client == "" {
		req.Agent.Client = p.Client
	}
	if req.Purpose == "" {
		req.Purpose = p.Purpose
	}
	now := time.Now()
	for _, e := range p.Emergencies {
		if now.Before(e.Until) {
			if req.emergency == nil {
				req.emergency = map[string]bool{}
			}
			req.emergency[e.Patient] = true
		}
	}
	return req
}

// recordIn writes the success records of an interaction inside tx.
func (g *Gate) recordIn(tx store.Tx, req Request, touched []Touched) error {
	if g.unaudited {
		return nil
	}
	for _, ev := range g.events(req, touched, audit.Success, "") {
		if err := tx.AppendAudit(ev); err != nil {
			return err
		}
	}
	return nil
}

// Limit returns the policy's access rules for perm on types, or nil when
// the policy sets none (see Limiter).
func (g *Gate) Limit(ctx context.Context, perm byte, types []string) *search.Access {
	if l, ok := g.policy.(Limiter); ok {
		return l.Limit(ctx, perm, types)
	}
	return nil
}

// Visible reports whether the caller may perm typ/id, in store s (a
// store.Store, or a store.Tx inside a write).
func (g *Gate) Visible(ctx context.Context, s Searcher, perm byte, typ, id string) (bool, error) {
	return g.visible(ctx, s, perm, typ, id, true)
}

// visible is Visible; consent false leaves the patients' Consents out,
// for checks of writes: a Consent limits who sees a record, not what may
// be written to it (a result for a patient who opted out is still kept).
func (g *Gate) visible(ctx context.Context, s Searcher, perm byte, typ, id string, consent bool) (bool, error) {
	acc := g.Limit(ctx, perm, []string{typ})
	if acc != nil && !consent {
		acc.Consent = nil
		if Unlimited(acc) {
			acc = nil
		}
	}
	if acc == nil {
		return true, nil
	}
	if len(acc.Rules) == 0 {
		return false, nil
	}
	q, err := search.Parse(spec.R5(), typ, url.Values{"_id": {id}}, search.ParseOptions{})
	if err != nil {
		return false, err
	}
	q.Access, q.Count, q.CountGiven = acc, 1, true
	res, err := s.search(ctx, q)
	if err != nil {
		return false, err
	}
	return len(res.Matches) > 0, nil
}

// Searcher is where Visible looks: StoreSearcher or TxSearcher.
type Searcher interface {
	search(ctx context.Context, q *search.Query) (*store.SearchResult, error)
}

// StoreSearcher searches a store; TxSearcher, a write transaction.
func StoreSearcher(s store.Store) Searcher { return storeSearcher{s} }
func TxSearcher(tx store.Tx) Searcher      { return txSearcher{tx} }

type storeSearcher struct{ s store.Store }
type txSearcher struct{ tx store.Tx }

func (s storeSearcher) search(ctx context.Context, q *search.Query) (*store.SearchResult, error) {
	return s.s.Search(ctx, q)
}
func (s txSearcher) search(_ context.Context, q *search.Query) (*store.SearchResult, error) {
	return s.tx.Search(q)
}

// Decide asks the policy only; the caller records the outcome.
func (g *Gate) Decide(ctx context.Context, req Request) error { return g.policy.Decide(ctx, req) }

// RecordFailure audits an interaction that failed before or outside the gate
// (bad input rejected at the edge, for instance).
func (g *Gate) RecordFailure(ctx context.Context, req Request, err error) {
	g.recordFailure(ctx, req, err)
}

func (g *Gate) recordFailure(ctx context.Context, req Request, err error) {
	if g.unaudited {
		return
	}
	req = identify(ctx, req)
	outcome := audit.MinorFailure
	if fhir.KindOf(err) == fhir.KindInternal {
		outcome = audit.SeriousFailure
	}
	detail := "internal error"
	if outcome == audit.MinorFailure {
		detail = err.Error()
	}
	var denied *deniedError
	refused := errors.As(err, &denied)
	if refused {
		detail = "denied: " + denied.reason
	} else if k := fhir.KindOf(err); k == fhir.KindForbidden || k == fhir.KindUnauthorized {
		detail = "denied: " + detail
		refused = true
	}
	if refused && req.Type == "Patient" && req.ID != "" && req.Patient == "" {
		// A refused look at a patient is recorded under that patient, so
		// that "who tried to see my record" is answered by patient as
		// "who saw it" is. (A patient not found is no one's record.)
		req.Patient = "Patient/" + req.ID
	}
	// The failure record is best effort only in that the client already gets
	// an error; a failure to record it is itself logged by the store.
	_ = g.appendEvents(context.WithoutCancel(ctx), req, nil, outcome, detail)
}

func (g *Gate) events(req Request, touched []Touched, outcome audit.Outcome, detail string) []fhir.Resource {
	return eventsOf(g.entries(req, touched, outcome, detail))
}

// eventsOf builds the AuditEvents of groups.
func eventsOf(groups []eventGroup) []fhir.Resource {
	events := make([]fhir.Resource, 0, len(groups))
	for _, grp := range groups {
		ev := audit.Event(grp.entry)
		for _, more := range grp.more {
			ents, _ := ev["entity"].([]any)
			extra, _ := audit.Event(more)["entity"].([]any)
			if len(extra) > 0 {
				ev["entity"] = append(ents, extra[0])
			}
		}
		if grp.brokeGlass {
			flagBreakGlass(ev)
		}
		events = append(events, ev)
	}
	return events
}

// eventGroup is one AuditEvent to record: its entry, the entries whose
// entity it also names (more of the same patient's resources), and
// whether it was an access under break-glass.
type eventGroup struct {
	entry      audit.Entry
	more       []audit.Entry
	brokeGlass bool
}

// entries groups what an interaction touched into the AuditEvents to
// record. One event per patient touched keeps "who saw my record"
// answerable by patient; resources without a patient share one event.
func (g *Gate) entries(req Request, touched []Touched, outcome audit.Outcome, detail string) []eventGroup {
	base := audit.Entry{
		Interaction: req.Interaction, Type: req.Type, ID: req.ID, Patient: req.Patient, Query: req.Query,
		Agent: req.Agent, Purpose: req.Purpose, Outcome: outcome, Detail: detail,
		Recorded: g.now(), Observer: g.observer,
	}
	if len(touched) == 0 {
		return []eventGroup{{entry: base}}
	}
	groups := make([]eventGroup, 0, 1)
	byPatient := map[string]int{}
	for _, t := range touched {
		e := base
		if t.Type != "" {
			e.Type, e.ID, e.VersionID = t.Type, t.ID, t.VersionID
		}
		e.Patient = t.Patient
		if i, ok := byPatient[t.Patient]; ok && len(touched) > 1 {
			groups[i].more = append(groups[i].more, e)
			continue
		}
		byPatient[t.Patient] = len(groups)
		brokeGlass := req.emergency[strings.TrimPrefix(t.Patient, "Patient/")]
		if brokeGlass {
			e.Purpose = PurposeEmergency
		}
		groups = append(groups, eventGroup{entry: e, brokeGlass: brokeGlass})
	}
	return groups
}

// appendEvents durably records an interaction's events outside a write.
// When the store takes encoded events and each is a plain one (one
// resource, no break-glass), they are encoded without building resources
// (audit.Encode): the path of nearly every read and search.
func (g *Gate) appendEvents(ctx context.Context, req Request, touched []Touched, outcome audit.Outcome, detail string) error {
	groups := g.entries(req, touched, outcome, detail)
	if enc, ok := g.store.(store.EncodedAuditAppender); ok {
		encoded := make([]audit.Encoded, 0, len(groups))
		for _, grp := range groups {
			if len(grp.more) > 0 || grp.brokeGlass {
				break
			}
			ev, ok := audit.Encode(grp.entry, store.NewID())
			if !ok {
				break
			}
			encoded = append(encoded, ev)
		}
		if len(encoded) == len(groups) {
			return enc.AppendEncodedAudit(ctx, encoded...)
		}
	}
	return g.store.AppendAudit(ctx, eventsOf(groups)...)
}

// flagBreakGlass labels an audit event of an access under break-glass, so
// that reviews find it (meta.security BTG, "break the glass").
func flagBreakGlass(ev fhir.Resource) {
	ev["meta"] = map[string]any{"security": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG", "display": "break the glass"}}}
}
