package access

import (
	"context"
	"fmt"

	"github.com/emr-project/emr/internal/store"
)

// Duty runs a write the EMR makes of its own accord, which no caller
// asked for: passing a critical result nobody acknowledged in time to
// whoever covers. The EMR's duty to the patient does not depend on a
// caller's role or on who a patient's Consent admits, so no policy
// decides and fn gets the store's own transaction; it must itself keep
// to what the duty needs.
//
// The write is audited like any other, in the same transaction, with
// req.Agent as its agent: that must name the duty (User "emr: critical
// result escalation"), so that the audit trail says what acted. The
// write hooks are called as for Write. A failure is recorded too.
func (g *Gate) Duty(ctx context.Context, req Request, fn func(tx store.Tx) ([]Touched, error)) error {
	if req.Agent.User == "" {
		return fmt.Errorf("access: a duty must name itself as the agent of its audit records")
	}
	err := g.store.Write(ctx, func(tx store.Tx) error {
		touched, err := fn(tx)
		if err != nil || len(touched) == 0 {
			return err // nothing done: nothing to record
		}
		return g.committing(tx, req, touched)
	})
	if err != nil && ctx.Err() == nil {
		// (A duty stopped with its server did not fail.)
		g.recordFailure(ctx, req, err)
	}
	return err
}
