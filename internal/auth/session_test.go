package auth

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

func TestSessionTimeouts(t *testing.T) {
	onBackends(t, AccountOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		const pw = "front desk secret 1"
		e.accounts.Add(ctx, "reg", "registrar", AddOptions{Password: pw})
		acc, err := e.accounts.Login(ctx, "reg", pw, "", "10.0.0.9")
		if err != nil {
			t.Fatal(err)
		}
		token, s, err := e.sessions.Create(ctx, acc, "10.0.0.9", "test-agent")
		if err != nil || s.User != "reg" || s.ID != HashToken(token) || !s.Expires.Equal(e.clock.Now().Add(12*time.Hour)) {
			t.Fatalf("create: %+v %v", s, err)
		}
		// The token is not what is stored.
		if _, err := e.db.GetRecord(ctx, SessionKind, token); !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("session stored under its token: %v", err)
		}
		if _, err := e.sessions.Check(ctx, "not-a-token"); !errors.Is(err, ErrNoSession) {
			t.Errorf("unknown token: %v", err)
		}

		// Used every 10 minutes, it lives on past the idle timeout…
		for range 6 {
			e.clock.Add(10 * time.Minute)
			got, err := e.sessions.Check(ctx, token)
			if err != nil || !got.LastSeen.Equal(e.clock.Now()) {
				t.Fatalf("check after 10 min: %+v %v", got, err)
			}
		}
		// …lastSeen is written at most once a minute…
		rec, _ := e.db.GetRecord(ctx, SessionKind, s.ID)
		e.clock.Add(30 * time.Second)
		e.sessions.Check(ctx, token)
		if again, _ := e.db.GetRecord(ctx, SessionKind, s.ID); again.Version != rec.Version {
			t.Errorf("checked 30 s after the last write: version %d -> %d, want no write", rec.Version, again.Version)
		}
		// …and ends 15 minutes after the last use.
		e.clock.Add(15 * time.Minute)
		if _, err := e.sessions.Check(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Errorf("idle 15 min: %v", err)
		}

		// The absolute timeout ends a session in use.
		token, _, _ = e.sessions.Create(ctx, acc, "", "")
		for range 12 * 6 {
			e.clock.Add(10 * time.Minute)
			_, err = e.sessions.Check(ctx, token)
		}
		if !errors.Is(err, ErrNoSession) {
			t.Errorf("after 12 h: %v", err)
		}
	})
}

func TestSessionRevocation(t *testing.T) {
	onBackends(t, AccountOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		const pw = "front desk secret 1"
		e.accounts.Add(ctx, "reg", "registrar", AddOptions{Password: pw})
		acc, _ := e.accounts.Login(ctx, "reg", pw, "", "")
		t1, s1, _ := e.sessions.Create(ctx, acc, "", "")
		t2, _, _ := e.sessions.Create(ctx, acc, "", "")
		t3, _, _ := e.sessions.Create(ctx, acc, "", "")
		if list, err := e.sessions.List(ctx, "REG"); err != nil || len(list) != 3 {
			t.Fatalf("list: %d %v", len(list), err)
		}
		if err := e.sessions.Revoke(ctx, s1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sessions.Check(ctx, t1); !errors.Is(err, ErrNoSession) {
			t.Errorf("revoked: %v", err)
		}
		if _, err := e.sessions.Check(ctx, t2); err != nil {
			t.Errorf("other session: %v", err)
		}
		if n, err := e.sessions.RevokeAll(ctx, "reg"); err != nil || n != 2 {
			t.Errorf("revoke all: %d %v", n, err)
		}
		if _, err := e.sessions.Check(ctx, t3); !errors.Is(err, ErrNoSession) {
			t.Errorf("after revoke all: %v", err)
		}

		// Disabling the user or changing the password ends the sessions.
		t4, _, _ := e.sessions.Create(ctx, acc, "", "")
		e.accounts.Disable(ctx, "reg")
		if _, err := e.sessions.Check(ctx, t4); !errors.Is(err, ErrNoSession) {
			t.Errorf("user disabled: %v", err)
		}
		e.accounts.Enable(ctx, "reg")
		t5, _, _ := e.sessions.Create(ctx, acc, "", "")
		e.clock.Add(time.Second)
		e.accounts.ResetPassword(ctx, "reg", "")
		if _, err := e.sessions.Check(ctx, t5); !errors.Is(err, ErrNoSession) {
			t.Errorf("password reset: %v", err)
		}
	})
}

func TestCSRF(t *testing.T) {
	onBackends(t, AccountOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.accounts.Add(ctx, "reg", "registrar", AddOptions{Password: "front desk secret 1"})
		acc, _ := e.accounts.Login(ctx, "reg", "front desk secret 1", "", "")
		t1, s1, _ := e.sessions.Create(ctx, acc, "", "")
		_, s2, _ := e.sessions.Create(ctx, acc, "", "")
		tok := CSRFToken(s1)
		checked, _ := e.sessions.Check(ctx, t1)
		if !CheckCSRF(checked, tok) {
			t.Error("the session's own token refused after Check")
		}
		if CheckCSRF(s2, tok) || CheckCSRF(s1, "") || CheckCSRF(s1, tok[:len(tok)-1]+"x") || CheckCSRF(nil, tok) {
			t.Error("a wrong CSRF token accepted")
		}
	})
}

func TestSessionCookie(t *testing.T) {
	c := SessionCookie("tok", true)
	if c.Name != "__Host-emr_session" || !c.Secure || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode || c.Domain != "" {
		t.Errorf("secure cookie: %+v", c)
	}
	if c := SessionCookie("tok", false); c.Name != "emr_session" || c.Secure || !c.HttpOnly {
		t.Errorf("plain cookie: %+v", c)
	}
	if c := SessionCookie("", true); c.MaxAge >= 0 {
		t.Errorf("clearing cookie: %+v", c)
	}
}

func TestEnsureAdmin(t *testing.T) {
	onBackends(t, AccountOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, _, err := EnsureAdmin(ctx, e.accounts, "admin"); !fhir.IsKind(err, fhir.KindInvalid) {
			t.Errorf("weak EMR_ADMIN_PASSWORD: %v", err)
		}
		created, pw, err := EnsureAdmin(ctx, e.accounts, "")
		if err != nil || !created || pw == "" {
			t.Fatalf("first start: %v %q %v", created, pw, err)
		}
		if acc, err := e.accounts.Login(ctx, "admin", pw, "", ""); err != nil || acc.Role != "admin" || !acc.MFARequired {
			t.Errorf("admin login: %+v %v", acc, err)
		}
		if created, pw, err := EnsureAdmin(ctx, e.accounts, ""); created || pw != "" || err != nil {
			t.Errorf("second start: %v %q %v", created, pw, err)
		}
	})
}
