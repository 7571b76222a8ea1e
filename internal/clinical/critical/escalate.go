package critical

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// A critical result must be acted on within a set time (The Joint
// Commission's NPSG.02.03.01 asks each organisation to set it), and when
// the clinician responsible cannot be reached, someone else must act. A
// review still open After its Task was asked for is marked overdue, in
// its businessStatus, and, when To names someone (the on-call team, a
// covering physician), passed to them as its requestedPerformer. Its
// owner stays whoever ordered the test: they remain responsible, and
// their history of the review is kept. A note says when and why.
type Escalation struct {
	After time.Duration
	To    *Target
}

// Target is who overdue reviews are passed to: a Practitioner,
// PractitionerRole, CareTeam or Organization.
type Target struct {
	Reference, Display string
}

// The businessStatus of an overdue review (the binding is an example
// one: the code is the EMR's own).
const (
	BusinessStatusSystem = "https://emr-project.org/fhir/CodeSystem/task-business-status"
	OverdueCode          = "overdue"
	OverdueDisplay       = "Not acknowledged in time"
)

// EscalationAgent is the agent of an escalation's audit record.
const EscalationAgent = "emr: critical result escalation"

// targetTypes are the resources overdue reviews may be passed to.
var targetTypes = []string{"Practitioner", "PractitionerRole", "CareTeam", "Organization"}

// TargetOf is the Target a stored resource makes, with the name it is
// shown by; an error for a resource of another type.
func TargetOf(v *store.Version) (*Target, error) {
	ok := false
	for _, t := range targetTypes {
		ok = ok || v.Type == t
	}
	if !ok {
		return nil, fmt.Errorf("%s/%s: overdue reviews go to a %s", v.Type, v.ID, strings.Join(targetTypes, ", a "))
	}
	t := &Target{Reference: v.Type + "/" + v.ID}
	res := v.Resource
	switch v.Type {
	case "Practitioner":
		t.Display = humanName(slice(res["name"]))
	case "PractitionerRole":
		who := str(mapOf(res["practitioner"])["display"])
		var what []string
		for _, c := range slice(res["code"]) {
			if s := conceptText(mapOf(c)); s != "" {
				what = append(what, s)
			}
		}
		t.Display = strings.TrimSpace(who + " " + strings.Join(what, ", "))
		if who != "" && len(what) > 0 {
			t.Display = who + " (" + strings.Join(what, ", ") + ")"
		}
	default:
		t.Display = str(res["name"])
	}
	if t.Display == "" {
		t.Display = t.Reference
	}
	return t, nil
}

func humanName(names []any) string {
	for _, n := range names {
		n := mapOf(n)
		if s := str(n["text"]); s != "" {
			return s
		}
		var parts []string
		for _, p := range slice(n["prefix"]) {
			parts = append(parts, str(p))
		}
		for _, g := range slice(n["given"]) {
			parts = append(parts, str(g))
		}
		parts = append(parts, str(n["family"]))
		if s := strings.Join(strings.Fields(strings.Join(parts, " ")), " "); s != "" {
			return s
		}
	}
	return ""
}

func conceptText(c map[string]any) string {
	if s := str(c["text"]); s != "" {
		return s
	}
	for _, cd := range slice(c["coding"]) {
		if s := str(mapOf(cd)["display"]); s != "" {
			return s
		}
	}
	return ""
}

// IsOverdue reports whether review task was marked overdue.
func IsOverdue(task fhir.Resource) bool {
	for _, c := range slice(mapOf(task["businessStatus"])["coding"]) {
		if c := mapOf(c); str(c["system"]) == BusinessStatusSystem && str(c["code"]) == OverdueCode {
			return true
		}
	}
	return false
}

// escalateBatch is how many overdue reviews one search finds.
const escalateBatch = 100

// Escalate marks overdue every open review asked for longer than
// esc.After before now and not yet marked, and passes it to esc.To. Each
// is its own transaction through gate.Duty, audited as EscalationAgent;
// a review acknowledged or escalated meanwhile (by another server) is
// left as it is. It returns how many it escalated, and the errors of
// those it could not.
func (r *Reviews) Escalate(ctx context.Context, st store.Store, gate *access.Gate, esc Escalation, now time.Time) (int, error) {
	if esc.After <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-esc.After)
	q, err := search.Parse(r.Definitions, "Task", url.Values{
		"code":                {TaskSystem + "|" + TaskCode},
		"status":              {OpenStatuses},
		"authored-on":         {"lt" + cutoff.UTC().Format(time.RFC3339)},
		"business-status:not": {BusinessStatusSystem + "|" + OverdueCode},
		"_sort":               {"authored-on"},
		"_count":              {fmt.Sprint(escalateBatch)},
	}, search.ParseOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for {
		res, err := st.Search(ctx, q)
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		for _, v := range res.Matches {
			if ctx.Err() != nil {
				return n, errors.Join(errs...)
			}
			ok, err := r.escalate(ctx, gate, esc, v.ID, cutoff, now)
			if err != nil {
				errs = append(errs, fmt.Errorf("Task/%s: %w", v.ID, err))
			}
			if ok {
				n++
			}
		}
		// On through the pages: a review that cannot be escalated
		// (its error said) must not hold back those after it.
		if res.Next == "" || ctx.Err() != nil {
			return n, errors.Join(errs...)
		}
		q.Cursor = res.Next
	}
}

// escalate marks review id overdue, in its own transaction, if it still
// is open, unmarked and asked for before cutoff.
func (r *Reviews) escalate(ctx context.Context, gate *access.Gate, esc Escalation, id string, cutoff, now time.Time) (bool, error) {
	req := access.Request{Interaction: "update", Type: "Task", ID: id, Agent: audit.Agent{User: EscalationAgent}}
	did := false
	err := gate.Duty(ctx, req, func(tx store.Tx) ([]access.Touched, error) {
		cur, err := tx.Read("Task", id)
		if fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		t := cur.Resource
		if !IsReview(t) || !Open(t) || IsOverdue(t) {
			return nil, nil
		}
		// Any FHIR dateTime the search took: a date alone counts from
		// its start, as the index reads it.
		asked, _, err := fhir.ParseDateRange(str(t["authoredOn"]))
		if err != nil {
			return nil, fmt.Errorf("its authoredOn: %w", err)
		}
		if !asked.Before(cutoff) {
			return nil, nil
		}
		esc.mark(t, now)
		v, _, err := tx.Update(t, cur.VersionID)
		if err != nil {
			return nil, err
		}
		did = true
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	switch {
	case fhir.IsKind(err, fhir.KindConflict), fhir.IsKind(err, fhir.KindPreconditionFailed):
		return false, nil // changed meanwhile: whoever changed it decided
	case err != nil:
		return false, err
	}
	return did, nil
}

// OnlyEscalated reports whether review later differs from earlier only
// by what escalations write (businessStatus, requestedPerformer,
// lastModified, and their notes added at the end): an acknowledgment of
// earlier still holds for later.
func OnlyEscalated(earlier, later fhir.Resource) bool {
	rest := func(t fhir.Resource) map[string]any {
		c := maps.Clone(map[string]any(t))
		for _, k := range []string{"meta", "businessStatus", "requestedPerformer", "lastModified", "note"} {
			delete(c, k)
		}
		return c
	}
	was, now := slice(earlier["note"]), slice(later["note"])
	if !reflect.DeepEqual(rest(earlier), rest(later)) || len(now) < len(was) ||
		(len(was) > 0 && !reflect.DeepEqual(was, now[:len(was)])) {
		return false
	}
	// What an escalation changes, it changes once: from not overdue to
	// overdue, and passed on then.
	for _, k := range []string{"businessStatus", "requestedPerformer"} {
		if !reflect.DeepEqual(earlier[k], later[k]) && (IsOverdue(earlier) || !IsOverdue(later)) {
			return false
		}
	}
	for _, n := range now[len(was):] {
		if str(mapOf(n)["authorString"]) != EscalationAgent {
			return false
		}
	}
	return true
}

// mark makes review t overdue at now.
func (esc Escalation) mark(t fhir.Resource, now time.Time) {
	stamp := now.UTC().Format(time.RFC3339)
	t["businessStatus"] = map[string]any{
		"coding": []any{map[string]any{"system": BusinessStatusSystem, "code": OverdueCode, "display": OverdueDisplay}},
		"text":   OverdueDisplay,
	}
	t["lastModified"] = stamp
	text := fmt.Sprintf("Not acknowledged within %s of being asked for (%s).", minutes(esc.After), str(t["authoredOn"]))
	if esc.To != nil {
		t["requestedPerformer"] = []any{map[string]any{"reference": map[string]any{"reference": esc.To.Reference, "display": esc.To.Display}}}
		text += " Passed to " + esc.To.Display + "."
	}
	t["note"] = append(slice(t["note"]), map[string]any{"authorString": EscalationAgent, "time": stamp, "text": text})
}

// minutes says d in whole minutes, or hours and minutes.
func minutes(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	switch {
	case m < 1:
		return d.String()
	case m == 1:
		return "1 minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	case m%60 == 0 && m == 60:
		return "1 hour"
	case m%60 == 0:
		return fmt.Sprintf("%d hours", m/60)
	}
	return fmt.Sprintf("%d h %d min", m/60, m%60)
}

// Overdue says how many open reviews are marked overdue in st, for
// monitoring.
func (r *Reviews) Overdue(ctx context.Context, st store.Store) (int64, error) {
	q, err := search.Parse(r.Definitions, "Task", url.Values{"code": {TaskSystem + "|" + TaskCode}, "status": {OpenStatuses},
		"business-status": {BusinessStatusSystem + "|" + OverdueCode}, "_count": {"1"}, "_total": {"accurate"}}, search.ParseOptions{})
	if err != nil {
		return 0, err
	}
	res, err := st.Search(ctx, q)
	if err != nil {
		return 0, err
	}
	return res.Total, nil
}
