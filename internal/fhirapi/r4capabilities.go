package fhirapi

import (
	"github.com/emr-project/emr/internal/fhir"
)

// capabilitiesToR4 derives the R4 face's CapabilityStatement from the R5
// one: fhirVersion 4.0.1, only the resource types with a conversion, and
// their search parameters under the R4 names where those differ (the R5-only
// parameters stay: the R4 face accepts them too). The elements used here
// have the same shape in both versions.
func capabilitiesToR4(res fhir.Resource) fhir.Resource {
	out := fhir.Resource(fhir.CloneValue(map[string]any(res)).(map[string]any))
	out["fhirVersion"] = "4.0.1"
	out["format"] = []any{mediaFHIRJSONR4, mediaFHIRJSON, "json"}
	if impl, ok := out["implementation"].(map[string]any); ok {
		impl["description"] = "emr FHIR R4 API (the R5 store, converted)"
	}
	rests, _ := out["rest"].([]any)
	for _, r := range rests {
		rest, _ := r.(map[string]any)
		if rest == nil {
			continue
		}
		resources, _ := rest["resource"].([]any)
		kept := make([]any, 0, len(resources))
		for _, x := range resources {
			resource, _ := x.(map[string]any)
			typ, _ := resource["type"].(string)
			if resource == nil || !r4Convertible(typ) || typ == "OperationOutcome" || typ == "Parameters" {
				continue
			}
			params, _ := resource["searchParam"].([]any)
			for _, p := range params {
				if param, ok := p.(map[string]any); ok {
					if name, ok := param["name"].(string); ok {
						param["name"] = r5ToR4Param(typ, name)
					}
				}
			}
			kept = append(kept, resource)
		}
		rest["resource"] = kept
	}
	return out
}
