package r4

import (
	"slices"

	"github.com/emr-project/emr/internal/fhir"
)

// Elements that R5 moved into another structure.

func init() {
	// Organization, Location and PractitionerRole: telecom (and the
	// Organization's address) move into contact (ExtendedContactDetail),
	// one contact per address and one for all telecoms.
	for _, t := range []string{"Organization", "Location", "PractitionerRole"} {
		addToR5(t+".telecom", intoContact("telecom", false))
		addToR4(t+".contact", fromContact(t == "Organization"))
	}
	addToR5("Organization.address", intoContact("address", true))
	addToR5("Location.physicalType", rename("form"))
	addToR4("Location.form", rename("physicalType"))

	// CarePlan.addresses: Reference → CodeableReference(reference).
	addToR5("CarePlan.addresses", mapItems("addresses", reference))
	addToR4("CarePlan.addresses", inverseItems("addresses", func(v any) (any, bool) {
		cr, ok := v.(map[string]any)
		if !ok || !onlyKeys(cr, "reference") {
			return nil, false
		}
		return cr["reference"], true
	}))

	// DocumentReference.content.format → content.profile.valueCoding.
	addToR5("DocumentReference.content.format", mapItems("profile", func(v any) any { return map[string]any{"valueCoding": v} }))
	addToR4("DocumentReference.content.profile", inverseItems("format", func(v any) (any, bool) {
		p, ok := v.(map[string]any)
		if !ok || !onlyKeys(p, "valueCoding") {
			return nil, false
		}
		return p["valueCoding"], true
	}))

	// DocumentReference.context (a backbone in R4) is spread over the
	// resource in R5: context.encounter → context, period, event,
	// facilityType and practiceSetting to the top. A context with
	// sourcePatientInfo or related (no R5 home there) is kept whole.
	addToR5("DocumentReference.context", flattenDocumentContext)
	addToR4("DocumentReference.context", intoDocumentContext("encounter", nil))
	addToR4("DocumentReference.period", intoDocumentContext("period", nil))
	addToR4("DocumentReference.facilityType", intoDocumentContext("facilityType", nil))
	addToR4("DocumentReference.practiceSetting", intoDocumentContext("practiceSetting", nil))
	addToR4("DocumentReference.event", intoDocumentContext("event", fromConcept))

	// Device.deviceName → name, for the name types both versions have.
	addToR5("Device.deviceName", mapAll("name", func(v any) (any, bool) {
		n, ok := v.(map[string]any)
		if !ok || !onlyKeys(n, "name", "type") || !deviceNameTypes[n["type"]] {
			return nil, false
		}
		return map[string]any{"value": n["name"], "type": n["type"]}, true
	}))
	addToR4("Device.name", mapAll("deviceName", func(v any) (any, bool) {
		n, ok := v.(map[string]any)
		if !ok || !onlyKeys(n, "value", "type") || !deviceNameTypes[n["type"]] {
			return nil, false
		}
		return map[string]any{"name": n["value"], "type": n["type"]}, true
	}))
}

// deviceNameTypes are the Device name types of both R4 and R5.
var deviceNameTypes = map[any]bool{"user-friendly-name": true, "patient-reported-name": true}

// mapAll converts every value of an element with fn into the target
// element to, or keeps the element whole when one value does not fit.
func mapAll(to string, fn func(any) (any, bool)) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		var items []any
		for _, v := range asList(src[key]) {
			w, ok := fn(v)
			if !ok {
				return c.keep(out, src, key, e, ty)
			}
			items = append(items, fhir.CloneValue(w))
		}
		if _, ok := src["_"+key]; ok || !c.put(out, at, to, items) {
			return c.keep(out, src, key, e, ty)
		}
		return nil
	}
}

// intoContact moves telecom (all in one contact) or address (one contact
// each) into contact.
func intoContact(field string, each bool) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		if _, ok := src["_"+key]; ok {
			return c.keep(out, src, key, e, ty)
		}
		list, _ := out["contact"].([]any)
		if each {
			for _, v := range asList(src[key]) {
				list = append(list, map[string]any{field: fhir.CloneValue(v)})
			}
		} else {
			list = append(list, map[string]any{field: fhir.CloneValue(asList(src[key]))})
		}
		out["contact"] = list
		return nil
	}
}

// fromContact undoes intoContact; contacts with anything else, or more
// than one with telecoms, keep the whole contact element as an extension.
func fromContact(address bool) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		var telecom, addresses []any
		for _, v := range asList(src[key]) {
			cd, _ := v.(map[string]any)
			switch {
			case onlyKeys(cd, "telecom") && telecom == nil:
				telecom = asList(cd["telecom"])
			case address && onlyKeys(cd, "address"):
				addresses = append(addresses, cd["address"])
			default:
				return c.keep(out, src, key, e, ty)
			}
		}
		if len(telecom) > 0 {
			out["telecom"] = fhir.CloneValue(telecom)
		}
		if len(addresses) > 0 {
			out["address"] = fhir.CloneValue(addresses)
		}
		return nil
	}
}

func flattenDocumentContext(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
	ctx, _ := src[key].(map[string]any)
	if !onlyKeys(ctx, "encounter", "period", "event", "facilityType", "practiceSetting") {
		return c.keep(out, src, key, e, ty)
	}
	for k, v := range ctx {
		switch k {
		case "encounter":
			list, _ := out["context"].([]any)
			out["context"] = append(list, fhir.CloneValue(asList(v)).([]any)...)
		case "event":
			var events []any
			for _, ev := range asList(v) {
				events = append(events, concept(fhir.CloneValue(ev)))
			}
			out["event"] = events
		default:
			out[k] = fhir.CloneValue(v)
		}
	}
	return nil
}

// intoDocumentContext puts an R5 DocumentReference element into the R4
// context backbone as field, through fn when given.
func intoDocumentContext(field string, fn func(any) (any, bool)) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		if _, ok := src["_"+key]; ok {
			return c.keep(out, src, key, e, ty)
		}
		v := fhir.CloneValue(src[key])
		if fn != nil {
			var items []any
			for _, item := range asList(v) {
				w, ok := fn(item)
				if !ok {
					return c.keep(out, src, key, e, ty)
				}
				items = append(items, w)
			}
			v = items
		}
		ctx, _ := out["context"].(map[string]any)
		if ctx == nil {
			ctx = map[string]any{}
			out["context"] = ctx
		}
		ctx[field] = v
		return nil
	}
}

// encounterAdmissionMoved are the R4 Encounter.hospitalization elements R5
// moved to the Encounter itself.
var encounterAdmissionMoved = []string{"dietPreference", "specialArrangement", "specialCourtesy"}

func init() {
	addToR5("Encounter.hospitalization", func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		hosp, ok := src[key].(map[string]any)
		if !ok {
			return c.keep(out, src, key, e, ty)
		}
		rest := make(map[string]any, len(hosp))
		for k, v := range hosp {
			if slices.Contains(encounterAdmissionMoved, k) {
				out[k] = fhir.CloneValue(v)
			} else {
				rest[k] = v
			}
		}
		if len(rest) == 0 && len(hosp) > 0 {
			return nil
		}
		return c.element(out, map[string]any{key: rest}, key, "admission", e, ty, at)
	})
	addToR4("Encounter.admission", rename("hospitalization"))
	for _, k := range encounterAdmissionMoved {
		addToR4("Encounter."+k, func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
			if _, ok := src["_"+key]; ok {
				return c.keep(out, src, key, e, ty)
			}
			hosp, _ := out["hospitalization"].(map[string]any)
			if hosp == nil {
				hosp = map[string]any{}
				out["hospitalization"] = hosp
			}
			hosp[key] = fhir.CloneValue(src[key])
			return nil
		})
	}

	// serviceType: CodeableConcept → CodeableReference(concept).
	for _, t := range []string{"Encounter", "Appointment"} {
		addToR5(t+".serviceType", mapItems("serviceType", concept))
		addToR4(t+".serviceType", inverseItems("serviceType", fromConcept))
	}
}
