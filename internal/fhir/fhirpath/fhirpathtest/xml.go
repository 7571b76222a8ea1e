package fhirpathtest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// XMLNode is a parsed XML element; Raw keeps the source of an xhtml div.
type XMLNode struct {
	Name     string
	Attrs    map[string]string
	Children []*XMLNode
	Raw      string
}

// ParseXML parses an XML document into a tree.
func ParseXML(data []byte) (*XMLNode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []*XMLNode
	var root *XMLNode
	for {
		start := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "div" && t.Name.Space == "http://www.w3.org/1999/xhtml" {
				if err := d.Skip(); err != nil {
					return nil, err
				}
				n := &XMLNode{Name: "div", Raw: string(data[start:d.InputOffset()])}
				stack[len(stack)-1].Children = append(stack[len(stack)-1].Children, n)
				continue
			}
			n := &XMLNode{Name: t.Name.Local, Attrs: map[string]string{}}
			for _, a := range t.Attr {
				if a.Name.Space == "" {
					n.Attrs[a.Name.Local] = a.Value
				}
			}
			if len(stack) > 0 {
				stack[len(stack)-1].Children = append(stack[len(stack)-1].Children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
}

// XMLToJSON converts a FHIR XML resource to the JSON tree, using the model
// to know arrays, primitive kinds and choice types.
func XMLToJSON(m *Model, data []byte) (map[string]any, error) {
	root, err := ParseXML(data)
	if err != nil {
		return nil, err
	}
	return ConvertResource(m, root)
}

// ConvertResource converts a FHIR XML resource element.
func ConvertResource(m *Model, n *XMLNode) (map[string]any, error) {
	obj := map[string]any{"resourceType": n.Name}
	if err := convertChildren(m, n, n.Name, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func convertChildren(m *Model, n *XMLNode, typ string, obj map[string]any) error {
	for _, c := range n.Children {
		el, ok := m.element(typ, c.Name)
		key := c.Name
		if !ok {
			// a choice: valueQuantity → value[x] of type Quantity
			for i := 1; i < len(c.Name); i++ {
				if c.Name[i] >= 'A' && c.Name[i] <= 'Z' {
					if e, ok2 := m.element(typ, c.Name[:i]); ok2 && e.choice {
						el, ok = element{typ: choiceType(c.Name[i:])}, true
						break
					}
				}
			}
		}
		if !ok {
			return fmt.Errorf("unknown element %s on %s", c.Name, typ)
		}
		var val, ext any
		switch {
		case c.Name == "div" && c.Raw != "":
			val = c.Raw
		case el.typ == "Resource" || el.typ == "DomainResource":
			if len(c.Children) != 1 {
				return fmt.Errorf("%s: expected one resource", c.Name)
			}
			r, err := ConvertResource(m, c.Children[0])
			if err != nil {
				return err
			}
			val = r
		case primitiveTypes[el.typ]:
			if v, has := c.Attrs["value"]; has {
				switch el.typ {
				case "boolean":
					val = v == "true"
				case "integer", "decimal", "positiveInt", "unsignedInt":
					val = json.Number(v)
				default:
					val = v
				}
			}
			if len(c.Children) > 0 || c.Attrs["id"] != "" {
				e := map[string]any{}
				if id := c.Attrs["id"]; id != "" {
					e["id"] = id
				}
				if err := convertChildren(m, c, "Element", e); err != nil {
					return err
				}
				ext = e
			}
		default:
			o := map[string]any{}
			if id := c.Attrs["id"]; id != "" {
				o["id"] = id
			}
			if u := c.Attrs["url"]; u != "" {
				o["url"] = u
			}
			if err := convertChildren(m, c, el.typ, o); err != nil {
				return err
			}
			val = o
		}
		if el.isArray {
			arr, _ := obj[key].([]any)
			xs, _ := obj["_"+key].([]any)
			if ext != nil || xs != nil {
				for len(xs) < len(arr) {
					xs = append(xs, nil)
				}
				xs = append(xs, ext)
				obj["_"+key] = xs
			}
			obj[key] = append(arr, val)
		} else {
			if val != nil {
				obj[key] = val
			}
			if ext != nil {
				obj["_"+key] = ext
			}
		}
	}
	// An array of only-extension primitives keeps nulls in the value array.
	for k, v := range obj {
		if arr, ok := v.([]any); ok && !strings.HasPrefix(k, "_") {
			if xs, ok := obj["_"+k].([]any); ok {
				for len(xs) < len(arr) {
					xs = append(xs, nil)
				}
				obj["_"+k] = xs
			}
		}
	}
	return nil
}

var primitiveTypes = map[string]bool{
	"boolean": true, "integer": true, "integer64": true, "string": true, "decimal": true, "uri": true,
	"url": true, "canonical": true, "base64Binary": true, "instant": true, "date": true,
	"dateTime": true, "time": true, "code": true, "oid": true, "id": true, "markdown": true,
	"unsignedInt": true, "positiveInt": true, "uuid": true, "xhtml": true,
}

func choiceType(suffix string) string {
	lower := strings.ToLower(suffix[:1]) + suffix[1:]
	if primitiveTypes[lower] {
		return lower
	}
	return suffix
}
