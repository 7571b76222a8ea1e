package checks

import (
	"context"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// MemorySource is a Source over resources held in memory: tests, and
// callers that have the patient's data at hand already. It filters by
// patient and status as StoreSource's searches do.
type MemorySource struct {
	Resources []fhir.Resource
}

// Allergies returns the AllergyIntolerances whose patient is patientID.
func (m *MemorySource) Allergies(_ context.Context, patientID string) ([]fhir.Resource, error) {
	return m.filter("AllergyIntolerance", "patient", patientID, nil), nil
}

// ActiveMedications returns the patient's active or on-hold MedicationRequests.
func (m *MemorySource) ActiveMedications(_ context.Context, patientID string) ([]fhir.Resource, error) {
	return m.filter("MedicationRequest", "subject", patientID, openStatus), nil
}

// OpenServiceRequests returns the patient's active or on-hold ServiceRequests.
func (m *MemorySource) OpenServiceRequests(_ context.Context, patientID string) ([]fhir.Resource, error) {
	return m.filter("ServiceRequest", "subject", patientID, openStatus), nil
}

// Interactions returns the ClinicalUseDefinitions of type interaction.
func (m *MemorySource) Interactions(context.Context) ([]fhir.Resource, error) {
	var out []fhir.Resource
	for _, r := range m.Resources {
		if r.Type() == "ClinicalUseDefinition" && datatype.Str(r, "type") == "interaction" {
			out = append(out, r)
		}
	}
	return out, nil
}

// Resolve finds "Type/id" among the resources.
func (m *MemorySource) Resolve(_ context.Context, reference string) (fhir.Resource, error) {
	typ, id, ok := datatype.SplitRef(reference)
	if ok {
		for _, r := range m.Resources {
			if r.Type() == typ && r.ID() == id {
				return r, nil
			}
		}
	}
	return nil, fhir.Errorf(fhir.KindNotFound, "checks: %s not found", reference)
}

var openStatus = map[string]bool{"active": true, "on-hold": true}

func (m *MemorySource) filter(typ, patientElement, patientID string, status map[string]bool) []fhir.Resource {
	var out []fhir.Resource
	for _, r := range m.Resources {
		if r.Type() != typ || datatype.RefOf(r[patientElement]) != "Patient/"+patientID {
			continue
		}
		if status != nil && !status[datatype.Str(r, "status")] {
			continue
		}
		out = append(out, r)
	}
	return out
}
