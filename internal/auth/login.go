package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Errors of Login. Tell the user no more than they say: ErrBadCredentials
// is the same for an unknown user and a wrong password.
var (
	// ErrBadCredentials: the user does not exist or the password is wrong.
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrDisabled: the password is right but the account is disabled.
	ErrDisabled = errors.New("this account is disabled")
	// ErrMFARequired: the password is right and the account has a second
	// factor; ask for the code and call Login again with it.
	ErrMFARequired = errors.New("a one-time code is required")
	// ErrBadOTP: the password is right, the one-time or recovery code is not
	// (or was already used). It counts as a failed sign-in.
	ErrBadOTP = errors.New("wrong or already used one-time code")
)

// ErrLocked is the error of a sign-in refused, before the password is
// checked, because of too many failures: the next attempt is allowed at
// Until. Match it with errors.As(err, new(ErrLocked)).
type ErrLocked struct{ Until time.Time }

func (e ErrLocked) Error() string {
	return fmt.Sprintf("too many failed sign-ins; try again after %s", e.Until.UTC().Format(time.RFC3339))
}

// Login checks a user's password and, when the account has a second
// factor, otp: a current TOTP code (each accepted once) or an unused
// recovery code (then used up). addr is the caller's network address, for
// the audit record.
//
// It returns the account on success: MFAVerified when a second factor was
// checked, MFARequired when the role needs one the user has not enrolled
// (the caller then allows nothing but enrolment). It fails with
// ErrBadCredentials (unknown user or wrong password: the same error and
// about the same work), ErrLocked (too many failures; the password was not
// checked), ErrDisabled, ErrMFARequired (otp missing), ErrBadOTP, or
// another error when the store fails. Every attempt is audited; failures
// are counted exactly, whatever the concurrency, and a success clears them.
func (a *Accounts) Login(ctx context.Context, name, password, otp, addr string) (*Account, error) {
	now := a.now()
	u, _, err := a.load(ctx, name)
	if fhir.IsKind(err, fhir.KindNotFound) {
		// Spend the time a real check would, so that timing does not tell
		// which names exist.
		VerifyPassword(a.dummyHash(), password)
		a.auditLogin(ctx, name, addr, audit.MinorFailure, "unknown user")
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if ok, until := a.lockout.Allowed(u.Failures, u.LastFailure, now); !ok {
		a.auditLogin(ctx, u.Name, addr, audit.MinorFailure, "locked until "+until.UTC().Format(time.RFC3339))
		return nil, ErrLocked{Until: until}
	}
	ok, rehash, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("auth: login %s: %w", name, err)
	}
	checkedHash := u.PasswordHash
	var newHash string
	if ok && rehash {
		newHash, _ = HashPassword(password)
	}

	// Decide and record in one transaction on the current record, so that
	// concurrent attempts count every failure and use a TOTP step or a
	// recovery code once.
	var (
		result  *Account
		outcome error
	)
	record := func(tx store.Tx) error {
		result, outcome = nil, nil
		u, version, err := getUser(tx, name)
		if err != nil {
			if fhir.IsKind(err, fhir.KindNotFound) { // deleted meanwhile
				outcome = ErrBadCredentials
				return tx.AppendAudit(a.loginEvent(name, addr, audit.MinorFailure, "unknown user"))
			}
			return err
		}
		now := a.now()
		if allowed, until := a.lockout.Allowed(u.Failures, u.LastFailure, now); !allowed {
			outcome = ErrLocked{Until: until}
			return tx.AppendAudit(a.loginEvent(u.Name, addr, audit.MinorFailure, "locked until "+until.UTC().Format(time.RFC3339)))
		}
		// A password changed since it was checked is not the one checked.
		passwordOK := ok && u.PasswordHash == checkedHash
		fail := func(err error, why string) error {
			outcome = err
			u.Failures = a.lockout.Fail(u.Failures, u.LastFailure, now)
			u.LastFailure = now
			if err := putUser(tx, u, version); err != nil {
				return err
			}
			if err := tx.AppendAudit(a.loginEvent(u.Name, addr, audit.MinorFailure, why)); err != nil {
				return err
			}
			if d := a.lockout.Delay(u.Failures); d > 0 {
				return tx.AppendAudit(a.event(ctx, "locked", u.Name, audit.Success,
					fmt.Sprintf("%d failed sign-ins; locked until %s", u.Failures, now.Add(d).UTC().Format(time.RFC3339)), addr))
			}
			return nil
		}
		switch {
		case !passwordOK:
			return fail(ErrBadCredentials, "wrong password")
		case u.Disabled:
			outcome = ErrDisabled
			return tx.AppendAudit(a.loginEvent(u.Name, addr, audit.MinorFailure, "account disabled"))
		}
		if u.MFA.Enabled {
			if otp == "" {
				outcome = ErrMFARequired
				return nil // not a failure: the first step of a two-step sign-in
			}
			if step, valid := VerifyTOTP(u.MFA.Secret, otp, now, u.MFA.LastStep); valid {
				u.MFA.LastStep = step
			} else if rest, used := UseRecoveryCode(u.MFA.RecoveryHashes, otp); used {
				u.MFA.RecoveryHashes = rest
				if err := tx.AppendAudit(a.event(ctx, "recovery-code-used", u.Name, audit.Success,
					fmt.Sprintf("%d recovery codes left", len(rest)), addr)); err != nil {
					return err
				}
			} else {
				return fail(ErrBadOTP, "wrong one-time code")
			}
		}
		u.Failures, u.LastFailure, u.LastLogin = 0, time.Time{}, now
		if newHash != "" {
			u.PasswordHash = newHash
		}
		if err := putUser(tx, u, version); err != nil {
			return err
		}
		acc := u.account(a, now)
		acc.MFAVerified = u.MFA.Enabled
		acc.MFARequired = !u.MFA.Enabled && a.roleNeedsMFA(u.Role)
		result = acc
		detail := ""
		if acc.MFARequired {
			detail = "second factor not enrolled; enrolment required"
		}
		return tx.AppendAudit(a.loginEvent(u.Name, addr, audit.Success, detail))
	}
	// Writes are serialised, so the version read in the transaction is
	// still current when it is replaced; the check (and these retries) only
	// guard against a backend that ever let two interleave.
	for range 3 {
		if err = a.store.Write(ctx, record); !fhir.IsKind(err, fhir.KindPreconditionFailed) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("auth: login %s: %w", name, err)
	}
	return result, outcome
}

// roleNeedsMFA reports whether users of role must have a second factor.
func (a *Accounts) roleNeedsMFA(role string) bool {
	if a.relax {
		return false
	}
	r, ok := a.roles.Role(role)
	return !ok || r.MFA // a role since removed: the safe side
}

// dummyHash is a hash of nothing anyone knows, to verify against for
// unknown users.
func (a *Accounts) dummyHash() string {
	a.dummyOnce.Do(func() { a.dummy, _ = HashPassword(NewToken()) })
	return a.dummy
}

func (a *Accounts) loginEvent(name, addr string, outcome audit.Outcome, detail string) fhir.Resource {
	interaction := "login"
	if outcome != audit.Success {
		interaction = "login-failed"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return audit.Event(audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: interaction,
		Subject: name, Agent: audit.Agent{User: name, Address: addr}, Outcome: outcome, Detail: detail,
		Recorded: a.now(), Observer: a.obs})
}

// auditLogin records a sign-in attempt that changed nothing.
func (a *Accounts) auditLogin(ctx context.Context, name, addr string, outcome audit.Outcome, detail string) {
	// The caller's answer does not depend on the audit write; a failure
	// here is the store's, and the next write will report it.
	_ = a.store.AppendAudit(ctx, a.loginEvent(name, addr, outcome, detail))
}

// Logout records that name signed out (the caller revokes the session).
func (a *Accounts) Logout(ctx context.Context, name, addr string) error {
	ev := audit.Event(audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "logout",
		Subject: name, Agent: audit.Agent{User: name, Address: addr}, Recorded: a.now(), Observer: a.obs})
	return a.store.AppendAudit(ctx, ev)
}
