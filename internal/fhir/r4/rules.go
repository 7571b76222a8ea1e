package r4

import (
	"slices"

	"github.com/emr-project/emr/internal/fhir"
)

// supported lists the resource types with a conversion. Types not listed
// are refused, not passed through: a type nobody has looked at could lose
// meaning silently even where its elements line up.
var supported = map[string]bool{}

// rulesToR5 and rulesToR4 are keyed by the source element path
// ("Encounter.class", "Procedure.performed[x]", "Dosage.asNeeded[x]").
var (
	rulesToR5 = map[string]rule{}
	rulesToR4 = map[string]rule{}
	// defaultsR5 fill, by R5 object path, what R5 requires and R4 implies.
	defaultsR5 = map[string]func(map[string]any){}
)

func init() {
	for _, t := range []string{
		"AllergyIntolerance", "Appointment", "Bundle", "CarePlan", "CareTeam", "Claim", "Condition",
		"Coverage", "Device", "DiagnosticReport", "DocumentReference", "Encounter", "ExplanationOfBenefit",
		"Goal", "ImagingStudy", "Immunization", "Location", "Medication", "MedicationAdministration",
		"MedicationRequest", "Observation", "Organization", "Patient", "Practitioner", "PractitionerRole",
		"Procedure", "Provenance", "ServiceRequest", "SupplyDelivery",
	} {
		supported[t] = true
	}

	// Renames: same content under another name (a choice keeps its type suffix).
	for r4, r5 := range map[string]string{
		"Encounter.period":                      "actualPeriod",
		"Encounter.participant.individual":      "actor",
		"Encounter.location.physicalType":       "form",
		"Procedure.performed[x]":                "occurrence",
		"MedicationAdministration.effective[x]": "occurence", // sic: R5 spells it so
		"Coverage.payor":                        "insurer",
	} {
		r5path := parentPath(r4) + "." + r5
		if isChoicePath(r4) {
			r5path += "[x]"
		}
		addToR5(r4, rename(r5))
		addToR4(r5path, rename(nameOf(r4)))
	}

	// Dosage.asNeeded[x] splits into asNeeded (boolean) and asNeededFor (list).
	addToR5("Dosage.asNeeded[x]", byType(map[string]string{"boolean": "asNeeded", "CodeableConcept": "asNeededFor"}))
	addToR4("Dosage.asNeeded", rename("asNeededBoolean"))
	addToR4("Dosage.asNeededFor", rename("asNeededCodeableConcept"))

	// Coding → CodeableConcept.
	for _, p := range []string{"Encounter.class", "ImagingStudy.modality", "ImagingStudy.series.modality", "ImagingStudy.series.laterality"} {
		addToR5(p, mapItems(nameOf(p), codingToConcept))
		addToR4(p, inverseItems(nameOf(p), conceptToCoding))
	}
	// Coding → CodeableReference(concept).
	addToR5("ImagingStudy.series.bodySite", mapItems("bodySite", func(v any) any { return map[string]any{"concept": codingToConcept(v)} }))
	addToR4("ImagingStudy.series.bodySite", inverseItems("bodySite", func(v any) (any, bool) {
		cr, ok := v.(map[string]any)
		if !ok || !onlyKeys(cr, "concept") {
			return nil, false
		}
		return conceptToCoding(cr["concept"])
	}))
	// CodeableConcept → CodeableReference(concept), renamed.
	addToR5("ImagingStudy.procedureCode", mapItems("procedure", concept))
	addToR4("ImagingStudy.procedure", inverseItems("procedureCode", fromConcept))

	// code → CodeableConcept.
	addToR5("AllergyIntolerance.type", mapItems("type", func(v any) any {
		return map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/allergy-intolerance-type", "code": v}}}
	}))
	addToR4("AllergyIntolerance.type", inverseItems("type", func(v any) (any, bool) {
		c, ok := conceptToCoding(v)
		cm, _ := c.(map[string]any)
		if !ok || !onlyKeys(cm, "system", "code") || cm["system"] != "http://hl7.org/fhir/allergy-intolerance-type" {
			return nil, false
		}
		return cm["code"], true
	}))

	// reasonCode / reasonReference → reason (CodeableReference).
	for _, t := range []string{"Procedure", "Immunization", "MedicationRequest", "MedicationAdministration", "ServiceRequest", "ImagingStudy", "Appointment", "CarePlan.activity.detail"} {
		addToR5(t+".reasonCode", mapItems("reason", concept))
		addToR5(t+".reasonReference", mapItems("reason", reference))
		addToR4(t+".reason", splitReasons(false))
	}
	addToR5("Encounter.reasonCode", mapItems("reason", func(v any) any { return map[string]any{"value": []any{concept(v)}} }))
	addToR5("Encounter.reasonReference", mapItems("reason", func(v any) any { return map[string]any{"value": []any{reference(v)}} }))
	addToR4("Encounter.reason", splitReasons(true))

	// medication[x] → medication (CodeableReference).
	for _, t := range []string{"MedicationRequest", "MedicationAdministration"} {
		addToR5(t+".medication[x]", toCodeableReference("medication"))
		addToR4(t+".medication", fromCodeableReference("medication"))
	}

	// Codes whose value sets changed.
	addToR5("Encounter.status", codeMap(encounterStatusR5, encounterStatusR4))
	addToR4("Encounter.status", codeMap(encounterStatusR4, encounterStatusR5))

	// Encounter.diagnosis.condition: Reference → CodeableReference list.
	addToR5("Encounter.diagnosis.condition", mapItems("condition", reference))
	addToR4("Encounter.diagnosis.condition", inverseItems("condition", fromReference))

	// Condition and AllergyIntolerance: recorder and asserter become
	// participants with the function author and informant.
	for _, t := range []string{"Condition", "AllergyIntolerance"} {
		addToR5(t+".recorder", mapItems("participant", participant("author")))
		addToR5(t+".asserter", mapItems("participant", participant("informant")))
		addToR4(t+".participant", fromParticipants)
	}

	// Coverage.kind is new and required in R5; an R4 Coverage is insurance.
	defaultsR5["Coverage"] = func(out map[string]any) {
		if _, ok := out["kind"]; !ok {
			out["kind"] = "insurance"
		}
	}
	// CodeableConcept → CodeableReference(concept).
	addToR5("AllergyIntolerance.reaction.manifestation", mapItems("manifestation", concept))
	addToR4("AllergyIntolerance.reaction.manifestation", inverseItems("manifestation", fromConcept))
	// Device.udiCarrier.issuer is mandatory in R5: carriers without one stay
	// an extension.
	addToR5("Device.udiCarrier", keepUnless(func(v any) bool {
		m, _ := v.(map[string]any)
		_, ok := m["issuer"]
		return ok
	}))
	addToR4("Coverage.kind", func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		if src[key] == "insurance" && src["_"+key] == nil {
			return nil
		}
		return c.keep(out, src, key, e, ty)
	})
}

// addToR5 and addToR4 register a rule; a second rule for the same element
// is a programming error.
func addToR5(path string, r rule) { addRule(rulesToR5, path, r) }
func addToR4(path string, r rule) { addRule(rulesToR4, path, r) }

func addRule(rules map[string]rule, path string, r rule) {
	if _, dup := rules[path]; dup {
		panic("r4: two rules for " + path)
	}
	rules[path] = r
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' {
			return p[:i]
		}
	}
	return ""
}

func nameOf(p string) string {
	n := p[len(parentPath(p))+1:]
	if isChoicePath(n) {
		n = n[:len(n)-3]
	}
	return n
}

func isChoicePath(p string) bool { return len(p) > 3 && p[len(p)-3:] == "[x]" }

// rename moves an element to another name below the same parent.
func rename(to string) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		tk := to
		if e.choice {
			if te, ok := c.to.lookup(at + "." + to); !ok || te.choice {
				tk += upperFirst(ty)
			}
		}
		return c.element(out, src, key, tk, e, ty, at)
	}
}

// byType renames a choice element according to its type.
func byType(to map[string]string) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		tk, ok := to[ty]
		if !ok {
			return c.keep(out, src, key, e, ty)
		}
		return c.element(out, src, key, tk, e, ty, at)
	}
}

// keepUnless converts an element as usual when every value passes ok, and
// keeps it whole as an extension otherwise.
func keepUnless(ok func(any) bool) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		for _, v := range asList(src[key]) {
			if !ok(v) {
				return c.keep(out, src, key, e, ty)
			}
		}
		return c.element(out, src, key, key, e, ty, at)
	}
}

// mapItems converts each value of a complex element with fn into the
// target element to (appending when it repeats).
func mapItems(to string, fn func(any) any) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		if _, ok := src["_"+key]; ok {
			return c.keep(out, src, key, e, ty)
		}
		var items []any
		for _, v := range asList(src[key]) {
			items = append(items, fn(fhir.CloneValue(v)))
		}
		if !c.put(out, at, to, items) {
			return c.keep(out, src, key, e, ty)
		}
		return nil
	}
}

// inverseItems undoes mapItems with fn, which reports whether a value fits
// the source version. When one does not, the whole element is kept as an
// extension and the first value that fits, or else the first part of one
// that fits in part (fn returns it with false), fills the element, so that
// a mandatory element stays present.
func inverseItems(to string, fn func(any) (any, bool)) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		var items, partial []any
		all := true
		for _, v := range asList(src[key]) {
			w, ok := fn(v)
			switch {
			case ok:
				items = append(items, fhir.CloneValue(w))
			case w != nil:
				partial = append(partial, fhir.CloneValue(w))
				all = false
			default:
				all = false
			}
		}
		if _, ok := src["_"+key]; ok {
			all = false
		}
		if all && c.put(out, at, to, items) {
			return nil
		}
		if items = append(items, partial...); len(items) > 0 {
			c.put(out, at, to, items[:1])
		}
		return c.keep(out, src, key, e, ty)
	}
}

// put stores items under the target element at.to, as a list or a single
// value as the target defines it; false when they do not fit.
func (c *converter) put(out map[string]any, at, to string, items []any) bool {
	te, ok := c.to.lookup(at + "." + to)
	if !ok {
		return false
	}
	if te.list {
		list, _ := out[to].([]any)
		out[to] = append(list, items...)
		return true
	}
	if len(items) != 1 || out[to] != nil {
		return false
	}
	out[to] = items[0]
	return true
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func onlyKeys(m map[string]any, keys ...string) bool {
	if m == nil {
		return false
	}
	for k := range m {
		if !slices.Contains(keys, k) {
			return false
		}
	}
	return true
}

func codingToConcept(v any) any { return map[string]any{"coding": []any{v}} }

// conceptToCoding gives the coding of a CodeableConcept that holds exactly
// one coding and nothing else; of any other with codings, the first, in part.
func conceptToCoding(v any) (any, bool) {
	cc, _ := v.(map[string]any)
	list, _ := cc["coding"].([]any)
	if len(list) == 0 {
		return nil, false
	}
	return list[0], len(list) == 1 && onlyKeys(cc, "coding")
}

func fromReference(v any) (any, bool) {
	cr, ok := v.(map[string]any)
	if !ok || !onlyKeys(cr, "reference") {
		return nil, false
	}
	return cr["reference"], true
}

const participantType = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

func participant(function string) func(any) any {
	return func(actor any) any {
		return map[string]any{
			"function": map[string]any{"coding": []any{map[string]any{"system": participantType, "code": function}}},
			"actor":    actor,
		}
	}
}

// fromParticipants turns participants back into recorder (author) and
// asserter (informant); with any other participant, or more than one of
// either, the element is kept whole as an extension.
func fromParticipants(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
	found := map[string]any{}
	for _, v := range asList(src[key]) {
		p, _ := v.(map[string]any)
		coding, ok := conceptToCoding(p["function"])
		cm, _ := coding.(map[string]any)
		field := map[any]string{"author": "recorder", "informant": "asserter"}[cm["code"]]
		if !ok || !onlyKeys(p, "function", "actor") || !onlyKeys(cm, "system", "code") || cm["system"] != participantType ||
			field == "" || found[field] != nil {
			return c.keep(out, src, key, e, ty)
		}
		found[field] = p["actor"]
	}
	for k, v := range found {
		out[k] = fhir.CloneValue(v)
	}
	return nil
}

func concept(v any) any   { return map[string]any{"concept": v} }
func reference(v any) any { return map[string]any{"reference": v} }

func fromConcept(v any) (any, bool) {
	cr, ok := v.(map[string]any)
	if !ok || !onlyKeys(cr, "concept") {
		return nil, false
	}
	return cr["concept"], true
}

// splitReasons turns R5 reason (CodeableReference, or for Encounter a
// backbone of use and value) back into reasonCode and reasonReference.
func splitReasons(encounter bool) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		var codes, refs []any
		all := true
		for _, v := range asList(src[key]) {
			cr, _ := v.(map[string]any)
			if encounter {
				vals, _ := cr["value"].([]any)
				if !onlyKeys(cr, "value") || len(vals) != 1 {
					all = false
					continue
				}
				cr, _ = vals[0].(map[string]any)
			}
			switch {
			case onlyKeys(cr, "concept"):
				codes = append(codes, fhir.CloneValue(cr["concept"]))
			case onlyKeys(cr, "reference"):
				refs = append(refs, fhir.CloneValue(cr["reference"]))
			default:
				all = false
			}
		}
		if !all {
			return c.keep(out, src, key, e, ty)
		}
		if len(codes) > 0 {
			out["reasonCode"] = codes
		}
		if len(refs) > 0 {
			out["reasonReference"] = refs
		}
		return nil
	}
}

// codeMap translates a code through forward; back is the translation the
// other direction applies. A code that would not come back the same way (or
// has no translation) is translated where possible and also kept as an
// extension, which the way back restores.
func codeMap(forward, back map[string]string) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		code, _ := src[key].(string)
		to, ok := forward[code]
		if !ok {
			return c.keep(out, src, key, e, ty)
		}
		out[key] = to
		if ext, ok := src["_"+key]; ok {
			out["_"+key] = fhir.CloneValue(ext)
		}
		if back[to] != code {
			// keep the original beside the translation
			kept := map[string]any{}
			if err := c.keep(kept, map[string]any{key: code}, key, e, ty); err != nil {
				return err
			}
			list, _ := out["extension"].([]any)
			out["extension"] = append(list, kept["extension"].([]any)...)
		}
		return nil
	}
}

// Encounter.status: R4 planned | arrived | triaged | in-progress | onleave |
// finished | cancelled | entered-in-error | unknown; R5 planned | in-progress
// | on-hold | discharged | completed | cancelled | discontinued |
// entered-in-error | unknown.
var (
	encounterStatusR5 = map[string]string{
		"planned": "planned", "arrived": "in-progress", "triaged": "in-progress", "in-progress": "in-progress",
		"onleave": "on-hold", "finished": "completed", "cancelled": "cancelled",
		"entered-in-error": "entered-in-error", "unknown": "unknown",
	}
	encounterStatusR4 = map[string]string{
		"planned": "planned", "in-progress": "in-progress", "on-hold": "onleave", "discharged": "finished",
		"completed": "finished", "cancelled": "cancelled", "discontinued": "cancelled",
		"entered-in-error": "entered-in-error", "unknown": "unknown",
	}
)
