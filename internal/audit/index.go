package audit

import (
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// Term is one search term of an AuditEvent: the value a search parameter
// matches it by. The store lists records by them (audit_posting), so that
// a search finds its candidates without reading the log.
type Term struct {
	Name, Value string
}

// Parameters the audit log is searched by, as R5 defines them on
// AuditEvent (SearchParameter AuditEvent-*, clinical-patient, clinical-date,
// clinical-code), plus agent-name (R4's, kept for clients that use it) and
// _security (break-glass events carry BTG). Token terms are indexed twice,
// as "code" and as "system|code", so both forms of a token search are one
// seek; references as "Type/id" (a versioned reference also without its
// version).
const (
	ParamID        = "_id"
	ParamPatient   = "patient"    // reference, AuditEvent.patient
	ParamAgent     = "agent"      // reference, AuditEvent.agent.who: its reference, identifier value or display
	ParamAgentName = "agent-name" // AuditEvent.agent.who.display, lower case
	ParamAction    = "action"     // token, AuditEvent.action
	ParamOutcome   = "outcome"    // token, AuditEvent.outcome.code
	ParamEntity    = "entity"     // reference, AuditEvent.entity.what
	ParamCategory  = "category"   // token, AuditEvent.category
	ParamCode      = "code"       // token, AuditEvent.code
	ParamPurpose   = "purpose"    // token, AuditEvent.authorization | AuditEvent.agent.authorization
	ParamSecurity  = "_security"  // token, meta.security
)

// Index returns the search terms of an AuditEvent to store, each once:
// Terms without the implicit values (see Implicit).
func Index(ev fhir.Resource) []Term { return withoutImplicit(Terms(ev)) }

// Terms returns every search term an AuditEvent matches, each once.
func Terms(ev fhir.Resource) []Term {
	// An event has a dozen or so terms: a scan finds a repeat faster than
	// a map, and allocates nothing.
	terms := make([]Term, 0, 24)
	add := func(name, value string) {
		t := Term{name, value}
		if value != "" && !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	}
	addRef := func(name string, ref any) {
		m, _ := ref.(map[string]any)
		s, _ := m["reference"].(string)
		add(name, s)
		if i := strings.Index(s, "/_history/"); i > 0 {
			add(name, s[:i])
		}
	}
	addCoding := func(name string, c any) {
		m, _ := c.(map[string]any)
		code, _ := m["code"].(string)
		if code == "" {
			return
		}
		add(name, code)
		if system, _ := m["system"].(string); system != "" {
			add(name, system+"|"+code)
		}
	}
	addConcept := func(name string, cc any) {
		m, _ := cc.(map[string]any)
		codings, _ := m["coding"].([]any)
		for _, c := range codings {
			addCoding(name, c)
		}
	}
	add(ParamID, ev.ID())
	addRef(ParamPatient, ev["patient"])
	if action, _ := ev["action"].(string); action != "" {
		add(ParamAction, action)
	}
	if outcome, _ := ev["outcome"].(map[string]any); outcome != nil {
		addCoding(ParamOutcome, outcome["code"])
	}
	categories, _ := ev["category"].([]any)
	for _, c := range categories {
		addConcept(ParamCategory, c)
	}
	addConcept(ParamCode, ev["code"])
	auths, _ := ev["authorization"].([]any)
	for _, a := range auths {
		addConcept(ParamPurpose, a)
	}
	agents, _ := ev["agent"].([]any)
	for _, a := range agents {
		agent, _ := a.(map[string]any)
		who, _ := agent["who"].(map[string]any)
		addRef(ParamAgent, who)
		if id, _ := who["identifier"].(map[string]any); id != nil {
			value, _ := id["value"].(string)
			add(ParamAgent, value)
		}
		if display, _ := who["display"].(string); display != "" {
			add(ParamAgent, display)
			add(ParamAgentName, strings.ToLower(display))
		}
		auths, _ := agent["authorization"].([]any)
		for _, a := range auths {
			addConcept(ParamPurpose, a)
		}
	}
	entities, _ := ev["entity"].([]any)
	for _, e := range entities {
		entity, _ := e.(map[string]any)
		addRef(ParamEntity, entity["what"])
	}
	if meta, _ := ev["meta"].(map[string]any); meta != nil {
		security, _ := meta["security"].([]any)
		for _, c := range security {
			addCoding(ParamSecurity, c)
		}
	}
	return terms
}

// implicitValues are the values nearly every event has (a successful read
// through the REST API: action R, outcome 0, category rest, code read),
// by parameter: code and system. They are not indexed, which halves the
// index rows of a read and the audit's cost per read; an event with no
// term of such a parameter has its implicit value, so a search for that
// value is "no term of the parameter" (every event the EMR records has an
// action, an outcome, a category and a code).
var implicitValues = map[string][2]string{
	ParamAction:   {"R", ""},
	ParamOutcome:  {"0", "http://terminology.hl7.org/CodeSystem/audit-event-outcome"},
	ParamCategory: {"rest", "http://terminology.hl7.org/CodeSystem/audit-event-type"},
	ParamCode:     {"read", "http://hl7.org/fhir/restful-interaction"},
}

// Implicit reports whether t is the implicit value of its parameter, in
// either of its token forms ("code" or "system|code").
func Implicit(t Term) bool {
	v, ok := implicitValues[t.Name]
	if !ok {
		return false
	}
	return t.Value == v[0] || (v[1] != "" && t.Value == v[1]+"|"+v[0])
}

// withoutImplicit drops a parameter's terms when they all say its
// implicit value; an event with the implicit value and another keeps both
// indexed, as "no term" would not describe it.
func withoutImplicit(terms []Term) []Term {
	// Per parameter with an implicit value: whether every term says it.
	var names [4]string
	var only [4]bool
	n := 0
	for _, t := range terms {
		if _, ok := implicitValues[t.Name]; !ok {
			continue
		}
		i := slices.Index(names[:n], t.Name)
		if i < 0 {
			i, n = n, n+1
			names[i], only[i] = t.Name, true
		}
		only[i] = only[i] && Implicit(t)
	}
	return slices.DeleteFunc(terms, func(t Term) bool {
		i := slices.Index(names[:n], t.Name)
		return i >= 0 && only[i]
	})
}
