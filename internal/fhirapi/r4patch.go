package fhirapi

import (
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
)

// r4FaceKey marks a request that the R4 face passes to the R5 code path. A
// patch in it, sent on its own or as a Bundle entry, names R4 elements.
type r4FaceKey struct{}

// r4Patch returns apply made to act on the R4 form of a resource: the
// version read is converted to R4, patched, and converted back to R5. It
// runs inside patchIn, which read that version in the same store
// transaction and stores the result only as its successor, so a change in
// between answers 409 or 412 instead of being overwritten.
func r4Patch(apply func(fhir.Resource) (fhir.Resource, error)) func(fhir.Resource) (fhir.Resource, error) {
	return func(current fhir.Resource) (fhir.Resource, error) {
		asR4, _, err := r4.ToR4(current)
		if err != nil {
			// The R4 face serves only types with a conversion, so this is a
			// stored resource the converter cannot express; the R5 API can
			// still patch it.
			return nil, &fhir.Error{Kind: fhir.KindUnprocessable, Issues: []fhir.Issue{{Severity: "error", Code: "not-supported",
				Diagnostics: current.Type() + "/" + current.ID() + " has no R4 form to patch (" + err.Error() + "); patch it through the R5 API"}}}
		}
		patched, err := apply(asR4)
		if err != nil {
			return nil, err
		}
		asR5, _, err := r4.ToR5(patched)
		if err != nil {
			kind := fhir.KindInvalid
			if fhir.KindOf(err) == fhir.KindNotSupported {
				kind = fhir.KindUnprocessable
			}
			return nil, &fhir.Error{Kind: kind, Issues: []fhir.Issue{{Severity: "error", Code: "invalid",
				Diagnostics: "the patched resource is not valid R4: " + err.Error()}}}
		}
		return asR5, nil
	}
}
