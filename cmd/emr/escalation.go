package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/critical"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// escalation is the escalation of critical results cfg asks for; an
// error when --critical-escalate-to names nothing that can act.
func escalation(ctx context.Context, st store.Store, cfg config) (critical.Escalation, error) {
	esc := critical.Escalation{After: cfg.escalateAfter}
	if cfg.escalateTo == "" {
		return esc, nil
	}
	typ, id, ok := strings.Cut(cfg.escalateTo, "/")
	if !ok || typ == "" || !fhir.ValidID(id) {
		return esc, usageError{fmt.Errorf("--critical-escalate-to %q is not a reference such as CareTeam/on-call", cfg.escalateTo)}
	}
	v, err := st.Read(ctx, typ, id)
	if err != nil {
		return esc, usageError{fmt.Errorf("--critical-escalate-to %s: %w", cfg.escalateTo, err)}
	}
	if esc.To, err = critical.TargetOf(v); err != nil {
		return esc, usageError{fmt.Errorf("--critical-escalate-to: %w", err)}
	}
	return esc, nil
}

// runEscalation escalates the overdue reviews of critical results until
// ctx ends: at start, then every tenth of esc.After (from one second to
// a minute). Every server does; a review is escalated once.
func runEscalation(ctx context.Context, a *app, esc critical.Escalation, logger *slog.Logger) {
	every := min(max(esc.After/10, time.Second), time.Minute)
	for {
		n, err := a.reviews.Escalate(ctx, a.store, a.gate, esc, time.Now())
		if n > 0 {
			to := "nobody: set --critical-escalate-to"
			if esc.To != nil {
				to = esc.To.Reference + " (" + esc.To.Display + ")"
			}
			logger.Warn("critical results not acknowledged in time: marked overdue", "reviews", n, "after", esc.After.String(), "passed to", to)
		}
		if err != nil && ctx.Err() == nil {
			logger.Error("escalating critical results", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
