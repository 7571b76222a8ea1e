// Package web is the browser side of the EMR: server-rendered pages
// (html/template, embedded), no front-end build and no inline script. This
// file is sign-in: the password and one-time-code form, second-factor
// enrolment, sign-out, and each user's list of their sessions (an admin
// ends anyone's). Sessions are auth.Sessions behind a Secure, HttpOnly,
// SameSite cookie; every state-changing form carries the session's CSRF
// token, and the sign-in form a token of its own (login CSRF).
package web

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
)

//go:embed templates
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Auth serves sign-in and sessions, and guards the pages behind it.
type Auth struct {
	Accounts *auth.Accounts
	Sessions *auth.Sessions
	// Secure says the server speaks TLS: the cookie is then Secure and
	// named with the __Host- prefix.
	Secure bool
	// BreakGlass, when set, adds the user's emergency grants to their
	// Principal.
	BreakGlass *access.BreakGlass
	Logger     *slog.Logger
}

// loginCookie carries the sign-in form's CSRF token (double submit).
const loginCookie = "emr_login"

// Register adds the sign-in routes to mux.
func (a *Auth) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", a.loginForm)
	mux.HandleFunc("POST /login", a.login)
	mux.Handle("POST /logout", a.session(http.HandlerFunc(a.logout), true))
	mux.Handle("GET /mfa", a.session(http.HandlerFunc(a.mfaForm), true))
	mux.Handle("POST /mfa", a.session(http.HandlerFunc(a.mfaConfirm), true))
	mux.Handle("GET /account/sessions", a.Require(http.HandlerFunc(a.sessionList)))
	mux.Handle("POST /account/sessions/revoke", a.Require(http.HandlerFunc(a.revokeOwn)))
	mux.Handle("POST /admin/sessions/revoke", a.Require(http.HandlerFunc(a.revokeUser)))
	mux.HandleFunc("GET /static/auth.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.ServeFileFS(w, r, templateFS, "templates/auth.css")
	})
}

// page is what the templates are given.
type page struct {
	Title, Error, Notice, CSRF string
	Name, Next                 string
	Secret, OTPAuthURL         string
	// QRCode is the otpauth URL drawn as a QR code (a data: URL).
	QRCode        template.URL
	RecoveryCodes []string
	User, Current string
	Sessions      []*auth.Session
	Admin         bool
	// Locale is the user's language (render sets it from the request
	// when nil).
	Locale *Locale
}

func (p page) locale() *Locale {
	if p.Locale == nil {
		return Locales[0]
	}
	return p.Locale
}

// Lang is the page's language, for <html lang>.
func (p page) Lang() string { return p.locale().Tag }

// T is the page's message key, as the workspace's pages have it.
func (p page) T(key string, args ...any) string { return p.locale().T(key, args...) }

// When writes an instant as the other pages do: 04-Mar-1980 14:05, in the
// server's zone.
func (p page) When(t time.Time) string { return p.locale().DateTime(t.Local()) }

func (a *Auth) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.Locale == nil {
		p.Locale = LocaleFor(r)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	if err := templates.ExecuteTemplate(w, name, p); err != nil && a.Logger != nil {
		a.Logger.Warn("rendering a page failed", "page", name, "error", err)
	}
}

func (a *Auth) loginForm(w http.ResponseWriter, r *http.Request) {
	a.renderLogin(w, r, http.StatusOK, page{Next: safeNext(r.URL.Query().Get("next")), Notice: r.URL.Query().Get("notice")})
}

// renderLogin shows the sign-in form with a fresh login CSRF token.
func (a *Auth) renderLogin(w http.ResponseWriter, r *http.Request, status int, p page) {
	token := auth.NewToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: "/login", HttpOnly: true,
		Secure: a.Secure, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	l := LocaleFor(r)
	p.Title, p.CSRF = l.T("login.title"), token
	switch p.Notice {
	case "signed-out":
		p.Notice = l.T("login.signed-out")
	case "expired":
		p.Notice = l.T("login.expired")
	case "":
	default:
		p.Notice = ""
	}
	a.render(w, r, status, "login.html", p)
}

func (a *Auth) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	l := LocaleFor(r)
	p := page{Name: r.PostFormValue("name"), Next: safeNext(r.PostFormValue("next"))}
	c, err := r.Cookie(loginCookie)
	if err != nil || !equal(c.Value, r.PostFormValue("csrf")) {
		p.Error = l.T("login.error-form")
		a.renderLogin(w, r, http.StatusForbidden, p)
		return
	}
	addr := clientAddr(r)
	acc, err := a.Accounts.Login(r.Context(), p.Name, r.PostFormValue("password"), strings.TrimSpace(r.PostFormValue("code")), addr)
	if err != nil {
		var locked auth.ErrLocked
		status := http.StatusUnauthorized
		switch {
		case errors.Is(err, auth.ErrBadCredentials):
			p.Error = l.T("login.error-credentials")
		case errors.As(err, &locked):
			status = http.StatusTooManyRequests
			p.Error = l.T("login.error-locked", l.DateTime(locked.Until.Local()))
		case errors.Is(err, auth.ErrDisabled):
			status = http.StatusForbidden
			p.Error = l.T("login.error-disabled")
		case errors.Is(err, auth.ErrMFARequired):
			p.Error = l.T("login.error-code-needed")
		case errors.Is(err, auth.ErrBadOTP):
			p.Error = l.T("login.error-code")
		default:
			status = http.StatusInternalServerError
			p.Error = l.T("login.error")
			a.log("sign-in failed", err)
		}
		a.renderLogin(w, r, status, p)
		return
	}
	token, sess, err := a.Sessions.Create(r.Context(), acc, addr, r.UserAgent())
	if err != nil {
		a.log("creating a session failed", err)
		p.Error = l.T("login.error")
		a.renderLogin(w, r, http.StatusInternalServerError, p)
		return
	}
	http.SetCookie(w, auth.SessionCookie(token, a.Secure))
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1, Secure: a.Secure, HttpOnly: true})
	next := p.Next
	if sess.MFARequired {
		next = "/mfa"
	}
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

type sessionKey struct{}

type signedIn struct {
	session *auth.Session
	account *auth.Account
}

// session loads the caller's session (or sends them to sign in). POSTs
// must carry its CSRF token. enrolling lets a session that still has to
// enrol a second factor through; others go to /mfa first.
func (a *Auth) session(next http.Handler, enrolling bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(auth.SessionCookieName(a.Secure))
		var sess *auth.Session
		if err == nil {
			sess, err = a.Sessions.Check(r.Context(), c.Value)
		}
		if err != nil {
			if !errors.Is(err, auth.ErrNoSession) && !errors.Is(err, http.ErrNoCookie) {
				a.log("checking a session failed", err)
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?notice=expired&next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			if err := parseForm(r); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			token := r.PostFormValue("csrf")
			if token == "" {
				token = r.Header.Get("X-CSRF-Token")
			}
			if !auth.CheckCSRF(sess, token) {
				http.Error(w, "the form is stale or forged (CSRF check failed); reload the page", http.StatusForbidden)
				return
			}
		}
		if sess.MFARequired && !enrolling {
			http.Redirect(w, r, "/mfa", http.StatusSeeOther)
			return
		}
		acc, err := a.Accounts.Get(r.Context(), sess.User)
		if err != nil {
			a.log("loading the signed-in account failed", err)
			http.Error(w, "sign in again", http.StatusUnauthorized)
			return
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, &signedIn{session: sess, account: acc})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Require guards a page: a valid session with its second factor done, the
// caller's access.Principal on the request context, and CSRF checked on
// POST.
func (a *Auth) Require(next http.Handler) http.Handler {
	return a.session(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := r.Context().Value(sessionKey{}).(*signedIn)
		p := &access.Principal{User: in.account.Name, Role: in.account.Role, FHIRUser: in.account.FHIRUser, Patient: in.account.Patient}
		if a.BreakGlass != nil && p.Patient == "" {
			active, err := a.BreakGlass.Active(r.Context(), p.User)
			if err != nil {
				a.log("loading break-glass grants failed", err)
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
			p.Emergencies = active
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), p)))
	}), false)
}

// parseForm reads a posted form, urlencoded or multipart (a file upload,
// whose CSRF token is one of its parts); a multipart body beyond 1 MB goes
// to temporary files, and its size is bounded before (limitBody).
func parseForm(r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return r.ParseMultipartForm(1 << 20)
	}
	return r.ParseForm()
}

// SignedIn returns the session and its CSRF token of a request Require
// let through, for pages that render forms.
func SignedIn(r *http.Request) (sess *auth.Session, csrf string, ok bool) {
	in, ok := r.Context().Value(sessionKey{}).(*signedIn)
	if !ok {
		return nil, "", false
	}
	return in.session, auth.CSRFToken(in.session), true
}

func (a *Auth) logout(w http.ResponseWriter, r *http.Request) {
	in := r.Context().Value(sessionKey{}).(*signedIn)
	if err := a.Sessions.Revoke(r.Context(), in.session.ID); err != nil {
		a.log("ending a session failed", err)
		http.Error(w, "signing out failed; try again", http.StatusInternalServerError)
		return
	}
	if err := a.Accounts.Logout(r.Context(), in.account.Name, clientAddr(r)); err != nil {
		a.log("recording a sign-out failed", err)
	}
	a.clearCookie(w)
	http.Redirect(w, r, "/login?notice=signed-out", http.StatusSeeOther)
}

func (a *Auth) clearCookie(w http.ResponseWriter) {
	c := auth.SessionCookie("", a.Secure)
	c.MaxAge = -1
	http.SetCookie(w, c)
}

func (a *Auth) mfaForm(w http.ResponseWriter, r *http.Request) {
	in := r.Context().Value(sessionKey{}).(*signedIn)
	l := LocaleFor(r)
	secret, otpURL, err := a.Accounts.BeginMFA(r.Context(), in.account.Name)
	if err != nil {
		if errors.Is(err, auth.ErrMFAEnrolled) {
			a.render(w, r, http.StatusConflict, "mfa.html", page{Title: l.T("mfa.title-enrolled"), Error: l.T("mfa.error-enrolled")})
			return
		}
		a.log("starting enrolment failed", err)
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	a.render(w, r, http.StatusOK, "mfa.html", page{Title: l.T("mfa.title"), Secret: secret, OTPAuthURL: otpURL, QRCode: qrImage(otpURL), CSRF: auth.CSRFToken(in.session)})
}

func (a *Auth) mfaConfirm(w http.ResponseWriter, r *http.Request) {
	in := r.Context().Value(sessionKey{}).(*signedIn)
	l := LocaleFor(r)
	codes, err := a.Accounts.ConfirmMFA(r.Context(), in.account.Name, strings.TrimSpace(r.PostFormValue("code")))
	if err != nil {
		secret, otpURL, berr := a.Accounts.BeginMFA(r.Context(), in.account.Name)
		if berr != nil {
			a.log("restarting enrolment failed", berr)
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		a.render(w, r, http.StatusUnprocessableEntity, "mfa.html", page{Title: l.T("mfa.title"),
			Error: l.T("mfa.error-code"), Secret: secret, OTPAuthURL: otpURL, QRCode: qrImage(otpURL), CSRF: auth.CSRFToken(in.session)})
		return
	}
	// The session's second-factor state is fixed at sign-in: end it, so
	// the next one starts with the code.
	if err := a.Sessions.Revoke(r.Context(), in.session.ID); err != nil {
		a.log("ending the enrolment session failed", err)
	}
	a.clearCookie(w)
	a.render(w, r, http.StatusOK, "mfa.html", page{Title: l.T("mfa.done-title"), RecoveryCodes: codes})
}

func (a *Auth) sessionList(w http.ResponseWriter, r *http.Request) {
	in := r.Context().Value(sessionKey{}).(*signedIn)
	notice := ""
	if r.URL.Query().Get("notice") == "ended" {
		notice = LocaleFor(r).T("sessions.ended")
	}
	a.renderSessions(w, r, in, notice)
}

func (a *Auth) renderSessions(w http.ResponseWriter, r *http.Request, in *signedIn, notice string) {
	list, err := a.Sessions.List(r.Context(), in.session.User)
	if err != nil {
		a.log("listing sessions failed", err)
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	l := LocaleFor(r)
	a.render(w, r, http.StatusOK, "sessions.html", page{Title: l.T("sessions.title"), User: in.account.Name, Sessions: list,
		Current: in.session.ID, CSRF: auth.CSRFToken(in.session), Admin: in.account.Role == "admin", Notice: notice, Locale: l})
}

func (a *Auth) revokeOwn(w http.ResponseWriter, r *http.Request) {
	in := r.Context().Value(sessionKey{}).(*signedIn)
	id := r.PostFormValue("id")
	list, err := a.Sessions.List(r.Context(), in.session.User)
	if err != nil {
		a.log("listing sessions failed", err)
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	for _, s := range list {
		if s.ID == id {
			if err := a.Sessions.Revoke(r.Context(), id); err != nil {
				a.log("ending a session failed", err)
				http.Error(w, "try again", http.StatusInternalServerError)
				return
			}
			http.Redirect(w, r, "/account/sessions?notice=ended", http.StatusSeeOther)
			return
		}
	}
	http.Error(w, "no such session of yours", http.StatusNotFound)
}

func (a *Auth) revokeUser(w http.ResponseWriter, r *http.Request) {
	in := r.Context().Value(sessionKey{}).(*signedIn)
	if in.account.Role != "admin" {
		http.Error(w, "only an administrator ends other users' sessions", http.StatusForbidden)
		return
	}
	user := strings.TrimSpace(r.PostFormValue("user"))
	n, err := a.Sessions.RevokeAll(r.Context(), auth.UserKey(user))
	if err != nil {
		a.log("ending a user's sessions failed", err)
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	a.renderSessions(w, r, in, LocaleFor(r).Count("sessions.ended-user", n, user))
}

func (a *Auth) log(msg string, err error) {
	if a.Logger != nil {
		a.Logger.Error(msg, "error", err)
	}
}

// safeNext keeps a redirect target on this site: a path, not "//host".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return ""
	}
	return next
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
