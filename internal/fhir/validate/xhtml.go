package validate

import (
	"encoding/xml"
	"io"
	"strings"
)

const xhtmlNS = "http://www.w3.org/1999/xhtml"

// forbiddenXHTML are the elements FHIR narrative must not contain
// (R5 narrative.html: no document structure, scripts, forms, frames,
// embedded objects or external references).
var forbiddenXHTML = map[string]bool{
	"html": true, "head": true, "body": true, "title": true, "base": true, "link": true, "meta": true,
	"script": true, "noscript": true, "style": true, "form": true, "input": true, "button": true,
	"select": true, "option": true, "textarea": true, "iframe": true, "frame": true, "frameset": true,
	"object": true, "embed": true, "applet": true, "param": true,
}

// xhtmlProblem returns what is wrong with a narrative div, or "": it must be
// well-formed XML whose root is an XHTML div, without forbidden elements,
// event-handler attributes or javascript: URLs (txt-1, txt-2). Stored
// narrative is shown to clinicians, so this is also the XSS guard.
func xhtmlProblem(s string) string {
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "the narrative is not well-formed XHTML: " + err.Error()
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (t.Name.Local != "div" || t.Name.Space != xhtmlNS) {
				return "the narrative must be a single <div xmlns=\"" + xhtmlNS + "\">"
			}
			depth++
			if forbiddenXHTML[strings.ToLower(t.Name.Local)] {
				return "the narrative must not contain <" + t.Name.Local + ">"
			}
			for _, a := range t.Attr {
				name := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(name, "on") {
					return "the narrative must not contain event attributes (" + a.Name.Local + ")"
				}
				if v := strings.ToLower(strings.TrimSpace(a.Value)); strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "vbscript:") {
					return "the narrative must not contain script URLs"
				}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && strings.TrimSpace(string(t)) != "" {
				return "the narrative must be a single <div> element"
			}
		}
	}
	if depth != 0 {
		return "the narrative is not well-formed XHTML"
	}
	return ""
}
