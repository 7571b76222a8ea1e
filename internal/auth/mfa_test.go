package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

// codeAt returns the TOTP code of secret at the clock's current step.
func codeAt(t *testing.T, secret string, e *env) string {
	t.Helper()
	code, err := totpCode(secret, e.clock.Now().Unix()/totpPeriod)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestMFAEnrolmentAndLogin(t *testing.T) {
	onBackends(t, AccountOptions{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.accounts
		const pw = "a physician's passphrase"
		a.Add(ctx, "drx", "physician", AddOptions{Password: pw})

		// The role needs MFA: signed in, but only to enrol.
		acc, err := a.Login(ctx, "drx", pw, "", "")
		if err != nil || !acc.MFARequired || acc.MFAVerified {
			t.Fatalf("before enrolment: %+v %v, want MFARequired", acc, err)
		}
		if _, err := a.ConfirmMFA(ctx, "drx", "123456"); !fhir.IsKind(err, fhir.KindPreconditionFailed) {
			t.Errorf("confirm before begin: %v", err)
		}
		secret, url, err := a.BeginMFA(ctx, "drx")
		if err != nil || !strings.HasPrefix(url, "otpauth://totp/") || !strings.Contains(url, "secret="+secret) {
			t.Fatalf("begin: %q %q %v", secret, url, err)
		}
		if _, err := a.ConfirmMFA(ctx, "drx", "000000"); !errors.Is(err, ErrBadOTP) {
			t.Errorf("confirm with a wrong code: %v", err)
		}
		codes, err := a.ConfirmMFA(ctx, "drx", codeAt(t, secret, e))
		if err != nil || len(codes) != RecoveryCodeCount {
			t.Fatalf("confirm: %v %v", codes, err)
		}
		if _, _, err := a.BeginMFA(ctx, "drx"); !errors.Is(err, ErrMFAEnrolled) {
			t.Errorf("begin again: %v", err)
		}

		// The password alone is not enough now.
		if _, err := a.Login(ctx, "drx", pw, "", ""); !errors.Is(err, ErrMFARequired) {
			t.Errorf("no code: %v", err)
		}
		// The code used to confirm is spent; the next step's is good once.
		if _, err := a.Login(ctx, "drx", pw, codeAt(t, secret, e), ""); !errors.Is(err, ErrBadOTP) {
			t.Errorf("confirmation code replayed: %v", err)
		}
		e.clock.Add(totpPeriod * 1e9)
		code := codeAt(t, secret, e)
		acc, err = a.Login(ctx, "drx", pw, code, "")
		if err != nil || !acc.MFAVerified || acc.MFARequired {
			t.Fatalf("with a code: %+v %v", acc, err)
		}
		if _, err := a.Login(ctx, "drx", pw, code, ""); !errors.Is(err, ErrBadOTP) {
			t.Errorf("replayed code: %v", err)
		}
		// A recovery code works once.
		acc, err = a.Login(ctx, "drx", pw, strings.ToUpper(codes[3]), "")
		if err != nil || !acc.MFAVerified || acc.RecoveryCodes != RecoveryCodeCount-1 {
			t.Fatalf("recovery code: %+v %v", acc, err)
		}
		if _, err := a.Login(ctx, "drx", pw, codes[3], ""); !errors.Is(err, ErrBadOTP) {
			t.Errorf("recovery code reused: %v", err)
		}
		// The wrong password with a good code is still the wrong password.
		e.clock.Add(totpPeriod * 1e9)
		if _, err := a.Login(ctx, "drx", "not the passphrase", codeAt(t, secret, e), ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("wrong password, good code: %v", err)
		}
		if acc, _ := a.Get(ctx, "drx"); acc.Failures != 2 {
			t.Errorf("failures %d, want 2 (the reused recovery code and the bad password; the success before cleared the rest)", acc.Failures)
		}

		// An administrator's reset: enrol again at the next sign-in.
		if err := a.DisableMFA(ctx, "drx"); err != nil {
			t.Fatal(err)
		}
		acc, err = a.Login(ctx, "drx", pw, "", "")
		if err != nil || !acc.MFARequired || acc.MFAEnabled {
			t.Errorf("after reset: %+v %v", acc, err)
		}
		trail := strings.Join(auditTrail(t, e.db), "\n")
		for _, want := range []string{"mfa-enrolment-started 0 drx", "mfa-enrolled 0 drx", "recovery-code-used 0 drx", "mfa-reset 0 drx"} {
			if !strings.Contains(trail, want) {
				t.Errorf("audit trail lacks %q:\n%s", want, trail)
			}
		}
	})
}

func TestRelaxMFA(t *testing.T) {
	onBackends(t, AccountOptions{RelaxMFA: true}, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.accounts.Add(ctx, "drx", "physician", AddOptions{Password: "a physician's passphrase"})
		acc, err := e.accounts.Login(ctx, "drx", "a physician's passphrase", "", "")
		if err != nil || acc.MFARequired {
			t.Errorf("relaxed: %+v %v, want no MFARequired", acc, err)
		}
	})
}
