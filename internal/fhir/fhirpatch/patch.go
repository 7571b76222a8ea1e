// Package fhirpatch applies FHIRPath Patch documents (a Parameters resource
// of add, insert, delete, replace and move operations, see
// https://hl7.org/fhir/R5/fhirpatch.html) to resources held as JSON trees.
package fhirpatch

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpath"
)

// Model is the type information a patch needs beyond FHIRPath's: whether
// an element repeats, so that add creates an array. Its ChildType also
// tells choice elements, so that adding "deceased" with a valueBoolean
// writes deceasedBoolean.
type Model interface {
	fhirpath.Model
	// Repeats reports whether element name of parentType may occur more
	// than once (max > 1). It returns false for unknown elements.
	Repeats(parentType, name string) bool
}

// Patcher applies patches. The zero value works without type information:
// it then knows repeating elements from a short list of common names and
// cannot tell choice elements from others.
type Patcher struct {
	Model Model
}

// Apply applies patch to res with no type information; see Patcher.
func Apply(res, patch fhir.Resource) (fhir.Resource, error) {
	return (&Patcher{}).Apply(res, patch)
}

// Apply returns a patched copy of res; res itself is not modified. A
// malformed patch is a *fhir.Error of kind KindInvalid; a patch that does
// not fit the resource (a path that matches nothing where something is
// required, or several items where one is) is KindUnprocessable.
func (p *Patcher) Apply(res, patch fhir.Resource) (fhir.Resource, error) {
	ops, err := parseOperations(patch)
	if err != nil {
		return nil, err
	}
	out := res.Clone()
	for i, op := range ops {
		if err := p.apply(out, op); err != nil {
			if fe, ok := err.(*fhir.Error); ok {
				return nil, fe
			}
			return nil, fhir.Errorf(fhir.KindUnprocessable, "fhirpatch: operation %d (%s %s): %v", i+1, op.typ, op.path, err)
		}
		if op.typ == "delete" {
			// FHIR forbids empty objects and arrays: deleting the last
			// child of an element deletes the element.
			prune(out)
		}
	}
	return out, nil
}

// prune removes empty objects and arrays below obj; it reports whether obj
// itself is left empty.
func prune(obj map[string]any) bool {
	for k, v := range obj {
		switch v := v.(type) {
		case map[string]any:
			if prune(v) {
				delete(obj, k)
			}
		case []any:
			empty := true
			for _, item := range v {
				if m, ok := item.(map[string]any); ok && prune(m) {
					continue
				}
				if item != nil {
					empty = false
				}
			}
			if empty {
				delete(obj, k)
			}
		}
	}
	return len(obj) == 0
}

// operation is one parsed "operation" parameter.
type operation struct {
	typ, path, name     string
	value               any    // JSON value to write
	valueType           string // suffix of value[x] ("Boolean", "HumanName"); "" for parts
	hasValue            bool
	index, source, dest int
	hasIndex            bool
	hasSource, hasDest  bool
}

func invalid(format string, args ...any) error {
	return fhir.Errorf(fhir.KindInvalid, "fhirpatch: "+format, args...)
}

func unprocessable(format string, args ...any) error {
	return fhir.Errorf(fhir.KindUnprocessable, "fhirpatch: "+format, args...)
}

func parseOperations(patch fhir.Resource) ([]operation, error) {
	if patch.Type() != "Parameters" {
		return nil, invalid("a patch must be a Parameters resource, got %q", patch.Type())
	}
	params, _ := patch["parameter"].([]any)
	var ops []operation
	for i, raw := range params {
		param, _ := raw.(map[string]any)
		if param["name"] != "operation" {
			return nil, invalid("parameter %d: expected name \"operation\", got %v", i+1, param["name"])
		}
		op := operation{}
		parts, _ := param["part"].([]any)
		for _, rp := range parts {
			part, _ := rp.(map[string]any)
			name, _ := part["name"].(string)
			v, suffix, ok := partValue(part)
			switch name {
			case "type", "path", "name":
				s, isStr := v.(string)
				if !ok || !isStr {
					return nil, invalid("operation %d: part %s must be a string", i+1, name)
				}
				switch name {
				case "type":
					op.typ = s
				case "path":
					op.path = s
				case "name":
					op.name = s
				}
			case "value":
				if !ok {
					return nil, invalid("operation %d: value has neither value[x] nor parts", i+1)
				}
				op.value, op.valueType, op.hasValue = v, suffix, true
			case "index", "source", "destination":
				n, isNum := v.(json.Number)
				idx, err := n.Int64()
				if !ok || !isNum || err != nil || idx < 0 {
					return nil, invalid("operation %d: %s must be a non-negative integer", i+1, name)
				}
				switch name {
				case "index":
					op.index, op.hasIndex = int(idx), true
				case "source":
					op.source, op.hasSource = int(idx), true
				case "destination":
					op.dest, op.hasDest = int(idx), true
				}
			default:
				return nil, invalid("operation %d: unknown part %q", i+1, name)
			}
		}
		if err := op.check(); err != nil {
			return nil, invalid("operation %d: %v", i+1, err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// check verifies that op has the parts its type needs.
func (op *operation) check() error {
	if op.path == "" {
		return fmt.Errorf("missing path")
	}
	need := map[string][]string{
		"add":     {"name", "value"},
		"insert":  {"value", "index"},
		"delete":  {},
		"replace": {"value"},
		"move":    {"source", "destination"},
	}
	parts, ok := need[op.typ]
	if !ok {
		return fmt.Errorf("unknown operation type %q", op.typ)
	}
	have := map[string]bool{"name": op.name != "", "value": op.hasValue, "index": op.hasIndex,
		"source": op.hasSource, "destination": op.hasDest}
	for _, p := range parts {
		if !have[p] {
			return fmt.Errorf("%s needs a %s part", op.typ, p)
		}
	}
	return nil
}

// partValue returns the value of a Parameters part: its value[x] (with the
// type suffix), its resource, or an object built from its sub-parts.
func partValue(part map[string]any) (v any, suffix string, ok bool) {
	for k, val := range part {
		if rest, isValue := strings.CutPrefix(k, "value"); isValue && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			return fhir.CloneValue(val), rest, true
		}
	}
	if r, has := part["resource"]; has {
		return fhir.CloneValue(r), "Resource", true
	}
	if sub, has := part["part"].([]any); has {
		return subParts(sub), "", true
	}
	return nil, "", false
}

// partsValue is an object built from parts, kept unresolved until its
// type is known (choice and repeating elements depend on it).
type partsValue []partEntry

type partEntry struct {
	name   string
	value  any
	suffix string
}

func subParts(parts []any) partsValue {
	var out partsValue
	for _, rp := range parts {
		part, _ := rp.(map[string]any)
		name, _ := part["name"].(string)
		v, suffix, ok := partValue(part)
		if name == "" || !ok {
			continue
		}
		out = append(out, partEntry{name: name, value: v, suffix: suffix})
	}
	return out
}
