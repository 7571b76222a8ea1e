package smart

import (
	"net/http"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/auth"
)

// launchRecord is an EHR launch context (kind "launch", key the hash of
// the launch id), valid for a few minutes.
type launchRecord struct {
	User      string `json:"user"` // who launched: the same user must sign in
	Patient   string `json:"patient,omitempty"`
	Encounter string `json:"encounter,omitempty"`
}

// launch issues an EHR launch id for the EHR to pass to an app's launch
// URL with iss. The caller must be an authenticated user (a bearer token
// or a principal set in front by the web session); form parameters
// patient and encounter give the context. It answers
// {"launch": id, "expires_in": seconds}.
func (s *Server) launch(w http.ResponseWriter, r *http.Request) {
	e := audit.Entry{Category: audit.CategorySecurityAlert, Interaction: "launch-created",
		Agent: audit.Agent{Address: callerAddr(r)}}
	id, l, err := s.launchRequest(w, r, &e)
	if err == nil {
		e.Patient = patientRef(l.Patient)
		if l.Encounter != "" {
			e.Detail = "encounter " + l.Encounter
		}
		// The launch id goes out only once it is on record.
		err = s.record(r.Context(), e)
	} else {
		e.Outcome, e.Detail = outcomeOf(err)
		s.record(r.Context(), e)
	}
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"launch": id, "expires_in": int(launchTTL.Seconds())})
}

func (s *Server) launchRequest(w http.ResponseWriter, r *http.Request, e *audit.Entry) (string, *launchRecord, error) {
	p := access.PrincipalFrom(r.Context())
	if p != nil {
		e.Agent.User, e.Agent.Client, e.Subject = p.User, p.Client, p.User
	}
	if p == nil || p.User == "" {
		return "", nil, &oauthError{Code: "access_denied", Description: "an EHR launch is made by a signed-in user", status: http.StatusForbidden}
	}
	form, err := postForm(w, r)
	if err != nil {
		return "", nil, err
	}
	l := launchRecord{User: p.User, Patient: form.Get("patient"), Encounter: form.Get("encounter")}
	if l.Patient != "" && (!validID(l.Patient) || !s.patientExists(r.Context(), l.Patient)) {
		return "", nil, errInvalidRequest("no such patient")
	}
	if l.Encounter != "" && !validID(l.Encounter) {
		return "", nil, errInvalidRequest("encounter must be an Encounter id")
	}
	id := auth.NewToken()
	if _, err := putJSON(r.Context(), s.opts.Records, KindLaunch, auth.HashToken(id), p.User, s.now().Add(launchTTL), &l, 0); err != nil {
		return "", nil, err
	}
	return id, &l, nil
}
