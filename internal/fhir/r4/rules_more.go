package r4

import (
	"encoding/json"
	"strconv"

	"github.com/emr-project/emr/internal/fhir"
)

func init() {
	// string → Identifier.
	for _, p := range []string{"Coverage.class.value", "Coverage.subscriberId"} {
		addToR5(p, mapItems(nameOf(p), func(v any) any { return map[string]any{"value": v} }))
		addToR4(p, inverseItems(nameOf(p), func(v any) (any, bool) {
			id, _ := v.(map[string]any)
			if !onlyKeys(id, "value") {
				return id["value"], false
			}
			return id["value"], true
		}))
	}

	// code → CodeableConcept of the R4 code system.
	codeToConcept("DocumentReference.relatesTo.code", "http://hl7.org/fhir/document-relationship-type")

	// Medication: form → doseForm, ingredient.item[x] → item
	// (CodeableReference), ingredient.strength → strengthRatio.
	addToR5("Medication.form", rename("doseForm"))
	addToR4("Medication.doseForm", rename("form"))
	addToR5("Medication.ingredient.item[x]", toCodeableReference("item"))
	addToR4("Medication.ingredient.item", fromCodeableReference("item"))
	addToR5("Medication.ingredient.strength", rename("strengthRatio"))
	addToR4("Medication.ingredient.strength[x]", byType(map[string]string{"Ratio": "strength"}))

	// Reference or CodeableConcept → CodeableReference.
	for _, p := range []string{"ServiceRequest.supportingInfo", "Immunization.manufacturer"} {
		addToR5(p, mapItems(nameOf(p), reference))
		addToR4(p, inverseItems(nameOf(p), fromReference))
	}
	for _, p := range []string{"ServiceRequest.code"} {
		addToR5(p, mapItems(nameOf(p), concept))
		addToR4(p, inverseItems(nameOf(p), fromConcept))
	}
	addToR5("ServiceRequest.locationCode", mapItems("location", concept))
	addToR5("ServiceRequest.locationReference", mapItems("location", reference))
	addToR4("ServiceRequest.location", splitCodeableReferences("locationCode", "locationReference"))
	addToR5("Provenance.reason", mapItems("authorization", concept))
	addToR4("Provenance.authorization", inverseItems("reason", fromConcept))
	addToR5("Immunization.reportOrigin", mapItems("informationSource", concept))
	addToR4("Immunization.informationSource", inverseItems("reportOrigin", fromConcept))

	// Renames.
	for r4, r5 := range map[string]string{
		"MedicationRequest.dispenseRequest.performer": "dispenser",
		"DiagnosticReport.imagingStudy":               "study",
		"Goal.expressedBy":                            "source",
	} {
		addToR5(r4, rename(r5))
		addToR4(parentPath(r4)+"."+r5, rename(nameOf(r4)))
	}
	addToR5("CareTeam.participant.period", rename("coveragePeriod"))
	addToR4("CareTeam.participant.coverage[x]", byType(map[string]string{"Period": "period"}))

	// CareTeam.reasonCode / reasonReference, Goal.outcomeCode /
	// outcomeReference → CodeableReference lists.
	addToR5("CareTeam.reasonCode", mapItems("reason", concept))
	addToR5("CareTeam.reasonReference", mapItems("reason", reference))
	addToR4("CareTeam.reason", splitCodeableReferences("reasonCode", "reasonReference"))
	addToR5("Goal.outcomeCode", mapItems("outcome", concept))
	addToR5("Goal.outcomeReference", mapItems("outcome", reference))
	addToR4("Goal.outcome", splitCodeableReferences("outcomeCode", "outcomeReference"))

	// Appointment.comment → note (Annotation).
	addToR5("Appointment.comment", mapItems("note", func(v any) any { return map[string]any{"text": v} }))
	addToR4("Appointment.note", inverseItems("comment", func(v any) (any, bool) {
		n, _ := v.(map[string]any)
		return n["text"], onlyKeys(n, "text")
	}))
}

func codeToConcept(path, system string) {
	addToR5(path, mapItems(nameOf(path), func(v any) any {
		return map[string]any{"coding": []any{map[string]any{"system": system, "code": v}}}
	}))
	addToR4(path, inverseItems(nameOf(path), func(v any) (any, bool) {
		c, ok := conceptToCoding(v)
		cm, _ := c.(map[string]any)
		if !ok || !onlyKeys(cm, "system", "code") || cm["system"] != system {
			return cm["code"], false
		}
		return cm["code"], true
	}))
}

// toCodeableReference turns a choice of CodeableConcept and Reference into
// a CodeableReference named to.
func toCodeableReference(to string) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		if _, ok := src["_"+key]; ok {
			return c.keep(out, src, key, e, ty)
		}
		switch ty {
		case "CodeableConcept":
			out[to] = concept(fhir.CloneValue(src[key]))
		case "Reference":
			out[to] = reference(fhir.CloneValue(src[key]))
		default:
			return c.keep(out, src, key, e, ty)
		}
		return nil
	}
}

// fromCodeableReference undoes toCodeableReference; a value with both
// concept and reference keeps the concept and the whole as an extension.
func fromCodeableReference(to string) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		cr, _ := src[key].(map[string]any)
		switch {
		case onlyKeys(cr, "concept"):
			out[to+"CodeableConcept"] = fhir.CloneValue(cr["concept"])
		case onlyKeys(cr, "reference"):
			out[to+"Reference"] = fhir.CloneValue(cr["reference"])
		default:
			if cc, ok := cr["concept"]; ok {
				out[to+"CodeableConcept"] = fhir.CloneValue(cc)
			}
			return c.keep(out, src, key, e, ty)
		}
		return nil
	}
}

// splitCodeableReferences turns a CodeableReference list back into lists of
// concepts and references; with any value holding both or neither, the
// element is kept whole.
func splitCodeableReferences(codes, refs string) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		var cs, rs []any
		for _, v := range asList(src[key]) {
			cr, _ := v.(map[string]any)
			switch {
			case onlyKeys(cr, "concept"):
				cs = append(cs, fhir.CloneValue(cr["concept"]))
			case onlyKeys(cr, "reference"):
				rs = append(rs, fhir.CloneValue(cr["reference"]))
			default:
				return c.keep(out, src, key, e, ty)
			}
		}
		if len(cs) > 0 {
			out[codes] = cs
		}
		if len(rs) > 0 {
			out[refs] = rs
		}
		return nil
	}
}

func init() {
	// Attachment.size: unsignedInt (a JSON number) in R4, integer64 (a
	// JSON string) in R5.
	addToR5("Attachment.size", func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		n, ok := src[key].(json.Number)
		if !ok {
			return c.keep(out, src, key, e, ty)
		}
		out[key] = n.String()
		copyExtension(out, src, key)
		return nil
	})
	addToR4("Attachment.size", func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		s, _ := src[key].(string)
		if n, err := strconv.ParseUint(s, 10, 31); err != nil || strconv.FormatUint(n, 10) != s {
			return c.keep(out, src, key, e, ty) // beyond unsignedInt, or not canonical
		}
		out[key] = json.Number(s)
		copyExtension(out, src, key)
		return nil
	})
}

// copyExtension copies the primitive extension sibling _key, if any.
func copyExtension(out, src map[string]any, key string) {
	if v, ok := src["_"+key]; ok {
		out["_"+key] = fhir.CloneValue(v)
	}
}

// Types whose R4 and R5 forms line up but for a few elements.
func init() {
	for _, t := range []string{"Account", "ClaimResponse", "EpisodeOfCare", "Linkage", "MedicationDispense", "RelatedPerson", "Task"} {
		supported[t] = true
	}
	addToR5("MedicationDispense.medication[x]", toCodeableReference("medication"))
	addToR4("MedicationDispense.medication", fromCodeableReference("medication"))
	addToR5("MedicationDispense.context", rename("encounter"))
	addToR4("MedicationDispense.encounter", rename("context"))

	// EpisodeOfCare.diagnosis: condition Reference → CodeableReference
	// list, role → use.
	addToR5("EpisodeOfCare.diagnosis.condition", mapItems("condition", reference))
	addToR4("EpisodeOfCare.diagnosis.condition", inverseItems("condition", fromReference))
	addToR5("EpisodeOfCare.diagnosis.role", rename("use"))
	addToR4("EpisodeOfCare.diagnosis.use", rename("role"))
}
