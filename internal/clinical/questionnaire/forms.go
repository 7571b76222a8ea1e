package questionnaire

import (
	"embed"
	"fmt"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

//go:embed forms/*.json
var formFiles embed.FS

// Forms returns the shipped Questionnaires (PHQ-9, GAD-7, intake), by id
// order. Each call parses anew, so callers may change what they get.
func Forms() ([]fhir.Resource, error) {
	entries, err := formFiles.ReadDir("forms")
	if err != nil {
		return nil, err
	}
	var out []fhir.Resource
	for _, e := range entries {
		r, err := Form(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out, nil
}

// Form returns one shipped Questionnaire by id: "phq-9", "gad-7", "intake".
// It returns an error of kind fhir.KindNotFound for another id.
func Form(id string) (fhir.Resource, error) {
	data, err := formFiles.ReadFile("forms/" + id + ".json")
	if err != nil || strings.ContainsAny(id, "/.") {
		return nil, fhir.Errorf(fhir.KindNotFound, "questionnaire: no shipped form %q", id)
	}
	r, err := fhir.ParseResource(data)
	if err != nil {
		return nil, fmt.Errorf("questionnaire: shipped form %s: %w", id, err)
	}
	return r, nil
}
