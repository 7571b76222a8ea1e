// Package access is the one gate every interaction with patient data passes
// through: it asks the Policy whether the caller may do what it asks, and
// records the interaction as an AuditEvent — in the same transaction as a
// write, and durably before answering a read. The real policy (roles, SMART
// scopes, consent) plugs in as a Policy; until then AllowAll decides.
package access

import (
	"context"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Request describes one interaction as the gate sees it.
type Request struct {
	Interaction string // FHIR restful-interaction code
	Type, ID    string
	Query       string
	Agent       audit.Agent
	Purpose     string
}

// Policy decides whether a request may proceed. It returns nil to allow, or
// an error (normally of kind fhir.KindForbidden) to refuse.
type Policy interface {
	Decide(ctx context.Context, req Request) error
}

// AllowAll is the policy before authentication exists: everything is allowed,
// and everything is still audited.
type AllowAll struct{}

func (AllowAll) Decide(context.Context, Request) error { return nil }

// Gate checks and records every interaction.
type Gate struct {
	policy   Policy
	store    store.Store
	observer string
	now      func() time.Time
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
	if err := g.policy.Decide(ctx, req); err != nil {
		g.recordFailure(ctx, req, err)
		return err
	}
	touched, err := fn()
	if err != nil {
		g.recordFailure(ctx, req, err)
		return err
	}
	events := g.events(req, touched, audit.Success, "")
	if aerr := g.store.AppendAudit(ctx, events...); aerr != nil {
		return aerr
	}
	return nil
}

// Write runs a writing interaction: decide, then run fn inside one store
// transaction together with its audit record, so both commit or neither.
// A failure is recorded separately.
func (g *Gate) Write(ctx context.Context, req Request, fn func(tx store.Tx) ([]Touched, error)) error {
	if err := g.policy.Decide(ctx, req); err != nil {
		g.recordFailure(ctx, req, err)
		return err
	}
	err := g.store.Write(ctx, func(tx store.Tx) error {
		touched, err := fn(tx)
		if err != nil {
			return err
		}
		return g.recordIn(tx, req, touched)
	})
	if err != nil {
		g.recordFailure(ctx, req, err)
	}
	return err
}

// Within runs an interaction that is part of a larger transaction (an entry
// of a transaction Bundle): decided and audited inside tx.
func (g *Gate) Within(ctx context.Context, tx store.Tx, req Request, fn func() ([]Touched, error)) error {
	if err := g.policy.Decide(ctx, req); err != nil {
		return err
	}
	touched, err := fn()
	if err != nil {
		return err
	}
	return g.recordIn(tx, req, touched)
}

// recordIn writes the success records of an interaction inside tx.
func (g *Gate) recordIn(tx store.Tx, req Request, touched []Touched) error {
	for _, ev := range g.events(req, touched, audit.Success, "") {
		if err := tx.AppendAudit(ev); err != nil {
			return err
		}
	}
	return nil
}

// Decide asks the policy only; the caller records the outcome.
func (g *Gate) Decide(ctx context.Context, req Request) error { return g.policy.Decide(ctx, req) }

// RecordFailure audits an interaction that failed before or outside the gate
// (bad input rejected at the edge, for instance).
func (g *Gate) RecordFailure(ctx context.Context, req Request, err error) {
	g.recordFailure(ctx, req, err)
}

func (g *Gate) recordFailure(ctx context.Context, req Request, err error) {
	outcome := audit.MinorFailure
	if fhir.KindOf(err) == fhir.KindInternal {
		outcome = audit.SeriousFailure
	}
	detail := "internal error"
	if outcome == audit.MinorFailure {
		detail = err.Error()
	}
	// The failure record is best effort only in that the client already gets
	// an error; a failure to record it is itself logged by the store.
	_ = g.store.AppendAudit(context.WithoutCancel(ctx), g.events(req, nil, outcome, detail)...)
}

func (g *Gate) events(req Request, touched []Touched, outcome audit.Outcome, detail string) []fhir.Resource {
	base := audit.Entry{
		Interaction: req.Interaction, Type: req.Type, ID: req.ID, Query: req.Query,
		Agent: req.Agent, Purpose: req.Purpose, Outcome: outcome, Detail: detail,
		Recorded: g.now(), Observer: g.observer,
	}
	if len(touched) == 0 {
		return []fhir.Resource{audit.Event(base)}
	}
	// One event per patient touched keeps "who saw my record" answerable by
	// patient; resources without a patient share one event.
	events := make([]fhir.Resource, 0, 1)
	byPatient := map[string]int{}
	for _, t := range touched {
		e := base
		if t.Type != "" {
			e.Type, e.ID, e.VersionID = t.Type, t.ID, t.VersionID
		}
		e.Patient = t.Patient
		if i, ok := byPatient[t.Patient]; ok && len(touched) > 1 {
			ents, _ := events[i]["entity"].([]any)
			extra, _ := audit.Event(e)["entity"].([]any)
			if len(extra) > 0 {
				events[i]["entity"] = append(ents, extra[0])
			}
			continue
		}
		byPatient[t.Patient] = len(events)
		events = append(events, audit.Event(e))
	}
	return events
}
