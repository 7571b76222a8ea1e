package checks

import (
	"context"
	"net/url"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Reader is the part of store.Store that StoreSource reads through. A
// caller that must audit or limit the reads passes a wrapper with the same
// methods.
type Reader interface {
	Read(ctx context.Context, typ, id string) (*store.Version, error)
	Search(ctx context.Context, q *search.Query) (*store.SearchResult, error)
}

// StoreSource is a Source reading the store by search. A check needs the
// whole list (an allergy on page two still matters), so it follows every
// page; a list longer than MaxResources is an error rather than a silent
// cut, since a check on part of the data must not pass for a check.
type StoreSource struct {
	Store       Reader
	Definitions *spec.Definitions
}

// MaxResources bounds each list StoreSource reads.
const MaxResources = 5000

// Allergies searches AllergyIntolerance?patient=Patient/id.
func (s *StoreSource) Allergies(ctx context.Context, patientID string) ([]fhir.Resource, error) {
	return s.search(ctx, "AllergyIntolerance", url.Values{"patient": {"Patient/" + patientID}})
}

// ActiveMedications searches MedicationRequest?subject=…&status=active,on-hold.
func (s *StoreSource) ActiveMedications(ctx context.Context, patientID string) ([]fhir.Resource, error) {
	return s.search(ctx, "MedicationRequest", url.Values{"subject": {"Patient/" + patientID}, "status": {"active,on-hold"}})
}

// OpenServiceRequests searches ServiceRequest?subject=…&status=active,on-hold.
func (s *StoreSource) OpenServiceRequests(ctx context.Context, patientID string) ([]fhir.Resource, error) {
	return s.search(ctx, "ServiceRequest", url.Values{"subject": {"Patient/" + patientID}, "status": {"active,on-hold"}})
}

// Interactions searches ClinicalUseDefinition?type=interaction.
func (s *StoreSource) Interactions(ctx context.Context) ([]fhir.Resource, error) {
	return s.search(ctx, "ClinicalUseDefinition", url.Values{"type": {"interaction"}})
}

// Resolve reads a "Type/id" reference.
func (s *StoreSource) Resolve(ctx context.Context, reference string) (fhir.Resource, error) {
	typ, id, ok := datatype.SplitRef(reference)
	if !ok {
		return nil, fhir.Errorf(fhir.KindNotFound, "checks: %q is not a reference the store can read", reference)
	}
	v, err := s.Store.Read(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	return v.Resource, nil
}

func (s *StoreSource) search(ctx context.Context, typ string, params url.Values) ([]fhir.Resource, error) {
	params.Set("_count", "1000")
	q, err := search.Parse(s.Definitions, typ, params, search.ParseOptions{})
	if err != nil {
		return nil, err
	}
	var out []fhir.Resource
	for {
		res, err := s.Store.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, v := range res.Matches {
			out = append(out, v.Resource)
		}
		if res.Next == "" {
			return out, nil
		}
		if len(out) >= MaxResources {
			return nil, fhir.Errorf(fhir.KindUnprocessable, "checks: more than %d %s resources to check", MaxResources, typ)
		}
		q.Cursor = res.Next
	}
}
