package fhirpath

import (
	"regexp"
	"strings"
	"time"
)

func addFHIRFunctions(m fnMap) {
	m.add("extension", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		url, ok, err := c.stringArg(e, 0, in)
		if err != nil || !ok {
			return nil, err
		}
		var out []Node
		for _, n := range focus {
			exts, _ := e.children(n, "extension", nil)
			for _, x := range exts {
				if obj, ok := x.Value.(map[string]any); ok && obj["url"] == url {
					if x.Type == "" {
						x.Type = "Extension"
					}
					out = append(out, x)
				}
			}
		}
		return out, nil
	})
	m.add("hasValue", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if len(focus) != 1 {
			return boolResult(false)
		}
		_, isMap := focus[0].Value.(map[string]any)
		return boolResult(focus[0].Value != nil && !isMap)
	})
	m.add("getValue", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if len(focus) != 1 || focus[0].Value == nil {
			return nil, nil
		}
		if _, isMap := focus[0].Value.(map[string]any); isMap {
			return nil, nil
		}
		return []Node{systemNode(focus[0])}, nil
	})
	m.add("resolve", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		var out []Node
		for _, n := range focus {
			ref := ""
			switch v := n.Value.(type) {
			case string:
				ref = v
			case map[string]any:
				ref, _ = v["reference"].(string)
			}
			if ref == "" {
				continue
			}
			if r := e.resolve(ref); r != nil {
				out = append(out, ResourceNode(r))
			}
		}
		return out, nil
	})
	m.add("conformsTo", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		url, ok, err := c.stringArg(e, 0, in)
		if err != nil || !ok {
			return nil, err
		}
		n, ok, err := single(focus, "conformsTo")
		if !ok || err != nil {
			return nil, err
		}
		const core = "http://hl7.org/fhir/StructureDefinition/"
		if t, isCore := strings.CutPrefix(url, core); isCore {
			return boolResult(e.isTypeOf(n, t))
		}
		if !strings.Contains(url, "/StructureDefinition/") {
			return nil, evalErr("conformsTo(): unknown profile %s", url)
		}
		// Profiles other than the core types are not checked here.
		return boolResult(true)
	})
	m.add("memberOf", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		vs, ok, err := c.stringArg(e, 0, in)
		if err != nil || !ok {
			return nil, err
		}
		n, ok, err := single(focus, "memberOf")
		if !ok || err != nil || e.ctx.MemberOf == nil {
			return nil, err
		}
		member, known, err := e.ctx.MemberOf(n, vs)
		if err != nil || !known {
			return nil, err
		}
		return boolResult(member)
	})
	m.add("htmlChecks", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		n, ok, err := single(focus, "htmlChecks")
		if !ok || err != nil {
			return nil, err
		}
		s, isStr := system(n).(string)
		if !isStr {
			return nil, nil
		}
		return boolResult(htmlOK(s))
	})
	m.add("now", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return []Node{dateTimeNode(fromTime(e.now(), KindDateTime, precMilli))}, nil
	})
	m.add("today", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return []Node{dateTimeNode(fromTime(e.now(), KindDate, precDay))}, nil
	})
	m.add("timeOfDay", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return []Node{dateTimeNode(fromTime(e.now(), KindTime, precMilli))}, nil
	})
}

// systemNode converts a FHIR primitive node to its System value node.
func systemNode(n Node) Node {
	switch v := system(n).(type) {
	case string:
		return stringNode(v)
	case bool:
		return boolNode(v)
	case int64:
		return intNode(v)
	case Long:
		return Node{Value: v, Type: TypeLong, Index: -1}
	case Decimal:
		return decNode(v)
	case DateTime:
		return dateTimeNode(v)
	case Quantity:
		return quantityNode(v)
	}
	return n
}

func (e *env) now() time.Time {
	if !e.ctx.Now.IsZero() {
		return e.ctx.Now
	}
	return time.Now()
}

func fromTime(t time.Time, kind, prec int) DateTime {
	_, off := t.Zone()
	d := DateTime{Kind: kind, Year: t.Year(), Month: int(t.Month()), Day: t.Day(), Hour: t.Hour(),
		Minute: t.Minute(), Second: t.Second(), Millis: t.Nanosecond() / 1e6, Prec: prec}
	if kind == KindDateTime {
		d.HasTZ, d.TZOffset = true, off/60
	}
	return d.truncate(prec)
}

var referenceType = regexp.MustCompile(`(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]+)?$`)

// resolve finds the resource a reference points to: through the caller's
// Resolve, among the contained resources, in the enclosing Bundle, or
// failing those a stub carrying only the type and id the reference names.
func (e *env) resolve(ref string) map[string]any {
	if e.ctx.Resolve != nil {
		if r := e.ctx.Resolve(ref); r != nil {
			return r
		}
	}
	for _, holder := range []map[string]any{e.ctx.Resource, e.ctx.RootResource} {
		if holder == nil {
			continue
		}
		if id, ok := strings.CutPrefix(ref, "#"); ok || !strings.Contains(ref, "/") {
			contained, _ := holder["contained"].([]any)
			for _, c := range contained {
				if m, ok := c.(map[string]any); ok && m["id"] == id {
					return m
				}
			}
		}
		if holder["resourceType"] == "Bundle" {
			entries, _ := holder["entry"].([]any)
			for _, en := range entries {
				entry, _ := en.(map[string]any)
				r, _ := entry["resource"].(map[string]any)
				if r == nil {
					continue
				}
				if entry["fullUrl"] == ref {
					return r
				}
				if rt, _ := r["resourceType"].(string); rt != "" && (ref == rt+"/"+asString(r["id"]) || strings.HasSuffix(ref, "/"+rt+"/"+asString(r["id"]))) {
					return r
				}
			}
		}
	}
	if m := referenceType.FindStringSubmatch(ref); m != nil {
		return map[string]any{"resourceType": m[1], "id": m[2]}
	}
	return nil
}

func asString(v any) string { s, _ := v.(string); return s }

// allowedHTML are the elements FHIR narrative may use.
var allowedHTML = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`a abbr acronym address b big blockquote br caption center cite code col
		colgroup dd dfn div dl dt em h1 h2 h3 h4 h5 h6 hr i img li ol p pre q s samp small span strike
		strong sub sup table tbody td tfoot th thead tr tt u ul var`) {
		allowedHTML[t] = true
	}
}

var htmlTag = regexp.MustCompile(`<\s*(/?)\s*([A-Za-z][A-Za-z0-9:]*)([^>]*)>`)
var htmlEvent = regexp.MustCompile(`(?i)\son[a-z]+\s*=|javascript:`)

// htmlOK applies the FHIR narrative rules: only the allowed elements, no
// scripts or event handlers.
func htmlOK(s string) bool {
	for _, m := range htmlTag.FindAllStringSubmatch(s, -1) {
		name := strings.ToLower(m[2])
		if i := strings.IndexByte(name, ':'); i >= 0 {
			name = name[i+1:]
		}
		if !allowedHTML[name] || htmlEvent.MatchString(m[3]) {
			return false
		}
	}
	return true
}
