package audit

import (
	encb64 "encoding/base64"
	"strconv"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/fhir"
)

func base64(s string) string { return encb64.StdEncoding.EncodeToString([]byte(s)) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Encoded is an AuditEvent ready for the store: its JSON and its search
// terms to store.
type Encoded struct {
	JSON  []byte
	Terms []Term
}

// Encode returns, for an entry of a FHIR interaction (no Category,
// Subject, SubjectClient or Files), exactly what Event(e) with the id id
// encodes to and what Index returns for it, without building the resource:
// every audited read and search records one, and building, encoding and
// walking the resource was most of what recording it cost the request.
// It reports false for any other entry, which goes through Event.
// TestEncode holds it to Event and Index over varied entries.
func Encode(e Entry, id string) (Encoded, bool) {
	if e.Category != "" || e.Subject != "" || e.SubjectClient != "" || len(e.Files) > 0 || id == "" {
		return Encoded{}, false
	}
	action := actions[e.Interaction]
	if action == "" {
		action = "E"
	}
	terms := make([]Term, 0, 12)
	add := func(name, value string) {
		if value != "" {
			terms = append(terms, Term{name, value})
		}
	}
	// Keys in the order fhir.AppendJSON writes them: resourceType, id,
	// then byte order.
	b := make([]byte, 0, 1536)
	b = append(b, `{"resourceType":"AuditEvent","id":`...)
	b = fhir.AppendString(b, id)
	add(ParamID, id)
	b = append(b, `,"action":`...)
	b = fhir.AppendString(b, action)
	if action != implicitValues[ParamAction][0] {
		add(ParamAction, action)
	}
	b = append(b, `,"agent":`...)
	b = appendAgents(b, e)
	b = append(b, `,"category":`...)
	b = append(b, fixedJSON.category()...)
	b = append(b, `,"code":`...)
	b = append(b, constantJSON(&codeJSON, e.Interaction, interactionCode)...)
	if e.Interaction != implicitValues[ParamCode][0] {
		add(ParamCode, e.Interaction)
		add(ParamCode, interactionSystem+"|"+e.Interaction)
	}
	if e.Type != "" || e.Query != "" {
		b = append(b, `,"entity":[`...)
		if e.Type != "" {
			if e.ID == "" {
				b = append(b, `{"what":{"display":`...)
				b = fhir.AppendString(b, e.Type)
			} else {
				b = append(b, `{"what":{"reference":`...)
				b = fhir.AppendString(b, entityRef(e))
			}
			b = append(b, `}}`...)
		}
		if e.Query != "" {
			if e.Type != "" {
				b = append(b, ',')
			}
			b = append(b, `{"query":`...)
			b = fhir.AppendString(b, base64(e.Query))
			b = append(b, `,"what":{"display":"query"}}`...)
		}
		b = append(b, ']')
	}
	b = append(b, `,"outcome":{"code":`...)
	b = append(b, constantJSON(&outcomeJSON, outcomeCode(e.Outcome), outcomeCoding)...)
	if e.Detail != "" {
		b = append(b, `,"detail":[{"text":`...)
		b = fhir.AppendString(b, e.Detail)
		b = append(b, `}]`...)
	}
	b = append(b, '}')
	if code := outcomeCode(e.Outcome); code != implicitValues[ParamOutcome][0] {
		add(ParamOutcome, code)
		add(ParamOutcome, implicitValues[ParamOutcome][1]+"|"+code)
	}
	if e.Patient != "" {
		b = append(b, `,"patient":{"reference":`...)
		b = fhir.AppendString(b, e.Patient)
		b = append(b, '}')
		addRef(add, ParamPatient, e.Patient)
	}
	b = append(b, `,"recorded":`...)
	b = append(b, '"')
	b = e.Recorded.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, '"')
	b = append(b, `,"source":`...)
	observer := nonEmpty(e.Observer, "emr")
	b = append(b, constantJSON(&sourceJSON, observer, sourceOf)...)
	b = append(b, '}')

	// The agents' terms: reference (none here), identifier value,
	// display and its lower case; the purpose of use.
	if e.Purpose != "" {
		add(ParamPurpose, e.Purpose)
		add(ParamPurpose, purposeSystem+"|"+e.Purpose)
	}
	if e.Agent.User != "" || e.Agent.Client == "" {
		user := nonEmpty(e.Agent.User, "anonymous")
		add(ParamAgent, user)
		add(ParamAgentName, strings.ToLower(user))
	}
	if e.Agent.Client != "" {
		add(ParamAgent, e.Agent.Client)
		add(ParamAgent, "client "+e.Agent.Client)
		add(ParamAgentName, strings.ToLower("client "+e.Agent.Client))
	}
	if e.Type != "" && e.ID != "" {
		addRef(add, ParamEntity, entityRef(e))
	}
	return Encoded{JSON: b, Terms: dedupe(terms)}, true
}

// appendAgents appends the JSON of agentsOf(e) for an entry Encode takes.
func appendAgents(b []byte, e Entry) []byte {
	b = append(b, '[')
	if e.Agent.User != "" || e.Agent.Client == "" {
		b = append(b, '{')
		if e.Purpose != "" {
			b = append(b, `"authorization":`...)
			b = append(b, constantJSON(&purposeJSON, e.Purpose, authorization)...)
			b = append(b, ',')
		}
		if e.Agent.Address != "" && e.Agent.Client == "" {
			b = append(b, `"networkString":`...)
			b = fhir.AppendString(b, e.Agent.Address)
			b = append(b, ',')
		}
		b = append(b, `"requestor":true,"type":`...)
		b = append(b, fixedJSON.userType()...)
		if e.Agent.User != "" {
			b = append(b, `,"who":{"display":`...)
			b = fhir.AppendString(b, e.Agent.User)
			b = append(b, `,"identifier":{"system":`...)
			b = fhir.AppendString(b, UserSystem)
			b = append(b, `,"value":`...)
			b = fhir.AppendString(b, e.Agent.User)
			b = append(b, `}}}`...)
		} else {
			b = append(b, `,"who":{"display":"anonymous"}}`...)
		}
	}
	if e.Agent.Client != "" {
		if e.Agent.User != "" {
			b = append(b, ',')
		}
		b = append(b, '{')
		if e.Agent.User == "" && e.Purpose != "" {
			b = append(b, `"authorization":`...)
			b = append(b, constantJSON(&purposeJSON, e.Purpose, authorization)...)
			b = append(b, ',')
		}
		if e.Agent.Address != "" {
			b = append(b, `"networkString":`...)
			b = fhir.AppendString(b, e.Agent.Address)
			b = append(b, ',')
		}
		b = append(b, `"requestor":`...)
		b = strconv.AppendBool(b, e.Agent.User == "")
		b = append(b, `,"type":`...)
		b = append(b, fixedJSON.clientType()...)
		b = append(b, `,"who":{"display":`...)
		b = fhir.AppendString(b, "client "+e.Agent.Client)
		b = append(b, `,"identifier":{"system":`...)
		b = fhir.AppendString(b, ClientSystem)
		b = append(b, `,"value":`...)
		b = fhir.AppendString(b, e.Agent.Client)
		b = append(b, `}}}`...)
	}
	return append(b, ']')
}

// addRef adds a reference's terms: as given and, when versioned, without
// the version (as Terms does).
func addRef(add func(name, value string), name, ref string) {
	add(name, ref)
	if i := strings.Index(ref, "/_history/"); i > 0 {
		add(name, ref[:i])
	}
}

// dedupe drops repeated terms, keeping the first of each.
func dedupe(terms []Term) []Term {
	out := terms[:0]
	for _, t := range terms {
		seen := false
		for _, o := range out {
			if o == t {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, t)
		}
	}
	return out
}

// The JSON of the parts of events that never change: per interaction,
// outcome code, observer and purpose of use (a handful each), and the
// category and agent types.
var (
	codeJSON, outcomeJSON, sourceJSON, purposeJSON sync.Map
	fixedJSON                                      = struct{ category, userType, clientType func() []byte }{
		sync.OnceValue(func() []byte { return fhir.AppendJSON(nil, restCategory) }),
		sync.OnceValue(func() []byte { return fhir.AppendJSON(nil, humanUserType) }),
		sync.OnceValue(func() []byte { return fhir.AppendJSON(nil, clientType) }),
	}
)

// constantJSON returns the JSON of part(key), kept in m after the first
// time.
func constantJSON(m *sync.Map, key string, part func(string) any) []byte {
	if b, ok := m.Load(key); ok {
		return b.([]byte)
	}
	b, _ := m.LoadOrStore(key, fhir.AppendJSON(nil, part(key)))
	return b.([]byte)
}
