package web

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/terminology"
)

// The clinician's workspace: server-rendered pages behind sign-in
// (Auth.Require), one file per page group (finder.go, chart.go, …). Every
// page reads through the access gate exactly as the FHIR API does: the
// caller's role, scopes and the patients' consent limit the store queries,
// and each page that shows patient data is audited as the FHIR read or
// search it amounts to (the AuditEvent's query names the page). Pages
// carry no inline script or style: the Content-Security-Policy forbids
// them.

//go:embed ui/*.html
var uiFS embed.FS

//go:embed static
var staticFS embed.FS

// uiTemplates holds the layout, the partials and every page; a page is a
// template named "page-<name>" that the layout calls.
var uiTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"join": strings.Join,
	"strs": func(s ...string) []string { return s },
	"has":  func(list []string, s string) bool { return slices.Contains(list, s) },
	// formArgs hands a questionnaire's items to the template that nests.
	"formArgs": func(v *view, items []formItem) any {
		return struct {
			V     *view
			Items []formItem
		}{v, items}
	},
	// listArgs hands a problem or allergy table its rows with the page.
	"listArgs": func(v *view, rows []listEntry, path string) any {
		return struct {
			V    *view
			Rows []listEntry
			Path string
		}{v, rows, path}
	},
}).ParseFS(uiFS, "ui/*.html"))

// Workspace serves the clinician's pages.
type Workspace struct {
	Auth        *Auth
	Store       store.Store
	Gate        *access.Gate
	Definitions *spec.Definitions
	// Matcher finds the patients a registration may duplicate; nil
	// registers without a check.
	Matcher *mpi.Matcher
	// Validator checks a Patient before the workspace writes it, and
	// Labeler adds its sensitivity labels: the FHIR API's own, so a form
	// writes what the API would accept (defaults: the definitions'
	// validator with invariants, access.DefaultLabeler).
	Validator interface {
		Validate(fhir.Resource) []fhir.Issue
	}
	Labeler    interface{ Label(fhir.Resource) }
	BreakGlass *access.BreakGlass
	// Terminology finds concepts for coded entry (problems, allergies);
	// nil leaves every entry as text.
	Terminology *terminology.Index
	Logger      *slog.Logger
	// Now is the clock (time.Now when nil), for ages and tests.
	Now func() time.Time
	// IdleTimeout is the session's idle time-out, for the warning before it.
	IdleTimeout time.Duration
}

// Register adds the workspace routes to mux. Every route needs a signed-in
// user with a second factor where the role demands one.
func (ws *Workspace) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/ws/", http.StripPrefix("/static/ws/", cacheFor(time.Hour, http.FileServerFS(static))))
	var page pageFunc = func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(pattern, ws.limitBody(ws.Auth.Require(ws.handle(h))))
	}
	// Each page group registers its own routes (one file each).
	ws.registerFinder(page)
	ws.registerChart(page)
	ws.registerRegistration(page)
	ws.registerVisits(page)
	ws.registerNotes(page)
	ws.registerProblems(page)
	ws.registerVitals(page)
	ws.registerPrescribing(page)
	ws.registerForms(page)
	ws.registerOrders(page)
	ws.registerCritical(page)
	mux.HandleFunc("GET /language", setLanguage)
	// The idle warning's "stay signed in": any signed-in request renews
	// the session; this one does nothing else.
	mux.Handle("POST /account/ping", ws.Auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
}

// setLanguage is GET /language?lang=bn&next=/…: it remembers the choice
// in a cookie for a year and goes back to the page.
func setLanguage(w http.ResponseWriter, r *http.Request) {
	if l := localeByTag(r.URL.Query().Get("lang")); l != nil {
		http.SetCookie(w, &http.Cookie{Name: "emr_lang", Value: l.Tag, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	}
	next := safeNext(r.URL.Query().Get("next"))
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// pageFunc registers a page behind sign-in: h's error becomes an error
// page (handle).
type pageFunc func(pattern string, h func(http.ResponseWriter, *http.Request) error)

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

func (ws *Workspace) now() time.Time {
	if ws.Now != nil {
		return ws.Now()
	}
	return time.Now()
}

// handle turns a page function's error into a page: 404 and 403 say so in
// the user's language; anything else is logged with a reference the user
// can quote, and shown without details.
func (ws *Workspace) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			// Control characters pasted into a field would make the
			// resources written from it invalid (FHIR strings and XHTML
			// narratives refuse them): the pages never see them.
			if err := r.ParseForm(); err == nil {
				for _, vals := range []url.Values{r.PostForm, r.Form} {
					for _, vs := range vals {
						for i := range vs {
							vs[i] = xmlText(vs[i])
						}
					}
				}
			}
		}
		err := h(w, r)
		if err == nil {
			return
		}
		v := ws.view(r, "error.title")
		status := http.StatusInternalServerError
		switch {
		case fhir.IsKind(err, fhir.KindNotFound), fhir.IsKind(err, fhir.KindGone):
			status, v.Message = http.StatusNotFound, v.T("error.not-found")
		case fhir.IsKind(err, fhir.KindForbidden):
			status, v.Message = http.StatusForbidden, v.T("error.forbidden")
		case fhir.IsKind(err, fhir.KindInvalid):
			status, v.Message = http.StatusBadRequest, err.Error()
		default:
			ref := newRef()
			ws.Logger.Error("a workspace page failed", "path", r.URL.Path, "reference", ref, "error", err)
			v.Message = v.T("error.internal", ref)
		}
		ws.render(w, status, "error", v)
	})
}

func newRef() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// view is what every page template gets: the locale's words, the user,
// the CSRF token for forms, and the page's own data in Data.
type view struct {
	*Locale
	Title   string
	User    string
	Role    string
	CSRF    string
	Message string
	// Banner is the patient the page is about (nil for none): the layout
	// shows it above everything.
	Banner *Banner
	// IdleSeconds is the session's idle time-out, for the warning script.
	IdleSeconds int
	Locales     []*Locale
	Path        string
	Data        any
	// badge counts the critical results the user answers for, once the
	// layout asks (CriticalBadge).
	badge func() string
}

// CriticalBadge says how many critical results the signed-in
// practitioner answers for wait, and how many of them are overdue ("" for
// none, or a user who is no practitioner).
func (v *view) CriticalBadge() string {
	if v.badge == nil {
		return ""
	}
	return v.badge()
}

// idleLead is how long before the idle time-out the warning shows: two
// minutes, or half of a time-out under four (app.js counts the same).
func idleLead(idleSeconds int) int { return min(120, idleSeconds/2) }

// IdleWarning is the idle warning's text, "You will be signed out in 2
// minutes …", in seconds when the warning comes less than a minute ahead.
func (v *view) IdleWarning() string {
	lead := idleLead(v.IdleSeconds)
	if lead < 60 {
		return v.Count("idle.warning-seconds", max(1, lead))
	}
	return v.Count("idle.warning-minutes", (lead+30)/60)
}

func (ws *Workspace) view(r *http.Request, titleKey string) *view {
	l := LocaleFor(r)
	v := &view{Locale: l, Title: l.T(titleKey), Locales: Locales, Path: r.URL.RequestURI(), IdleSeconds: int(ws.IdleTimeout.Seconds())}
	if p := access.PrincipalFrom(r.Context()); p != nil {
		v.User, v.Role = p.User, p.Role
	}
	if _, csrf, ok := SignedIn(r); ok {
		v.CSRF = csrf
	}
	v.badge = func() string { return ws.criticalBadge(r, l) }
	return v
}

// contentPolicy allows the page's own scripts, styles and images only.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-src 'self'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (ws *Workspace) render(w http.ResponseWriter, status int, name string, v *view) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	if err := uiTemplates.ExecuteTemplate(w, "page-"+name, v); err != nil {
		ws.Logger.Warn("rendering a workspace page failed", "page", name, "error", err)
	}
}

// read runs fn as the audited read interaction req of the signed-in user,
// with the store as the user may see it: the page's AuditEvent names the
// interaction, the page (req.Query) and every resource fn returns as
// touched.
func (ws *Workspace) read(r *http.Request, req access.Request, fn func(st store.Store) ([]access.Touched, error)) error {
	ctx := r.Context()
	req.Agent = audit.Agent{Address: clientAddr(r)}
	if req.Query == "" {
		req.Query = "ui:" + r.URL.Path
	}
	return ws.Gate.Read(ctx, req, func() ([]access.Touched, error) {
		return fn(ws.Gate.Guard(ctx, ws.Store))
	})
}

// write runs fn as the audited write interaction (of a resource type typ)
// of the signed-in user: the resources fn writes and their AuditEvent
// commit together, through the same gate as the FHIR API.
func (ws *Workspace) write(r *http.Request, interaction, typ string, fn func(tx store.Tx) ([]access.Touched, error)) error {
	return ws.Gate.Write(r.Context(), ws.writeRequest(r, interaction, typ, ""), fn)
}

// visible reports whether the user may see the patient, without reading
// it (so nothing is audited as shown): false means restricted.
func (ws *Workspace) visible(ctx context.Context, id string) (bool, error) {
	_, err := ws.Gate.Guard(ctx, ws.Store).Read(ctx, "Patient", id)
	switch {
	case err == nil:
		return true, nil
	case fhir.IsKind(err, fhir.KindForbidden), fhir.IsKind(err, fhir.KindNotFound) && ws.exists(ctx, id):
		return false, nil
	}
	return false, err
}

// exists reports whether a patient exists at all, whoever may see it.
func (ws *Workspace) exists(ctx context.Context, id string) bool {
	_, err := ws.Store.Read(ctx, "Patient", id)
	return err == nil
}
