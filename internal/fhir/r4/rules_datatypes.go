package r4

import (
	"encoding/json"
	"strconv"

	"github.com/emr-project/emr/internal/fhir"
)

func init() {
	// MedicationAdministration.performer.actor: Reference →
	// CodeableReference(reference).
	addToR5("MedicationAdministration.performer.actor", mapItems("actor", reference))
	addToR4("MedicationAdministration.performer.actor", inverseItems("actor", fromReference))

	// Immunization.protocolApplied doseNumber[x] and seriesDoses[x]
	// (positiveInt or string) are strings in R5; going back, a string of
	// digits becomes a positiveInt again.
	for _, name := range []string{"doseNumber", "seriesDoses"} {
		addToR5("Immunization.protocolApplied."+name+"[x]", positiveIntToString(name))
		addToR4("Immunization.protocolApplied."+name, stringToPositiveInt(name))
	}

	// SampledData.period (milliseconds) becomes interval with intervalUnit
	// ms; an interval in another unit has no R4 form and stays an
	// extension.
	addToR5("SampledData.period", rename("interval"))
	defaultsR5["SampledData"] = func(out map[string]any) {
		if _, ok := out["interval"]; ok && out["intervalUnit"] == nil {
			out["intervalUnit"] = "ms"
		}
	}
	addToR4("SampledData.interval", func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		if src["intervalUnit"] != "ms" || src["_intervalUnit"] != nil {
			return c.keep(out, src, key, e, ty)
		}
		return c.element(out, src, key, "period", e, ty, at)
	})
	addToR4("SampledData.intervalUnit", func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		if src[key] == "ms" && src["_"+key] == nil {
			return nil // implied by period
		}
		return c.keep(out, src, key, e, ty)
	})
}

func positiveIntToString(name string) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		switch v := src[key].(type) {
		case json.Number:
			out[name] = v.String()
		case string:
			out[name] = v
		default:
			return c.keep(out, src, key, e, ty)
		}
		if ext, ok := src["_"+key]; ok {
			out["_"+name] = fhir.CloneValue(ext)
		}
		return nil
	}
}

func stringToPositiveInt(name string) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		s, ok := src[key].(string)
		if !ok {
			return c.keep(out, src, key, e, ty)
		}
		to := name + "String"
		var v any = s
		if n, err := strconv.ParseUint(s, 10, 31); err == nil && n > 0 && strconv.FormatUint(n, 10) == s {
			to, v = name+"PositiveInt", json.Number(s)
		}
		out[to] = v
		if ext, ok := src["_"+key]; ok {
			out["_"+to] = fhir.CloneValue(ext)
		}
		return nil
	}
}
