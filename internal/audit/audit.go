// Package audit turns what happened in an interaction into an R5 AuditEvent,
// following the IHE Basic Audit Log Patterns (agent, patient, entity, action,
// outcome, source, network address). Recording them durably is the store's
// job; deciding when is the access gate's.
package audit

import (
	"strings"
	"sync"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// Agent is who acted: a user, a client application, or an application
// acting on behalf of a user (both set), and from where.
type Agent struct {
	User    string // user name or subject, "" when unauthenticated
	Client  string // OAuth client id, "" when none
	Address string // network address of the caller
}

// agentsOf returns the AuditEvent agents of e, as IHE BALP records an
// OAuth-authorised request: the user (the requestor, with the purpose of
// use) and, when an app made the request, the app as a second agent
// (DICOM 110153 "Source Role ID", identified by its client id, with the
// network address it called from). R5 has no agent.onBehalfOf: two agents
// say that the client acted for the user. A backend service acting for
// nobody is the one, requesting, agent; a request without either is an
// anonymous user.
func agentsOf(e Entry) []any {
	var agents []any
	if e.Agent.User != "" || e.Agent.Client == "" {
		user := map[string]any{
			"type":      humanUserType,
			"who":       map[string]any{"display": nonEmpty(e.Agent.User, "anonymous")},
			"requestor": true,
		}
		if e.Agent.User != "" {
			user["who"] = map[string]any{"identifier": map[string]any{"system": UserSystem, "value": e.Agent.User}, "display": e.Agent.User}
		}
		if e.Purpose != "" {
			user["authorization"] = authorization(e.Purpose)
		}
		if e.Agent.Address != "" && e.Agent.Client == "" {
			user["networkString"] = e.Agent.Address
		}
		agents = append(agents, user)
	}
	if e.Agent.Client != "" {
		client := map[string]any{
			"type":      clientType,
			"who":       map[string]any{"identifier": map[string]any{"system": ClientSystem, "value": e.Agent.Client}, "display": "client " + e.Agent.Client},
			"requestor": e.Agent.User == "",
		}
		if e.Agent.User == "" && e.Purpose != "" {
			client["authorization"] = authorization(e.Purpose)
		}
		if e.Agent.Address != "" {
			client["networkString"] = e.Agent.Address
		}
		agents = append(agents, client)
	}
	return agents
}

// Entry is one interaction to record.
type Entry struct {
	Interaction string // FHIR restful-interaction code: read, vread, create, update, patch, delete, history-instance, …
	Type, ID    string // the resource acted on, when there is one
	VersionID   int64
	Patient     string // "Patient/123" when the interaction concerns one patient
	Query       string // the query string of a search or history, if any
	Agent       Agent
	Purpose     string // purpose of use (v3 ActReason code), "" when not given
	Outcome     Outcome
	Detail      string // for failures: what went wrong, as told to the client
	Recorded    time.Time
	Observer    string // the server that recorded it
	// Category, when set, makes this a security event rather than a FHIR
	// interaction: CategoryUserAuthentication or CategorySecurityAlert (see
	// security.go), with Interaction one of the codes listed there.
	Category string
	// Subject is the user account acted on ("" when none), for security
	// events: the account signing in, or the one an administrator changed.
	Subject string
	// SubjectClient is the OAuth client acted on ("" when none): the one
	// registered or removed.
	SubjectClient string
	// Files are what a command read or wrote (emr import, emr backup),
	// each an entity.
	Files []string
}

// Outcome is the AuditEvent outcome: success or which kind of failure.
type Outcome int

const (
	Success        Outcome = 0
	MinorFailure   Outcome = 4 // the request was refused (4xx)
	SeriousFailure Outcome = 8 // the server failed (5xx)
	MajorFailure   Outcome = 12
)

// actions maps interactions to the AuditEvent action code (C R U D E).
var actions = map[string]string{
	"create": "C", "read": "R", "vread": "R", "update": "U", "patch": "U", "delete": "D",
	"history-instance": "R", "history-type": "R", "history-system": "R",
	"search-type": "E", "search-system": "E", "search-compartment": "E",
	"capabilities": "R", "batch": "E", "transaction": "E", "operation": "E",
}

// Event builds the AuditEvent resource for e. Every audited read builds
// one, so the parts that never change (codings, the source, an agent's
// type) are built once and shared between events: change only an event's
// top-level elements, never what they hold.
func Event(e Entry) fhir.Resource {
	action := actionOf(e)
	agents := agentsOf(e)
	ev := fhir.Resource{
		"resourceType": "AuditEvent",
		"category":     restCategory,
		"code":         interactionCode(e.Interaction),
		"action":       action,
		"recorded":     e.Recorded.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"outcome":      outcomeOf(e),
		"agent":        agents,
		"source":       sourceOf(nonEmpty(e.Observer, "emr")),
	}
	if e.Category != "" {
		category, code := securityCodes(e)
		ev["category"] = []any{category}
		ev["code"] = code
		switch e.Category {
		case CategoryImport:
			ev["action"] = "C"
		case CategoryExport:
			ev["action"] = "R"
		default:
			ev["action"] = "E"
		}
	}
	if e.Patient != "" {
		ev["patient"] = map[string]any{"reference": e.Patient}
	}
	if entities := entitiesOf(e); len(entities) > 0 {
		ev["entity"] = entities
	}
	return ev
}

// actionOf is the AuditEvent.action of a FHIR interaction.
func actionOf(e Entry) string {
	if action := actions[e.Interaction]; action != "" {
		return action
	}
	return "E"
}

// interactionCode is the AuditEvent.code of a FHIR interaction, shared
// between events.
func interactionCode(interaction string) any {
	return cached(&interactionCodes, interaction, func() any {
		return codeableConcept(restInteractionSystem, interaction, "")
	})
}

// sourceOf is the AuditEvent.source of an observer, shared between events.
func sourceOf(observer string) any {
	return cached(&sources, observer, func() any {
		return map[string]any{
			"observer": map[string]any{"display": observer},
			"type":     []any{codeableConcept("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")},
		}
	})
}

// outcomeOf is the AuditEvent.outcome of e.
func outcomeOf(e Entry) map[string]any {
	code := outcomeCodings[e.Outcome]
	if code == nil {
		code = outcomeCoding(outcomeCode(e.Outcome)).(map[string]any)
	}
	out := map[string]any{"code": code}
	if e.Detail != "" {
		out["detail"] = []any{map[string]any{"text": e.Detail}}
	}
	return out
}

// outcomeCoding is the coding of an outcome code.
func outcomeCoding(code string) any {
	return coding("http://terminology.hl7.org/CodeSystem/audit-event-outcome", code, "")
}

// entityRef is the reference to what e acted on, versioned when it names
// a version.
func entityRef(e Entry) string {
	what := e.Type + "/" + e.ID
	if e.VersionID > 0 {
		what += "/_history/" + itoa(e.VersionID)
	}
	return what
}

// entitiesOf is the AuditEvent.entity of e: what it acted on, the query,
// the account or client acted on, the files read.
func entitiesOf(e Entry) []any {
	var entities []any
	if e.Type != "" {
		ent := map[string]any{"what": map[string]any{"reference": entityRef(e)}}
		if e.ID == "" {
			ent["what"] = map[string]any{"display": e.Type}
		}
		entities = append(entities, ent)
	}
	if e.Query != "" {
		entities = append(entities, map[string]any{
			"what":  map[string]any{"display": "query"},
			"query": base64(e.Query),
		})
	}
	if e.Subject != "" {
		entities = append(entities, map[string]any{
			"what": map[string]any{
				"identifier": map[string]any{"system": UserSystem, "value": e.Subject},
				"display":    "user " + e.Subject,
			},
		})
	}
	if e.SubjectClient != "" {
		entities = append(entities, map[string]any{
			"what": map[string]any{
				"identifier": map[string]any{"system": ClientSystem, "value": e.SubjectClient},
				"display":    "client " + e.SubjectClient,
			},
		})
	}
	for _, f := range e.Files {
		entities = append(entities, map[string]any{"what": map[string]any{"display": "file " + f}})
	}
	return entities
}

// PatientOf returns the "Patient/id" reference a resource belongs to, read
// from the resource itself or its subject/patient element, or "".
func PatientOf(res fhir.Resource) string {
	if res == nil {
		return ""
	}
	if res.Type() == "Patient" && res.ID() != "" {
		return "Patient/" + res.ID()
	}
	for _, key := range []string{"patient", "subject", "beneficiary", "for"} { // "for": Task
		refs, _ := res[key].([]any) // Composition.subject repeats
		if ref, ok := res[key].(map[string]any); ok {
			refs = []any{ref}
		}
		for _, r := range refs {
			ref, _ := r.(map[string]any)
			if s, ok := ref["reference"].(string); ok && strings.HasPrefix(s, "Patient/") {
				if i := strings.Index(s, "/_history/"); i > 0 {
					s = s[:i]
				}
				return s
			}
		}
	}
	return ""
}

// The code systems of purposes of use and of FHIR interactions.
const (
	purposeSystem         = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	restInteractionSystem = "http://hl7.org/fhir/restful-interaction"
)

// The shared, never changed, parts of events (see Event).
var (
	restCategory   = []any{codeableConcept("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation")}
	humanUserType  = codeableConcept("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser", "human user")
	clientType     = codeableConcept(dicomSystem, "110153", "Source Role ID")
	outcomeCodings = map[Outcome]map[string]any{}
	// interactionCodes, sources and purposes hold the code of each
	// interaction, the source of each observer and the authorization of
	// each purpose of use met so far: a handful each.
	interactionCodes, sources, purposes sync.Map
)

func init() {
	for _, o := range []Outcome{Success, MinorFailure, SeriousFailure, MajorFailure} {
		outcomeCodings[o] = coding("http://terminology.hl7.org/CodeSystem/audit-event-outcome", outcomeCode(o), "")
	}
}

// cached returns the value of key in m, made by build the first time.
func cached(m *sync.Map, key string, build func() any) any {
	if v, ok := m.Load(key); ok {
		return v
	}
	v, _ := m.LoadOrStore(key, build())
	return v
}

// authorization is the agent.authorization of a purpose of use.
func authorization(purpose string) any {
	return cached(&purposes, purpose, func() any {
		return []any{codeableConcept(purposeSystem, purpose, "")}
	})
}

func outcomeCode(o Outcome) string {
	switch o {
	case MinorFailure:
		return "4"
	case SeriousFailure:
		return "8"
	case MajorFailure:
		return "12"
	default:
		return "0"
	}
}

func coding(system, code, display string) map[string]any {
	c := map[string]any{"system": system, "code": code}
	if display != "" {
		c["display"] = display
	}
	return c
}

func codeableConcept(system, code, display string) map[string]any {
	return map[string]any{"coding": []any{coding(system, code, display)}}
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
