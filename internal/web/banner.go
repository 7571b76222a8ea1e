package web

import (
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Banner is the patient banner: on every patient page, above everything,
// never scrolled away; it wraps rather than cut anything at phone width.
// It is built from what the page read, so it shows only what the user may
// see.
type Banner struct {
	ID        string
	Name      string // OKAFOR, Chidinma (Mrs)
	Preferred string // a preferred name, shown beside the legal one
	Born      string // 09-Mar-1984
	Age       string // 41y
	Sex       string
	MRN       string
	Deceased  string // "" when alive, else the date or "Not known"
	// Allergies are the substances of the active allergies; NoKnown says
	// "No known allergies" was recorded; neither means nobody recorded
	// anything ("Allergies not recorded").
	Allergies []string
	NoKnown   bool
	// AllergiesHidden: the user's role may not see allergies at all.
	AllergiesHidden bool
	// Alerts are the patient's active Flags (what each says).
	Alerts []string
	// Restricted: the record carries sensitive labels (Labels, their
	// names) or an active Consent limits who may see it (Consent);
	// Emergency: the user sees it by break-glass until then.
	Restricted bool
	Labels     []string
	Consent    bool
	Emergency  string
}

// The codes that record that a patient has no known allergy (SNOMED CT).
var noKnownAllergyCodes = map[string]bool{
	"716186003": true, // No known allergy
	"409137002": true, // No known drug allergy
	"428607008": true, // No known environmental allergy
	"429625007": true, // No known food allergy
}

const snomed = "http://snomed.info/sct"

// newBanner builds the banner of patient from its allergies, in l.
func newBanner(l *Locale, patient *store.Version, allergies []*store.Version, now time.Time) *Banner {
	p := patient.Resource
	b := &Banner{ID: patient.ID, Name: DisplayName(p), Preferred: preferredName(p), Sex: l.sex(str(p, "gender")), MRN: mrnOf(p)}
	birth := str(p, "birthDate")
	b.Born = l.Date(birth)
	b.Age = l.Age(birth, now)
	if d, ok := p["deceasedDateTime"].(string); ok {
		b.Deceased = l.Date(d)
	} else if d, ok := p["deceasedBoolean"].(bool); ok && d {
		b.Deceased = l.T("value.unknown")
	}
	for _, v := range allergies {
		a := v.Resource
		if status := codeOf(a["clinicalStatus"]); status != "" && status != "active" {
			continue
		}
		if codeOf(a["verificationStatus"]) == "entered-in-error" || codeOf(a["verificationStatus"]) == "refuted" {
			continue
		}
		if c, _ := a["code"].(map[string]any); c != nil && hasCode(c, snomed, noKnownAllergyCodes) {
			b.NoKnown = true
			continue
		}
		b.Allergies = append(b.Allergies, conceptText(a["code"]))
	}
	if len(b.Allergies) > 0 {
		b.NoKnown = false
	}
	if meta, _ := p["meta"].(map[string]any); meta != nil {
		sec, _ := meta["security"].([]any)
		for _, x := range sec {
			c, _ := x.(map[string]any)
			label := str(c, "display")
			if label == "" {
				label = str(c, "code")
			}
			if label != "" {
				b.Labels = append(b.Labels, label)
			}
		}
		b.Restricted = len(b.Labels) > 0
	}
	return b
}

// addAlerts adds the active Flags whose period has not ended.
func (b *Banner) addAlerts(flags []*store.Version, now time.Time) {
	for _, v := range flags {
		f := v.Resource
		if str(f, "status") != "active" {
			continue
		}
		if period, _ := f["period"].(map[string]any); period != nil {
			if end, ok := fhirTime(str(period, "end")); ok && end.Before(now) {
				continue
			}
		}
		if text := conceptText(f["code"]); text != "" {
			b.Alerts = append(b.Alerts, text)
		}
	}
}

// addConsents marks the record restricted when an active Consent limits
// it: a decision to deny, or exceptions (provisions) to a decision to
// permit, which in R5 are what the patient refused.
func (b *Banner) addConsents(consents []*store.Version) {
	for _, v := range consents {
		c := v.Resource
		if str(c, "status") != "active" {
			continue
		}
		provisions, _ := c["provision"].([]any)
		if str(c, "decision") == "deny" || len(provisions) > 0 {
			b.Consent, b.Restricted = true, true
		}
	}
}

// DisplayName writes a patient's name as the clinical screen wants it:
// family name in capitals, then given names, then the title in brackets
// (OKAFOR, Chidinma (Mrs)); names in any script as entered. The official
// or usual name is taken, else the first.
func DisplayName(p fhir.Resource) string {
	n := primaryName(p)
	if n == nil {
		return ""
	}
	if text, _ := n["text"].(string); text != "" && n["family"] == nil && n["given"] == nil {
		return text
	}
	family, _ := n["family"].(string)
	var out strings.Builder
	out.WriteString(strings.ToUpper(family))
	if given := strs(n["given"]); len(given) > 0 {
		if out.Len() > 0 {
			out.WriteString(", ")
		}
		out.WriteString(strings.Join(given, " "))
	}
	if prefix := strs(n["prefix"]); len(prefix) > 0 {
		out.WriteString(" (" + strings.Join(prefix, " ") + ")")
	}
	return out.String()
}

func primaryName(p fhir.Resource) map[string]any {
	names, _ := p["name"].([]any)
	var first map[string]any
	for _, x := range names {
		n, _ := x.(map[string]any)
		if n == nil {
			continue
		}
		if first == nil {
			first = n
		}
		if u, _ := n["use"].(string); u == "official" || u == "usual" {
			return n
		}
	}
	return first
}

func preferredName(p fhir.Resource) string {
	names, _ := p["name"].([]any)
	for _, x := range names {
		n, _ := x.(map[string]any)
		if u, _ := n["use"].(string); u == "nickname" {
			if g := strs(n["given"]); len(g) > 0 {
				return strings.Join(g, " ")
			}
			t, _ := n["text"].(string)
			return t
		}
	}
	return ""
}

// mrnOf returns the medical record number: the identifier typed MR, else
// the first identifier's value.
func mrnOf(p fhir.Resource) string {
	ids, _ := p["identifier"].([]any)
	first := ""
	for _, x := range ids {
		id, _ := x.(map[string]any)
		value, _ := id["value"].(string)
		if first == "" {
			first = value
		}
		if t, _ := id["type"].(map[string]any); t != nil && hasCode(t, "http://terminology.hl7.org/CodeSystem/v2-0203", map[string]bool{"MR": true}) {
			return value
		}
	}
	return first
}

func (l *Locale) sex(gender string) string {
	switch gender {
	case "male", "female", "other":
		return l.T("sex." + gender)
	}
	return l.T("sex.unknown")
}

func str(m map[string]any, key string) string { s, _ := m[key].(string); return s }

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// codeOf returns the first code of a CodeableConcept.
func codeOf(v any) string {
	cc, _ := v.(map[string]any)
	codings, _ := cc["coding"].([]any)
	for _, c := range codings {
		if code, _ := c.(map[string]any)["code"].(string); code != "" {
			return code
		}
	}
	return ""
}

func hasCode(cc map[string]any, system string, codes map[string]bool) bool {
	codings, _ := cc["coding"].([]any)
	for _, c := range codings {
		m, _ := c.(map[string]any)
		if m["system"] == system && codes[str(m, "code")] {
			return true
		}
	}
	return false
}

// conceptText is what a person reads of a CodeableConcept (or a
// CodeableReference's concept): its text, else the first display, else
// the first code.
func conceptText(v any) string {
	cc, _ := v.(map[string]any)
	if inner, ok := cc["concept"].(map[string]any); ok {
		cc = inner
	}
	if t := str(cc, "text"); t != "" {
		return t
	}
	codings, _ := cc["coding"].([]any)
	for _, c := range codings {
		if d := str(c.(map[string]any), "display"); d != "" {
			return d
		}
	}
	for _, c := range codings {
		if code := str(c.(map[string]any), "code"); code != "" {
			return code
		}
	}
	return ""
}
