package importer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// Version is the FHIR version a file is read as.
type Version string

const (
	// VersionAuto detects the version of each file (see r4Sign).
	VersionAuto Version = ""
	VersionR4   Version = "4.0"
	VersionR5   Version = "5.0"
)

// ParseVersion reads a --fhir-version value: auto, 4.0 (4, 4.0.1, r4) or
// 5.0 (5, 5.0.0, r5).
func ParseVersion(s string) (Version, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return VersionAuto, nil
	case "4", "4.0", "4.0.1", "r4":
		return VersionR4, nil
	case "5", "5.0", "5.0.0", "r5":
		return VersionR5, nil
	}
	return "", fmt.Errorf("unknown FHIR version %q: want auto, 4.0 or 5.0", s)
}

var errNoConverter = errors.New("the file is FHIR R4, and R4 input needs the R4→R5 converter, which this build does not have yet; nothing of it was imported (--fhir-version=5.0 reads it as R5 anyway)")

// r4Sign returns why res looks like FHIR R4 rather than R5, or "" when
// nothing does. Real files rarely say their version, so detection looks
// for what R4 writes and R5 does not allow: an element R5 renamed or
// reshaped in the types Synthea and common R4 systems produce, a US Core
// profile (US Core is an R4 guide), or fhirVersion 4.x in a conformance
// resource. Each sign makes the resource invalid R5 (or, for a profile,
// names an R4 guide), so an R5 file is never taken for R4 by a sign it
// could carry validly; an R4 resource that shows none of them is also
// valid R5 in the elements checked, which is why a file without a sign is
// read as R5.
func r4Sign(res fhir.Resource) string {
	if meta, ok := res["meta"].(map[string]any); ok {
		profiles, _ := meta["profile"].([]any)
		for _, p := range profiles {
			if s, _ := p.(string); strings.Contains(s, "hl7.org/fhir/us/core/") {
				return "meta.profile names US Core, an R4 guide"
			}
		}
	}
	if v, ok := res["fhirVersion"].(string); ok && strings.HasPrefix(v, "4.") {
		return "fhirVersion " + v
	}
	has := func(names ...string) string {
		for _, n := range names {
			if _, ok := res[n]; ok {
				return res.Type() + "." + n + " (R4)"
			}
		}
		return ""
	}
	switch res.Type() {
	case "Encounter":
		if _, ok := res["class"].(map[string]any); ok {
			return "Encounter.class is one Coding (R4); R5 has a list of CodeableConcept"
		}
		return has("period", "hospitalization", "classHistory", "statusHistory")
	case "MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense":
		return has("medicationCodeableConcept", "medicationReference")
	case "Procedure":
		return has("performedDateTime", "performedPeriod", "performedString", "performedAge", "performedRange")
	case "DocumentReference":
		if _, ok := res["context"].(map[string]any); ok {
			return "DocumentReference.context is one object (R4); R5 has a list of references"
		}
	case "AllergyIntolerance":
		if _, ok := res["type"].(string); ok {
			return "AllergyIntolerance.type is a code (R4); R5 has a CodeableConcept"
		}
	case "Device":
		return has("deviceName")
	case "Immunization":
		return has("reportOrigin", "education")
	case "CarePlan":
		if acts, ok := res["activity"].([]any); ok {
			for _, a := range acts {
				if m, ok := a.(map[string]any); ok && m["detail"] != nil {
					return "CarePlan.activity.detail (R4)"
				}
			}
		}
	}
	return ""
}
