package smart

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// AuditLog durably records audit events; store.Store implements it.
type AuditLog interface {
	AppendAudit(ctx context.Context, events ...fhir.Resource) error
}

// What the authorisation server records, as AuditEvents of the security
// categories of internal/audit (security.go has the codes):
//
//   - every token request: "token-issued" (the grant type, scopes and
//     launch patient; the user and the client as agents, the user as the
//     account acted on, the patient as AuditEvent.patient) or
//     "token-refused" (the OAuth error, and the client it claimed to be
//     when it did not authenticate);
//   - every revocation request, "token-revoked", and the revocations the
//     server makes itself when a code or refresh token is used twice;
//   - EHR launches, "launch-created", with the launch patient;
//   - clients registered and removed (Clients.Add, Clients.Remove).
//
// A token is handed out only once its issue is recorded. The bearer token
// checked on each FHIR request is not recorded here: the interaction's own
// AuditEvent names the user and the client.

// record writes one security event now, whatever ctx's cancellation.
func (s *Server) record(ctx context.Context, e audit.Entry) error {
	e.Recorded = s.now()
	e.Observer = s.opts.Observer
	err := s.opts.Audit.AppendAudit(context.WithoutCancel(ctx), audit.Event(e))
	if err != nil {
		s.logger.Error("smart: audit", "interaction", e.Interaction, "err", err)
	}
	return err
}

// outcomeOf is the audit outcome and detail of a request that failed
// with err: the OAuth error when it is one, else a server failure.
func outcomeOf(err error) (audit.Outcome, string) {
	var oe *oauthError
	if errors.As(err, &oe) {
		if oe.status >= 500 {
			return audit.SeriousFailure, oe.Error()
		}
		return audit.MinorFailure, oe.Error()
	}
	return audit.SeriousFailure, "server_error"
}

// callerAddr is the network address of the request's client.
func callerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// patientRef is "Patient/id", or "" for no patient.
func patientRef(id string) string {
	if id == "" {
		return ""
	}
	return "Patient/" + id
}

// joinDetail joins the non-empty parts of a detail with "; ".
func joinDetail(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "; ")
}

// clientEvent is the event of a change to the client registry, by the
// caller ctx carries (the command line's operator).
func (cs *Clients) clientEvent(ctx context.Context, interaction, id, detail string) fhir.Resource {
	var agent audit.Agent
	if p := access.PrincipalFrom(ctx); p != nil {
		agent.User, agent.Client = p.User, p.Client
	}
	return audit.Event(audit.Entry{Category: audit.CategorySecurityAlert, Interaction: interaction,
		SubjectClient: id, Agent: agent, Detail: detail, Recorded: cs.now(), Observer: cs.observer})
}

// writeWithAudit puts rec (or deletes it, when del) and records ev in one
// transaction when the records are a store.Store, so that neither is kept
// without the other; otherwise one after the other.
func (cs *Clients) writeWithAudit(ctx context.Context, rec *store.Record, del bool, ev fhir.Resource) error {
	if st, ok := cs.records.(store.Store); ok {
		return st.Write(ctx, func(tx store.Tx) error {
			var err error
			if del {
				err = tx.DeleteRecord(rec.Kind, rec.Key)
			} else {
				_, err = tx.PutRecord(rec, 0)
			}
			if err != nil {
				return err
			}
			return tx.AppendAudit(ev)
		})
	}
	if cs.audit == nil {
		return errors.New("smart: the client registry's records cannot record audit events")
	}
	var err error
	if del {
		err = cs.records.DeleteRecord(ctx, rec.Kind, rec.Key)
	} else {
		_, err = cs.records.PutRecord(ctx, rec, 0)
	}
	if err != nil {
		return err
	}
	return cs.audit.AppendAudit(ctx, ev)
}
