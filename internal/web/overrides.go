package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/clinical/checks"
	"github.com/emr-project/emr/internal/store"
)

// The override step shared by prescriptions and orders: the alerts of
// the checks are shown with a form carrying the request's fields, the
// alerts acknowledged (by Alert.Key) and the reason; the request is signed
// only when every alert of the run that signs it was on the page and a
// reason is given, and each overridden alert becomes a DetectedIssue in
// the same write as the request.

// alertStep is what the alerts ask of a signing: Show the alert page
// (with Problem, when the alerts were acknowledged but no reason given),
// or go ahead with Reason.
type alertStep struct {
	Show    bool
	Problem string
	Reason  string
	Alerts  []alertView
	Keep    [][2]string
}

// alertStepOf decides it from the alerts of this run and the form posted;
// keep are the request's own fields, carried through the alert page.
func (l *Locale) alertStepOf(alerts []checks.Alert, r *http.Request, keep url.Values) alertStep {
	step := alertStep{Reason: strings.TrimSpace(r.PostFormValue("override-reason"))}
	acked := r.PostForm["ack"]
	unseen := slices.ContainsFunc(alerts, func(a checks.Alert) bool { return !slices.Contains(acked, a.Key()) })
	if len(alerts) == 0 || (!unseen && step.Reason != "") {
		return step
	}
	step.Show = true
	if !unseen {
		step.Problem = l.T("meds.error-reason")
	}
	for _, a := range alerts {
		step.Alerts = append(step.Alerts, l.alertViewOf(a))
		step.Keep = append(step.Keep, [2]string{"ack", a.Key()})
	}
	keys := make([]string, 0, len(keep))
	for k := range keep {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range keep[k] {
			step.Keep = append(step.Keep, [2]string{k, v})
		}
	}
	return step
}

// recordOverrides writes a DetectedIssue for each overridden alert, in the
// transaction that writes the request; proposed names the request an
// alert is about.
func recordOverrides(tx store.Tx, r *http.Request, alerts []checks.Alert, patient, encounter, reason string, now time.Time,
	proposed func(checks.Alert) string) ([]access.Touched, error) {
	pr := access.PrincipalFrom(r.Context())
	var touched []access.Touched
	for _, a := range alerts {
		o := checks.Override{Alert: a, PatientID: patient, Proposed: proposed(a), Author: pr.FHIRUser, AuthorName: pr.User,
			Reason: reason, When: now}
		if encounter != "" {
			o.Encounter = "Encounter/" + encounter
		}
		issue, err := checks.DetectedIssue(o)
		if err != nil {
			return nil, err
		}
		v, err := tx.Create(issue)
		if err != nil {
			return nil, err
		}
		touched = append(touched, touchedFor(patient, v)...)
	}
	return touched, nil
}
