package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// The workspace in a real browser: `emr serve` in a child process (the
// same harness as the other end-to-end tests) driven by headless Chromium
// through chromedp. Every page visited is checked with axe-core (fail on
// a serious or critical violation), for console errors (a CSP violation
// shows there), and for sideways scrolling at phone width; screenshots at
// desktop and phone widths go to $EMR_ARTIFACTS (or a temporary
// directory; the test logs where).
//
// The harness, for further flows (registration, results, documents,
// break-glass …), finds elements as a screen reader user would, by their
// label, role or text, never by CSS class:
//
//	b := newBrowser(t, s)             // a browser on server s; skips without Chromium
//	b.visit("/patients/p1")           // open a page and check it
//	b.signIn("doc", password)         // sign in, enrolling an authenticator if the role needs one
//	b.fill("Reason", "unconscious")   // type into the field a <label> names
//	b.press("Search")                 // click the button with this text (waits for a new page if one comes)
//	b.follow("OKAFOR, Chidinma")      // click the link with this text and check the new page
//	b.see(`//*[@role="alert"]`)        // wait until an XPath is visible; returns its text
//	b.check("chart")                  // axe, console and width checks plus screenshots, named
//
// Chromium comes from $EMR_CHROMIUM, /usr/bin/chromium or the PATH; without
// it the tests skip, unless EMR_TEST_BROWSER_REQUIRED=1 (CI sets it).

//go:embed testdata/axe/axe.min.js
var axeSource string

// browser is one headless Chromium tab on one server.
type browser struct {
	t         *testing.T
	ctx       context.Context
	origin    string
	artifacts string
	// enrolled holds the second factor of each user the browser enrolled:
	// the TOTP secret and the unused recovery codes.
	enrolled map[string]*factor
	mu       sync.Mutex
	console  []consoleError // errors the pages logged, not yet reported
	// pages are the addresses loaded as pages: a page may answer with an
	// error status on purpose (409 for a possible duplicate, 403 for a
	// restricted record), which the console reports as a failed load.
	pages map[string]bool
}

type consoleError struct{ text, url string }

type factor struct {
	secret   string
	recovery []string
}

// chromiumPath finds the browser, or "" when there is none.
func chromiumPath() string {
	if p := os.Getenv("EMR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// skipWithoutBrowser skips a browser test in -short mode, or when
// Chromium is missing and not required, before it starts a server.
func skipWithoutBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a server and a browser")
	}
	if chromiumPath() == "" && os.Getenv("EMR_TEST_BROWSER_REQUIRED") != "1" {
		t.Skip("Chromium is not installed")
	}
}

// newBrowser starts headless Chromium for s, or skips the test when it
// is missing and not required.
func newBrowser(t *testing.T, s *server) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("EMR_TEST_BROWSER_REQUIRED") == "1" {
			t.Fatal("EMR_TEST_BROWSER_REQUIRED=1 but Chromium is not installed (apt-get install chromium, or set EMR_CHROMIUM)")
		}
		t.Skip("Chromium is not installed (set EMR_CHROMIUM, or EMR_TEST_BROWSER_REQUIRED=1 to fail instead)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800), chromedp.UserDataDir(t.TempDir()))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to sandbox as root
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// A bound on the whole test, so that a lost wait fails instead of
	// hanging until go test's own time-out.
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })

	artifacts := os.Getenv("EMR_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	artifacts = filepath.Join(artifacts, "screenshots")
	t.Logf("screenshots in %s", filepath.Join(artifacts, t.Name()))
	b := &browser{t: t, ctx: ctx, origin: strings.TrimSuffix(s.base, "/fhir"), artifacts: artifacts, enrolled: map[string]*factor{}, pages: map[string]bool{}}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// The app has no favicon; browsers ask anyway.
			if (m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException) && !strings.Contains(m.URL, "favicon") {
				b.mu.Lock()
				b.console = append(b.console, consoleError{fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1), m.URL})
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs actions, failing the test with what was being done.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v (at %s)", what, err, b.location())
	}
}

// location is the path and query of the page shown.
func (b *browser) location() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	return strings.TrimPrefix(loc, b.origin)
}

// visit opens path and checks the page.
func (b *browser) visit(path string) {
	b.t.Helper()
	b.do("opening "+path, chromedp.Navigate(b.origin+path))
	b.loaded()
}

// loaded notes the page shown as one the browser loaded as a page.
func (b *browser) loaded() {
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	b.mu.Lock()
	b.pages[loc] = true
	b.mu.Unlock()
}

// waitForPage runs action, which loads a new page, and waits for it.
func (b *browser) waitForPage(what string, action chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, action)); err != nil {
		b.t.Fatalf("%s: %v (at %s)", what, err, b.location())
	}
	b.loaded()
}

// xq quotes s as an XPath string literal.
func xq(s string) string {
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + s + "'"
}

// field is the XPath of the form field a <label> (whose text starts with
// label) or an aria-label names.
func field(label string) string {
	return fmt.Sprintf(`//*[self::input or self::select or self::textarea][@id=//label[starts-with(normalize-space(.), %s)]/@for or @aria-label=%s]`, xq(label), xq(label))
}

// fill types text into the field label names.
func (b *browser) fill(label, text string) {
	b.t.Helper()
	b.do("filling in "+label, chromedp.SendKeys(chromedp.Search(field(label)), text))
}

// press clicks the button named name, and waits for the page it loads.
// A button hidden from screen readers (aria-hidden) is not one a person
// presses.
func (b *browser) press(name string) {
	b.t.Helper()
	b.waitForPage("pressing "+name, chromedp.Click(chromedp.Search(fmt.Sprintf(`//button[normalize-space(.)=%s][not(@aria-hidden="true")]`, xq(name))), chromedp.NodeVisible))
}

// follow clicks the link named name and waits for the new page.
func (b *browser) follow(name string) {
	b.t.Helper()
	b.waitForPage("following "+name, chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[normalize-space(.)=%s]`, xq(name))), chromedp.NodeVisible))
}

// see waits until the element at xpath is visible and returns its text.
func (b *browser) see(xpath string) string {
	b.t.Helper()
	text, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.Search(xpath), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("waiting for %s: %v (at %s)", xpath, err, b.location())
	}
	return text
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %.60s: %v", expr, err)
	}
	return v
}

// check runs checkAxe and checkConsole on the page shown, then takes its
// screenshots as name, checking it fits a phone's width.
func (b *browser) check(name string) {
	b.t.Helper()
	b.checkAxe()
	b.screenshot(name)
	b.checkConsole()
}

// axeViolation is one failed axe-core rule.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAxe runs axe-core on the page and fails on every serious or
// critical violation (moderate and minor ones are logged).
func (b *browser) checkAxe() {
	b.t.Helper()
	if !eval[bool](b, `typeof axe !== "undefined"`) {
		eval[chromedp.Void](b, axeSource)
	}
	res := eval[struct {
		Passes     int            `json:"passes"`
		Violations []axeViolation `json:"violations"`
	}](b, `axe.run(document, {resultTypes: ["violations"]}).then(r => ({passes: r.passes.length, violations: r.violations.map(v => ({
		id: v.id, impact: v.impact || "", help: v.help,
		nodes: v.nodes.map(n => n.target.join(" ") + " — " + (n.failureSummary || "").replace(/\s+/g, " "))}))}))`)
	if res.Passes == 0 {
		b.t.Errorf("axe checked nothing on %s", b.location())
	}
	b.t.Logf("axe on %s: %d rules passed, %d violated", b.location(), res.Passes, len(res.Violations))
	violations := res.Violations
	for _, v := range violations {
		msg := fmt.Sprintf("axe %s (%s) on %s: %s\n\t%s", v.ID, v.Impact, b.location(), v.Help, strings.Join(v.Nodes, "\n\t"))
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Error(msg)
		} else {
			b.t.Log(msg)
		}
	}
}

// checkConsole fails on errors the pages logged since the last check:
// script errors, failed requests, and what the Content-Security-Policy
// refused.
func (b *browser) checkConsole() {
	b.t.Helper()
	// Console messages arrive asynchronously.
	time.Sleep(50 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if b.pages[m.url] && strings.HasPrefix(m.text, "Failed to load resource: the server responded with a status of 4") {
			continue // a page's own status, such as 403 for a restricted record
		}
		b.t.Errorf("console error on %s: %s", b.location(), m.text)
	}
	b.console = nil
}

// screenshot saves the page as name-desktop.png (1280×800) and
// name-phone.png (390×844), and fails if the page scrolls sideways at
// phone width.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	for _, v := range []struct {
		suffix        string
		width, height int64
		opts          []chromedp.EmulateViewportOption
	}{
		{"desktop", 1280, 800, nil},
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile}},
	} {
		b.do("resizing", chromedp.EmulateViewport(v.width, v.height, v.opts...))
		if v.suffix == "phone" {
			if w := eval[int](b, `document.documentElement.scrollWidth`); w > int(v.width) {
				b.t.Errorf("%s at %d px wide scrolls sideways: the page is %d px wide", b.location(), v.width, w)
			}
		}
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		// One directory per test and subtest: TestX/sub/name-phone.png.
		dir := filepath.Join(b.artifacts, filepath.FromSlash(b.t.Name()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+v.suffix+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do("resizing", chromedp.EmulateViewport(1280, 800))
}

// signIn signs user in with the form. A user the browser enrolled signs
// in with one of their recovery codes (a TOTP code may already have been
// used in this 30-second step). When the role needs a second factor the
// user has not set up, signIn enrols one as a person would: reads the
// secret on the page, confirms a code, keeps the recovery codes shown,
// and signs in again.
func (b *browser) signIn(user, password string) {
	b.t.Helper()
	b.visit("/login")
	b.fill("User name", user)
	b.fill("Password", password)
	if f := b.enrolled[user]; f != nil {
		if len(f.recovery) == 0 {
			b.t.Fatalf("%s has no recovery code left", user)
		}
		b.fill("One-time code", f.recovery[0])
		f.recovery = f.recovery[1:]
	}
	b.press("Sign in")
	if loc := b.location(); loc != "/mfa" {
		if strings.HasPrefix(loc, "/login") {
			b.t.Fatalf("signing in %s failed: %s", user, b.see(`//*[@role="alert"]`))
		}
		return
	}
	b.enrol(user)
	b.signIn(user, password)
}

// enrol sets up the second factor on /mfa.
func (b *browser) enrol(user string) {
	b.t.Helper()
	secret := b.see(`//main//p[starts-with(normalize-space(.), "Secret")]/code`)
	b.checkQRCode()
	b.check("mfa-enrol")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		b.t.Fatal(err)
	}
	b.fill("Code", code)
	b.press("Confirm")
	b.see(`//h1[normalize-space(.)="Authenticator set up"]`)
	recovery := eval[[]string](b, `Array.from(document.querySelectorAll("main li code"), c => c.textContent)`)
	if len(recovery) == 0 {
		b.t.Fatalf("no recovery codes shown after enrolment")
	}
	b.check("mfa-recovery-codes")
	b.enrolled[user] = &factor{secret: secret, recovery: recovery}
}

// checkQRCode checks the enrolment page's QR code is drawn with modules of
// at least 4 CSS pixels, at desktop and phone widths, which phones read
// from a screen.
func (b *browser) checkQRCode() {
	b.t.Helper()
	const measure = `(() => {
		const img = Array.from(document.images).find(i => (i.alt || "").startsWith("QR code"));
		if (!img || !img.complete || img.naturalWidth === 0) return 0;
		const svg = atob(img.src.slice(img.src.indexOf(",") + 1));
		const side = Number(/viewBox="0 0 (\d+) /.exec(svg)[1]);
		return img.getBoundingClientRect().width / side;
	})()`
	for _, width := range []int64{1280, 390} {
		b.do("resizing", chromedp.EmulateViewport(width, 800))
		if px := eval[float64](b, measure); px < 4 {
			b.t.Errorf("at %d px wide the QR code's modules are %.1f px, want at least 4 (0: no image)", width, px)
		}
	}
	b.do("resizing", chromedp.EmulateViewport(1280, 800))
}

// TestBrowserWorkspace: on a fresh install the first administrator signs
// in with the password `emr serve` printed, enrols an authenticator and
// lands on the finder; a physician finds a patient by typing part of her
// name, opens the chart and sees the banner, and signs out.
func TestBrowserWorkspace(t *testing.T) {
	skipWithoutBrowser(t)
	dir := t.TempDir()
	s := startServer(t, dir)
	b := newBrowser(t, s)

	t.Run("first admin", func(t *testing.T) {
		b.t = t
		m := regexp.MustCompile(`user: +(\S+)\n +password: +(\S+)`).FindStringSubmatch(s.banner)
		if m == nil {
			t.Fatalf("emr serve did not print the first administrator:\n%s", s.banner)
		}
		b.visit("/")
		if loc := b.location(); !strings.HasPrefix(loc, "/login") {
			t.Fatalf("a new visitor is at %s, want the sign-in form", loc)
		}
		b.check("login")
		b.signIn(m[1], m[2])
		if loc := b.location(); loc != "/" {
			t.Fatalf("after sign-in the administrator is at %s, want the finder", loc)
		}
		b.see(`//form[@role="search"]`)
		b.check("finder-empty")
		b.press("Sign out")
	})

	t.Run("clinician", func(t *testing.T) {
		b.t = t
		put(t, s, okafor,
			`{"resourceType":"Patient","id":"p2","name":[{"family":"Oduya","given":["Samuel"]}],"gender":"male","birthDate":"1990-11-02"}`)
		password := addUser(t, dir, "doc", "physician")
		b.signIn("doc", password)
		b.fill("Name, birth date", "kafo")
		// The results come as one types: no form submission, same page.
		b.see(`//main//a[normalize-space(.)="OKAFOR, Chidinma (Mrs)"]`)
		if loc := b.location(); loc != "/" {
			t.Errorf("typing in the finder went to %s; want the results on the same page", loc)
		}
		b.check("finder-results")
		// In Bengali: the page says which language it is in (screen
		// readers pick their voice by it), and axe checks it again.
		b.visit("/language?lang=bn&next=/")
		if lang := eval[string](b, `document.documentElement.lang`); lang != "bn" {
			t.Errorf("the Bengali finder has lang %q", lang)
		}
		b.check("finder-bn")
		b.visit("/language?lang=en&next=/?q=kafo")
		b.follow("OKAFOR, Chidinma (Mrs)")
		banner := b.see(`//section[starts-with(@aria-label, "Chart")]`)
		for _, want := range []string{"OKAFOR, Chidinma (Mrs)", "09-Mar-1984", "Female", "MRN-1001", "Allergies not recorded"} {
			if !strings.Contains(banner, want) {
				t.Errorf("the banner lacks %q:\n%s", want, banner)
			}
		}
		b.check("chart")
		b.follow("My sessions")
		b.see(`//table//td[contains(., "This session")]`)
		// Times as on every other page: 04-Mar-1980 14:05, never ISO.
		if when := b.see(`//table//td[@data-label="Signed in"]`); !regexp.MustCompile(`^\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d$`).MatchString(when) {
			t.Errorf("the sessions page shows the sign-in time as %q; want DD-Mon-YYYY HH:MM", when)
		}
		b.check("sessions")
		b.press("Sign out")
		b.see(`//*[@role="status"][contains(., "You are signed out.")]`)
		b.check("signed-out")
		b.visit("/patients/p1")
		if loc := b.location(); !strings.HasPrefix(loc, "/login") {
			t.Errorf("after signing out the chart opens at %s; want the sign-in form", loc)
		}
	})
}

// TestBrowserIdleTimeout: with a short idle time-out the workspace warns
// before it, "Stay signed in" renews the session, and at the time-out the
// page leaves for the sign-in form.
func TestBrowserIdleTimeout(t *testing.T) {
	skipWithoutBrowser(t)
	dir := t.TempDir()
	s := startServer(t, dir, "EMR_SESSION_IDLE=4s", "EMR_RELAX_MFA=true")
	b := newBrowser(t, s)
	password := addUser(t, dir, "nurse", "nurse")
	b.signIn("nurse", password)
	start := time.Now()
	warning := b.see(`//*[@role="alertdialog"]`)
	// Two seconds ahead of a 4-second time-out, in words that agree
	// with the number (never "1 minutes").
	if !strings.Contains(warning, "signed out in 2 seconds") || time.Since(start) > 4*time.Second {
		t.Errorf("idle warning after %v: %q", time.Since(start), warning)
	}
	b.check("idle-warning")
	b.do("staying signed in", chromedp.Click(chromedp.Search(`//button[normalize-space(.)="Stay signed in"]`), chromedp.NodeVisible),
		chromedp.WaitNotVisible(chromedp.Search(`//*[@role="alertdialog"]`)))
	// The session was renewed: the warning comes again, then the page
	// leaves for the sign-in form.
	b.see(`//*[@role="alertdialog"]`)
	b.see(`//*[@role="status"][contains(., "Your session has ended")]`)
	if loc := b.location(); !strings.HasPrefix(loc, "/login?notice=expired") {
		t.Errorf("after the idle time-out the page is %s", loc)
	}
	b.check("idle-signed-out")
	// Signing in again returns to the page left.
	b.fill("User name", "nurse")
	b.fill("Password", password)
	b.press("Sign in")
	if loc := b.location(); loc != "/" {
		t.Errorf("signing in again went to %s, want /", loc)
	}
}

// addUser creates a user with `emr user add` on the server's database and
// returns the generated password; flags are further options of the
// command (--fhir-user Practitioner/7).
func addUser(t *testing.T, dir, name, role string, flags ...string) string {
	t.Helper()
	var out, errOut strings.Builder
	args := append([]string{"user", "add", name, "--role", role, "--data", dir}, flags...)
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("emr user add %s: exit %d: %s", name, code, errOut.String())
	}
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no password in %q", out.String())
	}
	return m[1]
}
