package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type site struct {
	t        testing.TB
	srv      *httptest.Server
	accounts *auth.Accounts
	clock    *clock
}

// newSite serves sign-in over a real SQLite store, with a page behind
// Require that echoes the caller.
func newSite(t *testing.T) *site {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{now: time.Now().UTC().Truncate(time.Second)}
	accounts := auth.NewAccounts(st, access.DefaultRoles(spec.R5()), auth.AccountOptions{Now: c.Now})
	sessions := auth.NewSessions(st, auth.SessionOptions{Now: c.Now})
	a := &Auth{Accounts: accounts, Sessions: sessions}
	mux := http.NewServeMux()
	a.Register(mux)
	mux.Handle("GET /{$}", a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := access.PrincipalFrom(r.Context())
		io.WriteString(w, "hello "+p.User+" ("+p.Role+")")
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &site{t: t, srv: srv, accounts: accounts, clock: c}
}

func (s *site) add(name, role, password string) {
	s.t.Helper()
	if _, err := s.accounts.Add(context.Background(), name, role, auth.AddOptions{Password: password}); err != nil {
		s.t.Fatal(err)
	}
}

// browser is a client with its own cookies that does not follow redirects.
type browser struct {
	s      *site
	client *http.Client
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type answer struct {
	status   int
	location string
	body     string
}

func (b *browser) get(path string) answer {
	b.s.t.Helper()
	resp, err := b.client.Get(b.s.srv.URL + path)
	if err != nil {
		b.s.t.Fatal(err)
	}
	return read(b.s.t, resp)
}

func (b *browser) post(path string, form url.Values) answer {
	b.s.t.Helper()
	resp, err := b.client.PostForm(b.s.srv.URL+path, form)
	if err != nil {
		b.s.t.Fatal(err)
	}
	return read(b.s.t, resp)
}

func read(t testing.TB, resp *http.Response) answer {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in %s", body)
	}
	return m[1]
}

// signIn fills the sign-in form as a person would.
func (b *browser) signIn(name, password, code string) answer {
	b.s.t.Helper()
	form := b.get("/login")
	return b.post("/login", url.Values{"csrf": {csrfOf(b.s.t, form.body)}, "name": {name}, "password": {password}, "code": {code}})
}

const pw = "correct horse battery staple"

func TestSignInAndOut(t *testing.T) {
	s := newSite(t)
	s.add("desk", "registrar", pw)
	b := s.browser()
	if a := b.get("/"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/login?notice=expired&next=%2F") {
		t.Fatalf("a page without a session: %d %q", a.status, a.location)
	}
	// The sign-in form refuses a post without its own token (login CSRF).
	if a := b.post("/login", url.Values{"name": {"desk"}, "password": {pw}}); a.status != http.StatusForbidden {
		t.Errorf("sign-in without the form's token: %d", a.status)
	}
	if a := b.signIn("desk", "wrong password!!", ""); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "Wrong user name or password") {
		t.Errorf("wrong password: %d %s", a.status, a.body)
	}
	if a := b.signIn("nobody", pw, ""); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "Wrong user name or password") {
		t.Errorf("unknown user: %d", a.status)
	}
	a := b.signIn("desk", pw, "")
	if a.status != http.StatusSeeOther || a.location != "/" {
		t.Fatalf("sign-in: %d %q %s", a.status, a.location, a.body)
	}
	if a := b.get("/"); a.status != http.StatusOK || a.body != "hello desk (registrar)" {
		t.Fatalf("signed in: %d %s", a.status, a.body)
	}
	u, _ := url.Parse(s.srv.URL)
	var cookie *http.Cookie
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == auth.SessionCookieName(false) {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	sessions := b.get("/account/sessions")
	if sessions.status != http.StatusOK || !strings.Contains(sessions.body, "This session") {
		t.Fatalf("sessions page: %d %s", sessions.status, sessions.body)
	}
	// Sign-out needs the session's CSRF token.
	if a := b.post("/logout", url.Values{}); a.status != http.StatusForbidden {
		t.Errorf("sign-out without CSRF token: %d", a.status)
	}
	if a := b.post("/logout", url.Values{"csrf": {"forged"}}); a.status != http.StatusForbidden {
		t.Errorf("sign-out with a forged token: %d", a.status)
	}
	if a := b.post("/logout", url.Values{"csrf": {csrfOf(t, sessions.body)}}); a.status != http.StatusSeeOther || a.location != "/login?notice=signed-out" {
		t.Fatalf("sign-out: %d %q", a.status, a.location)
	}
	// The old cookie is dead even if a client kept it.
	stale := s.browser()
	stale.client.Jar.SetCookies(u, []*http.Cookie{{Name: cookie.Name, Value: cookie.Value, Path: "/"}})
	if a := stale.get("/"); a.status != http.StatusSeeOther {
		t.Errorf("the signed-out session still works: %d", a.status)
	}
	// Only a path on this site is a target after sign-in.
	form := b.get("/login?next=//evil.example/x")
	if strings.Contains(form.body, "evil.example") {
		t.Errorf("an off-site next survived into the form")
	}
}

func TestSignInTimeoutsAndLockout(t *testing.T) {
	s := newSite(t)
	s.add("desk", "registrar", pw)
	b := s.browser()
	if a := b.signIn("desk", pw, ""); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
	s.clock.Add(10 * time.Minute)
	if a := b.get("/"); a.status != http.StatusOK {
		t.Fatalf("after 10 idle minutes: %d", a.status)
	}
	s.clock.Add(16 * time.Minute)
	if a := b.get("/"); a.status != http.StatusSeeOther {
		t.Errorf("after 16 idle minutes the session still works: %d", a.status)
	}
	for i := range 5 {
		if a := b.signIn("desk", "not the password", ""); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, a.status)
		}
	}
	a := b.signIn("desk", pw, "")
	if a.status != http.StatusTooManyRequests || !regexp.MustCompile(`Too many failed sign-ins. Try again after \d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d\.`).MatchString(a.body) {
		t.Errorf("locked out: %d %s", a.status, a.body)
	}
	s.clock.Add(time.Hour)
	if a := b.signIn("desk", pw, ""); a.status != http.StatusSeeOther {
		t.Errorf("after the back-off: %d %s", a.status, a.body)
	}
}

// TestSignInInBengali: the sign-in page speaks the browser's language,
// and says so for screen readers.
func TestSignInInBengali(t *testing.T) {
	s := newSite(t)
	s.add("desk", "registrar", pw)
	req, _ := http.NewRequest("GET", s.srv.URL+"/login?notice=expired", nil)
	req.Header.Set("Accept-Language", "bn-BD, en;q=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	a := read(t, resp)
	for _, want := range []string{`<html lang="bn">`, `<label for="name">ব্যবহারকারীর নাম</label>`, "আপনার সেশন শেষ হয়েছে।", ">সাইন ইন করুন</button>"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the Bengali sign-in page lacks %s:\n%s", want, a.body)
		}
	}
	if strings.Contains(a.body, "User name") || strings.Contains(a.body, "Password") {
		t.Errorf("the Bengali sign-in page has English words:\n%s", a.body)
	}
}

// TestSecondFactor: a physician must enrol a TOTP authenticator before
// anything else, then signs in with codes.
func TestSecondFactor(t *testing.T) {
	s := newSite(t)
	s.add("doc", "physician", pw)
	b := s.browser()
	if a := b.signIn("doc", pw, ""); a.status != http.StatusSeeOther || a.location != "/mfa" {
		t.Fatalf("first sign-in of a physician: %d %q", a.status, a.location)
	}
	if a := b.get("/"); a.status != http.StatusSeeOther || a.location != "/mfa" {
		t.Errorf("a page before enrolment: %d %q", a.status, a.location)
	}
	enrol := b.get("/mfa")
	m := regexp.MustCompile(`class="secret">([A-Z2-7]+)<`).FindStringSubmatch(enrol.body)
	if enrol.status != http.StatusOK || m == nil {
		t.Fatalf("enrolment page: %d %s", enrol.status, enrol.body)
	}
	secret := m[1]
	// The same secret as a QR code, in the page itself.
	if img := regexp.MustCompile(`<img class="qr" src="data:image/svg(?:\+|&#43;)xml;base64,([^"]+)" alt="[^"]+">`).FindStringSubmatch(enrol.body); img == nil {
		t.Errorf("no QR code image on the enrolment page: %s", enrol.body)
	} else if svg, err := base64.StdEncoding.DecodeString(html.UnescapeString(img[1])); err != nil || !bytes.HasPrefix(svg, []byte("<svg ")) {
		t.Errorf("the QR code is not an SVG image: %v %.40q", err, svg)
	}
	if a := b.post("/mfa", url.Values{"csrf": {csrfOf(t, enrol.body)}, "code": {"000000"}}); a.status != http.StatusUnprocessableEntity {
		t.Errorf("a wrong code: %d", a.status)
	}
	enrol = b.get("/mfa")
	secret = regexp.MustCompile(`class="secret">([A-Z2-7]+)<`).FindStringSubmatch(enrol.body)[1]
	code, err := totp.GenerateCode(secret, s.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	done := b.post("/mfa", url.Values{"csrf": {csrfOf(t, enrol.body)}, "code": {code}})
	if done.status != http.StatusOK || strings.Count(done.body, "<li><code>") != auth.RecoveryCodeCount {
		t.Fatalf("confirm: %d %s", done.status, done.body)
	}
	recovery := regexp.MustCompile(`<li><code>([^<]+)</code>`).FindStringSubmatch(done.body)[1]
	if a := b.get("/"); a.status != http.StatusSeeOther {
		t.Errorf("the enrolment session survived: %d", a.status)
	}
	if a := b.signIn("doc", pw, ""); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "one-time code") {
		t.Errorf("sign-in without a code: %d %s", a.status, a.body)
	}
	s.clock.Add(30 * time.Second) // the confirming code is used up
	code, _ = totp.GenerateCode(secret, s.clock.Now())
	if a := b.signIn("doc", pw, code); a.status != http.StatusSeeOther || a.location != "/" {
		t.Fatalf("sign-in with a code: %d %q %s", a.status, a.location, a.body)
	}
	if a := b.get("/"); a.body != "hello doc (physician)" {
		t.Errorf("signed in: %s", a.body)
	}
	other := s.browser()
	if a := other.signIn("doc", pw, code); a.status != http.StatusUnauthorized {
		t.Errorf("the same code twice: %d", a.status)
	}
	if a := other.signIn("doc", pw, recovery); a.status != http.StatusSeeOther {
		t.Errorf("a recovery code: %d %s", a.status, a.body)
	}
	third := s.browser()
	if a := third.signIn("doc", pw, recovery); a.status != http.StatusUnauthorized {
		t.Errorf("a recovery code twice: %d", a.status)
	}
}

// TestSessionsListedAndEnded: a user ends their other session; an admin
// ends all of someone's; nobody ends another's through their own page.
func TestSessionsListedAndEnded(t *testing.T) {
	s := newSite(t)
	s.add("desk", "registrar", pw)
	s.add("root", "admin", pw)
	ctx := context.Background()
	secret, _, err := s.accounts.BeginMFA(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(secret, s.clock.Now())
	if _, err := s.accounts.ConfirmMFA(ctx, "root", code); err != nil {
		t.Fatal(err)
	}
	laptop, phone := s.browser(), s.browser()
	laptop.signIn("desk", pw, "")
	phone.signIn("desk", pw, "")
	page := laptop.get("/account/sessions")
	ids := regexp.MustCompile(`name="id" value="([^"]+)"`).FindAllStringSubmatch(page.body, -1)
	if len(ids) != 1 {
		t.Fatalf("the laptop sees %d other sessions, want 1: %s", len(ids), page.body)
	}
	// Times read as on every other page, never as ISO; in Bengali too.
	signedIn := s.clock.Now().Local()
	if want := signedIn.Format("02-Jan-2006 15:04"); !strings.Contains(page.body, ">"+want+"</td>") || strings.Contains(page.body, signedIn.Format("2006-01-02")) {
		t.Errorf("the sessions page does not show %s as the sign-in time:\n%s", want, page.body)
	}
	u, _ := url.Parse(s.srv.URL)
	laptop.client.Jar.SetCookies(u, []*http.Cookie{{Name: "emr_lang", Value: "bn", Path: "/"}})
	bn := laptop.get("/account/sessions")
	if want := localeByTag("bn").DateTime(signedIn); !strings.Contains(bn.body, `<html lang="bn">`) || !strings.Contains(bn.body, want) || !strings.Contains(bn.body, "এই সেশন") {
		t.Errorf("the Bengali sessions page lacks %s:\n%s", want, bn.body)
	}
	laptop.client.Jar.SetCookies(u, []*http.Cookie{{Name: "emr_lang", Value: "en", Path: "/"}})
	if a := laptop.post("/account/sessions/revoke", url.Values{"csrf": {csrfOf(t, page.body)}, "id": {ids[0][1]}}); a.status != http.StatusSeeOther {
		t.Fatalf("ending the phone's session: %d %s", a.status, a.body)
	}
	if a := phone.get("/"); a.status != http.StatusSeeOther {
		t.Errorf("the phone is still signed in: %d", a.status)
	}
	phone.signIn("desk", pw, "")
	admin := s.browser()
	s.clock.Add(30 * time.Second)
	code, _ = totp.GenerateCode(secret, s.clock.Now())
	if a := admin.signIn("root", pw, code); a.status != http.StatusSeeOther {
		t.Fatalf("admin sign-in: %d %s", a.status, a.body)
	}
	adminPage := admin.get("/account/sessions")
	if a := laptop.post("/admin/sessions/revoke", url.Values{"csrf": {csrfOf(t, laptop.get("/account/sessions").body)}, "user": {"root"}}); a.status != http.StatusForbidden {
		t.Errorf("a registrar ends the admin's sessions: %d", a.status)
	}
	a := admin.post("/admin/sessions/revoke", url.Values{"csrf": {csrfOf(t, adminPage.body)}, "user": {"desk"}})
	if a.status != http.StatusOK || !strings.Contains(a.body, "Ended 2 sessions of desk") {
		t.Fatalf("admin ends desk's sessions: %d %s", a.status, a.body)
	}
	s.add("kiosk", "registrar", pw)
	s.browser().signIn("kiosk", pw, "")
	if a := admin.post("/admin/sessions/revoke", url.Values{"csrf": {csrfOf(t, adminPage.body)}, "user": {"kiosk"}}); !strings.Contains(a.body, "Ended 1 session of kiosk.") {
		t.Errorf("admin ends kiosk's one session: %d %s", a.status, a.body)
	}
	for _, b := range []*browser{laptop, phone} {
		if a := b.get("/"); a.status != http.StatusSeeOther {
			t.Errorf("desk still signed in after the admin ended the sessions: %d", a.status)
		}
	}
	if a := admin.get("/"); a.status != http.StatusOK {
		t.Errorf("the admin's own session ended too: %d", a.status)
	}
}
