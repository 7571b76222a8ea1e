package access

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
)

// RolePolicy decides by the caller's role and, for a SMART token, its
// scopes: a caller may do what both allow. Patient-bound roles and
// patient/ scopes reach one patient's compartment; the care reach, a
// practitioner's patients and those opened by break-glass.
type RolePolicy struct {
	defs  *spec.Definitions
	roles *Roles
	// inPatient are the types a patient's compartment can hold (Patient
	// among them); the others (practitioners, organisations, terminology)
	// are reference data no patient binding limits.
	inPatient map[string]bool
	now       func() time.Time
	// byRole caches each role's types per permission, split by whether a
	// patient's compartment can hold them (roleTypes).
	byRole sync.Map // roleKey → *roleTypes
	// allInside and allOutside split every type (set by NewRolePolicy).
	allInside, allOutside []string
}

type roleKey struct {
	role string
	perm byte
}

// roleTypes are the types a role grants a permission on: all (types nil)
// or the sorted list; inside and outside split them by the patient
// compartment.
type roleTypes struct {
	types, inside, outside []string
	none                   bool
}

func (p *RolePolicy) typesOf(role *Role, perm byte) *roleTypes {
	key := roleKey{role.Name, perm}
	if rt, ok := p.byRole.Load(key); ok {
		return rt.(*roleTypes)
	}
	rt := &roleTypes{}
	set := role.perms[perm]
	switch {
	case set.all:
	case len(set.types) == 0:
		rt.none = true
	default:
		rt.types = sortedKeys(set.types)
	}
	if !rt.none {
		rt.inside, rt.outside = p.split(rt.types)
	}
	p.byRole.Store(key, rt)
	return rt
}

// NewRolePolicy returns the policy of roles over defs.
func NewRolePolicy(defs *spec.Definitions, roles *Roles) *RolePolicy {
	p := &RolePolicy{defs: defs, roles: roles, inPatient: map[string]bool{"Patient": true}, now: time.Now}
	if c := defs.Compartments["Patient"]; c != nil {
		for _, r := range c.Resources {
			if len(r.Params) > 0 {
				p.inPatient[r.Code] = true
			}
		}
	}
	p.allInside, p.allOutside = p.split(defs.APIModel().ResourceTypes())
	return p
}

// Roles returns the policy's roles.
func (p *RolePolicy) Roles() *Roles { return p.roles }

// permOf is the SMART permission letter an interaction needs; 0 for one
// decided elsewhere (capabilities; batch and transaction, whose entries
// are decided one by one).
func permOf(interaction string) byte {
	switch interaction {
	case "read", "vread", "history-instance", "operation":
		return 'r'
	case "search-type", "search-system", "search-compartment", "history-type", "history-system":
		return 's'
	case "create":
		return 'c'
	case "update", "patch":
		return 'u'
	case "delete":
		return 'd'
	}
	return 0
}

var verbs = map[byte]string{'c': "create", 'r': "read", 'u': "update", 'd': "delete", 's': "search"}

// Decide implements Policy: the caller must be authenticated, and its
// role and scopes must grant the interaction on the type at least for
// some resources (which ones, Limit says).
func (p *RolePolicy) Decide(ctx context.Context, req Request) error {
	if req.Interaction == "capabilities" {
		return nil
	}
	pr := PrincipalFrom(ctx)
	if pr == nil {
		return fhir.Errorf(fhir.KindUnauthorized, "authentication is required")
	}
	perm := permOf(req.Interaction)
	if perm == 0 {
		return nil
	}
	var types []string
	if req.Type != "" {
		types = []string{req.Type}
	}
	if acc := p.Limit(ctx, perm, types); acc != nil && len(acc.Rules) == 0 {
		what := req.Type
		if what == "" {
			what = "resources"
		}
		return fhir.Errorf(fhir.KindForbidden, "%s may not %s %s", describe(pr), verbs[perm], what)
	}
	return nil
}

func describe(pr *Principal) string {
	who := "the " + pr.Role + " role"
	if pr.Grants != nil {
		who += " with the scopes granted"
	}
	return who
}

// Limit implements Limiter: the rules that say which resources of types
// (any type when empty) the caller may perm ('r', 's', 'c', 'u' or 'd').
// It returns nil when every resource of those types is allowed, and an
// Access without rules when none is.
func (p *RolePolicy) Limit(ctx context.Context, perm byte, types []string) *search.Access {
	pr := PrincipalFrom(ctx)
	if pr == nil {
		return &search.Access{}
	}
	rules := p.rules(pr, perm)
	if len(types) > 0 {
		var narrowed []search.AccessRule
		for _, r := range rules {
			r.Types = intersect(r.Types, types)
			if r.Types == nil || len(r.Types) > 0 {
				narrowed = append(narrowed, r)
			}
		}
		rules = narrowed
	}
	acc := &search.Access{Rules: rules}
	for _, r := range rules {
		if r.Compartment == nil && r.CareOf == nil && len(r.Filters) == 0 &&
			(r.Types == nil || (len(types) > 0 && len(r.Types) == len(types))) {
			acc = nil // one rule admits everything asked
			break
		}
	}
	if acc != nil && len(acc.Rules) == 0 {
		return acc // nothing: no consent can add to it
	}
	if !p.patientData(types) {
		return acc
	}
	// The patients' Consents limit everyone but the patient themself.
	if acc == nil {
		acc = &search.Access{Rules: []search.AccessRule{{}}}
	}
	acc.Consent = p.consentCheck(pr)
	return acc
}

// Unlimited reports whether acc lets the caller reach every resource of
// the types it was asked for, apart from what patients' Consents hide.
func Unlimited(acc *search.Access) bool {
	if acc == nil {
		return true
	}
	if len(acc.Rules) != 1 {
		return false
	}
	r := acc.Rules[0]
	return r.Types == nil && r.Compartment == nil && r.CareOf == nil && len(r.Filters) == 0
}

// patientData reports whether types (any type when empty) include one a
// patient's compartment can hold, which Consents may cover.
func (p *RolePolicy) patientData(types []string) bool {
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		if p.inPatient[t] {
			return true
		}
	}
	return false
}

// consentCheck describes the caller to the patients' Consents.
func (p *RolePolicy) consentCheck(pr *Principal) *search.ConsentCheck {
	now := p.now()
	c := &search.ConsentCheck{Purpose: pr.Purpose, Now: now.UnixMilli()}
	if pr.FHIRUser != "" {
		c.Actors = append(c.Actors, pr.FHIRUser)
	}
	if role, ok := p.roles.Role(pr.Role); ok && role.Patients == PatientsOwn && pr.Patient != "" {
		c.Exempt = append(c.Exempt, pr.Patient) // a patient's own record
	}
	for _, e := range pr.Emergencies {
		if now.Before(e.Until) {
			c.Exempt = append(c.Exempt, e.Patient) // break-glass overrides consent
		}
	}
	return c
}

// rules are the principal's access rules for perm: its role's, narrowed
// by its scopes when it has a token.
func (p *RolePolicy) rules(pr *Principal, perm byte) []search.AccessRule {
	role, ok := p.roles.Role(pr.Role)
	if !ok {
		return nil
	}
	rt := p.typesOf(role, perm)
	if rt.none {
		return nil
	}
	var byRole []search.AccessRule
	switch role.Patients {
	case PatientsAll:
		byRole = []search.AccessRule{{Types: rt.types}}
	case PatientsOwn:
		byRole = boundRules(rt.inside, rt.outside, pr.Patient)
	case PatientsCare:
		inside, outside := rt.inside, rt.outside
		if len(outside) > 0 {
			byRole = append(byRole, search.AccessRule{Types: outside})
		}
		if typ, id, ok := strings.Cut(pr.FHIRUser, "/"); ok && typ == "Practitioner" && id != "" {
			byRole = append(byRole, search.AccessRule{Types: inside, CareOf: &search.CompartmentRef{Type: typ, ID: id}})
		}
		if perm == 'r' || perm == 's' {
			now := p.now()
			for _, e := range pr.Emergencies {
				if now.Before(e.Until) && e.Patient != "" {
					byRole = append(byRole, search.AccessRule{Types: inside, Compartment: &search.CompartmentRef{Type: "Patient", ID: e.Patient}})
				}
			}
		}
	}
	if pr.Grants == nil {
		return byRole
	}
	var byScope []search.AccessRule
	for _, g := range pr.Grants {
		if !strings.Contains(g.Perms, string(perm)) {
			continue
		}
		var gtypes []string
		if g.Type != "*" {
			gtypes = []string{g.Type}
		}
		var filters []*search.Filter
		if len(g.Filters) > 0 {
			if g.Type == "*" {
				continue // a constraint needs a type to mean anything
			}
			q, err := search.Parse(p.defs, g.Type, g.Filters, search.ParseOptions{})
			if err != nil {
				continue // a scope whose constraint does not parse grants nothing
			}
			filters = q.Filters
		}
		var rs []search.AccessRule
		if g.Context == "patient" {
			inside, outside := p.split(gtypes)
			rs = boundRules(inside, outside, pr.Patient)
		} else {
			rs = []search.AccessRule{{Types: gtypes}}
		}
		for _, r := range rs {
			r.Filters = filters
			byScope = append(byScope, r)
		}
	}
	var out []search.AccessRule
	for _, a := range byRole {
		for _, b := range byScope {
			if r, ok := both(a, b); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// boundRules are the rules of a patient binding: the compartment types
// (inside) in patient's compartment, the others unbound. Without a patient
// the compartment types are out of reach.
func boundRules(inside, outside []string, patient string) []search.AccessRule {
	var rules []search.AccessRule
	if len(outside) > 0 {
		rules = append(rules, search.AccessRule{Types: outside})
	}
	if patient != "" && len(inside) > 0 {
		rules = append(rules, search.AccessRule{Types: inside, Compartment: &search.CompartmentRef{Type: "Patient", ID: patient}})
	}
	return rules
}

// split divides types (nil: all) into those a patient's compartment can
// hold and the others.
func (p *RolePolicy) split(types []string) (inside, outside []string) {
	if types == nil {
		if p.allInside == nil {
			p.allInside, p.allOutside = p.split(p.defs.APIModel().ResourceTypes())
		}
		return p.allInside, p.allOutside
	}
	for _, t := range types {
		if p.inPatient[t] {
			inside = append(inside, t)
		} else {
			outside = append(outside, t)
		}
	}
	return inside, outside
}

// both is the rule admitting what a and b both admit; ok is false when
// nothing is.
func both(a, b search.AccessRule) (search.AccessRule, bool) {
	r := search.AccessRule{Types: intersect(a.Types, b.Types), Compartment: a.Compartment, CareOf: a.CareOf}
	if r.Types != nil && len(r.Types) == 0 {
		return r, false
	}
	if b.Compartment != nil {
		if r.Compartment != nil && *r.Compartment != *b.Compartment {
			return r, false
		}
		r.Compartment = b.Compartment
	}
	if b.CareOf != nil {
		if r.CareOf != nil && *r.CareOf != *b.CareOf {
			return r, false
		}
		r.CareOf = b.CareOf
	}
	r.Filters = append(slices.Clip(a.Filters), b.Filters...)
	return r, true
}

// intersect is the types in both lists, nil standing for every type.
func intersect(a, b []string) []string {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	if len(b) > len(a) {
		a, b = b, a // look the short list up in the long one
	}
	out := []string{}
	if len(b) <= 4 {
		for _, t := range b {
			if slices.Contains(a, t) {
				out = append(out, t)
			}
		}
		return out
	}
	in := make(map[string]bool, len(b))
	for _, t := range b {
		in[t] = true
	}
	for _, t := range a {
		if in[t] {
			out = append(out, t)
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseGrantFilters checks a scope's query constraint (?category=…) for
// typ, as RolePolicy will apply it.
func ParseGrantFilters(defs *spec.Definitions, typ string, filters url.Values) error {
	if typ == "*" {
		return fmt.Errorf("a constraint needs a resource type, not *")
	}
	_, err := search.Parse(defs, typ, filters, search.ParseOptions{})
	return err
}
