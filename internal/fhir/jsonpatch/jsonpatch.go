// Package jsonpatch applies JSON Patch documents (RFC 6902) to JSON trees as
// the fhir package parses them. Application is all or nothing: the input is
// never modified, a failing operation leaves no partial result.
package jsonpatch

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// Op is one patch operation.
type Op struct {
	Op    string // add, remove, replace, move, copy, test
	Path  []string
	From  []string // move, copy
	Value any      // add, replace, test
	raw   string   // the path as written, for messages
}

// Parse reads a JSON Patch document: a JSON array of operation objects.
func Parse(body []byte) ([]Op, error) {
	doc, err := fhir.ParseJSON(body)
	if err != nil {
		return nil, fmt.Errorf("JSON Patch is not valid JSON: %w", err)
	}
	list, ok := doc.([]any)
	if !ok {
		return nil, fmt.Errorf("a JSON Patch must be a JSON array of operations")
	}
	ops := make([]Op, 0, len(list))
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("operation %d is not a JSON object", i)
		}
		var op Op
		op.Op, _ = obj["op"].(string)
		pathText, ok := obj["path"].(string)
		if !ok {
			return nil, fmt.Errorf("operation %d has no path", i)
		}
		if op.Path, err = pointer(pathText); err != nil {
			return nil, fmt.Errorf("operation %d: %w", i, err)
		}
		op.raw = pathText
		switch op.Op {
		case "add", "replace", "test":
			v, ok := obj["value"]
			if !ok {
				return nil, fmt.Errorf("operation %d (%s) has no value", i, op.Op)
			}
			op.Value = v
		case "move", "copy":
			from, ok := obj["from"].(string)
			if !ok {
				return nil, fmt.Errorf("operation %d (%s) has no from", i, op.Op)
			}
			if op.From, err = pointer(from); err != nil {
				return nil, fmt.Errorf("operation %d: %w", i, err)
			}
		case "remove":
		default:
			return nil, fmt.Errorf("operation %d: unknown op %q", i, op.Op)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// pointer splits a JSON Pointer (RFC 6901) into unescaped tokens.
func pointer(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("path %q is not a JSON Pointer (it must start with /)", s)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(p, "~0", ""), "~1", ""), "~") {
			return nil, fmt.Errorf("path %q has an invalid ~ escape", s)
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// Apply applies ops to a deep copy of doc and returns it.
func Apply(doc any, ops []Op) (any, error) {
	doc = fhir.CloneValue(doc)
	for i, op := range ops {
		var err error
		switch op.Op {
		case "add":
			doc, err = add(doc, op.Path, fhir.CloneValue(op.Value))
		case "remove":
			doc, _, err = remove(doc, op.Path)
		case "replace":
			if _, err = get(doc, op.Path); err == nil {
				doc, _, err = remove(doc, op.Path)
				if err == nil {
					doc, err = add(doc, op.Path, fhir.CloneValue(op.Value))
				}
			}
		case "move":
			if isPrefix(op.From, op.Path) && len(op.From) < len(op.Path) {
				err = fmt.Errorf("cannot move a value into itself")
				break
			}
			var v any
			doc, v, err = remove(doc, op.From)
			if err == nil {
				doc, err = add(doc, op.Path, v)
			}
		case "copy":
			var v any
			if v, err = get(doc, op.From); err == nil {
				doc, err = add(doc, op.Path, fhir.CloneValue(v))
			}
		case "test":
			var v any
			if v, err = get(doc, op.Path); err == nil && !equal(v, op.Value) {
				err = fmt.Errorf("test failed: the value is not the one expected")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("operation %d (%s %s): %w", i, op.Op, op.raw, err)
		}
	}
	return doc, nil
}

func isPrefix(prefix, path []string) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i := range prefix {
		if prefix[i] != path[i] {
			return false
		}
	}
	return true
}

func get(doc any, path []string) (any, error) {
	cur := doc
	for _, tok := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("no member %q", tok)
			}
			cur = v
		case []any:
			i, err := index(tok, len(c)-1)
			if err != nil {
				return nil, err
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("cannot descend into a %s at %q", kind(cur), tok)
		}
	}
	return cur, nil
}

// add returns doc with v added at path (arrays insert, objects set).
func add(doc any, path []string, v any) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	parent, err := get(doc, path[:len(path)-1])
	if err != nil {
		return nil, err
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
		return doc, nil
	case []any:
		var i int
		if last == "-" {
			i = len(p)
		} else if i, err = index(last, len(p)); err != nil {
			return nil, err
		}
		grown := append(p[:i:i], append([]any{v}, p[i:]...)...)
		return setAt(doc, path[:len(path)-1], grown)
	default:
		return nil, fmt.Errorf("cannot add to a %s", kind(parent))
	}
}

// remove returns doc without the value at path, and that value.
func remove(doc any, path []string) (any, any, error) {
	if len(path) == 0 {
		return nil, nil, fmt.Errorf("cannot remove the whole document")
	}
	parent, err := get(doc, path[:len(path)-1])
	if err != nil {
		return nil, nil, err
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		v, ok := p[last]
		if !ok {
			return nil, nil, fmt.Errorf("no member %q", last)
		}
		delete(p, last)
		return doc, v, nil
	case []any:
		i, err := index(last, len(p)-1)
		if err != nil {
			return nil, nil, err
		}
		v := p[i]
		shrunk := append(p[:i:i], p[i+1:]...)
		doc, err = setAt(doc, path[:len(path)-1], shrunk)
		return doc, v, err
	default:
		return nil, nil, fmt.Errorf("cannot remove from a %s", kind(parent))
	}
}

// setAt replaces the value at path (used when an array changes length).
func setAt(doc any, path []string, v any) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	parent, err := get(doc, path[:len(path)-1])
	if err != nil {
		return nil, err
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
	case []any:
		i, err := index(last, len(p)-1)
		if err != nil {
			return nil, err
		}
		p[i] = v
	}
	return doc, nil
}

// index reads an array index token no greater than max.
func index(tok string, max int) (int, error) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, fmt.Errorf("%q is not an array index", tok)
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 {
		return 0, fmt.Errorf("%q is not an array index", tok)
	}
	if i > max {
		return 0, fmt.Errorf("array index %d is out of range", i)
	}
	return i, nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	default:
		return "number"
	}
}

// equal compares JSON values; numbers compare by value, not spelling.
func equal(a, b any) bool {
	an, aok := a.(interface{ Float64() (float64, error) })
	bn, bok := b.(interface{ Float64() (float64, error) })
	if aok && bok {
		x, err1 := an.Float64()
		y, err2 := bn.Float64()
		return err1 == nil && err2 == nil && x == y
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, v := range av {
			if w, ok := bv[k]; !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !equal(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
