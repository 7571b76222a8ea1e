package search

import (
	"math"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// Consent rules. An R5 Consent about a patient says who may see what of
// their record: Consent.decision (permit or deny) is the default, each
// provision an exception to it (so of the opposite effect), each nested
// provision an exception to its parent. ConsentRules flattens a Consent
// into rows a store keeps beside its index and applies inside every query
// (Access.Consent): a resource of the patient is hidden from a caller when
// a deny rule matches the access and no deeper permit rule below it does.
//
// A rule matches an access when each of its conditions does (an empty one
// matches anything): the caller is the actor; the resource is of the type,
// carries the security label, holds the code in any of its coded elements,
// or is the very resource of data; the request's purpose of use is the
// purpose; and the Consent and provision periods cover now. Lists in a
// provision (several actors, types, labels …) are alternatives: each
// combination is a row of the same path.
//
// Supported: actor.reference to the caller's own resource (Practitioner,
// PractitionerRole, RelatedPerson, Patient; not Organization or Group
// membership), securityLabel, resourceType, code, data, purpose, period.
// Not supported: actor.role without reference (it applies to everyone),
// dataPeriod and expression (a provision with an expression is applied
// without it), so rules err on the side of hiding.

// ConsentRule is one flattened row of a Consent's provisions.
type ConsentRule struct {
	Patient string // the patient the Consent is about (its subject)
	// Path locates the provision: "0" for the Consent's own decision,
	// "0.2" for its third provision, "0.2.0" for that one's first, …
	Path                   string
	Permit                 bool
	Actor                  string // "Practitioner/123", or "" for anyone
	Type                   string // resource type, or ""
	LabelSystem, LabelCode string // a meta.security label, or ""
	CodeSystem, CodeCode   string // a code in the resource, or ""
	Purpose                string // purpose of use (v3 ActReason), or ""
	Data                   string // "Observation/123", or ""
	PeriodLow, PeriodHigh  int64  // [low, high) in unix milliseconds
}

// consentActions are the consentaction codes that govern reading; a
// provision limited to other actions (collect, correct) says nothing about
// who may see the record.
var consentActions = map[string]bool{"access": true, "use": true, "disclose": true}

// ConsentRules returns the rules of an active Consent about a patient,
// nil for any other resource (inactive, draft, not about a patient).
func ConsentRules(res fhir.Resource) []ConsentRule {
	if res.Type() != "Consent" {
		return nil
	}
	if status, _ := res["status"].(string); status != "active" {
		return nil
	}
	patient := ""
	for _, key := range []string{"subject", "patient"} {
		if ref, ok := res[key].(map[string]any); ok {
			if r, _ := ref["reference"].(string); strings.HasPrefix(r, "Patient/") {
				patient = strings.TrimPrefix(r, "Patient/")
			}
		}
	}
	if patient == "" || !fhir.ValidID(patient) {
		return nil
	}
	low, high := periodOf(res["period"])
	decision, _ := res["decision"].(string)
	permit := decision != "deny" // the default of a consent is to permit
	root := ConsentRule{Patient: patient, Path: "0", Permit: permit, PeriodLow: low, PeriodHigh: high}
	out := []ConsentRule{root}
	provisions, _ := res["provision"].([]any)
	for i, p := range provisions {
		out = appendProvision(out, root, "0."+strconv.Itoa(i), !permit, p)
	}
	return out
}

// appendProvision adds the rows of provision p (with the conditions of
// parent it narrows) and of its nested provisions.
func appendProvision(out []ConsentRule, parent ConsentRule, path string, permit bool, p any) []ConsentRule {
	prov, _ := p.(map[string]any)
	if prov == nil {
		return out
	}
	if actions := codes(prov["action"]); len(actions) > 0 {
		governs := false
		for _, a := range actions {
			governs = governs || consentActions[a.code]
		}
		if !governs {
			return out
		}
	}
	base := parent
	base.Path, base.Permit = path, permit
	if lo, hi := periodOf(prov["period"]); lo != math.MinInt64 || hi != math.MaxInt64 {
		base.PeriodLow, base.PeriodHigh = max(base.PeriodLow, lo), min(base.PeriodHigh, hi)
	}
	rows := []ConsentRule{base}
	rows = expand(rows, prov["actor"], func(r *ConsentRule, v any) bool {
		a, _ := v.(map[string]any)
		ref, _ := a["reference"].(map[string]any)
		s, _ := ref["reference"].(string)
		r.Actor = s
		return s != ""
	})
	rows = expand(rows, prov["resourceType"], func(r *ConsentRule, v any) bool {
		c, _ := v.(map[string]any)
		r.Type, _ = c["code"].(string)
		return r.Type != ""
	})
	rows = expand(rows, prov["securityLabel"], func(r *ConsentRule, v any) bool {
		c, _ := v.(map[string]any)
		r.LabelSystem, _ = c["system"].(string)
		r.LabelCode, _ = c["code"].(string)
		return r.LabelCode != ""
	})
	var codings []any
	if ccs, ok := prov["code"].([]any); ok {
		for _, cc := range ccs {
			if m, ok := cc.(map[string]any); ok {
				if cs, ok := m["coding"].([]any); ok {
					codings = append(codings, cs...)
				}
			}
		}
	}
	rows = expand(rows, codings, func(r *ConsentRule, v any) bool {
		c, _ := v.(map[string]any)
		r.CodeSystem, _ = c["system"].(string)
		r.CodeCode, _ = c["code"].(string)
		return r.CodeCode != ""
	})
	rows = expand(rows, prov["purpose"], func(r *ConsentRule, v any) bool {
		c, _ := v.(map[string]any)
		r.Purpose, _ = c["code"].(string)
		return r.Purpose != ""
	})
	rows = expand(rows, prov["data"], func(r *ConsentRule, v any) bool {
		d, _ := v.(map[string]any)
		ref, _ := d["reference"].(map[string]any)
		r.Data, _ = ref["reference"].(string)
		return r.Data != ""
	})
	out = append(out, rows...)
	nested, _ := prov["provision"].([]any)
	for i, n := range nested {
		// A nested provision narrows each combination of its parent's.
		for _, r := range rows {
			out = appendProvision(out, r, path+"."+strconv.Itoa(i), !permit, n)
		}
	}
	return out
}

// expand replaces each row by one per value of list (set by fill), or
// keeps the rows when list has no usable value.
func expand(rows []ConsentRule, list any, fill func(*ConsentRule, any) bool) []ConsentRule {
	items, _ := list.([]any)
	var out []ConsentRule
	for _, r := range rows {
		for _, v := range items {
			c := r
			if fill(&c, v) {
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		return rows
	}
	return out
}

type coded struct{ system, code string }

func codes(v any) []coded {
	var out []coded
	ccs, _ := v.([]any)
	for _, cc := range ccs {
		m, _ := cc.(map[string]any)
		cs, _ := m["coding"].([]any)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			s, _ := cm["system"].(string)
			code, _ := cm["code"].(string)
			out = append(out, coded{s, code})
		}
	}
	return out
}

// periodOf is a Period as [low, high) milliseconds, open ends unbounded.
func periodOf(v any) (low, high int64) {
	low, high = math.MinInt64, math.MaxInt64
	p, _ := v.(map[string]any)
	if s, ok := p["start"].(string); ok {
		if lo, _, err := DateRange(s); err == nil {
			low = lo
		}
	}
	if e, ok := p["end"].(string); ok {
		if _, hi, err := DateRange(e); err == nil {
			high = hi
		}
	}
	return low, high
}
