package audit

import (
	encb64 "encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

func base64(s string) string { return encb64.StdEncoding.EncodeToString([]byte(s)) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Encoded is an AuditEvent ready for the store: the bytes it keeps and
// chains, and the event's search terms to store (Index).
type Encoded struct {
	Stored []byte
	Terms  []Term
}

// The forms of a stored event: its JSON (any event: what Event builds,
// encoded) or, for an event Encode takes, its entry in compact form,
// which Render turns into exactly the JSON Event would have made. The
// JSON of a compact form must never change for records already written: a
// change to the event a compact entry stands for is a new form byte.
const compactV1 = 0x01

// Encode returns, for an entry of a FHIR interaction (no Category,
// Subject, SubjectClient or Files), the event with the id id in compact
// form and the terms Index returns for it, without building the
// resource: every audited read and search records one, and building,
// encoding and walking the resource was most of what recording it cost
// the request; the compact form is a fifth of the JSON's size, which the
// log's commits and disk pay for. It reports false for any other entry,
// which goes through Event. TestEncode holds Render and the terms to
// Event and Index over varied entries.
func Encode(e Entry, id string) (Encoded, bool) {
	if !compactable(e) || id == "" {
		return Encoded{}, false
	}
	return Encoded{Stored: appendCompact(make([]byte, 0, 160), e, id), Terms: entryTerms(e, id)}, true
}

func compactable(e Entry) bool {
	return e.Category == "" && e.Subject == "" && e.SubjectClient == "" && len(e.Files) == 0
}

// Render returns the AuditEvent JSON of a stored event.
func Render(stored []byte) ([]byte, error) {
	if len(stored) > 0 && stored[0] == compactV1 {
		e, id, err := decodeCompact(stored)
		if err != nil {
			return nil, err
		}
		return appendEventJSON(make([]byte, 0, 1536), e, id), nil
	}
	return stored, nil
}

// StoredTerms returns the search terms to store (Index) of a stored event.
func StoredTerms(stored []byte) ([]Term, error) {
	if len(stored) > 0 && stored[0] == compactV1 {
		e, id, err := decodeCompact(stored)
		if err != nil {
			return nil, err
		}
		return entryTerms(e, id), nil
	}
	ev, err := fhir.ParseResource(stored)
	if err != nil {
		return nil, err
	}
	return Index(ev), nil
}

// appendCompact appends the compact form of e with id: the form byte,
// then each string as its length and bytes, then the numbers as varints.
func appendCompact(b []byte, e Entry, id string) []byte {
	b = append(b, compactV1)
	for _, s := range [...]string{id, e.Interaction, e.Type, e.ID, e.Patient, e.Query,
		e.Agent.User, e.Agent.Client, e.Agent.Address, e.Purpose, e.Detail, e.Observer} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, e.VersionID)
	b = binary.AppendVarint(b, int64(e.Outcome))
	return binary.AppendVarint(b, e.Recorded.UnixMilli())
}

var errCompact = errors.New("audit: a compact event is malformed")

// decodeCompact reads what appendCompact wrote.
func decodeCompact(b []byte) (Entry, string, error) {
	var (
		e  Entry
		id string
	)
	b = b[1:]
	for _, s := range [...]*string{&id, &e.Interaction, &e.Type, &e.ID, &e.Patient, &e.Query,
		&e.Agent.User, &e.Agent.Client, &e.Agent.Address, &e.Purpose, &e.Detail, &e.Observer} {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return Entry{}, "", errCompact
		}
		*s = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	var nums [3]int64
	for i := range nums {
		v, k := binary.Varint(b)
		if k <= 0 {
			return Entry{}, "", errCompact
		}
		nums[i], b = v, b[k:]
	}
	if len(b) != 0 || id == "" {
		return Entry{}, "", errCompact
	}
	e.VersionID, e.Outcome, e.Recorded = nums[0], Outcome(nums[1]), time.UnixMilli(nums[2]).UTC()
	return e, id, nil
}

// appendEventJSON appends what Event(e), with the id id, encodes to, for
// an entry Encode takes.
func appendEventJSON(b []byte, e Entry, id string) []byte {
	// Keys in the order fhir.AppendJSON writes them: resourceType, id,
	// then byte order.
	b = append(b, `{"resourceType":"AuditEvent","id":`...)
	b = fhir.AppendString(b, id)
	b = append(b, `,"action":`...)
	b = fhir.AppendString(b, actionOf(e))
	b = append(b, `,"agent":`...)
	b = appendAgents(b, e)
	b = append(b, `,"category":`...)
	b = append(b, fixedJSON.category()...)
	b = append(b, `,"code":`...)
	b = append(b, constantJSON(&codeJSON, e.Interaction, interactionCode)...)
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
	if e.Patient != "" {
		b = append(b, `,"patient":{"reference":`...)
		b = fhir.AppendString(b, e.Patient)
		b = append(b, '}')
	}
	b = append(b, `,"recorded":"`...)
	b = e.Recorded.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","source":`...)
	b = append(b, constantJSON(&sourceJSON, nonEmpty(e.Observer, "emr"), sourceOf)...)
	return append(b, '}')
}

// entryTerms returns what Index returns for Event(e) with the id id, for
// an entry Encode takes.
func entryTerms(e Entry, id string) []Term {
	terms := make([]Term, 0, 12)
	add := func(name, value string) {
		if t := (Term{name, value}); value != "" && !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	}
	add(ParamID, id)
	if action := actionOf(e); action != implicitValues[ParamAction][0] {
		add(ParamAction, action)
	}
	// The category is always rest, the implicit value.
	if e.Interaction != implicitValues[ParamCode][0] {
		add(ParamCode, e.Interaction)
		add(ParamCode, restInteractionSystem+"|"+e.Interaction)
	}
	if code := outcomeCode(e.Outcome); code != implicitValues[ParamOutcome][0] {
		add(ParamOutcome, code)
		add(ParamOutcome, implicitValues[ParamOutcome][1]+"|"+code)
	}
	addRef(add, ParamPatient, e.Patient)
	// The agents': reference (none here), identifier value, display and
	// its lower case; the purpose of use.
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
	return terms
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
