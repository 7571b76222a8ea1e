// Package critical makes sure a critical result is seen and answered
// for. Every Observation version written through the access gate (the
// HL7 v2 interface's results, the FHIR API, the chart) whose
// interpretation is critical (v3 ObservationInterpretation HH, LL or AA)
// and whose status makes it a result (preliminary, final, amended,
// corrected) gets a Task in the same transaction, asking a clinician to
// review it: owned by whoever ordered the test when the result names its
// order, priority stat. The chart's critical results page lists the open
// ones across the patients the user may see, and acknowledging one
// completes its Task with who and when. What an import loads (history)
// asks for nothing.
package critical

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// The Task code of a review (Task.code's binding is an example one: the
// code is the EMR's own).
const (
	TaskSystem  = "https://emr-project.org/fhir/CodeSystem/task-code"
	TaskCode    = "review-critical-result"
	TaskDisplay = "Review a critical result"
)

const interpretationSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

// criticalCodes are the interpretations that make a result critical.
var criticalCodes = []string{"HH", "LL", "AA"}

// resultStatuses are the Observation statuses of a result to act on.
var resultStatuses = []string{"preliminary", "final", "amended", "corrected"}

// Of reports whether obs is a critical result: an interpretation coded
// HH, LL or AA in v3 ObservationInterpretation, and a status of a
// result.
func Of(obs fhir.Resource) bool {
	if obs.Type() != "Observation" || !slices.Contains(resultStatuses, str(obs["status"])) {
		return false
	}
	for _, cc := range slice(obs["interpretation"]) {
		for _, c := range slice(mapOf(cc)["coding"]) {
			c := mapOf(c)
			if str(c["system"]) == interpretationSystem && slices.Contains(criticalCodes, str(c["code"])) {
				return true
			}
		}
	}
	return false
}

// Reviews writes the review Tasks.
type Reviews struct {
	Definitions *spec.Definitions
}

// writes are the interactions whose results are reviewed.
var writes = []string{"create", "update", "patch"}

// Hook is an access.WriteHook. For each Observation version the
// interaction wrote: a critical result without an open review gets one;
// a new version of a result whose review is open moves the review to it
// (the clinician acknowledges what the result says now, corrected or
// not); a result withdrawn (entered in error, cancelled) cancels its
// open review.
func (r *Reviews) Hook(tx store.Tx, req access.Request, touched []access.Touched) ([]access.Touched, error) {
	if !slices.Contains(writes, req.Interaction) {
		return nil, nil
	}
	var out []access.Touched
	for _, t := range touched {
		if t.Type != "Observation" || t.VersionID == 0 {
			continue
		}
		v, err := tx.Read("Observation", t.ID)
		if err != nil {
			if fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone) {
				continue
			}
			return nil, err
		}
		// Only a version this transaction wrote.
		if v.VersionID != t.VersionID || !v.LastUpdated.Equal(tx.Now()) {
			continue
		}
		critical, withdrawn := Of(v.Resource), slices.Contains([]string{"entered-in-error", "cancelled"}, str(v.Resource["status"]))
		if !critical && v.VersionID == 1 {
			continue // a first version has no review yet: the common case costs no search
		}
		open, err := r.search(tx, url.Values{"code": {TaskSystem + "|" + TaskCode}, "focus": {"Observation/" + v.ID},
			"status": {OpenStatuses}, "_count": {"10"}})
		if err != nil {
			return nil, err
		}
		if len(open) == 0 {
			if !critical {
				continue
			}
			tv, err := tx.Create(r.task(tx, v))
			if err != nil {
				return nil, fmt.Errorf("the review of critical result Observation/%s: %w", v.ID, err)
			}
			out = append(out, access.TouchedVersion(tv))
			continue
		}
		for _, o := range open {
			task := o.Resource
			task["lastModified"] = tx.Now().UTC().Format(time.RFC3339)
			if withdrawn {
				task["status"] = "cancelled"
				task["statusReason"] = map[string]any{"concept": map[string]any{"text": "The result was withdrawn (" + str(v.Resource["status"]) + "): there is nothing to act on."}}
			} else {
				task["focus"] = map[string]any{"reference": fmt.Sprintf("Observation/%s/_history/%d", v.ID, v.VersionID)}
			}
			tv, _, err := tx.Update(task, o.VersionID)
			if err != nil {
				return nil, fmt.Errorf("the review of critical result Observation/%s: %w", v.ID, err)
			}
			out = append(out, access.TouchedVersion(tv))
		}
	}
	return out, nil
}

// task is the review Task of critical result v.
func (r *Reviews) task(tx store.Tx, v *store.Version) fhir.Resource {
	now := tx.Now().UTC().Format(time.RFC3339)
	t := fhir.Resource{
		"resourceType": "Task",
		"status":       "requested",
		"intent":       "order",
		"priority":     "stat",
		"code":         map[string]any{"coding": []any{map[string]any{"system": TaskSystem, "code": TaskCode, "display": TaskDisplay}}},
		"focus":        map[string]any{"reference": fmt.Sprintf("Observation/%s/_history/%d", v.ID, v.VersionID)},
		"authoredOn":   now,
		"lastModified": now,
	}
	if subject := mapOf(v.Resource["subject"]); strings.HasPrefix(str(subject["reference"]), "Patient/") {
		t["for"] = map[string]any{"reference": str(subject["reference"])}
	}
	// Whoever ordered the test answers for its result: an order of the
	// result's own patient only (the transaction is the EMR's, not the
	// writer's, so another patient's order must not leak through here).
	for _, b := range slice(v.Resource["basedOn"]) {
		id, ok := strings.CutPrefix(str(mapOf(b)["reference"]), "ServiceRequest/")
		if !ok {
			continue
		}
		sr, err := tx.Read("ServiceRequest", strings.Split(id, "/")[0])
		if err == nil && str(mapOf(sr.Resource["subject"])["reference"]) != str(mapOf(v.Resource["subject"])["reference"]) {
			continue
		}
		if err == nil {
			if req := mapOf(sr.Resource["requester"]); req != nil {
				owner := map[string]any{}
				for _, k := range []string{"reference", "display"} {
					if s := str(req[k]); s != "" {
						owner[k] = s
					}
				}
				if ref := str(owner["reference"]); ref == "" || strings.HasPrefix(ref, "Practitioner/") || strings.HasPrefix(ref, "PractitionerRole/") {
					t["owner"] = owner
				}
			}
			break
		}
	}
	return t
}

// OpenStatuses are the statuses of a review not yet done (R5's Task
// statuses of work still to do: on hold is not done).
const OpenStatuses = "requested,received,accepted,ready,in-progress,on-hold"

// IsReview reports whether task is the review of a critical result.
func IsReview(task fhir.Resource) bool {
	for _, c := range slice(mapOf(task["code"])["coding"]) {
		if c := mapOf(c); str(c["system"]) == TaskSystem && str(c["code"]) == TaskCode {
			return task.Type() == "Task"
		}
	}
	return false
}

// Open reports whether a review is still to be done.
func Open(task fhir.Resource) bool {
	return slices.Contains(strings.Split(OpenStatuses, ","), str(task["status"]))
}

// Waiting says how many reviews are open in st and when the one waiting
// longest was asked for (zero when none is), for monitoring.
func (r *Reviews) Waiting(ctx context.Context, st store.Store) (int64, time.Time, error) {
	q, err := search.Parse(r.Definitions, "Task", url.Values{"code": {TaskSystem + "|" + TaskCode}, "status": {OpenStatuses},
		"_sort": {"authored-on"}, "_count": {"1"}, "_total": {"accurate"}}, search.ParseOptions{})
	if err != nil {
		return 0, time.Time{}, err
	}
	res, err := st.Search(ctx, q)
	if err != nil || len(res.Matches) == 0 {
		return 0, time.Time{}, err
	}
	oldest, _ := time.Parse(time.RFC3339, str(res.Matches[0].Resource["authoredOn"]))
	return res.Total, oldest, nil
}

func (r *Reviews) search(tx store.Tx, params url.Values) ([]*store.Version, error) {
	q, err := search.Parse(r.Definitions, "Task", params, search.ParseOptions{})
	if err != nil {
		return nil, err
	}
	res, err := tx.Search(q)
	if err != nil {
		return nil, err
	}
	return res.Matches, nil
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func slice(v any) []any {
	s, _ := v.([]any)
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
