package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
)

// Restricted records and break-glass. A patient the user may not see
// (their role's reach, or the patient's Consent) shows only that the
// record is restricted. A clinician may open it in an emergency: they
// choose why and say more in their own words; access.BreakGlass records
// the grant with its audit event (security alert, purpose ETREAT), every
// page read under it is flagged BTG, and the banner shows until when the
// access lasts.

// emergencyReasons are the reasons offered (the form's values; their
// words are bg.reason-<code>); the text the user adds follows the chosen
// one in the recorded reason. access.BreakGlass takes a reason in words:
// the code keeps the choice stable whatever the user's language.
var emergencyReasons = []string{"unconscious", "urgent", "covering", "other"}

type restrictedData struct {
	Patient string
	// MayBreakGlass: the user's role may open a record in an emergency.
	MayBreakGlass bool
	Reasons       []struct{ Key, Text string }
	Chosen, Note  string
	Error         string
}

// restricted answers 403 with the restricted page for patient id, with
// the break-glass form when the user may use it, and audits the refusal.
func (ws *Workspace) restricted(w http.ResponseWriter, r *http.Request, v *view, id, problem string) error {
	ctx := r.Context()
	ws.Gate.RecordFailure(ctx, access.Request{Interaction: "read", Type: "Patient", ID: id, Query: "ui:" + r.URL.Path,
		Agent: audit.Agent{Address: clientAddr(r)}}, access.Denied(notFound, "the record is restricted for the user"))
	v.Title = v.T("restricted.title")
	data := &restrictedData{Patient: id, MayBreakGlass: ws.mayBreakGlass(r), Error: problem,
		Chosen: r.PostFormValue("reason"), Note: r.PostFormValue("note")}
	for _, k := range emergencyReasons {
		data.Reasons = append(data.Reasons, struct{ Key, Text string }{k, v.T("bg.reason-" + k)})
	}
	v.Data = data
	status := http.StatusForbidden
	if problem != "" {
		status = http.StatusBadRequest
	}
	ws.render(w, status, "restricted", v)
	return nil
}

// mayBreakGlass tells whether to offer break-glass: a clinician's user
// account (not a patient's, not a service) whose role reads patient
// records at all. access.BreakGlass decides again when asked.
func (ws *Workspace) mayBreakGlass(r *http.Request) bool {
	pr := access.PrincipalFrom(r.Context())
	if ws.BreakGlass == nil || pr == nil || pr.User == "" || pr.Patient != "" || strings.HasPrefix(pr.FHIRUser, "Patient/") {
		return false
	}
	acc := ws.Gate.Limit(r.Context(), 'r', []string{"Patient"})
	return acc == nil || len(acc.Rules) > 0
}

// breakGlass is POST /patients/{id}/break-glass (reason, note): the
// emergency grant, then the chart, which now shows it in the banner.
func (ws *Workspace) breakGlass(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	v := ws.view(r, "restricted.title")
	if !ws.mayBreakGlass(r) {
		return fhir.Errorf(fhir.KindForbidden, "break-glass is not for this user")
	}
	key, note := r.PostFormValue("reason"), strings.TrimSpace(r.PostFormValue("note"))
	known := false
	for _, k := range emergencyReasons {
		known = known || k == key
	}
	if !known || len(note) < 10 {
		return ws.restricted(w, r, v, id, v.T("bg.error-reason"))
	}
	// The reason is recorded in English, whatever the user's language,
	// for the reviewers.
	reason := Locales[0].T("bg.reason-"+key) + ": " + note
	_, err := ws.BreakGlass.Declare(r.Context(), id, reason, 0, clientAddr(r))
	switch {
	case fhir.IsKind(err, fhir.KindConflict):
		// The user already has access: nothing to declare.
	case fhir.IsKind(err, fhir.KindInvalid):
		return ws.restricted(w, r, v, id, err.Error())
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id), http.StatusSeeOther)
	return nil
}
