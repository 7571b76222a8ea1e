package access

import (
	"context"
	"errors"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// errDryRun rolls back the transaction of an operation run as a preview.
var errDryRun = errors.New("access: dry run")

// WriteOperation runs a writing operation granted by name (MayRun op), not
// by the SMART letters: Patient/$merge moves the references of clinical
// resources a registrar may not otherwise write. So fn gets the store's own
// transaction, not one guarded by the caller's access rules; it must check
// itself what the caller has to see (Visible) before it changes anything.
//
// The interaction is recorded as one AuditEvent, committed with fn's
// writes: its patient is that of touched[0] and every touched resource is
// one of its entities (Gate.Write would split it by patient). With dryRun
// (a preview) fn's writes are rolled back and the event is recorded as a
// read's is, durably before returning.
func (g *Gate) WriteOperation(ctx context.Context, req Request, op string, dryRun bool, fn func(tx store.Tx) ([]Touched, error)) error {
	req = identify(ctx, req)
	if err := g.MayRun(ctx, op); err != nil {
		g.recordFailure(ctx, req, err)
		return err
	}
	var previewed []Touched
	err := g.store.Write(ctx, func(tx store.Tx) error {
		touched, err := fn(tx)
		if err != nil {
			return err
		}
		if dryRun {
			previewed = touched
			return errDryRun
		}
		if g.unaudited {
			return nil
		}
		return tx.AppendAudit(g.operationEvent(req, touched))
	})
	if dryRun && errors.Is(err, errDryRun) {
		if g.unaudited {
			return nil
		}
		return g.store.AppendAudit(ctx, g.operationEvent(req, previewed))
	}
	if err != nil {
		g.recordFailure(ctx, req, err)
	}
	return err
}

// operationEvent is the one AuditEvent of an operation that touched
// several resources, possibly of several patients.
func (g *Gate) operationEvent(req Request, touched []Touched) fhir.Resource {
	e := audit.Entry{
		Interaction: req.Interaction, Type: req.Type, ID: req.ID, Query: req.Query,
		Agent: req.Agent, Purpose: req.Purpose, Outcome: audit.Success, Recorded: g.now(), Observer: g.observer,
	}
	if len(touched) > 0 {
		t := touched[0]
		e.Type, e.ID, e.VersionID, e.Patient = t.Type, t.ID, t.VersionID, t.Patient
	}
	ev := audit.Event(e)
	entities, _ := ev["entity"].([]any)
	for _, t := range touched[min(1, len(touched)):] {
		extra, _ := audit.Event(audit.Entry{Interaction: req.Interaction, Type: t.Type, ID: t.ID, VersionID: t.VersionID})["entity"].([]any)
		entities = append(entities, extra...)
	}
	if len(entities) > 0 {
		ev["entity"] = entities
	}
	return ev
}
