package r4

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// Report says what a conversion could not map onto an element of the target
// version and kept as cross-version extensions, and what it restored from
// such extensions.
type Report struct {
	// Kept counts, by source element path ("Encounter.hospitalization.dietPreference"),
	// the values kept as cross-version extensions.
	Kept map[string]int
	// Restored counts the cross-version extensions turned back into elements.
	Restored int
}

// KeptTotal returns the number of values kept as extensions.
func (r *Report) KeptTotal() int {
	n := 0
	for _, c := range r.Kept {
		n += c
	}
	return n
}

// String summarises the report for a log line or an import summary:
// "kept 2 as extensions (Encounter.classHistory ×1, Encounter.status ×1); restored 0".
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kept %d as extensions", r.KeptTotal())
	if len(r.Kept) > 0 {
		b.WriteString(" (")
		for i, p := range slices.Sorted(maps.Keys(r.Kept)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s ×%d", p, r.Kept[p])
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, "; restored %d", r.Restored)
	return b.String()
}

// ToR5 converts an R4 resource to R5. The input is not modified. A resource
// type without conversion gives a *fhir.Error of kind KindNotSupported.
func ToR5(res fhir.Resource) (fhir.Resource, *Report, error) { return toR5(res, false) }

// ToR5Owned is ToR5 for a resource its caller gives up (an import that
// read it only to convert it): what R4 and R5 define alike, a Coding, a
// Reference, a Quantity or a whole Observation.component, goes into the
// result as it is instead of being copied, so res is not to be used
// afterwards. The result equals ToR5's (TestToR5OwnedEqualsToR5).
func ToR5Owned(res fhir.Resource) (fhir.Resource, *Report, error) { return toR5(res, true) }

func toR5(res fhir.Resource, share bool) (fhir.Resource, *Report, error) {
	c := &converter{from: r4Model(), to: r5Model(), defaults: defaultsR5, report: &Report{Kept: map[string]int{}}, share: share}
	out, err := c.resource(map[string]any(res))
	if err != nil {
		return nil, nil, err
	}
	return fhir.Resource(out), c.report, nil
}

// ToR4 converts an R5 resource to R4. The input is not modified. A resource
// type without conversion gives a *fhir.Error of kind KindNotSupported.
func ToR4(res fhir.Resource) (fhir.Resource, *Report, error) {
	c := &converter{from: r5Model(), to: r4Model(), report: &Report{Kept: map[string]int{}}}
	out, err := c.resource(map[string]any(res))
	if err != nil {
		return nil, nil, err
	}
	return fhir.Resource(out), c.report, nil
}

// converter walks a resource along the element tree of its version and
// builds the resource of the other version: an element with a rule is
// converted by the rule, one with the same name and a compatible type in the
// target is copied (its objects walked in turn), and anything else is kept as
// a cross-version extension of the source version. Extensions of the
// target's version found in the source are turned back into elements.
type converter struct {
	from, to *table
	defaults map[string]func(out map[string]any) // by target object path: fills elements the target requires
	report   *Report
	depth    int
	// under says whether the object being converted has a property
	// starting with "_" (a primitive's id or extensions): most have none,
	// and then nothing looks for one.
	under bool
	// at and atKids are the target path of the object being converted
	// and its children there: element looks a property up in them
	// without hashing the path again.
	at     string
	atKids map[string]kid
	// share has values that need no conversion taken as they are
	// (ToR5Owned).
	share bool
}

// rule converts the element e of src (JSON name key, choice type ty) into out.
// at is the object's path in the target version.
type rule func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error

const maxDepth = 64

func (c *converter) resource(src map[string]any) (map[string]any, error) {
	rt, _ := src["resourceType"].(string)
	if !supported[rt] {
		return nil, fhir.Errorf(fhir.KindNotSupported, "no R4/R5 conversion for resource type %q", rt)
	}
	return c.object(src, rt, rt)
}

func (c *converter) object(src map[string]any, from, to string) (map[string]any, error) {
	c.depth++
	under, at, atKids := c.under, c.at, c.atKids
	defer func() { c.depth--; c.under, c.at, c.atKids = under, at, atKids }()
	if c.depth > maxDepth {
		return nil, fhir.Errorf(fhir.KindInvalid, "resource nested too deeply")
	}
	out := make(map[string]any, len(src))
	var buf [16]string
	keys := buf[:0]
	c.under = false
	for k := range src {
		if k == "" || k[0] != '_' {
			keys = append(keys, k)
		} else if c.under = true; !hasKey(src, k[1:]) {
			keys = append(keys, k[1:]) // an extension without a value
		}
	}
	slices.Sort(keys)
	kids := c.from.kids[from]
	c.at, c.atKids = to, c.to.kids[to]
	// Consent.provision.resourceType is an element, not a resource's type.
	_, resourceTypeIsElement := kids["resourceType"]
	special := func(k string) bool {
		switch k {
		case "id", "extension", "modifierExtension":
			return true
		case "resourceType":
			return !resourceTypeIsElement
		}
		return false
	}
	// The extensions come first: elements kept as extensions are appended.
	for _, k := range []string{"resourceType", "id", "extension", "modifierExtension"} {
		if special(k) {
			c.copyKey(out, src, k)
		}
	}
	for _, k := range keys {
		if special(k) {
			continue
		}
		kid, ok := kids[k]
		e, ty := kid.e, kid.ty
		if !ok {
			// Not an element of the source version: not ours to judge,
			// the validator will. Copy it.
			c.copyKey(out, src, k)
			continue
		}
		var err error
		if r := e.rule; r != nil {
			err = r(c, out, src, k, e, ty, to)
		} else {
			err = c.element(out, src, k, k, e, ty, to)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := c.restore(out, to); err != nil {
		return nil, err
	}
	if fill := c.defaults[to]; fill != nil {
		fill(out)
	}
	return out, nil
}

func (c *converter) copyKey(out, src map[string]any, key string) {
	if v, ok := src[key]; ok {
		out[key] = fhir.CloneValue(v)
	}
	if !c.under {
		return
	}
	if v, ok := src["_"+key]; ok {
		out["_"+key] = fhir.CloneValue(v)
	}
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// element converts src[key] to out[toKey] when the target has toKey below
// at with a compatible type, and keeps it as an extension otherwise.
func (c *converter) element(out, src map[string]any, key, toKey string, e *elem, ty, at string) error {
	var te *elem
	var tty string
	var ok bool
	if at == c.at {
		var k kid
		k, ok = c.atKids[toKey]
		te, tty = k.e, k.ty
	} else {
		te, tty, ok = c.to.child(at, toKey)
	}
	if !ok || !compatible(ty, tty) {
		return c.keep(out, src, key, e, ty)
	}
	v, hasValue := src[key]
	if hasValue {
		var err error
		if v, err = c.value(v, e, ty, te, tty); err != nil {
			return err
		}
	}
	var pext any
	hasExt := false
	if c.under {
		pext, hasExt = src["_"+key]
	}
	list, isList := v.([]any)
	switch {
	case e.list == te.list:
	case te.list:
		// single → list: wrap
		if hasValue {
			v = []any{v}
		}
		if hasExt {
			pext = []any{pext}
		}
	case isList && len(list) == 1:
		v = list[0]
		if pl, ok := pext.([]any); ok && len(pl) == 1 {
			pext = pl[0]
		}
	case isList && len(list) > 1:
		return c.keep(out, src, key, e, ty)
	}
	if hasValue {
		out[toKey] = v
	}
	if hasExt {
		out["_"+toKey] = fhir.CloneValue(pext)
	}
	return nil
}

// value converts the value of an element: objects are walked, primitives copied.
func (c *converter) value(v any, e *elem, ty string, te *elem, tty string) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			var err error
			if out[i], err = c.value(item, e, ty, te, tty); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		if isResource(ty) {
			return c.resource(v)
		}
		from, to := e.next(ty), te.next(tty)
		if c.share && c.alike(from, to) && plain(v) {
			return v, nil
		}
		return c.object(v, from, to)
	default:
		return fhir.CloneValue(v), nil
	}
}

// compatible reports whether a value of type a is a value of type b.
func compatible(a, b string) bool {
	switch {
	case a == b:
		return true
	case isPrimitive(a) && isPrimitive(b):
		return true
	case isInline(a) && isInline(b):
		return true
	case isResource(a) && isResource(b):
		return true // "Resource" in one version, "OperationOutcome" in the other
	}
	return false
}

// isResource reports whether ty names a resource type (or Resource).
func isResource(ty string) bool { return ty == "Resource" || spec.R5().IsResource(ty) }

// extensionURL names the cross-version extension for an element path of
// version t.
func (t *table) extensionURL(path string) string {
	return "http://hl7.org/fhir/" + t.version + "/StructureDefinition/extension-" + strings.TrimSuffix(path, "[x]")
}

// keep moves src[key] (and its _key) into out.extension as cross-version
// extensions of the source version, one per value.
func (c *converter) keep(out, src map[string]any, key string, e *elem, ty string) error {
	v, hasValue := src[key]
	pext := src["_"+key]
	if !hasValue && pext == nil {
		return nil
	}
	url := c.from.extensionURL(e.path)
	var exts []any
	if list, ok := v.([]any); ok {
		pl, _ := pext.([]any)
		for i, item := range list {
			var ie any
			if i < len(pl) {
				ie = pl[i]
			}
			x, err := c.encode(url, item, ie, e, ty)
			if err != nil {
				return err
			}
			exts = append(exts, x)
		}
	} else {
		x, err := c.encode(url, v, pext, e, ty)
		if err != nil {
			return err
		}
		exts = append(exts, x)
	}
	c.report.Kept[e.path] += len(exts)
	ext, _ := out["extension"].([]any)
	out["extension"] = append(ext, exts...)
	return nil
}

// encode writes one value of element e as an extension: value[x] for a
// primitive or a datatype the target's Extension allows, nested extensions
// named by element for anything else.
//
// A property the source version does not define inside such a value is an
// error: it could be neither kept faithfully nor dropped silently.
func (c *converter) encode(url string, v, pext any, e *elem, ty string) (map[string]any, error) {
	ext := map[string]any{"url": url}
	obj, isObject := v.(map[string]any)
	switch {
	case !isObject:
		suffix := "value" + upperFirst(ty)
		if v != nil && !isPrimitive(ty) {
			return nil, fhir.Errorf(fhir.KindInvalid, "%s: a %s must be a JSON object", e.path, ty)
		}
		if v != nil {
			ext[suffix] = fhir.CloneValue(v)
		}
		if pext != nil {
			ext["_"+suffix] = fhir.CloneValue(pext)
		}
	case isResource(ty):
		return nil, fhir.Errorf(fhir.KindNotSupported, "%s: a resource cannot be kept as an extension", e.path)
	case !isInline(ty) && c.to.extValue[ty]:
		ext["value"+ty] = fhir.CloneValue(obj)
	default:
		var subs []any
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "" || k[0] == '_' {
				continue
			}
			switch k {
			case "id":
				ext["id"] = obj[k]
				continue
			case "extension", "modifierExtension":
				subs = append(subs, map[string]any{"url": k, "extension": fhir.CloneValue(obj[k])})
				continue
			}
			ce, cty, ok := c.from.child(e.next(ty), k)
			if !ok {
				return nil, fhir.Errorf(fhir.KindInvalid, "%s has no element %q to keep as an extension", e.path, k)
			}
			name := ce.name
			if list, ok := obj[k].([]any); ok {
				pl, _ := obj["_"+k].([]any)
				for i, item := range list {
					var ie any
					if i < len(pl) {
						ie = pl[i]
					}
					sub, err := c.encode(name, item, ie, ce, cty)
					if err != nil {
						return nil, err
					}
					subs = append(subs, sub)
				}
			} else {
				sub, err := c.encode(name, obj[k], obj["_"+k], ce, cty)
				if err != nil {
					return nil, err
				}
				subs = append(subs, sub)
			}
		}
		ext["extension"] = subs
	}
	return ext, nil
}

// restore turns the extensions in out that carry elements of the target
// version back into those elements. at is out's path in the target.
func (c *converter) restore(out map[string]any, at string) error {
	exts, ok := out["extension"].([]any)
	if !ok {
		return nil
	}
	prefix := c.to.extensionURL("")
	replaced := map[string]bool{}
	kept := exts[:0:0]
	for _, x := range exts {
		ext, _ := x.(map[string]any)
		url, _ := ext["url"].(string)
		path, isOurs := strings.CutPrefix(url, prefix)
		e, known := c.to.lookup(path)
		if !isOurs || !known || !strings.HasPrefix(path, at+".") || strings.Contains(path[len(at)+1:], ".") {
			kept = append(kept, x)
			continue
		}
		key, v, pext, ok := c.decode(ext, e)
		if !ok {
			kept = append(kept, x)
			continue
		}
		if !replaced[key] {
			delete(out, key)
			delete(out, "_"+key)
			replaced[key] = true
		}
		if e.list {
			list, _ := out[key].([]any)
			out[key] = append(list, v)
		} else {
			out[key] = v
			if pext != nil {
				out["_"+key] = pext
			}
		}
		c.report.Restored++
	}
	if len(kept) == 0 {
		delete(out, "extension")
	} else {
		out["extension"] = kept
	}
	return nil
}

// decode reads one value of element e back from its extension, with the
// JSON name it goes under.
func (c *converter) decode(ext map[string]any, e *elem) (key string, v, pext any, ok bool) {
	for k, val := range ext {
		suffix, isValue := strings.CutPrefix(k, "value")
		if !isValue || suffix == "" {
			continue
		}
		ty := suffix
		if !slices.Contains(e.types, ty) {
			ty = strings.ToLower(suffix[:1]) + suffix[1:]
		}
		key = e.name
		if e.choice {
			key += upperFirst(ty)
		}
		return key, fhir.CloneValue(val), fhir.CloneValue(ext["_"+k]), true
	}
	subs, isComplex := ext["extension"].([]any)
	if !isComplex {
		return "", nil, nil, false
	}
	obj := map[string]any{}
	if id, ok := ext["id"]; ok {
		obj["id"] = id
	}
	at := e.next(e.typ())
	for _, s := range subs {
		sub, _ := s.(map[string]any)
		name, _ := sub["url"].(string)
		switch name {
		case "extension", "modifierExtension":
			obj[name] = fhir.CloneValue(sub["extension"])
			continue
		}
		ce, known := c.to.lookup(at + "." + name)
		if !known {
			return "", nil, nil, false
		}
		k, cv, cpext, ok := c.decode(sub, ce)
		if !ok {
			return "", nil, nil, false
		}
		if ce.list {
			list, _ := obj[k].([]any)
			obj[k] = append(list, cv)
			if cpext != nil {
				pl, _ := obj["_"+k].([]any)
				for len(pl) < len(obj[k].([]any))-1 {
					pl = append(pl, nil)
				}
				obj["_"+k] = append(pl, cpext)
			}
		} else {
			obj[k] = cv
			if cpext != nil {
				obj["_"+k] = cpext
			}
		}
	}
	return e.name, obj, nil, true
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Supported reports whether resourceType has a conversion; ToR5 and ToR4
// refuse every other type.
func Supported(resourceType string) bool { return supported[resourceType] }

// alike reports whether an object at path from of the source version
// converts to itself at path to of the target: every element below has
// the same name there, a compatible type and the same cardinality, no
// rule, no resource inside, and the target fills in no defaults. Such an
// object, if plain, is shared (ToR5Owned) rather than walked.
func (c *converter) alike(from, to string) bool {
	if v, ok := alikeCache.Load(alikeKey{c.from, c.to, from, to}); ok {
		return v.(bool)
	}
	visited := map[alikeKey]bool{}
	v := c.compare(from, to, visited)
	if !v {
		alikeCache.Store(alikeKey{c.from, c.to, from, to}, false)
		return false
	}
	// Every pair compared on the way passed too.
	for k := range visited {
		alikeCache.Store(k, true)
	}
	return true
}

type alikeKey struct {
	from, to         *table
	fromPath, toPath string
}

var alikeCache sync.Map // alikeKey → bool: results proven, never assumed

// compare is alike for one pair of paths. A type that holds itself
// (Identifier.assigner.identifier) is alike if nothing else differs: a
// pair met again while it is being compared is taken as alike, and only
// the outermost result decides what alike records.
func (c *converter) compare(from, to string, visited map[alikeKey]bool) bool {
	key := alikeKey{c.from, c.to, from, to}
	if visited[key] {
		return true
	}
	visited[key] = true
	if v, ok := alikeCache.Load(key); ok {
		return v.(bool)
	}
	if c.defaults[to] != nil {
		return false
	}
	targets := c.to.kids[to]
	for name, k := range c.from.kids[from] {
		switch name {
		case "id", "extension", "modifierExtension":
			continue // copied as they are; plain rules out extensions
		}
		t, ok := targets[name]
		if !ok || k.e.rule != nil || k.e.list != t.e.list || !compatible(k.ty, t.ty) || isResource(k.ty) {
			return false
		}
		if !isPrimitive(k.ty) && !c.compare(k.e.next(k.ty), t.e.next(t.ty), visited) {
			return false
		}
	}
	return true
}

// plain reports whether v holds no extensions: restore might turn a
// target version's cross-version extension back into an element, so an
// object with extensions is converted, not shared.
func plain(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "extension" || k == "modifierExtension" || !plain(x) {
				return false
			}
		}
	case []any:
		for _, x := range v {
			if !plain(x) {
				return false
			}
		}
	}
	return true
}
