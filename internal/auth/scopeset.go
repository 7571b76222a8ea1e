package auth

import (
	"errors"
	"strings"
)

// ScopeSet is a list of scopes, such as those a client requested, those it
// is registered for, or those granted in a token.
type ScopeSet []Scope

// ParseScopes parses a space-separated scope string (the OAuth "scope"
// parameter). It returns the scopes that parsed, without duplicates, and,
// if any did not, an error joining one *ScopeError per bad scope (so
// errors.Is(err, ErrInvalidScope) holds). A server may reject the request
// with invalid_scope or go on with the valid scopes.
func ParseScopes(s string) (ScopeSet, error) {
	var set ScopeSet
	var errs []error
	seen := map[string]bool{}
	for _, field := range strings.Split(s, " ") {
		if field == "" {
			continue
		}
		sc, err := ParseScope(field)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if key := sc.String(); !seen[key] {
			seen[key] = true
			set = append(set, sc)
		}
	}
	return set, errors.Join(errs...)
}

// String returns the scopes in canonical form, space-separated, as for the
// "scope" of a token response or the scope claim of an access token.
func (ss ScopeSet) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// Has reports whether the set contains the named scope, such as "openid",
// "offline_access" or "launch/patient".
func (ss ScopeSet) Has(name string) bool {
	for _, s := range ss {
		if s.Context == "" && s.Name == name {
			return true
		}
	}
	return false
}

// Allows returns the resource scopes of the set that grant permission p
// (one of PermCreate, …, PermSearch, or several, all required) on
// resourceType in the given context ("patient", "user" or "system"). An
// empty result means access is denied. Otherwise access is allowed to
// resources that satisfy at least one returned scope: if any has no
// Params, without restriction; else only to resources matching the Params
// (all of one scope's Params, as in a FHIR search) of some returned scope.
func (ss ScopeSet) Allows(context, resourceType string, p Permission) []Scope {
	if p == 0 {
		return nil
	}
	want := Scope{Context: context, ResourceType: resourceType, Permissions: p}
	var out []Scope
	for _, s := range ss {
		if s.Context != "" && (Scope{Context: s.Context, ResourceType: s.ResourceType, Permissions: s.Permissions}).covers(want) {
			out = append(out, s)
		}
	}
	return out
}

// Intersect returns what ss (say, the scopes a client requested) and
// allowed (the scopes the client is registered for, or the user permits)
// both grant: requested scopes reduced to what is allowed, such as
// patient/Observation.rs for a request of patient/*.cruds where only that
// is allowed, with the query constraints of both. Scopes wholly covered by
// another in the result are dropped. Named scopes are kept if both have
// them.
func (ss ScopeSet) Intersect(allowed ScopeSet) ScopeSet {
	var met ScopeSet
	for _, r := range ss {
		for _, a := range allowed {
			if m, ok := meet(r, a); ok {
				met = append(met, m)
			}
		}
	}
	var out ScopeSet
	for i, s := range met {
		redundant := false
		for j, t := range met {
			if i == j || !t.covers(s) {
				continue
			}
			// Of two equal scopes keep the first; otherwise drop the narrower.
			if !s.covers(t) || j < i {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, s)
		}
	}
	return out
}
