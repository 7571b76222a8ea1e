package fhirapi

import (
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/jsonpatch"
)

func parseJSONPatch(body []byte) ([]jsonpatch.Op, error) {
	ops, err := jsonpatch.Parse(body)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "%v", err)
	}
	return ops, nil
}

func applyJSONPatch(res fhir.Resource, ops []jsonpatch.Op) (fhir.Resource, error) {
	out, err := jsonpatch.Apply(map[string]any(res), ops)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindUnprocessable, "JSON Patch: %v", err)
	}
	obj, ok := out.(map[string]any)
	if !ok {
		return nil, fhir.Errorf(fhir.KindUnprocessable, "JSON Patch: the result is not a resource")
	}
	return fhir.Resource(obj), nil
}
