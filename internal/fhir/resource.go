package fhir

import (
	"fmt"
)

// Resource is one FHIR resource as its JSON object tree. Values are
// map[string]any, []any, string, bool and json.Number; nil appears only where
// FHIR JSON allows null (inside arrays of primitive extensions).
type Resource map[string]any

// ParseResource parses a JSON document that must be a FHIR resource: an object
// with a non-empty string resourceType. Structure against the definitions is
// the validator's job, not this function's.
func ParseResource(data []byte) (Resource, error) {
	v, err := ParseJSON(data)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a FHIR resource must be a JSON object")
	}
	rt, ok := obj["resourceType"].(string)
	if !ok || rt == "" {
		return nil, fmt.Errorf("the JSON object has no resourceType")
	}
	return Resource(obj), nil
}

// Type returns the resourceType.
func (r Resource) Type() string { s, _ := r["resourceType"].(string); return s }

// ID returns the logical id, or "" when there is none.
func (r Resource) ID() string { s, _ := r["id"].(string); return s }

// SetID sets the logical id.
func (r Resource) SetID(id string) { r["id"] = id }

// Meta returns the meta object, creating it when absent.
func (r Resource) Meta() map[string]any {
	m, ok := r["meta"].(map[string]any)
	if !ok {
		m = map[string]any{}
		r["meta"] = m
	}
	return m
}

// VersionID returns meta.versionId, or "".
func (r Resource) VersionID() string {
	m, _ := r["meta"].(map[string]any)
	s, _ := m["versionId"].(string)
	return s
}

// JSON returns the canonical encoding of the resource.
func (r Resource) JSON() []byte { return AppendJSON(make([]byte, 0, 1024), map[string]any(r)) }

// Clone returns a deep copy.
func (r Resource) Clone() Resource { return Resource(CloneValue(map[string]any(r)).(map[string]any)) }

// CloneValue deep-copies a JSON tree.
func CloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, e := range v {
			c[k] = CloneValue(e)
		}
		return c
	case Resource:
		return CloneValue(map[string]any(v))
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = CloneValue(e)
		}
		return c
	default:
		return v
	}
}

// ValidID reports whether s matches the FHIR id type: 1 to 64 of A-Z a-z
// 0-9 - . (the pattern [A-Za-z0-9\-\.]{1,64}; every write checks an id,
// and a regular expression cost more than the rest of the check).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}
