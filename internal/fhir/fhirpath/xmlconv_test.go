package fhirpath

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// xmlNode is a parsed XML element; raw keeps the source of an xhtml div.
type xmlNode struct {
	name     string
	attrs    map[string]string
	children []*xmlNode
	raw      string
}

func parseXML(data []byte) (*xmlNode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []*xmlNode
	var root *xmlNode
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
				n := &xmlNode{name: "div", raw: string(data[start:d.InputOffset()])}
				stack[len(stack)-1].children = append(stack[len(stack)-1].children, n)
				continue
			}
			n := &xmlNode{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				if a.Name.Space == "" {
					n.attrs[a.Name.Local] = a.Value
				}
			}
			if len(stack) > 0 {
				stack[len(stack)-1].children = append(stack[len(stack)-1].children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
}

// xmlToJSON converts a FHIR XML resource to the JSON tree, using the model
// to know arrays, primitive kinds and choice types.
func xmlToJSON(m *testModel, data []byte) (map[string]any, error) {
	root, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	return convertResource(m, root)
}

func convertResource(m *testModel, n *xmlNode) (map[string]any, error) {
	obj := map[string]any{"resourceType": n.name}
	if err := convertChildren(m, n, n.name, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func convertChildren(m *testModel, n *xmlNode, typ string, obj map[string]any) error {
	for _, c := range n.children {
		el, ok := m.element(typ, c.name)
		key := c.name
		if !ok {
			// a choice: valueQuantity → value[x] of type Quantity
			for i := 1; i < len(c.name); i++ {
				if c.name[i] >= 'A' && c.name[i] <= 'Z' {
					if e, ok2 := m.element(typ, c.name[:i]); ok2 && e.choice {
						el, ok = testElement{typ: choiceType(c.name[i:])}, true
						break
					}
				}
			}
		}
		if !ok {
			return fmt.Errorf("unknown element %s on %s", c.name, typ)
		}
		var val, ext any
		switch {
		case c.name == "div" && c.raw != "":
			val = c.raw
		case el.typ == "Resource" || el.typ == "DomainResource":
			if len(c.children) != 1 {
				return fmt.Errorf("%s: expected one resource", c.name)
			}
			r, err := convertResource(m, c.children[0])
			if err != nil {
				return err
			}
			val = r
		case primitiveTypes[el.typ]:
			if v, has := c.attrs["value"]; has {
				switch el.typ {
				case "boolean":
					val = v == "true"
				case "integer", "decimal", "positiveInt", "unsignedInt":
					val = json.Number(v)
				default:
					val = v
				}
			}
			if len(c.children) > 0 || c.attrs["id"] != "" {
				e := map[string]any{}
				if id := c.attrs["id"]; id != "" {
					e["id"] = id
				}
				if err := convertChildren(m, c, "Element", e); err != nil {
					return err
				}
				ext = e
			}
		default:
			o := map[string]any{}
			if id := c.attrs["id"]; id != "" {
				o["id"] = id
			}
			if u := c.attrs["url"]; u != "" {
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
