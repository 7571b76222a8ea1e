package fhirpatch

import (
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpath"
)

// commonRepeating are element names that repeat wherever they occur in
// FHIR R5, used when there is no Model.
var commonRepeating = map[string]bool{
	"extension": true, "modifierExtension": true, "identifier": true, "name": false, "telecom": true,
	"address": true, "contact": true, "coding": true, "given": true, "prefix": true, "suffix": true,
	"line": true, "contained": true, "category": true, "note": true, "component": true, "entry": true,
	"parameter": true, "part": true, "link": true, "communication": true, "photo": true,
	"generalPractitioner": true, "performer": true, "reasonCode": true, "item": true, "tag": true,
	"security": true, "profile": true,
}

func (p *Patcher) repeats(parentType, name string) bool {
	if p.Model != nil {
		return p.Model.Repeats(parentType, name)
	}
	return commonRepeating[name]
}

func (p *Patcher) eval(res fhir.Resource, path string) ([]fhirpath.Node, error) {
	x, err := fhirpath.Compile(path)
	if err != nil {
		return nil, invalid("path %q: %v", path, err)
	}
	ctx := &fhirpath.Context{Lenient: true}
	if p.Model != nil {
		ctx.Model = p.Model
	}
	out, err := x.Evaluate(ctx, res)
	if err != nil {
		return nil, unprocessable("path %q: %v", path, err)
	}
	return out, nil
}

func (p *Patcher) apply(res fhir.Resource, op operation) error {
	nodes, err := p.eval(res, op.path)
	if err != nil {
		return err
	}
	switch op.typ {
	case "add":
		return p.add(nodes, op)
	case "insert":
		return p.insert(res, nodes, op)
	case "delete":
		return deleteNode(nodes, op)
	case "replace":
		return p.replace(nodes, op)
	case "move":
		return move(nodes, op)
	}
	return invalid("unknown operation type %q", op.typ)
}

func (p *Patcher) add(nodes []fhirpath.Node, op operation) error {
	if len(nodes) == 0 {
		return unprocessable("No content found at %s when adding", op.path)
	}
	if len(nodes) > 1 {
		return unprocessable("path %s matches %d elements when adding; it must match one", op.path, len(nodes))
	}
	target := nodes[0]
	obj, isObj := target.Value.(map[string]any)
	if !isObj {
		// Adding extension or id to a primitive goes to its "_key" companion.
		if op.name != "extension" && op.name != "id" {
			return unprocessable("cannot add %s to the primitive at %s", op.path, op.name)
		}
		obj = primitiveCompanion(target)
	}
	key, value := p.resolve(target.Type, op.name, op.value, op.valueType)
	if p.repeats(target.Type, op.name) {
		list, _ := obj[key].([]any)
		obj[key] = append(list, value)
		if exts, ok := obj["_"+key].([]any); ok {
			obj["_"+key] = append(exts, nil)
		}
		return nil
	}
	if _, exists := obj[key]; exists {
		return unprocessable("%s already has a %s; use replace", op.path, key)
	}
	obj[key] = value
	return nil
}

// primitiveCompanion returns (creating it) the "_key" object that holds a
// primitive's id and extensions.
func primitiveCompanion(n fhirpath.Node) map[string]any {
	ext := "_" + n.Key
	if n.Index < 0 {
		m, ok := n.Parent[ext].(map[string]any)
		if !ok {
			m = map[string]any{}
			n.Parent[ext] = m
		}
		return m
	}
	list, _ := n.Parent[ext].([]any)
	values, _ := n.Parent[n.Key].([]any)
	for len(list) < len(values) {
		list = append(list, nil)
	}
	m, ok := list[n.Index].(map[string]any)
	if !ok {
		m = map[string]any{}
		list[n.Index] = m
	}
	n.Parent[ext] = list
	return m
}

// resolve turns a patch value into the JSON to store under element name of
// parentType, and the key: a choice element takes the value's type suffix
// (deceased + Boolean), and an object built from parts is typed so that its
// own choice and repeating elements are written correctly.
func (p *Patcher) resolve(parentType, name string, value any, suffix string) (string, any) {
	key, typ := name, ""
	if p.Model != nil && parentType != "" {
		t, isChoice, ok := p.Model.ChildType(parentType, name)
		if ok && isChoice && suffix != "" && suffix != "Resource" {
			key = name + suffix
			typ = choiceTypeName(suffix)
		} else if ok {
			typ = t
		}
	}
	return key, p.itemValue(typ, value)
}

func choiceTypeName(suffix string) string {
	lower := strings.ToLower(suffix[:1]) + suffix[1:]
	switch lower {
	case "boolean", "integer", "integer64", "string", "decimal", "uri", "url", "canonical", "base64Binary",
		"instant", "date", "dateTime", "time", "code", "oid", "id", "markdown", "unsignedInt", "positiveInt", "uuid":
		return lower
	}
	return suffix
}

// list returns the array the nodes are items of; they must all be items of
// one array.
func list(nodes []fhirpath.Node, path string) ([]any, fhirpath.Node, error) {
	first := nodes[0]
	if first.Parent == nil || first.Index < 0 {
		return nil, first, unprocessable("path %s does not select a list", path)
	}
	arr, _ := first.Parent[first.Key].([]any)
	for _, n := range nodes[1:] {
		other, _ := n.Parent[n.Key].([]any)
		if n.Key != first.Key || !sameArray(arr, other) {
			return nil, first, unprocessable("path %s selects items of several lists", path)
		}
	}
	return arr, first, nil
}

// sameArray reports whether two slices share their backing array, which
// is how items of one JSON array are told from items of equal-looking others.
func sameArray(a, b []any) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

func (p *Patcher) insert(res fhir.Resource, nodes []fhirpath.Node, op operation) error {
	if len(nodes) == 0 {
		return p.insertIntoMissing(res, op)
	}
	arr, first, err := list(nodes, op.path)
	if err != nil {
		return err
	}
	if op.index > len(arr) {
		return unprocessable("insert index %d is beyond the end of %s (%d items)", op.index, op.path, len(arr))
	}
	value := p.itemValue(first.Type, op.value)
	first.Parent[first.Key] = insertAt(arr, op.index, value)
	if exts, ok := first.Parent["_"+first.Key].([]any); ok {
		first.Parent["_"+first.Key] = insertAt(exts, min(op.index, len(exts)), nil)
	}
	return nil
}

// insertIntoMissing inserts at index 0 into a list that does not exist yet:
// the path's last step names the list on its parent.
func (p *Patcher) insertIntoMissing(res fhir.Resource, op operation) error {
	dot := strings.LastIndexByte(op.path, '.')
	if op.index != 0 || dot < 0 {
		return unprocessable("No content found at %s when inserting", op.path)
	}
	name := op.path[dot+1:]
	parents, err := p.eval(res, op.path[:dot])
	if err != nil {
		return err
	}
	if len(parents) != 1 {
		return unprocessable("No content found at %s when inserting", op.path)
	}
	obj, ok := parents[0].Value.(map[string]any)
	if !ok {
		return unprocessable("cannot insert into %s", op.path)
	}
	key, value := p.resolve(parents[0].Type, name, op.value, op.valueType)
	obj[key] = []any{value}
	return nil
}

func insertAt(arr []any, i int, v any) []any {
	arr = append(arr, nil)
	copy(arr[i+1:], arr[i:])
	arr[i] = v
	return arr
}

func removeAt(arr []any, i int) []any {
	if i >= len(arr) {
		return arr
	}
	return append(arr[:i:i], arr[i+1:]...)
}

func deleteNode(nodes []fhirpath.Node, op operation) error {
	switch {
	case len(nodes) == 0:
		return nil // deleting nothing is not an error
	case len(nodes) > 1:
		return unprocessable("path %s matches %d elements when deleting; it must match one", op.path, len(nodes))
	}
	n := nodes[0]
	if n.Parent == nil {
		return unprocessable("cannot delete %s: it is not an element of the resource", op.path)
	}
	ext := "_" + n.Key
	if n.Index < 0 {
		delete(n.Parent, n.Key)
		delete(n.Parent, ext)
		return nil
	}
	arr, _ := n.Parent[n.Key].([]any)
	arr = removeAt(arr, n.Index)
	exts, hasExts := n.Parent[ext].([]any)
	if hasExts {
		exts = removeAt(exts, n.Index)
	}
	if len(arr) == 0 {
		delete(n.Parent, n.Key)
		delete(n.Parent, ext)
		return nil
	}
	n.Parent[n.Key] = arr
	if hasExts {
		n.Parent[ext] = exts
	}
	return nil
}

func (p *Patcher) replace(nodes []fhirpath.Node, op operation) error {
	switch {
	case len(nodes) == 0:
		return unprocessable("No content found at %s when replacing", op.path)
	case len(nodes) > 1:
		return unprocessable("path %s matches %d elements when replacing; it must match one", op.path, len(nodes))
	}
	n := nodes[0]
	if n.Parent == nil {
		return unprocessable("cannot replace %s: it is not an element of the resource", op.path)
	}
	value := p.itemValue(n.Type, op.value)
	if n.Index < 0 {
		n.Parent[n.Key] = value
		return nil
	}
	arr, _ := n.Parent[n.Key].([]any)
	arr[n.Index] = value
	return nil
}

// itemValue is the JSON for a value written in place of (or beside) an
// item of type typ: parts are built into an object of that type.
func (p *Patcher) itemValue(typ string, value any) any {
	if parts, ok := value.(partsValue); ok {
		return p.typedParts(typ, parts)
	}
	return value
}

func (p *Patcher) typedParts(typ string, parts partsValue) map[string]any {
	obj := map[string]any{}
	for _, e := range parts {
		k, v := p.resolve(typ, e.name, e.value, e.suffix)
		if p.repeats(typ, e.name) {
			list, _ := obj[k].([]any)
			obj[k] = append(list, v)
		} else {
			obj[k] = v
		}
	}
	return obj
}

func move(nodes []fhirpath.Node, op operation) error {
	if len(nodes) == 0 {
		return unprocessable("No content found at %s when moving", op.path)
	}
	arr, first, err := list(nodes, op.path)
	if err != nil {
		return err
	}
	if op.source >= len(arr) || op.dest >= len(arr) {
		return unprocessable("move from %d to %d is outside %s (%d items)", op.source, op.dest, op.path, len(arr))
	}
	v := arr[op.source]
	arr = insertAt(removeAt(arr, op.source), op.dest, v)
	first.Parent[first.Key] = arr
	if exts, ok := first.Parent["_"+first.Key].([]any); ok && op.source < len(exts) && op.dest < len(exts) {
		x := exts[op.source]
		first.Parent["_"+first.Key] = insertAt(removeAt(exts, op.source), op.dest, x)
	}
	return nil
}
