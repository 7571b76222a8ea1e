package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// UserKind is the store record kind of user accounts; the key is the
// lower-cased user name.
const UserKind = "user"

// Accounts keeps the user accounts in a store's infrastructure records and
// signs users in. Every change, and every sign-in attempt, is recorded as
// an AuditEvent, in the same transaction as the change when there is one.
// The acting user of an administrative change is the access.Principal of
// the context (its User), or "" (recorded as anonymous) when none.
//
// Errors: ErrBadCredentials, ErrLocked, ErrDisabled, ErrMFARequired and
// ErrBadOTP from Login; otherwise *fhir.Error of kind KindNotFound (no such
// user), KindConflict (the user exists), KindInvalid (a bad name, role or
// password: the message says which and may be shown) or KindInternal.
type Accounts struct {
	store   store.Store
	roles   *access.Roles
	now     func() time.Time
	lockout Lockout
	policy  PasswordPolicy
	relax   bool
	issuer  string
	obs     string

	dummyOnce sync.Once
	dummy     string
}

// AccountOptions configures Accounts. The zero value is the default.
type AccountOptions struct {
	Now      func() time.Time // the clock; nil means time.Now
	Lockout  Lockout          // back-off after failed sign-ins
	Policy   PasswordPolicy   // what passwords are accepted
	Issuer   string           // the TOTP issuer shown in authenticator apps; "" means "EMR"
	Observer string           // the audit source observer; "" means "emr"
	// RelaxMFA lets users of roles that need a second factor (Role.MFA)
	// sign in without one: a deployment setting for trials and small
	// practices that take the risk knowingly. By default (false) MFA is
	// required, and Login reports MFARequired until the user enrols.
	RelaxMFA bool
}

// NewAccounts returns the accounts kept in st, with roles checked against
// roles.
func NewAccounts(st store.Store, roles *access.Roles, opts AccountOptions) *Accounts {
	a := &Accounts{store: st, roles: roles, now: opts.Now, lockout: opts.Lockout, policy: opts.Policy,
		relax: opts.RelaxMFA, issuer: opts.Issuer, obs: opts.Observer}
	if a.now == nil {
		a.now = time.Now
	}
	if a.issuer == "" {
		a.issuer = "EMR"
	}
	if a.obs == "" {
		a.obs = "emr"
	}
	return a
}

// Account is what callers see of a user account: never its password hash,
// TOTP secret or recovery codes.
type Account struct {
	Name     string // as given when created; the key is its lower case
	Role     string
	FHIRUser string // "Practitioner/123", "Patient/456" or ""
	Patient  string // the patient id of a patient-role user
	Disabled bool
	Created  time.Time
	// PasswordChanged is when the password was last set; sessions started
	// before it are no longer valid.
	PasswordChanged time.Time
	LastLogin       time.Time // zero when never
	// Failures counts the failed sign-ins since the last success (within
	// the lockout window); LockedUntil is when the next attempt is allowed,
	// zero when now.
	Failures    int
	LockedUntil time.Time
	// MFAEnabled says the user has enrolled a TOTP authenticator;
	// RecoveryCodes is how many unused recovery codes are left.
	MFAEnabled    bool
	RecoveryCodes int
	// MFARequired, set by Login, says the role needs a second factor and
	// the user has not enrolled: the caller must let the session do
	// nothing but enrol (BeginMFA, ConfirmMFA).
	MFARequired bool
	// MFAVerified, set by Login, says a second factor was checked in this
	// sign-in.
	MFAVerified bool
}

// AddOptions are the optional parts of a new account.
type AddOptions struct {
	FHIRUser string // "Practitioner/id", "PractitionerRole/id", "Patient/id", "RelatedPerson/id" or ""
	Patient  string // the patient id; required for the patient role
	Password string // "" to generate one
}

// userRecord is the stored JSON of a user.
type userRecord struct {
	Name            string    `json:"name"`
	Role            string    `json:"role"`
	FHIRUser        string    `json:"fhirUser,omitempty"`
	Patient         string    `json:"patient,omitempty"`
	Disabled        bool      `json:"disabled,omitempty"`
	PasswordHash    string    `json:"passwordHash"`
	PasswordChanged time.Time `json:"passwordChanged"`
	Created         time.Time `json:"created"`
	LastLogin       time.Time `json:"lastLogin,omitzero"`
	Failures        int       `json:"failures,omitempty"`
	LastFailure     time.Time `json:"lastFailure,omitzero"`
	MFA             mfaState  `json:"mfa,omitzero"`
}

// mfaState is the second factor of a user. Secret is the TOTP secret in
// base32 (it cannot be hashed: protect the database); LastStep the last
// time step accepted, so a code is never accepted twice; RecoveryHashes
// the hashes of the unused recovery codes; Pending the secret of an
// enrolment begun and not yet confirmed.
type mfaState struct {
	Enabled        bool     `json:"enabled,omitempty"`
	Secret         string   `json:"secret,omitempty"`
	LastStep       int64    `json:"lastStep,omitempty"`
	RecoveryHashes []string `json:"recoveryHashes,omitempty"`
	Pending        string   `json:"pending,omitempty"`
}

func (u *userRecord) account(a *Accounts, now time.Time) *Account {
	acc := &Account{Name: u.Name, Role: u.Role, FHIRUser: u.FHIRUser, Patient: u.Patient, Disabled: u.Disabled,
		Created: u.Created, PasswordChanged: u.PasswordChanged, LastLogin: u.LastLogin,
		Failures:   a.lockout.Failures(u.Failures, u.LastFailure, now),
		MFAEnabled: u.MFA.Enabled, RecoveryCodes: len(u.MFA.RecoveryHashes)}
	if ok, at := a.lockout.Allowed(u.Failures, u.LastFailure, now); !ok {
		acc.LockedUntil = at
	}
	return acc
}

// UserKey is the record key of a user name: its lower case, so that
// "Alice" and "alice" are one account.
func UserKey(name string) string { return strings.ToLower(name) }

// checkName accepts 1 to 64 letters, digits and . _ - @.
func checkName(name string) error {
	if len(name) < 1 || len(name) > 64 {
		return fhir.Errorf(fhir.KindInvalid, "user name %q: use 1 to 64 characters", name)
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("._-@", c)) {
			return fhir.Errorf(fhir.KindInvalid, "user name %q: use letters, digits and . _ - @ only", name)
		}
	}
	return nil
}

// checkRole checks that role exists and that a patient user names its patient.
func (a *Accounts) checkRole(role, patient string) error {
	if _, ok := a.roles.Role(role); !ok {
		return fhir.Errorf(fhir.KindInvalid, "no role %q; the roles are %s", role, strings.Join(a.roles.Names(), ", "))
	}
	if role == "patient" && patient == "" {
		return fhir.Errorf(fhir.KindInvalid, "a user with the patient role needs the id of their Patient")
	}
	return nil
}

// newPassword checks pw against the policy, or generates one when pw is
// "", and returns it with its hash.
func (a *Accounts) newPassword(name, pw string) (string, string, error) {
	if pw == "" {
		pw = GeneratePassword()
	} else if err := a.policy.Check(name, pw); err != nil {
		return "", "", fhir.Errorf(fhir.KindInvalid, "%v", err)
	}
	hash, err := HashPassword(pw)
	if err != nil {
		return "", "", fhir.Errorf(fhir.KindInvalid, "%v", err)
	}
	return pw, hash, nil
}

// Add creates the account name with role and returns its password: the
// one given in opts, checked against the password policy, or a generated
// one that the caller must show once. It returns KindConflict if the user
// exists and KindInvalid for a bad name, role, FHIR user or password.
func (a *Accounts) Add(ctx context.Context, name, role string, opts AddOptions) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := a.checkRole(role, opts.Patient); err != nil {
		return "", err
	}
	if err := checkFHIRUser(opts.FHIRUser); err != nil {
		return "", err
	}
	pw, hash, err := a.newPassword(name, opts.Password)
	if err != nil {
		return "", err
	}
	now := a.now()
	u := &userRecord{Name: name, Role: role, FHIRUser: opts.FHIRUser, Patient: opts.Patient,
		PasswordHash: hash, PasswordChanged: now, Created: now}
	err = a.store.Write(ctx, func(tx store.Tx) error {
		if err := putUser(tx, u, 0); err != nil {
			if fhir.IsKind(err, fhir.KindConflict) {
				return fhir.Errorf(fhir.KindConflict, "user %q already exists", name)
			}
			return err
		}
		return tx.AppendAudit(a.event(ctx, "user-created", name, audit.Success, "role "+role, ""))
	})
	if err != nil {
		return "", fmt.Errorf("auth: add user %s: %w", name, err)
	}
	return pw, nil
}

// checkFHIRUser accepts "" or a relative reference to a resource a user
// can be.
func checkFHIRUser(ref string) error {
	if ref == "" {
		return nil
	}
	typ, id, ok := strings.Cut(ref, "/")
	switch typ {
	case "Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Person":
	default:
		ok = false
	}
	if !ok || id == "" || strings.Contains(id, "/") {
		return fhir.Errorf(fhir.KindInvalid, "FHIR user %q: give Practitioner/id, PractitionerRole/id, Patient/id, RelatedPerson/id or Person/id", ref)
	}
	return nil
}

// Get returns the account name, or KindNotFound.
func (a *Accounts) Get(ctx context.Context, name string) (*Account, error) {
	u, _, err := a.load(ctx, name)
	if err != nil {
		return nil, err
	}
	return u.account(a, a.now()), nil
}

// List returns every account, ordered by key.
func (a *Accounts) List(ctx context.Context) ([]*Account, error) {
	recs, err := a.store.ListRecords(ctx, UserKind, "")
	if err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	now := a.now()
	out := make([]*Account, 0, len(recs))
	for _, r := range recs {
		u, err := decodeUser(r)
		if err != nil {
			return nil, err
		}
		out = append(out, u.account(a, now))
	}
	return out, nil
}

// load reads a user outside a transaction.
func (a *Accounts) load(ctx context.Context, name string) (*userRecord, int64, error) {
	r, err := a.store.GetRecord(ctx, UserKind, UserKey(name))
	if err != nil {
		if fhir.IsKind(err, fhir.KindNotFound) {
			return nil, 0, fhir.Errorf(fhir.KindNotFound, "no user %q", name)
		}
		return nil, 0, fmt.Errorf("auth: read user %s: %w", name, err)
	}
	u, err := decodeUser(r)
	return u, r.Version, err
}

// getUser reads a user inside a transaction.
func getUser(tx store.Tx, name string) (*userRecord, int64, error) {
	r, err := tx.GetRecord(UserKind, UserKey(name))
	if err != nil {
		if fhir.IsKind(err, fhir.KindNotFound) {
			return nil, 0, fhir.Errorf(fhir.KindNotFound, "no user %q", name)
		}
		return nil, 0, err
	}
	u, err := decodeUser(r)
	return u, r.Version, err
}

func putUser(tx store.Tx, u *userRecord, ifVersion int64) error {
	body, err := json.Marshal(u)
	if err != nil {
		return err
	}
	_, err = tx.PutRecord(&store.Record{Kind: UserKind, Key: UserKey(u.Name), Value: body}, ifVersion)
	return err
}

func decodeUser(r *store.Record) (*userRecord, error) {
	var u userRecord
	if err := json.Unmarshal(r.Value, &u); err != nil {
		return nil, fmt.Errorf("auth: user record %s: %w", r.Key, err)
	}
	return &u, nil
}

// update changes the user name in one transaction: change edits the
// record (returning an error to abandon it), and the audit event
// interaction (with detail) is recorded with it.
func (a *Accounts) update(ctx context.Context, name, interaction string, change func(u *userRecord, now time.Time) (detail string, err error)) error {
	err := a.store.Write(ctx, func(tx store.Tx) error {
		u, version, err := getUser(tx, name)
		if err != nil {
			return err
		}
		detail, err := change(u, a.now())
		if err != nil {
			return err
		}
		if err := putUser(tx, u, version); err != nil {
			return err
		}
		return tx.AppendAudit(a.event(ctx, interaction, u.Name, audit.Success, detail, ""))
	})
	if err != nil {
		return fmt.Errorf("auth: %s %s: %w", interaction, name, err)
	}
	return nil
}

// ErrUnchanged is the cause of the error (of kind KindConflict) Disable,
// Enable, SetRole and DisableMFA return when the account is already so;
// nothing is written.
var ErrUnchanged = errors.New("nothing to change")

func unchanged(format string, args ...any) error {
	e := fhir.Errorf(fhir.KindConflict, format, args...)
	e.Cause = ErrUnchanged
	return e
}

// Disable stops name from signing in; its sessions end at their next check.
func (a *Accounts) Disable(ctx context.Context, name string) error {
	return a.update(ctx, name, "user-disabled", func(u *userRecord, _ time.Time) (string, error) {
		if u.Disabled {
			return "", unchanged("user %q is already disabled", u.Name)
		}
		u.Disabled = true
		return "", nil
	})
}

// Enable lets a disabled user sign in again, and clears the failed
// sign-ins.
func (a *Accounts) Enable(ctx context.Context, name string) error {
	return a.update(ctx, name, "user-enabled", func(u *userRecord, _ time.Time) (string, error) {
		if !u.Disabled && u.Failures == 0 {
			return "", unchanged("user %q is already enabled", u.Name)
		}
		u.Disabled, u.Failures, u.LastFailure = false, 0, time.Time{}
		return "", nil
	})
}

// SetRole changes the role of name; patient is required for the patient
// role and ignored ("" keeps the stored one) otherwise.
func (a *Accounts) SetRole(ctx context.Context, name, role, patient string) error {
	return a.update(ctx, name, "role-changed", func(u *userRecord, _ time.Time) (string, error) {
		if patient == "" {
			patient = u.Patient
		}
		if err := a.checkRole(role, patient); err != nil {
			return "", err
		}
		if u.Role == role && u.Patient == patient {
			return "", unchanged("user %q already has role %s", u.Name, role)
		}
		detail := u.Role + " -> " + role
		u.Role, u.Patient = role, patient
		return detail, nil
	})
}

// ResetPassword sets the password of name to newPassword (checked against
// the policy) or, when it is "", to a generated one, and returns it. The
// failed sign-ins are cleared and the user's sessions end.
func (a *Accounts) ResetPassword(ctx context.Context, name, newPassword string) (string, error) {
	u, _, err := a.load(ctx, name)
	if err != nil {
		return "", err
	}
	// Hash outside the transaction: argon2 takes tens of milliseconds and
	// writes are serialised.
	pw, hash, err := a.newPassword(u.Name, newPassword)
	if err != nil {
		return "", err
	}
	err = a.update(ctx, name, "password-reset", func(u *userRecord, now time.Time) (string, error) {
		u.PasswordHash, u.PasswordChanged = hash, now
		u.Failures, u.LastFailure = 0, time.Time{}
		return "", nil
	})
	return pw, err
}

// event builds the audit event of an account change made by the caller in ctx.
func (a *Accounts) event(ctx context.Context, interaction, subject string, outcome audit.Outcome, detail, addr string) fhir.Resource {
	agent := audit.Agent{Address: addr}
	if p := access.PrincipalFrom(ctx); p != nil {
		agent.User, agent.Client = p.User, p.Client
	}
	return audit.Event(audit.Entry{Category: audit.CategorySecurityAlert, Interaction: interaction, Subject: subject,
		Agent: agent, Outcome: outcome, Detail: detail, Recorded: a.now(), Observer: a.obs})
}
