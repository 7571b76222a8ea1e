package fhirapi

import (
	"context"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Masking (access.Masker) hides elements from some roles in every answer
// (serveR5 applies it to whatever an interaction returns). Its other half is
// here: a role that was shown a resource without some elements must not
// erase them by sending back what it saw, so every version it writes gets
// them back from the version it replaces.

// restoring returns tx with Update carrying the elements the caller of ctx
// may not see over from the current version (access.Gate.Restore).
func (s *Server) restoring(ctx context.Context, tx store.Tx) store.Tx {
	return &restoringTx{Tx: tx, ctx: ctx, gate: s.opt.Gate}
}

type restoringTx struct {
	store.Tx
	ctx  context.Context
	gate *access.Gate
}

func (t *restoringTx) Update(res fhir.Resource, ifMatch int64) (*store.Version, bool, error) {
	if id := res.ID(); id != "" {
		if cur, err := t.Tx.Read(res.Type(), id); err == nil && !cur.Deleted {
			restored, err := t.gate.Restore(t.ctx, res, cur.Resource)
			if err != nil {
				return nil, false, err
			}
			res = restored
		}
	}
	return t.Tx.Update(res, ifMatch)
}
