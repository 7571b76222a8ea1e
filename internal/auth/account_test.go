package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is a settable clock for lockout and session timeouts.
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

// env is a store with accounts and sessions on a settable clock.
type env struct {
	db       *sqlstore.DB
	clock    *clock
	accounts *Accounts
	sessions *Sessions
}

var (
	rolesOnce sync.Once
	roles     *access.Roles
)

func defaultRoles() *access.Roles {
	rolesOnce.Do(func() { roles = access.DefaultRoles(spec.R5()) })
	return roles
}

// onBackends runs test on SQLite and, when a server can be had, on
// PostgreSQL, each with a fresh store.
func onBackends(t *testing.T, opts AccountOptions, test func(t *testing.T, e *env)) {
	useCheapArgon2(t)
	// The store expires records (sessions) by the same settable clock.
	open := map[string]func(t *testing.T, c *clock) *sqlstore.DB{
		"sqlite": func(t *testing.T, c *clock) *sqlstore.DB {
			db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
		"postgres": func(t *testing.T, c *clock) *sqlstore.DB {
			db, err := sqlstore.OpenPostgres(context.Background(), pgtest.DSN(t), sqlstore.Options{ReadConns: 4, Now: c.Now})
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			c := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
			db := open[backend](t, c)
			t.Cleanup(func() { db.Close() })
			o := opts
			o.Now = c.Now
			test(t, &env{db: db, clock: c, accounts: NewAccounts(db, defaultRoles(), o),
				sessions: NewSessions(db, SessionOptions{Now: c.Now})})
		})
	}
}

// auditTrail returns the security events recorded, as "interaction outcome
// subject" strings in order.
func auditTrail(t *testing.T, db *sqlstore.DB) []string {
	t.Helper()
	var out []string
	err := db.ScanAudit(context.Background(), 0, func(_ int64, ev fhir.Resource) error {
		code, _ := ev["code"].(map[string]any)
		codings, _ := code["coding"].([]any)
		if len(codings) < 2 {
			return nil
		}
		interaction := codings[1].(map[string]any)["code"].(string)
		outcome := ev["outcome"].(map[string]any)["code"].(map[string]any)["code"].(string)
		subject := ""
		if ents, ok := ev["entity"].([]any); ok {
			subject, _ = ents[0].(map[string]any)["what"].(map[string]any)["identifier"].(map[string]any)["value"].(string)
		}
		out = append(out, interaction+" "+outcome+" "+subject)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAccountsCRUD(t *testing.T) {
	onBackends(t, AccountOptions{}, func(t *testing.T, e *env) {
		ctx := access.WithPrincipal(context.Background(), &access.Principal{User: "root"})
		a := e.accounts
		pw, err := a.Add(ctx, "Alice", "physician", AddOptions{FHIRUser: "Practitioner/123"})
		if err != nil {
			t.Fatal(err)
		}
		if (PasswordPolicy{}).Check("Alice", pw) != nil {
			t.Errorf("generated password %q fails the policy", pw)
		}
		if _, err := a.Add(ctx, "alice", "nurse", AddOptions{}); !fhir.IsKind(err, fhir.KindConflict) || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("duplicate (other case): %v, want conflict", err)
		}
		invalid := []struct {
			name, role string
			opts       AddOptions
			want       string
		}{
			{"", "nurse", AddOptions{}, "1 to 64"},
			{strings.Repeat("x", 65), "nurse", AddOptions{}, "1 to 64"},
			{"bob smith", "nurse", AddOptions{}, "letters, digits"},
			{"bob", "surgeon", AddOptions{}, "no role"},
			{"pat", "patient", AddOptions{}, "Patient"},
			{"bob", "nurse", AddOptions{Password: "password1234"}, "too common"},
			{"bob", "nurse", AddOptions{FHIRUser: "Observation/1"}, "FHIR user"},
		}
		for _, c := range invalid {
			if _, err := a.Add(ctx, c.name, c.role, c.opts); !fhir.IsKind(err, fhir.KindInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Add(%q, %q): %v, want invalid with %q", c.name, c.role, err, c.want)
			}
		}
		if got, err := a.Add(ctx, "pat.1@example.org", "patient", AddOptions{Patient: "456", FHIRUser: "Patient/456", Password: "a long enough passphrase"}); err != nil || got != "a long enough passphrase" {
			t.Fatalf("add patient: %q %v", got, err)
		}
		acc, err := a.Get(ctx, "ALICE")
		if err != nil || acc.Name != "Alice" || acc.Role != "physician" || acc.FHIRUser != "Practitioner/123" || acc.Disabled {
			t.Fatalf("get: %+v %v", acc, err)
		}
		if _, err := a.Get(ctx, "nobody"); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("get unknown: %v", err)
		}
		if err := a.SetRole(ctx, "alice", "nurse", ""); err != nil {
			t.Fatal(err)
		}
		if err := a.SetRole(ctx, "alice", "nurse", ""); !errors.Is(err, ErrUnchanged) {
			t.Errorf("same role again: %v", err)
		}
		if err := a.SetRole(ctx, "alice", "patient", ""); !fhir.IsKind(err, fhir.KindInvalid) {
			t.Errorf("patient role without a patient: %v", err)
		}
		if err := a.Disable(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		list, err := a.List(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "Alice" || !list[0].Disabled || list[0].Role != "nurse" || list[1].Patient != "456" {
			t.Fatalf("list: %v", err)
		}
		if err := a.Enable(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		newPW, err := a.ResetPassword(ctx, "alice", "")
		if err != nil || newPW == pw {
			t.Fatalf("reset: %q %v", newPW, err)
		}
		if _, err := a.Login(ctx, "alice", pw, "", ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("old password after reset: %v", err)
		}
		if _, err := a.ResetPassword(ctx, "alice", "short"); !fhir.IsKind(err, fhir.KindInvalid) {
			t.Errorf("weak reset: %v", err)
		}
		want := []string{"user-created 0 Alice", "user-created 0 pat.1@example.org", "role-changed 0 Alice",
			"user-disabled 0 Alice", "user-enabled 0 Alice", "password-reset 0 Alice", "login-failed 4 Alice"}
		if got := auditTrail(t, e.db); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestLogin(t *testing.T) {
	onBackends(t, AccountOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.accounts
		if _, err := a.Add(ctx, "reg", "registrar", AddOptions{Password: "front desk secret 1"}); err != nil {
			t.Fatal(err)
		}
		acc, err := a.Login(ctx, "Reg", "front desk secret 1", "", "10.0.0.5")
		if err != nil || acc.Name != "reg" || acc.MFARequired || acc.MFAVerified || !acc.LastLogin.Equal(e.clock.Now()) {
			t.Fatalf("login: %+v %v", acc, err)
		}
		_, errWrong := a.Login(ctx, "reg", "front desk secret 2", "", "10.0.0.5")
		_, errUnknown := a.Login(ctx, "nobody", "front desk secret 1", "", "10.0.0.5")
		if !errors.Is(errWrong, ErrBadCredentials) || !errors.Is(errUnknown, ErrBadCredentials) || errWrong.Error() != errUnknown.Error() {
			t.Errorf("wrong password %v, unknown user %v: want the same ErrBadCredentials", errWrong, errUnknown)
		}
		if acc, _ := a.Get(ctx, "reg"); acc.Failures != 1 {
			t.Errorf("failures %d, want 1", acc.Failures)
		}
		if _, err := a.Login(ctx, "reg", "front desk secret 1", "", ""); err != nil {
			t.Fatal(err)
		}
		if acc, _ := a.Get(ctx, "reg"); acc.Failures != 0 {
			t.Errorf("failures after success %d, want 0", acc.Failures)
		}
		a.Disable(ctx, "reg")
		if _, err := a.Login(ctx, "reg", "front desk secret 1", "", ""); !errors.Is(err, ErrDisabled) {
			t.Errorf("disabled: %v", err)
		}
		if _, err := a.Login(ctx, "reg", "wrong wrong wrong", "", ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("disabled, wrong password: %v, want ErrBadCredentials (not telling it is disabled)", err)
		}
		want := []string{"user-created 0 reg", "login 0 reg", "login-failed 4 reg", "login-failed 4 nobody",
			"login 0 reg", "user-disabled 0 reg", "login-failed 4 reg", "login-failed 4 reg"}
		if got := auditTrail(t, e.db); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestLockoutBacksOff(t *testing.T) {
	lock := Lockout{Threshold: 3, BaseDelay: 30 * time.Second, MaxDelay: 10 * time.Minute}
	onBackends(t, AccountOptions{Lockout: lock}, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.accounts
		const pw = "front desk secret 1"
		a.Add(ctx, "reg", "registrar", AddOptions{Password: pw})
		for range 3 {
			if _, err := a.Login(ctx, "reg", "bad guess 12345", "", ""); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("failure: %v", err)
			}
			e.clock.Add(time.Second)
		}
		// Locked 30 s after the third failure, even with the right password.
		var locked ErrLocked
		_, err := a.Login(ctx, "reg", pw, "", "")
		if !errors.As(err, &locked) || !locked.Until.Equal(e.clock.Now().Add(29*time.Second)) {
			t.Fatalf("while locked: %v, want locked until +29s", err)
		}
		if acc, _ := a.Get(ctx, "reg"); acc.LockedUntil.IsZero() || acc.Failures != 3 {
			t.Errorf("Get while locked: %+v", acc)
		}
		e.clock.Add(29 * time.Second)
		if _, err := a.Login(ctx, "reg", "bad guess 12345", "", ""); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("after the delay: %v", err)
		}
		// The fourth failure doubles the delay.
		e.clock.Add(59 * time.Second)
		if _, err := a.Login(ctx, "reg", pw, "", ""); !errors.As(err, &locked) {
			t.Fatalf("59 s after the fourth failure: %v, want locked", err)
		}
		e.clock.Add(time.Second)
		if _, err := a.Login(ctx, "reg", pw, "", ""); err != nil {
			t.Fatalf("after 60 s: %v", err)
		}
		if acc, _ := a.Get(ctx, "reg"); acc.Failures != 0 || !acc.LockedUntil.IsZero() {
			t.Errorf("after success: %+v", acc)
		}
		trail := strings.Join(auditTrail(t, e.db), "\n")
		if strings.Count(trail, "locked 0 reg") != 2 || strings.Count(trail, "login-failed 4 reg") != 6 {
			t.Errorf("audit trail:\n%s\nwant 2 lock events and 6 failures (4 wrong, 2 refused)", trail)
		}
	})
}

// TestConcurrentFailuresCounted fails many sign-ins at once: each is counted.
func TestConcurrentFailuresCounted(t *testing.T) {
	const n = 24
	onBackends(t, AccountOptions{Lockout: Lockout{Threshold: 1000}}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.accounts.Add(ctx, "reg", "registrar", AddOptions{Password: "front desk secret 1"})
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, err := e.accounts.Login(ctx, "reg", "bad guess 12345", "", ""); !errors.Is(err, ErrBadCredentials) {
					t.Errorf("login: %v", err)
				}
			})
		}
		wg.Wait()
		if acc, _ := e.accounts.Get(ctx, "reg"); acc.Failures != n {
			t.Errorf("failures %d, want %d", acc.Failures, n)
		}
	})
}

// TestLoginRehashes upgrades a hash made with weaker parameters at the
// next successful sign-in, and records sign-out.
func TestLoginRehashes(t *testing.T) {
	onBackends(t, AccountOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		const pw = "front desk secret 1"
		hashArgon2 = cheapArgon2 // each backend starts weak
		e.accounts.Add(ctx, "reg", "registrar", AddOptions{Password: pw})
		stronger := cheapArgon2
		stronger.memory *= 2
		hashArgon2 = stronger // useCheapArgon2 restores it
		if _, err := e.accounts.Login(ctx, "reg", pw, "", ""); err != nil {
			t.Fatal(err)
		}
		u, _, err := e.accounts.load(ctx, "reg")
		if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=128,") {
			t.Errorf("hash after login: %q %v, want m=128", u.PasswordHash, err)
		}
		if _, err := e.accounts.Login(ctx, "reg", pw, "", ""); err != nil {
			t.Errorf("login with the new hash: %v", err)
		}
		if err := e.accounts.Logout(ctx, "reg", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if trail := auditTrail(t, e.db); trail[len(trail)-1] != "logout 0 reg" {
			t.Errorf("last event %q, want the logout", trail[len(trail)-1])
		}
	})
}
