package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Permission is a set of SMART v2 resource permissions: create, read,
// update, delete, search.
type Permission uint8

// The SMART v2 permissions, in their canonical order "cruds".
const (
	PermCreate Permission = 1 << iota
	PermRead
	PermUpdate
	PermDelete
	PermSearch
)

const permLetters = "cruds"

// String returns the permissions as their SMART letters in canonical
// order, e.g. "rs".
func (p Permission) String() string {
	var b strings.Builder
	for i := range len(permLetters) {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}

// Param is one query constraint of a granular scope, e.g. category=…
// in patient/Observation.rs?category=http://…|laboratory. Name and Value
// are kept as written, not percent-decoded.
type Param struct {
	Name, Value string
}

// Scope is one parsed SMART App Launch scope. A resource scope has a
// Context ("patient", "user" or "system"), a ResourceType (a FHIR type or
// "*"), Permissions and optional query constraints (Params), and an empty
// Name. Any other scope ("openid", "launch/patient", …) has only a Name.
type Scope struct {
	Context      string
	ResourceType string
	Permissions  Permission
	Params       []Param
	Name         string
}

// ErrInvalidScope is wrapped by every error ParseScope and ParseScopes
// return; the OAuth error to send is invalid_scope.
var ErrInvalidScope = errors.New("invalid scope")

// ScopeError describes one scope that did not parse.
type ScopeError struct {
	Scope  string // as requested
	Reason string
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("invalid scope %q: %s", e.Scope, e.Reason)
}

// Unwrap returns ErrInvalidScope.
func (e *ScopeError) Unwrap() error { return ErrInvalidScope }

// namedScopes are the SMART scopes that are not about resources.
var namedScopes = map[string]bool{
	"openid": true, "fhirUser": true, "profile": true,
	"launch": true, "launch/patient": true, "launch/encounter": true,
	"offline_access": true, "online_access": true,
}

// v1Permissions maps SMART v1 permission words to their v2 equivalents.
var v1Permissions = map[string]Permission{
	"read":  PermRead | PermSearch,
	"write": PermCreate | PermUpdate | PermDelete,
	"*":     PermCreate | PermRead | PermUpdate | PermDelete | PermSearch,
}

// ParseScope parses one scope. It accepts the SMART v2 form
// context/Type.cruds[?name=value&…] with the permissions a non-empty
// subsequence of "cruds" in that order, the v1 forms .read, .write and .*
// (without query constraints), and the named scopes openid, fhirUser,
// profile, launch, launch/patient, launch/encounter, offline_access and
// online_access. Errors are *ScopeError.
func ParseScope(s string) (Scope, error) {
	bad := func(reason string) (Scope, error) { return Scope{}, &ScopeError{Scope: s, Reason: reason} }
	if s == "" {
		return bad("empty")
	}
	for i := 0; i < len(s); i++ {
		// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return bad("contains a character not allowed in a scope")
		}
	}
	if namedScopes[s] {
		return Scope{Name: s}, nil
	}
	context, rest, found := strings.Cut(s, "/")
	if !found {
		return bad("unknown scope")
	}
	if context != "patient" && context != "user" && context != "system" {
		return bad("context must be patient, user or system")
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	typ, perms, found := strings.Cut(rest, ".")
	if !found {
		return bad("missing permissions after the resource type")
	}
	if !isResourceType(typ) {
		return bad("resource type must be a FHIR resource type or *")
	}
	sc := Scope{Context: context, ResourceType: typ}
	if p, v1 := v1Permissions[perms]; v1 {
		if hasQuery {
			return bad("query constraints need v2 permissions such as .rs")
		}
		sc.Permissions = p
		return sc, nil
	}
	p, ok := parsePermissions(perms)
	if !ok {
		return bad("permissions must be letters of cruds in that order, or read, write or *")
	}
	sc.Permissions = p
	if hasQuery {
		if query == "" {
			return bad("empty query after ?")
		}
		for part := range strings.SplitSeq(query, "&") {
			name, value, found := strings.Cut(part, "=")
			if !found || name == "" || value == "" {
				return bad("query constraints must be name=value pairs joined by &")
			}
			sc.Params = append(sc.Params, Param{Name: name, Value: value})
		}
	}
	return sc, nil
}

// parsePermissions accepts a non-empty subsequence of "cruds".
func parsePermissions(s string) (Permission, bool) {
	var p Permission
	next := 0 // index in permLetters the next letter may start from
	for i := 0; i < len(s); i++ {
		j := strings.IndexByte(permLetters[next:], s[i])
		if j < 0 {
			return 0, false
		}
		p |= 1 << (next + j)
		next += j + 1
	}
	return p, p != 0
}

func isResourceType(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// String returns the canonical form: v2 permissions (v1 scopes are
// rewritten), query constraints in their original order.
func (s Scope) String() string {
	if s.Context == "" {
		return s.Name
	}
	var b strings.Builder
	b.WriteString(s.Context + "/" + s.ResourceType + "." + s.Permissions.String())
	for i, p := range s.Params {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p.Name + "=" + p.Value)
	}
	return b.String()
}

// covers reports whether every access other grants is also granted by s:
// same context, s's type is * or the same, s's permissions include
// other's, and s's constraints are all among other's (s is no narrower).
func (s Scope) covers(other Scope) bool {
	if s.Context == "" || other.Context == "" {
		return s.Context == other.Context && s.Name == other.Name
	}
	if s.Context != other.Context || (s.ResourceType != "*" && s.ResourceType != other.ResourceType) ||
		other.Permissions&^s.Permissions != 0 {
		return false
	}
	for _, p := range s.Params {
		if !slices.Contains(other.Params, p) {
			return false
		}
	}
	return true
}

// meet returns the access granted by both a and b, if any: the narrower
// type, the common permissions, and both sets of constraints.
func meet(a, b Scope) (Scope, bool) {
	if a.Context == "" || b.Context == "" {
		return a, a.Context == b.Context && a.Name == b.Name
	}
	if a.Context != b.Context {
		return Scope{}, false
	}
	m := Scope{Context: a.Context, Permissions: a.Permissions & b.Permissions}
	switch {
	case a.ResourceType == "*":
		m.ResourceType = b.ResourceType
	case b.ResourceType == "*" || b.ResourceType == a.ResourceType:
		m.ResourceType = a.ResourceType
	default:
		return Scope{}, false
	}
	if m.Permissions == 0 {
		return Scope{}, false
	}
	m.Params = slices.Clone(a.Params)
	for _, p := range b.Params {
		if !slices.Contains(m.Params, p) {
			m.Params = append(m.Params, p)
		}
	}
	return m, true
}
