package smart

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"

	"github.com/emr-project/emr/internal/auth"
)

// authorizeSubmit takes the sign-in form (step "login") and the patient
// picker (step "patient"), and on success sends the browser back to the
// client with a code.
func (s *Server) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderPage(w, http.StatusBadRequest, pageData{Error: "The form could not be read."})
		return
	}
	form := r.PostForm
	id := form.Get("request")
	key := auth.HashToken(id)
	var req authRequest
	rec, err := getJSON(ctx, s.opts.Records, KindAuthRequest, key, s.now(), &req)
	if err != nil {
		if !isNotFound(err) {
			s.logger.Error("smart: authorize: load request", "err", err)
		}
		s.renderPage(w, http.StatusBadRequest, pageData{Error: "This sign-in has expired or is unknown."})
		return
	}
	cookie, _ := r.Cookie(browserCookie)
	if id == "" || cookie == nil || !sameHash(req.Browser, cookie.Value) || !sameHash(req.CSRF, form.Get("csrf")) {
		s.renderPage(w, http.StatusForbidden, pageData{Error: "This form was not sent from the sign-in page this browser opened."})
		return
	}
	client, err := s.clients.Get(ctx, req.ClientID)
	if err != nil {
		s.renderPage(w, http.StatusBadRequest, pageData{Error: "The application is no longer registered."})
		return
	}
	page := pageData{Request: id, CSRF: form.Get("csrf"), ClientName: client.Name, Scope: req.Scope}
	var user User
	switch form.Get("step") {
	case "login":
		if req.User != "" {
			s.renderPage(w, http.StatusBadRequest, pageData{Error: "You are already signed in; choose a patient."})
			return
		}
		addr, _, _ := net.SplitHostPort(r.RemoteAddr)
		user, err = s.opts.Users.Login(ctx, form.Get("username"), form.Get("password"), form.Get("otp"), addr)
		if err == nil && user.Disabled {
			err = errAccountDisabled
		}
		if err != nil {
			s.logger.Info("smart: sign-in failed", "user", form.Get("username"), "client", client.ID, "err", err)
			req.Failures++
			if req.Failures >= maxLoginFailures {
				s.opts.Records.DeleteRecord(ctx, KindAuthRequest, key)
				redirectError(w, r, req.RedirectURI, req.State, "access_denied", "too many failed sign-ins")
				return
			}
			if _, err := putJSON(ctx, s.opts.Records, KindAuthRequest, key, "", rec.Expires, &req, rec.Version); err != nil {
				s.renderPage(w, http.StatusConflict, pageData{Error: "This sign-in changed meanwhile; start again from the application."})
				return
			}
			page.Error = "The user name, password or one-time code is wrong."
			s.renderPage(w, http.StatusOK, page)
			return
		}
	case "patient":
		if req.User == "" {
			s.renderPage(w, http.StatusBadRequest, pageData{Error: "Sign in first."})
			return
		}
		if user, err = s.opts.Users.Get(ctx, req.User); err != nil || user.Disabled {
			s.renderPage(w, http.StatusForbidden, pageData{Error: "The account is not active."})
			return
		}
		patient := form.Get("patient")
		if !validID(patient) || !s.patientExists(ctx, patient) {
			page.Picker, page.User, page.Error = true, user.Name, "There is no patient with that id."
			s.renderPage(w, http.StatusOK, page)
			return
		}
		req.Patient = patient
	default:
		s.renderPage(w, http.StatusBadRequest, pageData{Error: "The form could not be read."})
		return
	}
	if req.LaunchUser != "" && req.LaunchUser != user.Name {
		s.opts.Records.DeleteRecord(ctx, KindAuthRequest, key)
		redirectError(w, r, req.RedirectURI, req.State, "access_denied", "the EHR launch was made by another user")
		return
	}
	scopes, _ := auth.ParseScopes(req.Scope)
	if user.Patient != "" {
		// A patient user's context is always their own record.
		if req.Patient != "" && req.Patient != user.Patient {
			s.opts.Records.DeleteRecord(ctx, KindAuthRequest, key)
			redirectError(w, r, req.RedirectURI, req.State, "access_denied", "a patient may open only their own record")
			return
		}
		req.Patient = user.Patient
	}
	if scopes.Has("launch/patient") && req.Patient == "" {
		// A clinician's standalone launch: ask which patient.
		req.User = user.Name
		if _, err := putJSON(ctx, s.opts.Records, KindAuthRequest, key, "", rec.Expires, &req, rec.Version); err != nil {
			s.renderPage(w, http.StatusConflict, pageData{Error: "This sign-in changed meanwhile; start again from the application."})
			return
		}
		page.Picker, page.User = true, user.Name
		s.renderPage(w, http.StatusOK, page)
		return
	}
	// The request is spent whatever follows: delete it first, so that a
	// second submission of the same form cannot make a second code.
	if _, err := putJSON(ctx, s.opts.Records, KindAuthRequest, key, "", rec.Expires, &authRequest{}, rec.Version); err != nil {
		s.renderPage(w, http.StatusConflict, pageData{Error: "This sign-in has already been completed."})
		return
	}
	s.opts.Records.DeleteRecord(ctx, KindAuthRequest, key)
	code := auth.NewToken()
	c := codeRecord{
		grant: grant{ClientID: req.ClientID, User: user.Name, FHIRUser: user.FHIRUser, Scope: req.Scope,
			Patient: req.Patient, Encounter: req.Encounter},
		RedirectURI: req.RedirectURI, Challenge: req.Challenge, Method: req.Method,
	}
	if _, err := putJSON(ctx, s.opts.Records, KindAuthCode, auth.HashToken(code), "", s.now().Add(codeTTL), &c, 0); err != nil {
		s.logger.Error("smart: authorize: store code", "err", err)
		redirectError(w, r, req.RedirectURI, req.State, "server_error", "the server could not issue a code")
		return
	}
	s.logger.Info("smart: authorised", "user", user.Name, "client", req.ClientID, "scope", req.Scope, "patient", req.Patient)
	redirectWith(w, r, req.RedirectURI, url.Values{"code": {code}, "state": {req.State}})
}

type constError string

func (e constError) Error() string { return string(e) }

const errAccountDisabled = constError("account disabled")

// sameHash compares a stored token hash with the hash of a presented token
// in constant time.
func sameHash(stored, presented string) bool {
	return presented != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(auth.HashToken(presented))) == 1
}

func (s *Server) patientExists(ctx context.Context, id string) bool {
	if s.opts.PatientExists == nil {
		return true
	}
	return s.opts.PatientExists(ctx, id)
}

// validID is the FHIR id syntax: 1 to 64 of [A-Za-z0-9-.].
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
