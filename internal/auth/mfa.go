package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// RecoveryCodeCount is how many recovery codes ConfirmMFA issues.
const RecoveryCodeCount = 10

// ErrMFAEnrolled is returned by BeginMFA when the user already has a second
// factor: an administrator resets it first (DisableMFA).
var ErrMFAEnrolled = errors.New("a second factor is already enrolled")

// BeginMFA starts TOTP enrolment for name: it stores a new pending secret
// and returns it with its otpauth:// URL (for a QR code). Enrolment ends
// with ConfirmMFA; calling BeginMFA again replaces the pending secret.
func (a *Accounts) BeginMFA(ctx context.Context, name string) (secret, otpauthURL string, err error) {
	u, _, err := a.load(ctx, name)
	if err != nil {
		return "", "", err
	}
	if u.MFA.Enabled {
		return "", "", fmt.Errorf("auth: begin MFA for %s: %w", name, ErrMFAEnrolled)
	}
	secret, otpauthURL, err = NewTOTP(a.issuer, u.Name)
	if err != nil {
		return "", "", err
	}
	err = a.update(ctx, name, "mfa-enrolment-started", func(u *userRecord, _ time.Time) (string, error) {
		if u.MFA.Enabled {
			return "", ErrMFAEnrolled
		}
		u.MFA.Pending = secret
		return "", nil
	})
	if err != nil {
		return "", "", err
	}
	return secret, otpauthURL, nil
}

// ConfirmMFA completes enrolment with a code from the authenticator app:
// the second factor is then required at every sign-in. It returns the
// recovery codes, to show the user once. It fails with ErrBadOTP for a
// wrong code, and KindPreconditionFailed when no enrolment was begun.
func (a *Accounts) ConfirmMFA(ctx context.Context, name, code string) ([]string, error) {
	plain, hashed := NewRecoveryCodes(RecoveryCodeCount)
	err := a.update(ctx, name, "mfa-enrolled", func(u *userRecord, now time.Time) (string, error) {
		if u.MFA.Enabled {
			return "", ErrMFAEnrolled
		}
		if u.MFA.Pending == "" {
			return "", fhir.Errorf(fhir.KindPreconditionFailed, "no second-factor enrolment was begun for %q", u.Name)
		}
		step, ok := VerifyTOTP(u.MFA.Pending, code, now, 0)
		if !ok {
			return "", ErrBadOTP
		}
		u.MFA = mfaState{Enabled: true, Secret: u.MFA.Pending, LastStep: step, RecoveryHashes: hashed}
		return "", nil
	})
	if err != nil {
		return nil, err
	}
	return plain, nil
}

// DisableMFA removes the second factor of name (an administrator's reset,
// when the user lost the device and the recovery codes). If the role needs
// MFA, the user must enrol again at the next sign-in.
func (a *Accounts) DisableMFA(ctx context.Context, name string) error {
	return a.update(ctx, name, "mfa-reset", func(u *userRecord, _ time.Time) (string, error) {
		if !u.MFA.Enabled && u.MFA.Pending == "" {
			return "", unchanged("user %q has no second factor", u.Name)
		}
		u.MFA = mfaState{}
		return "", nil
	})
}
