// Package tofhir maps inbound HL7 v2 messages to FHIR R5 requests
// (Map): a transaction Bundle, or for an ADT^A40 the Parameters of
// Patient/$merge, which the FHIR API then validates, authorises, audits
// and carries out as one transaction:
//
//   - ADT A01 (admit), A04 (register), A08 (update) and A03 (discharge):
//     the Patient of PID, created or replaced, and the Encounter of PV1;
//     ADT A40 (merge) is Patient/$merge of the patient of MRG into the
//     one of PID.
//   - ORU^R01: for each OBR, a DiagnosticReport, and for each of its OBX an
//     Observation, with the value by OBX-2, the reference range (OBX-7)
//     and the abnormal flags (OBX-8); the Patient is created when no
//     Patient has its identifier, and left as it is otherwise.
//   - VXU^V04: for each ORC/RXA, an Immunization (vaccine, time, dose,
//     lot, manufacturer, route and site, performers, status); the Patient
//     as for an ORU.
//   - SIU S12, S13, S14, S15, S17, S26: the Appointment of SCH, booked,
//     rescheduled, modified, cancelled, deleted or missed, with the
//     patient, personnel and location as participants.
//   - ORM^O01, OML^O21: for each ORC/OBR, a ServiceRequest (what, who
//     asked, when, priority, status by order control).
//
// Every resource is written by a conditional update on an identifier the
// message carries (the Patient of a message other than an ADT by a
// conditional create), so a message sent again, or a corrected result,
// changes the resources the first one made and never makes them twice. Identifiers are scoped by
// their assigning authority: urn:oid: for an ISO OID, a URI given for a
// namespace (Options.Authorities), and otherwise the sending facility's
// (MSH-4, else MSH-3), so that two senders' numbers cannot meet.
//
// What the mapping cannot take (an event it does not map, a required
// field missing, a value that is not of its type) is an *Error saying
// where, which the caller answers with an AR or an AE: nothing of the
// message is written then.
package tofhir

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/store"
)

// Options configure the mapping.
type Options struct {
	// Authorities maps an assigning authority's namespace (HD-1, as in
	// PID-3.4.1) to the URI its identifiers have as Identifier.system.
	Authorities map[string]string
	// Zone is the time zone of times written without an offset when MSH-7
	// has none either (time.Local when nil).
	Zone *time.Location
	// Placer is the namespace (EI-2, CX-4) of the numbers the EMR gives
	// in the orders it sends (package outbound): a result whose placer
	// order number (OBR-2, else ORC-2) is in it is based on that
	// ServiceRequest, and a patient identifier of type PI in it is the
	// EMR's own Patient id. Each must then exist: the message is AE
	// otherwise. "" matches nothing.
	Placer string
}

// Error is a message the mapping refuses: Code is the acknowledgment it
// deserves (hl7v2.AR for what the EMR does not take, hl7v2.AE for a
// message of a kind it takes that is wrong), Problem where and why.
type Error struct {
	Code    string
	Problem hl7v2.Problem
}

func (e *Error) Error() string { return "hl7v2: " + e.Problem.String() }

// unsupported is an AR for a message the mapping does not take.
func unsupported(code int, format string, args ...any) *Error {
	return &Error{Code: hl7v2.AR, Problem: hl7v2.Problem{Code: code, Segment: "MSH", Sequence: 1, Field: 9, Text: fmt.Sprintf(format, args...)}}
}

// wrong is an AE for a field of the sequence-th segment named seg.
func wrong(code int, seg string, sequence, field int, format string, args ...any) *Error {
	return &Error{Code: hl7v2.AE, Problem: hl7v2.Problem{Code: code, Segment: seg, Sequence: sequence, Field: field, Text: fmt.Sprintf(format, args...)}}
}

// Events are the message types and trigger events Map maps.
var Events = []string{"ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08", "ADT^A40", "ORU^R01", "VXU^V04",
	"SIU^S12", "SIU^S13", "SIU^S14", "SIU^S15", "SIU^S17", "SIU^S26", "ORM^O01", "OML^O21"}

// Request is what a message asks of the FHIR API: Body posted to Path
// under its base ("" for a transaction Bundle posted to the base).
// Warnings are what of the message the request leaves out (severity W),
// for the acknowledgment to say once the request is carried out.
type Request struct {
	Path     string
	Body     fhir.Resource
	Warnings []hl7v2.Problem
}

// Map maps m to the request that writes what it says: an ADT^A40 to
// Patient/$merge (merge), every other message a transaction (bundle).
func Map(m *hl7v2.Message, opts Options) (*Request, error) {
	if code, event, _ := m.Type(); code == "ADT" && event == "A40" {
		params, err := merge(m, opts)
		if err != nil {
			return nil, err
		}
		return &Request{Path: "Patient/$merge", Body: params}, nil
	}
	mp, err := mapMessage(m, opts)
	if err != nil {
		return nil, err
	}
	return &Request{Body: mp.bundle(), Warnings: mp.warnings}, nil
}

// mapMessage maps m, a message other than an ADT^A40, to the entries of a
// transaction Bundle.
func mapMessage(m *hl7v2.Message, opts Options) (*mapper, error) {
	code, event, _ := m.Type()
	var do func(*mapper) error
	switch code + "^" + event {
	case "ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08":
		do = func(mp *mapper) error { return mp.adt(event) }
	case "ADT^A40":
		return nil, unsupported(hl7v2.ErrUnsupportedEvent, "an ADT^A40 is a merge, not a transaction (Map makes its request)")
	case "ORU^R01":
		do = (*mapper).oru
	case "VXU^V04":
		do = (*mapper).vxu
	case "SIU^S12", "SIU^S13", "SIU^S14", "SIU^S15", "SIU^S17", "SIU^S26":
		do = func(mp *mapper) error { return mp.siu(event) }
	case "ORM^O01", "OML^O21":
		do = (*mapper).orm
	default:
		if !strings.Contains(strings.Join(Events, " "), code+"^") {
			return nil, unsupported(hl7v2.ErrUnsupportedType, "message type %s is not taken (%s are)", code, strings.Join(Events, ", "))
		}
		return nil, unsupported(hl7v2.ErrUnsupportedEvent, "event %s^%s is not taken (%s are)", code, event, strings.Join(Events, ", "))
	}
	mp := &mapper{m: m, d: m.Delims, opts: opts, count: map[string]int{}, keys: map[string]bool{}}
	if err := mp.init(); err != nil {
		return nil, err
	}
	if err := do(mp); err != nil {
		return nil, err
	}
	if mp.bad != nil {
		return nil, mp.bad
	}
	return mp, nil
}

// bundle is the transaction Bundle of the mapped entries.
func (mp *mapper) bundle() fhir.Resource {
	return fhir.Resource{"resourceType": "Bundle", "type": "transaction", "entry": mp.entries}
}

// mapper holds one message's mapping.
type mapper struct {
	m       *hl7v2.Message
	d       hl7v2.Delimiters
	opts    Options
	zone    *time.Location // of times without an offset
	sender  string         // the sending facility's identifier system
	entries []any
	count   map[string]int  // segments seen, by name, for error locations
	keys    map[string]bool // "Type system|value" of the resources mapped
	bad     *Error          // the first value FHIR cannot hold
	// patientCriteria find the message's patient among a ServiceRequest's
	// search parameters ("patient=id", "patient.identifier=system|value"):
	// a result is based on an order of the EMR's only if the order is
	// that patient's.
	patientCriteria string
	// warnings are what the mapping leaves out of a message it takes.
	warnings []hl7v2.Problem
	utf8     bool // MSH-18 says UTF-8: no other bytes are read
}

func (mp *mapper) init() error {
	msh := mp.m.Segment("MSH")
	mp.utf8 = strings.EqualFold(strings.TrimSpace(msh.Raw(18, 1, 1, 1)), "UNICODE UTF-8")
	mp.zone = mp.opts.Zone
	if mp.zone == nil {
		mp.zone = time.Local
	}
	if t, err := parseDTM(mp.val(msh, 7, 1, 1, 1), mp.zone); err == nil && t.offset {
		mp.zone = t.t.Location()
	}
	// The sending facility, else the sending application, scopes what the
	// message identifies without an assigning authority.
	for _, field := range []int{4, 3} {
		if sys := mp.hd(msh, field, 1, 0); sys != "" {
			mp.sender = sys
			return nil
		}
	}
	return wrong(hl7v2.ErrRequiredField, "MSH", 1, 4, "the sending facility (MSH-4) or application (MSH-3) is required: it scopes the message's identifiers")
}

// val is the unescaped value of a field's component and subcomponent
// (1-based), "" when absent. A value with a control character (other
// than tab, CR and LF, which FHIR strings may hold) makes the message
// wrong.
func (mp *mapper) val(s *hl7v2.Segment, field, rep, comp, sub int) string {
	return strings.TrimSpace(mp.text(s, field, s.Raw(field, rep, comp, sub)))
}

// text is raw, a value of field of s as written, unescaped, as UTF-8: a
// message whose character set (MSH-18) is not UTF-8 ("UNICODE UTF-8") has
// its bytes that are not UTF-8 read as ISO 8859-1, as many senders in
// Europe write (8859/1, 8859/15, or nothing said); in a message that says
// it is UTF-8 they make it wrong, as a control character (other than tab,
// CR and LF, which FHIR strings may hold) does in any.
func (mp *mapper) text(s *hl7v2.Segment, field int, raw string) string {
	if !utf8.ValidString(raw) {
		if mp.utf8 {
			mp.fail(s, field, "a value is not UTF-8 text, the character set MSH-18 gives")
		} else {
			raw = fromLatin1(raw)
		}
	}
	v := mp.d.Unescape(raw)
	if strings.IndexFunc(v, isControl) >= 0 || !utf8.ValidString(v) {
		mp.fail(s, field, "a value holds a control character")
	}
	return v
}

// fromLatin1 reads s as ISO 8859-1: each byte is the code point of its
// value.
func fromLatin1(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// fail notes a data type error in field of s, if it is the message's
// first.
func (mp *mapper) fail(s *hl7v2.Segment, field int, format string, args ...any) {
	if mp.bad != nil {
		return
	}
	sequence := 0
	for _, other := range mp.m.All(s.Name) {
		sequence++
		if other == s {
			break
		}
	}
	mp.bad = wrong(hl7v2.ErrDataType, s.Name, sequence, field, format, args...)
}

// code is a value that becomes a FHIR code, which holds no white space
// but single spaces between words: one that cannot makes the message
// wrong.
func (mp *mapper) code(s *hl7v2.Segment, field, rep, comp, sub int) string {
	v := mp.val(s, field, rep, comp, sub)
	if v != "" && (strings.Join(strings.Fields(v), " ") != v || strings.ContainsAny(v, "\t\r\n")) {
		mp.fail(s, field, "the code %q has white space other than single spaces between words", v)
	}
	return v
}

func isControl(r rune) bool { return r < 0x20 && r != '\t' && r != '\r' && r != '\n' || r == 0x7f }

// hd is the identifier system of the hierarchic designator (HD-1
// namespace, HD-2 universal id, HD-3 its type) that is component comp of
// field's repetition rep, its parts as subcomponents; comp 0 when the HD
// is the whole field (MSH-3, MSH-4), its parts as components.
func (mp *mapper) hd(s *hl7v2.Segment, field, rep, comp int) string {
	part := func(i int) string { return mp.val(s, field, rep, comp, i) }
	if comp == 0 {
		part = func(i int) string { return mp.val(s, field, rep, i, 1) }
	}
	return mp.authority(part(1), part(2), part(3))
}

// authority is the identifier system of namespace ns, universal id uid of
// type typ.
func (mp *mapper) authority(ns, uid, typ string) string {
	if uri, ok := mp.opts.Authorities[ns]; ok && ns != "" {
		return uri
	}
	switch strings.ToUpper(typ) {
	case "ISO":
		if isOID(uid) {
			return "urn:oid:" + uid
		}
	case "UUID":
		if uid != "" {
			return "urn:uuid:" + strings.ToLower(uid)
		}
	case "URI", "URL":
		if u, err := url.Parse(uid); err == nil && u.IsAbs() {
			return uid
		}
	}
	if ns == "" {
		return ""
	}
	return localAuthority(ns)
}

// ei is the identifier system of the entity identifier (EI: entity id,
// namespace id, universal id, its type) in field of s: its assigning
// authority's, else the sending facility's.
func (mp *mapper) ei(s *hl7v2.Segment, field int) string {
	if sys := mp.authority(mp.val(s, field, 1, 2, 1), mp.val(s, field, 1, 3, 1), mp.val(s, field, 1, 4, 1)); sys != "" {
		return sys
	}
	return mp.sender
}

// addNote appends an Annotation of text to res.
func addNote(res fhir.Resource, text string) {
	if text == "" {
		return
	}
	notes, _ := res["note"].([]any)
	res["note"] = append(notes, map[string]any{"text": text})
}

// localAuthority is the identifier system of a namespace (HD-1) with no
// universal id and no URI in Options.Authorities.
func localAuthority(namespace string) string {
	return localAuthorityPrefix + url.PathEscape(namespace)
}

const localAuthorityPrefix = "urn:emr:hl7v2:authority:"

func isOID(s string) bool {
	if s == "" || s[0] < '0' || s[0] > '2' {
		return false
	}
	for _, arc := range strings.Split(s, ".") {
		if arc == "" {
			return false
		}
		for i := 0; i < len(arc); i++ {
			if arc[i] < '0' || arc[i] > '9' {
				return false
			}
		}
	}
	return strings.Contains(s, ".")
}

// add appends a transaction entry: a conditional update of res on the
// identifier (system|value), or a conditional create when create is set.
// It returns the entry's fullUrl, for references.
func (mp *mapper) add(res fhir.Resource, system, value string, create bool) string {
	full := "urn:uuid:" + store.NewID()
	criteria := "identifier=" + url.QueryEscape(system+"|"+value)
	req := map[string]any{"method": "PUT", "url": res.Type() + "?" + criteria}
	if create {
		req = map[string]any{"method": "POST", "url": res.Type(), "ifNoneExist": criteria}
	}
	mp.entries = append(mp.entries, map[string]any{"fullUrl": full, "resource": map[string]any(res), "request": req})
	return full
}

// seen counts a segment, for the error locations of its fields.
func (mp *mapper) seen(s *hl7v2.Segment) int {
	mp.count[s.Name]++
	return mp.count[s.Name]
}

// patient maps PID to a Patient entry and returns its fullUrl. An ADT
// replaces the Patient its identifier finds (the message is the
// registration system's whole record of the patient); an ORU creates it
// only when none has it.
func (mp *mapper) patient(replace bool) (string, error) {
	pid := mp.m.Segment("PID")
	if pid == nil {
		return "", wrong(hl7v2.ErrSegmentSequence, "PID", 1, 0, "the message has no PID segment")
	}
	if !replace {
		if id := mp.own(pid, 3, "PI"); id != "" {
			// A patient the EMR sent in an order: the one it has, never
			// another made from the identifiers echoed back.
			mp.patientCriteria = "patient=" + url.QueryEscape(id)
			return "Patient?_id=" + id, nil
		}
	}
	p := fhir.Resource{"resourceType": "Patient"}
	ids, key := mp.identifiers(pid, 3)
	if key == nil {
		return "", wrong(hl7v2.ErrRequiredField, "PID", 1, 3, "the patient identifier list (PID-3) has no identifier")
	}
	p["identifier"] = ids
	if names := mp.names(pid, 5); len(names) > 0 {
		p["name"] = names
	}
	if b := mp.val(pid, 7, 1, 1, 1); b != "" {
		t, err := parseDTM(b, mp.zone)
		if err != nil {
			return "", wrong(hl7v2.ErrDataType, "PID", 1, 7, "date of birth %q: %v", b, err)
		}
		p["birthDate"] = t.date()
	}
	if g := mp.val(pid, 8, 1, 1, 1); g != "" {
		gender, ok := genders[strings.ToUpper(g)]
		if !ok {
			return "", wrong(hl7v2.ErrTableValue, "PID", 1, 8, "administrative sex %q is not one of table 0001 (F, M, O, U, A, N, X)", g)
		}
		p["gender"] = gender
	}
	if addrs := mp.addresses(pid, 11); len(addrs) > 0 {
		p["address"] = addrs
	}
	var telecom []any
	telecom = append(telecom, mp.telecoms(pid, 13, "home")...)
	telecom = append(telecom, mp.telecoms(pid, 14, "work")...)
	if len(telecom) > 0 {
		p["telecom"] = telecom
	}
	if d := mp.val(pid, 29, 1, 1, 1); d != "" {
		t, err := parseDTM(d, mp.zone)
		if err != nil {
			return "", wrong(hl7v2.ErrDataType, "PID", 1, 29, "date of death %q: %v", d, err)
		}
		p["deceasedDateTime"] = t.dateTime()
	} else if strings.EqualFold(mp.val(pid, 30, 1, 1, 1), "Y") {
		p["deceasedBoolean"] = true
	}
	mp.patientCriteria = "patient.identifier=" + url.QueryEscape(key["system"].(string)+"|"+key["value"].(string))
	return mp.add(p, key["system"].(string), key["value"].(string), !replace), nil
}

// own is the first id in field of s (a CX or EI, repeated) that the
// EMR gave, its namespace (component 4 of a CX of type typ, 2 of an EI
// when typ is "") being Options.Placer; "" when there is none.
func (mp *mapper) own(s *hl7v2.Segment, field int, typ string) string {
	if mp.opts.Placer == "" || s == nil {
		return ""
	}
	ns := 2
	if typ != "" {
		ns = 4
	}
	for rep := 1; rep <= s.Repetitions(field); rep++ {
		if mp.val(s, field, rep, ns, 1) != mp.opts.Placer || typ != "" && !strings.EqualFold(mp.val(s, field, rep, 5, 1), typ) {
			continue
		}
		id := mp.val(s, field, rep, 1, 1)
		if !fhir.ValidID(id) {
			mp.fail(s, field, "%q, given as an id of this EMR (namespace %s), is not a FHIR id", id, mp.opts.Placer)
			return ""
		}
		return id
	}
	return ""
}

// identifiers maps the CX repetitions of field, and returns the one a
// patient is found by too: the first medical record number (MR), else
// the first; nil when there is none.
func (mp *mapper) identifiers(s *hl7v2.Segment, field int) (ids []any, key map[string]any) {
	keyMR := false
	for rep := 1; rep <= s.Repetitions(field); rep++ {
		id := mp.identifier(s, field, rep)
		if id == nil {
			continue
		}
		ids = append(ids, id)
		if mr := mp.val(s, field, rep, 5, 1) == "MR"; key == nil || mr && !keyMR {
			key, keyMR = id, mr
		}
	}
	return ids, key
}

var genders = map[string]string{"F": "female", "M": "male", "O": "other", "A": "other", "X": "other", "U": "unknown", "N": "unknown"}

// identifier maps a CX to an Identifier, nil when it has no value. An
// identifier without an assigning authority is the sending facility's.
func (mp *mapper) identifier(s *hl7v2.Segment, field, rep int) map[string]any {
	value := mp.val(s, field, rep, 1, 1)
	if value == "" {
		return nil
	}
	system := mp.hd(s, field, rep, 4)
	if system == "" {
		system = mp.sender
	}
	id := map[string]any{"system": system, "value": value}
	if typ := mp.code(s, field, rep, 5, 1); typ != "" {
		id["type"] = map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": typ}}}
	}
	return id
}

// names maps the XPN repetitions of field.
func (mp *mapper) names(s *hl7v2.Segment, field int) []any {
	var out []any
	for rep := 1; rep <= s.Repetitions(field); rep++ {
		n := map[string]any{}
		if family := mp.val(s, field, rep, 1, 1); family != "" {
			n["family"] = family
		}
		var given []any
		for _, c := range []int{2, 3} {
			if g := mp.val(s, field, rep, c, 1); g != "" {
				given = append(given, g)
			}
		}
		if len(given) > 0 {
			n["given"] = given
		}
		if v := mp.val(s, field, rep, 4, 1); v != "" {
			n["suffix"] = []any{v}
		}
		if v := mp.val(s, field, rep, 5, 1); v != "" {
			n["prefix"] = []any{v}
		}
		if len(n) == 0 {
			continue
		}
		if use, ok := nameUses[mp.val(s, field, rep, 7, 1)]; ok {
			n["use"] = use
		}
		out = append(out, n)
	}
	return out
}

// nameUses maps table 0200 (name type) to HumanName.use.
var nameUses = map[string]string{"L": "official", "D": "usual", "A": "nickname", "N": "nickname", "M": "maiden", "B": "old", "C": "anonymous", "S": "anonymous", "U": "temp"}

// addresses maps the XAD repetitions of field.
func (mp *mapper) addresses(s *hl7v2.Segment, field int) []any {
	var out []any
	for rep := 1; rep <= s.Repetitions(field); rep++ {
		a := map[string]any{}
		var lines []any
		if l := mp.val(s, field, rep, 1, 1); l != "" {
			lines = append(lines, l)
		}
		if l := mp.val(s, field, rep, 2, 1); l != "" {
			lines = append(lines, l)
		}
		if len(lines) > 0 {
			a["line"] = lines
		}
		for comp, key := range map[int]string{3: "city", 4: "state", 5: "postalCode", 6: "country"} {
			if v := mp.val(s, field, rep, comp, 1); v != "" {
				a[key] = v
			}
		}
		if len(a) == 0 {
			continue
		}
		switch mp.val(s, field, rep, 7, 1) {
		case "H":
			a["use"] = "home"
		case "B", "O":
			a["use"] = "work"
		case "C":
			a["use"] = "temp"
		case "M":
			a["type"] = "postal"
		case "BA":
			a["use"] = "billing"
		}
		out = append(out, a)
	}
	return out
}

// telecoms maps the XTN repetitions of field, of use (home or work).
func (mp *mapper) telecoms(s *hl7v2.Segment, field int, use string) []any {
	var out []any
	for rep := 1; rep <= s.Repetitions(field); rep++ {
		value, system := mp.val(s, field, rep, 1, 1), "phone"
		switch equipment := mp.val(s, field, rep, 3, 1); {
		case equipment == "Internet" || equipment == "X.400":
			if email := mp.val(s, field, rep, 4, 1); email != "" {
				value = email
			}
			system = "email"
		case equipment == "FX":
			system = "fax"
		case equipment == "BP":
			system = "pager"
		}
		if value == "" {
			if unformatted := mp.val(s, field, rep, 12, 1); unformatted != "" {
				value = unformatted
			} else if number := mp.val(s, field, rep, 7, 1); number != "" {
				value = mp.val(s, field, rep, 6, 1) + number
			}
		}
		if value == "" {
			continue
		}
		t := map[string]any{"system": system, "value": value, "use": use}
		if mp.val(s, field, rep, 3, 1) == "CP" {
			t["use"] = "mobile"
		}
		out = append(out, t)
	}
	return out
}

// person maps an XCN to a logical Reference: the practitioner's
// identifier and name, nil when it has neither.
func (mp *mapper) person(s *hl7v2.Segment, field, rep int) map[string]any {
	ref := map[string]any{}
	if v := mp.val(s, field, rep, 1, 1); v != "" {
		system := mp.hd(s, field, rep, 9)
		if system == "" {
			system = mp.sender
		}
		ref["identifier"] = map[string]any{"system": system, "value": v}
	}
	var name []string
	for _, comp := range []int{6, 3, 4, 2, 5} { // prefix, given, middle, family, suffix
		if v := mp.val(s, field, rep, comp, 1); v != "" {
			name = append(name, v)
		}
	}
	if len(name) > 0 {
		ref["display"] = strings.Join(name, " ")
	}
	if len(ref) == 0 {
		return nil
	}
	ref["type"] = "Practitioner"
	return ref
}

// location is a PL (point of care, room, bed, facility) as text.
func (mp *mapper) location(s *hl7v2.Segment, field int) string {
	var parts []string
	for _, comp := range []int{4, 1, 2, 3} {
		if v := mp.val(s, field, 1, comp, 1); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, ", ")
}

// codeSystems maps HL7 v2 coding system names (table 0396) to FHIR URIs.
var codeSystems = map[string]string{
	"LN": "http://loinc.org", "SCT": "http://snomed.info/sct", "SNM": "http://snomed.info/sct", "SNOMED": "http://snomed.info/sct",
	"I10": "http://hl7.org/fhir/sid/icd-10", "I10C": "http://hl7.org/fhir/sid/icd-10-cm", "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
	"I9C": "http://hl7.org/fhir/sid/icd-9-cm", "I9CDX": "http://hl7.org/fhir/sid/icd-9-cm",
	"UCUM": "http://unitsofmeasure.org", "CVX": "http://hl7.org/fhir/sid/cvx", "NDC": "http://hl7.org/fhir/sid/ndc",
	"RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm", "RXN": "http://www.nlm.nih.gov/research/umls/rxnorm",
	"CPT": "http://www.ama-assn.org/go/cpt", "C4": "http://www.ama-assn.org/go/cpt",
}

// codeSystem is the FHIR URI of an HL7 v2 coding system name; "" for a
// local one (99zzz, L, …), whose codes keep their text.
func codeSystem(name string) string {
	if uri, ok := codeSystems[strings.ToUpper(name)]; ok {
		return uri
	}
	if n := strings.TrimPrefix(strings.ToUpper(name), "HL7"); len(n) == 4 && n != name {
		if _, err := strconv.Atoi(n); err == nil {
			return "http://terminology.hl7.org/CodeSystem/v2-" + n
		}
	}
	return ""
}

// concept maps a CWE (CE, CNE) to a CodeableConcept, nil when empty: the
// identifier triplet and the alternate one as codings, the original text
// (CWE-9) or the first text as text.
func (mp *mapper) concept(s *hl7v2.Segment, field, rep int) map[string]any {
	cc := map[string]any{}
	var codings []any
	for _, base := range []int{1, 4} {
		code, display, system := mp.code(s, field, rep, base, 1), mp.val(s, field, rep, base+1, 1), mp.val(s, field, rep, base+2, 1)
		if code == "" {
			continue
		}
		c := map[string]any{"code": code}
		if uri := codeSystem(system); uri != "" {
			c["system"] = uri
		}
		if display != "" {
			c["display"] = display
		}
		codings = append(codings, c)
	}
	if len(codings) > 0 {
		cc["coding"] = codings
	}
	text := mp.val(s, field, rep, 9, 1)
	if text == "" {
		text = mp.val(s, field, rep, 2, 1)
	}
	if text != "" {
		cc["text"] = text
	}
	if len(cc) == 0 {
		return nil
	}
	return cc
}

// number is an NM value (an optional sign, digits, an optional point
// and digits) as a FHIR decimal, its precision kept: "+007.50" is 7.50.
func number(s string) (json.Number, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	whole, frac, point := strings.Cut(s, ".")
	if whole == "" && frac == "" || !digits(whole) || !digits(frac) || len(whole) > 18 || len(frac) > 17 {
		return "", false
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	out := whole
	if point && frac != "" {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return json.Number(out), true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
