package storetest

import (
	"encoding/json"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
)

// Extractor is the search extractor backends give the store under test. It
// is a small stand-in for the real one (internal/search), covering the
// parameters the search cases use, until the real extractor lands.
func Extractor() interface {
	Extract(res fhir.Resource) ([]search.Entry, error)
	Version() string
} {
	return miniExtractor{}
}

type miniExtractor struct{}

func (miniExtractor) Version() string { return "storetest-mini-1" }

// values walks a dotted path through objects and arrays.
func values(v any, path string) []any {
	cur := []any{v}
	for _, step := range strings.Split(path, ".") {
		var next []any
		for _, c := range cur {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			switch x := m[step].(type) {
			case nil:
			case []any:
				next = append(next, x...)
			default:
				next = append(next, x)
			}
		}
		cur = next
	}
	return cur
}

func (miniExtractor) Extract(res fhir.Resource) ([]search.Entry, error) {
	var out []search.Entry
	r := map[string]any(res)
	str := func(param string, vs []any) {
		for _, v := range vs {
			if s, ok := v.(string); ok {
				out = append(out, search.Entry{Param: param, Kind: search.KindString, Text: search.Normalize(s), Exact: s})
			}
		}
	}
	code := func(param, system, code, display string) search.Entry {
		return search.Entry{Param: param, Kind: search.KindToken, System: system, Code: code, Display: search.Normalize(display)}
	}
	codings := func(param string, vs []any) {
		for _, cc := range vs {
			m, _ := cc.(map[string]any)
			text, _ := m["text"].(string)
			for _, c := range values(m, "coding") {
				c, _ := c.(map[string]any)
				sys, _ := c["system"].(string)
				cd, _ := c["code"].(string)
				disp, _ := c["display"].(string)
				if disp == "" {
					disp = text
				}
				out = append(out, code(param, sys, cd, disp))
			}
		}
	}
	plain := func(param string, vs []any) {
		for _, v := range vs {
			switch v := v.(type) {
			case string:
				out = append(out, code(param, "", v, ""))
			case bool:
				s := "false"
				if v {
					s = "true"
				}
				out = append(out, code(param, "", s, ""))
			case map[string]any: // Coding
				sys, _ := v["system"].(string)
				cd, _ := v["code"].(string)
				out = append(out, code(param, sys, cd, ""))
			}
		}
	}
	ref := func(param string, vs []any) {
		for _, v := range vs {
			m, _ := v.(map[string]any)
			if s, ok := m["reference"].(string); ok {
				if typ, id, ok := strings.Cut(s, "/"); ok && !strings.Contains(s, ":") {
					out = append(out, search.Entry{Param: param, Kind: search.KindReference, RefType: typ, RefID: id})
				} else {
					out = append(out, search.Entry{Param: param, Kind: search.KindReference, RefURL: s})
				}
			}
			if id, ok := m["identifier"].(map[string]any); ok {
				sys, _ := id["system"].(string)
				val, _ := id["value"].(string)
				out = append(out, search.Entry{Param: param, Kind: search.KindReference, System: sys, Code: val})
			}
		}
	}
	date := func(param string, vs []any) {
		for _, v := range vs {
			var lo, hi int64
			var err error
			switch v := v.(type) {
			case string:
				lo, hi, err = search.DateRange(v)
			case map[string]any: // Period
				lo, hi = search.MinDate, search.MaxDate
				if s, ok := v["start"].(string); ok {
					lo, _, err = search.DateRange(s)
				}
				if s, ok := v["end"].(string); ok && err == nil {
					_, hi, err = search.DateRange(s)
				}
			}
			if err == nil {
				out = append(out, search.Entry{Param: param, Kind: search.KindDate, DateLow: lo, DateHigh: hi})
			}
		}
	}
	quantity := func(param string, group, comp int, vs []any) {
		for _, v := range vs {
			m, _ := v.(map[string]any)
			n, ok := m["value"].(json.Number)
			if !ok {
				continue
			}
			_, lo, hi, err := search.NumberRange(string(n))
			if err != nil {
				continue
			}
			sys, _ := m["system"].(string)
			cd, _ := m["code"].(string)
			out = append(out, search.Entry{Param: param, Kind: search.KindQuantity, Group: group, Component: comp,
				System: sys, Code: cd, Low: lo, High: hi})
		}
	}
	identifiers := func(vs []any) {
		for _, v := range vs {
			m, _ := v.(map[string]any)
			sys, _ := m["system"].(string)
			val, _ := m["value"].(string)
			e := code("identifier", sys, val, "")
			for _, c := range values(m, "type.coding") {
				c, _ := c.(map[string]any)
				e.TypeSystem, _ = c["system"].(string)
				e.TypeCode, _ = c["code"].(string)
			}
			out = append(out, e)
		}
	}
	plain("_tag", values(r, "meta.tag"))
	plain("_security", values(r, "meta.security"))
	for _, p := range values(r, "meta.profile") {
		s, _ := p.(string)
		out = append(out, search.Entry{Param: "_profile", Kind: search.KindReference, RefURL: s})
	}
	for _, s := range values(r, "meta.source") {
		s, _ := s.(string)
		out = append(out, search.Entry{Param: "_source", Kind: search.KindURI, Exact: s})
	}
	identifiers(values(r, "identifier"))
	switch res.Type() {
	case "Patient", "Practitioner":
		for _, path := range []string{"name.family", "name.given", "name.text", "name.prefix", "name.suffix"} {
			str("name", values(r, path))
		}
		str("family", values(r, "name.family"))
		str("given", values(r, "name.given"))
		date("birthdate", values(r, "birthDate"))
		plain("gender", values(r, "gender"))
		plain("active", values(r, "active"))
		ref("organization", values(r, "managingOrganization"))
		ref("general-practitioner", values(r, "generalPractitioner"))
		ref("link", values(r, "link.other"))
	case "Organization":
		str("name", values(r, "name"))
	case "Observation", "Condition":
		codings("code", values(r, "code"))
		plain("status", values(r, "status"))
		ref("subject", values(r, "subject"))
		ref("encounter", values(r, "encounter"))
		ref("performer", values(r, "performer"))
		for _, s := range values(r, "subject") {
			m, _ := s.(map[string]any)
			if ref, _ := m["reference"].(string); strings.HasPrefix(ref, "Patient/") {
				out = append(out, search.Entry{Param: "patient", Kind: search.KindReference, RefType: "Patient", RefID: ref[len("Patient/"):]})
			}
		}
		date("date", values(r, "effectiveDateTime"))
		date("date", values(r, "effectivePeriod"))
		date("onset-date", values(r, "onsetDateTime"))
		quantity("value-quantity", 0, 0, values(r, "valueQuantity"))
		if res.Type() == "Observation" {
			// code-value-quantity: one group per coding with the value.
			g := 0
			for _, c := range values(r, "code.coding") {
				c, _ := c.(map[string]any)
				g++
				sys, _ := c["system"].(string)
				cd, _ := c["code"].(string)
				e := code("code-value-quantity", sys, cd, "")
				e.Group, e.Component = g, 0
				out = append(out, e)
				quantity("code-value-quantity", g, 1, values(r, "valueQuantity"))
			}
		}
	case "List":
		ref("item", values(r, "entry.item"))
		ref("subject", values(r, "subject"))
	case "RiskAssessment":
		for _, v := range values(r, "prediction.probabilityDecimal") {
			if n, ok := v.(json.Number); ok {
				if _, lo, hi, err := search.NumberRange(string(n)); err == nil {
					out = append(out, search.Entry{Param: "probability", Kind: search.KindNumber, Low: lo, High: hi})
				}
			}
		}
		ref("subject", values(r, "subject"))
	case "ValueSet", "CodeSystem":
		for _, s := range values(r, "url") {
			s, _ := s.(string)
			out = append(out, search.Entry{Param: "url", Kind: search.KindURI, Exact: s})
		}
		str("name", values(r, "name"))
	}
	return out, nil
}
