package access

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// PurposeEmergency is the purpose of use recorded for accesses under
// break-glass (v3 ActReason ETREAT, emergency treatment).
const PurposeEmergency = "ETREAT"

// Break-glass. A user whose role limits them to some patients (the care
// reach) declares an emergency for one patient, with a reason, and reads
// that patient's record until the grant ends. The declaration is an
// AuditEvent of its own, every access under it is flagged (purpose
// ETREAT, security label BTG), and it waits in a review queue until a
// privacy officer (anyone who may search AuditEvent: the auditor role)
// reviews it. Grants are records of kind "emergency" (owner: the user),
// kept after they end for the review.

// BreakGlass declares, lists and reviews emergency access.
type BreakGlass struct {
	Store store.Store
	Gate  *Gate
	// Duration of a grant (default 4 hours); MaxDuration bounds what a
	// caller may ask for (default 24 hours).
	Duration, MaxDuration time.Duration
	now                   func() time.Time
}

// EmergencyRecord is a break-glass grant as kept for review.
type EmergencyRecord struct {
	ID       string    `json:"id"`
	User     string    `json:"user"`
	Role     string    `json:"role"`
	Patient  string    `json:"patient"`
	Reason   string    `json:"reason"`
	Declared time.Time `json:"declared"`
	Until    time.Time `json:"until"`
	Address  string    `json:"address,omitempty"`
	Reviewed *Review   `json:"reviewed,omitempty"`
}

// Review is a privacy officer's verdict on an emergency.
type Review struct {
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note"`
}

// minReason is the shortest reason accepted: "x" explains nothing.
const minReason = 10

func (b *BreakGlass) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// Declare grants the caller of ctx emergency access to patient for reason,
// for d (the default when 0). It refuses callers who already reach the
// patient, patient-bound and service callers, and unknown patients; the
// grant and its audit record commit together.
func (b *BreakGlass) Declare(ctx context.Context, patient, reason string, d time.Duration, addr string) (*EmergencyRecord, error) {
	pr := PrincipalFrom(ctx)
	switch {
	case pr == nil:
		return nil, fhir.Errorf(fhir.KindUnauthorized, "authentication is required")
	case pr.User == "" || b.patientBound(pr):
		return nil, fhir.Errorf(fhir.KindForbidden, "break-glass is for clinicians, not for patients or services")
	case len(strings.TrimSpace(reason)) < minReason:
		return nil, fhir.Errorf(fhir.KindInvalid, "give the reason for emergency access (at least %d characters)", minReason)
	case !fhir.ValidID(patient):
		return nil, fhir.Errorf(fhir.KindInvalid, "%q is not a patient id", patient)
	}
	if d == 0 {
		d = cmp(b.Duration, 4*time.Hour)
	}
	if limit := cmp(b.MaxDuration, 24*time.Hour); d <= 0 || d > limit {
		return nil, fhir.Errorf(fhir.KindInvalid, "emergency access lasts at most %s", limit)
	}
	if _, err := b.Store.Read(ctx, "Patient", patient); err != nil {
		return nil, err
	}
	plain := *pr
	plain.Emergencies = nil
	if ok, err := b.Gate.Visible(WithPrincipal(ctx, &plain), StoreSearcher(b.Store), 'r', "Patient", patient); err != nil {
		return nil, err
	} else if ok {
		return nil, fhir.Errorf(fhir.KindConflict, "you already have access to Patient/%s: no emergency access is needed", patient)
	}
	// The role must let the user read clinical data at all.
	if acc := b.Gate.Limit(ctx, 'r', []string{"Patient"}); acc != nil && len(acc.Rules) == 0 && len(pr.Emergencies) == 0 {
		return nil, fhir.Errorf(fhir.KindForbidden, "the %s role may not read patient records, even in an emergency", pr.Role)
	}
	now := b.clock()
	e := &EmergencyRecord{ID: store.NewID(), User: pr.User, Role: pr.Role, Patient: patient,
		Reason: strings.TrimSpace(reason), Declared: now, Until: now.Add(d), Address: addr}
	value, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	ev := audit.Event(audit.Entry{Category: audit.CategorySecurityAlert, Interaction: "break-glass", Subject: pr.User, Type: "Patient", ID: patient, Patient: "Patient/" + patient,
		Agent: audit.Agent{User: pr.User, Address: addr}, Purpose: PurposeEmergency, Outcome: audit.Success,
		Detail: "emergency access until " + e.Until.UTC().Format(time.RFC3339) + ": " + e.Reason, Recorded: now, Observer: b.Gate.observer})
	flagBreakGlass(ev)
	err = b.Store.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.PutRecord(&store.Record{Kind: "emergency", Key: e.ID, Owner: pr.User, Value: value}, 0); err != nil {
			return err
		}
		return tx.AppendAudit(ev)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// patientBound reports whether the caller's role reaches only the
// patient it is (the patient role).
func (b *BreakGlass) patientBound(pr *Principal) bool {
	rp, ok := b.Gate.policy.(*RolePolicy)
	if !ok {
		return pr.Patient != ""
	}
	role, ok := rp.roles.Role(pr.Role)
	return !ok || role.Patients == PatientsOwn
}

func cmp(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Active returns user's grants in force, for their Principal.
func (b *BreakGlass) Active(ctx context.Context, user string) ([]Emergency, error) {
	recs, err := b.records(ctx, user)
	if err != nil {
		return nil, err
	}
	now := b.clock()
	var out []Emergency
	for _, r := range recs {
		if now.Before(r.Until) {
			out = append(out, Emergency{Patient: r.Patient, Until: r.Until, Reason: r.Reason})
		}
	}
	return out, nil
}

// Queue lists the emergencies for review, newest first; reviewed ones
// too when all is set. Only a caller who may search AuditEvent sees it.
func (b *BreakGlass) Queue(ctx context.Context, all bool) ([]*EmergencyRecord, error) {
	if err := b.mayReview(ctx); err != nil {
		return nil, err
	}
	recs, err := b.records(ctx, "")
	if err != nil {
		return nil, err
	}
	if !all {
		recs = slices.DeleteFunc(recs, func(r *EmergencyRecord) bool { return r.Reviewed != nil })
	}
	slices.SortFunc(recs, func(a, b *EmergencyRecord) int { return b.Declared.Compare(a.Declared) })
	return recs, nil
}

// MarkReviewed records the caller's review of emergency id, with a note;
// the review is audited with it.
func (b *BreakGlass) MarkReviewed(ctx context.Context, id, note string) (*EmergencyRecord, error) {
	if err := b.mayReview(ctx); err != nil {
		return nil, err
	}
	if strings.TrimSpace(note) == "" {
		return nil, fhir.Errorf(fhir.KindInvalid, "a review needs a note")
	}
	pr := PrincipalFrom(ctx)
	var e EmergencyRecord
	err := b.Store.Write(ctx, func(tx store.Tx) error {
		rec, err := tx.GetRecord("emergency", id)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(rec.Value, &e); err != nil {
			return err
		}
		if e.Reviewed != nil {
			return fhir.Errorf(fhir.KindConflict, "emergency %s was reviewed by %s", id, e.Reviewed.By)
		}
		if e.User == pr.User {
			return fhir.Errorf(fhir.KindForbidden, "nobody reviews their own emergency access")
		}
		now := b.clock()
		e.Reviewed = &Review{By: pr.User, At: now, Note: strings.TrimSpace(note)}
		value, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		if _, err := tx.PutRecord(&store.Record{Kind: "emergency", Key: id, Owner: e.User, Value: value}, rec.Version); err != nil {
			return err
		}
		return tx.AppendAudit(audit.Event(audit.Entry{Category: audit.CategorySecurityAlert, Interaction: "break-glass-review", Subject: e.User, Type: "Patient", ID: e.Patient,
			Patient: "Patient/" + e.Patient, Agent: audit.Agent{User: pr.User}, Outcome: audit.Success,
			Detail: fmt.Sprintf("reviewed the emergency access of %s: %s", e.User, e.Reviewed.Note), Recorded: now, Observer: b.Gate.observer}))
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

func (b *BreakGlass) mayReview(ctx context.Context) error {
	if PrincipalFrom(ctx) == nil {
		return fhir.Errorf(fhir.KindUnauthorized, "authentication is required")
	}
	if acc := b.Gate.Limit(ctx, 's', []string{"AuditEvent"}); !Unlimited(acc) {
		return fhir.Errorf(fhir.KindForbidden, "reviewing emergency access is for privacy officers (those who may search AuditEvent)")
	}
	return nil
}

func (b *BreakGlass) records(ctx context.Context, user string) ([]*EmergencyRecord, error) {
	recs, err := b.Store.ListRecords(ctx, "emergency", user)
	if err != nil {
		return nil, err
	}
	out := make([]*EmergencyRecord, 0, len(recs))
	for _, r := range recs {
		var e EmergencyRecord
		if err := json.Unmarshal(r.Value, &e); err != nil {
			return nil, fmt.Errorf("emergency record %s: %w", r.Key, err)
		}
		out = append(out, &e)
	}
	return out, nil
}
