package outbound

import (
	"fmt"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/tofhir"
)

// order is what an ORM^O01 says of one ServiceRequest version.
type order struct {
	control   string        // ORC-1: NW, XO, CA, HD
	controlID string        // MSH-10
	sr        fhir.Resource // the order as it was last written (before a deletion, for one deleted)
	version   int64         // the version sent: sr's, or the deletion's
	patient   fhir.Resource
	requester fhir.Resource   // the Practitioner the request names, nil when none could be read
	specimens []fhir.Resource // the Specimens it names that could be read (OML^O21's SPM)
	at        time.Time       // when the version was written (ORC-9)
}

// Message types the sender writes.
const (
	ORM = "ORM^O01"
	OML = "OML^O21"
)

// message writes o as an ORM^O01 of HL7 v2.5.1: MSH, PID (the EMR's own
// id of the patient first, as type PI in the placer's namespace, then
// the patient's identifiers), PV1 when the order names an encounter, ORC
// (with when and how urgently it is to be done, ORC-7), OBR (what, who
// asks, why; OBR-27 as ORC-7) and an NTE per note. The placer order number is the
// ServiceRequest's id in the namespace Options.Placer; tofhir maps a
// result that carries it back to the order.
func (o *Orders) message(ord *order, now time.Time) ([]byte, error) {
	placer := o.Mapping.Placer
	sr, pat := ord.sr, ord.patient
	code := codeOf(asMap(asMap(sr["code"])["concept"]))
	if code == "" {
		return nil, fmt.Errorf("the order has no code (ServiceRequest.code.concept): nothing says what the laboratory is to do")
	}
	facility := o.Facility
	if facility == "" {
		facility = placer
	}
	oml := o.Message == OML
	structure := "ORM^O01^ORM_O01"
	if oml {
		structure = "OML^O21^OML_O21"
	}
	var b builder
	b.seg("MSH", "^~\\&", esc(placer), esc(facility), esc(o.Receiver[0]), esc(o.Receiver[1]), hl7v2.Timestamp(now), "",
		structure, esc(ord.controlID), "P", "2.5.1", "", "", "", "", "", "UNICODE UTF-8")
	// PID
	ids := []string{join('^', esc(pat.ID()), "", "", esc(placer), "PI")}
	for _, id := range asSlice(pat["identifier"]) {
		id := asMap(id)
		value, _ := id["value"].(string)
		system, _ := id["system"].(string)
		if value == "" {
			continue
		}
		ns, uid, typ := tofhir.Authority(system, o.Mapping)
		ids = append(ids, join('^', esc(value), "", "", join('&', esc(ns), esc(uid), esc(typ)), esc(typeCode(id))))
	}
	name := officialName(pat)
	var given []string
	for _, g := range asSlice(name["given"]) {
		if s, ok := g.(string); ok {
			given = append(given, s)
		}
	}
	xpn := ""
	if family, firstGiven := esc(str(name["family"])), esc(first(given)); family != "" || firstGiven != "" {
		// XPN: family, given, further given names, suffix, prefix,
		// degree, then the name type (L, legal) in component 7.
		xpn = join('^', family, firstGiven, esc(strings.Join(rest(given), " ")), "", "", "", "L")
	}
	b.seg("PID", "1", "", strings.Join(ids, "~"), "", xpn, "", dtm(str(pat["birthDate"])), sexes[str(pat["gender"])], "", "", address(pat))
	if enc := str(asMap(sr["encounter"])["reference"]); strings.HasPrefix(enc, "Encounter/") {
		b.seg("PV1", "1", "U", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
			join('^', esc(strings.TrimPrefix(enc, "Encounter/")), "", "", esc(placer), "VN"))
	}
	number := join('^', esc(sr.ID()), esc(placer))
	provider := o.provider(sr, ord.requester)
	// When and how urgently: OML^O21 has TQ1 (start TQ1-7, priority
	// TQ1-9); ORM^O01 has none, so a TQ (start in component 4, priority
	// in 6) in ORC-7 and OBR-27 carries it.
	start, priority := dtm(str(sr["occurrenceDateTime"])), priorities[str(sr["priority"])]
	timing := ""
	if !oml {
		timing = join('^', "", "", "", start, "", priority)
	}
	b.seg("ORC", ord.control, number, "", "", "", "", timing, "", hl7v2.Timestamp(ord.at), "", "", provider)
	if oml && (start != "" || priority != "") {
		b.seg("TQ1", "1", "", "", "", "", "", start, "", priority)
	}
	var reasons []string
	for _, r := range asSlice(sr["reason"]) {
		if c := codeOf(asMap(asMap(r)["concept"])); c != "" {
			reasons = append(reasons, c)
		}
	}
	b.seg("OBR", "1", number, "", code, "", "", "", "", "", "", "", "", "", "", "", provider,
		"", "", "", "", "", "", "", "", "", "", timing, "", "", "", strings.Join(reasons, "~"))
	n := 0
	for _, note := range asSlice(sr["note"]) {
		if text := str(asMap(note)["text"]); text != "" {
			n++
			b.seg("NTE", fmt.Sprint(n), "", escLines(text))
		}
	}
	if oml {
		// SPM: the specimen's id (placer's, in the placer namespace), its
		// type (SPM-4, required) and when it was collected (SPM-17).
		n = 0
		for _, sp := range ord.specimens {
			kind := codeOf(asMap(sp["type"]))
			if kind == "" {
				continue
			}
			n++
			collected := dtm(str(asMap(sp["collection"])["collectedDateTime"]))
			b.seg("SPM", fmt.Sprint(n), esc(sp.ID())+"&"+esc(placer), "", kind, "", "", "", "", "", "", "", "", "", "", "", "", collected)
		}
	}
	return []byte(strings.Join(b.segs, "\r") + "\r"), nil
}

// provider is the XCN of the ordering provider: the Practitioner's
// identifier and name when it could be read, else the display.
func (o *Orders) provider(sr, practitioner fhir.Resource) string {
	ref := asMap(sr["requester"])
	if practitioner != nil {
		name := officialName(practitioner)
		var given []string
		for _, g := range asSlice(name["given"]) {
			if s, ok := g.(string); ok {
				given = append(given, s)
			}
		}
		id, auth := "", ""
		if ids := asSlice(practitioner["identifier"]); len(ids) > 0 {
			first := asMap(ids[0])
			id = str(first["value"])
			ns, uid, typ := tofhir.Authority(str(first["system"]), o.Mapping)
			auth = join('&', esc(ns), esc(uid), esc(typ))
		}
		if family := str(name["family"]); family != "" || id != "" {
			return join('^', esc(id), esc(family), esc(first(given)), esc(strings.Join(rest(given), " ")), "", "", "", "", auth)
		}
	}
	return join('^', "", esc(str(ref["display"])))
}

// codeOf is a CodeableConcept as a CWE: its first coding whose system
// has an HL7 v2 name (else its first coding, as a local code) and the
// text; the text alone when it has no coding.
func codeOf(cc map[string]any) string {
	if cc == nil {
		return ""
	}
	codings := asSlice(cc["coding"])
	pick := map[string]any(nil)
	for _, c := range codings {
		c := asMap(c)
		if tofhir.CodeSystemName(str(c["system"])) != "" && str(c["code"]) != "" {
			pick = c
			break
		}
	}
	if pick == nil && len(codings) > 0 && str(asMap(codings[0])["code"]) != "" {
		pick = asMap(codings[0])
	}
	text := str(cc["text"])
	if pick == nil {
		if text == "" {
			return ""
		}
		return join('^', "", esc(text))
	}
	system := tofhir.CodeSystemName(str(pick["system"]))
	if system == "" {
		system = "L"
	}
	display := str(pick["display"])
	if display == "" {
		display = text
	}
	out := join('^', esc(str(pick["code"])), esc(display), esc(system))
	if text != "" && text != display {
		out = join('^', esc(str(pick["code"])), esc(display), esc(system), "", "", "", "", "", esc(text))
	}
	return out
}

// priorities maps ServiceRequest.priority to table 0485 (TQ component 6): urgent,
// which v2 has no code for, goes as A (as soon as possible).
var priorities = map[string]string{"routine": "R", "urgent": "A", "asap": "A", "stat": "S"}

var sexes = map[string]string{"male": "M", "female": "F", "other": "O", "unknown": "U"}

// typeCode is an Identifier's type as a table 0203 code ("" when it has
// none).
func typeCode(id map[string]any) string {
	for _, c := range asSlice(asMap(id["type"])["coding"]) {
		c := asMap(c)
		if str(c["system"]) == "http://terminology.hl7.org/CodeSystem/v2-0203" {
			return str(c["code"])
		}
	}
	return ""
}

// officialName is a resource's official name, else its first.
func officialName(res fhir.Resource) map[string]any {
	names := asSlice(res["name"])
	for _, n := range names {
		if asMap(n)["use"] == "official" {
			return asMap(n)
		}
	}
	if len(names) > 0 {
		return asMap(names[0])
	}
	return map[string]any{}
}

// address is the patient's home (else first) address as an XAD.
func address(pat fhir.Resource) string {
	addrs := asSlice(pat["address"])
	var a map[string]any
	for _, x := range addrs {
		if asMap(x)["use"] == "home" {
			a = asMap(x)
			break
		}
	}
	if a == nil && len(addrs) > 0 {
		a = asMap(addrs[0])
	}
	if a == nil {
		return ""
	}
	var lines []string
	for _, l := range asSlice(a["line"]) {
		if s, ok := l.(string); ok {
			lines = append(lines, s)
		}
	}
	return join('^', esc(first(lines)), esc(strings.Join(rest(lines), ", ")), esc(str(a["city"])), esc(str(a["state"])),
		esc(str(a["postalCode"])), esc(str(a["country"])), map[string]string{"home": "H", "work": "O"}[str(a["use"])])
}

// dtm writes a FHIR date, dateTime or instant as an HL7 v2 DTM: the
// digits of the date and time, and the offset as +hhmm.
func dtm(v string) string {
	if v == "" {
		return ""
	}
	zone := ""
	switch {
	case strings.HasSuffix(v, "Z"):
		v, zone = strings.TrimSuffix(v, "Z"), "+0000"
	case len(v) > 6 && strings.Contains(v, "T") && (v[len(v)-6] == '+' || v[len(v)-6] == '-') && v[len(v)-3] == ':':
		v, zone = v[:len(v)-6], v[len(v)-6:len(v)-3]+v[len(v)-2:]
	}
	return strings.NewReplacer("-", "", ":", "", "T", "").Replace(v) + zone
}

// builder collects segments.
type builder struct{ segs []string }

// seg adds a segment of fields (already escaped and joined), leaving out
// the empty ones at its end.
func (b *builder) seg(name string, fields ...string) {
	for len(fields) > 0 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1]
	}
	if name == "MSH" {
		b.segs = append(b.segs, "MSH|"+strings.Join(fields, "|"))
		return
	}
	b.segs = append(b.segs, strings.Join(append([]string{name}, fields...), "|"))
}

// join joins parts with sep, leaving out the empty ones at the end.
func join(sep byte, parts ...string) string {
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, string(sep))
}

// esc escapes a value with the default delimiters.
func esc(s string) string { return hl7v2.DefaultDelimiters.EscapeText(s) }

// escLines escapes a text whose lines become repetitions (FT would keep
// them as \.br\; a repetition each is what the inbound mapping joins).
func escLines(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = esc(l)
	}
	return strings.Join(lines, "~")
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func rest(s []string) []string {
	if len(s) < 2 {
		return nil
	}
	return s[1:]
}
