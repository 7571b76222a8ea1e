package access

import (
	"context"
	"net/url"
	"time"
)

// Principal is an authenticated caller: a user signed in to the web UI, an
// app acting for a user or a patient through a SMART token, or a backend
// service.
type Principal struct {
	User   string // account name; "" for a backend service
	Client string // OAuth2 client id; "" for a web session or the command line
	Role   string // the account's role, or the service client's
	// FHIRUser is the resource the user is ("Practitioner/123",
	// "Patient/456"), when the account is linked to one.
	FHIRUser string
	// Patient is the id of the patient whose compartment patient/ scopes
	// and the patient role are bound to: the launch context of a SMART app,
	// or the patient a patient user is.
	Patient string
	// Grants are the token's SMART scopes; nil means the caller is limited
	// by its role only (a web session).
	Grants []Grant
	// Emergencies are the break-glass grants in force.
	Emergencies []Emergency
	// Purpose is the purpose of use (a v3 ActReason code, e.g. TREAT,
	// ETREAT for break-glass), for the audit record.
	Purpose string
}

// Grant is one SMART resource scope: patient/Observation.rs?category=… is
// {Context: "patient", Type: "Observation", Perms: "rs", Filters: category=…}.
type Grant struct {
	Context string // patient, user or system
	Type    string // a resource type, or "*"
	Perms   string // a subset of "cruds"
	Filters url.Values
}

// Emergency is a break-glass grant: the user may read Patient's record
// until Until, for Reason.
type Emergency struct {
	Patient string
	Until   time.Time
	Reason  string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller ctx carries, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
