// Package r4 converts resources between FHIR R4 (4.0.1) and R5 (5.0.0),
// following the official R4↔R5 element maps for the resource types it
// lists (supported); any other type is refused with a *fhir.Error of kind
// KindNotSupported.
//
// A resource is walked along the element tree of its version: the R5 one
// from package spec, the R4 one from r4elements.txt.gz (see PROVENANCE.md).
// An element with a rule (a rename, Coding → CodeableConcept, reasonCode and
// reasonReference → reason, medication[x] → medication, changed codes, …)
// is converted by it; an element present in both versions with a compatible
// type is copied, a single value wrapped into a list or a list of one
// unwrapped where the cardinality changed. Nothing is dropped silently: what
// has no home in the target version is kept as a cross-version extension,
// "http://hl7.org/fhir/4.0/StructureDefinition/extension-<path>" going to R5
// and ".../5.0/..." going to R4, on the object that held it, with value[x]
// for a primitive or a datatype Extension allows and nested extensions named
// by element otherwise, as the HL7 cross-version extension packages
// (hl7.fhir.uv.xver-r5.r4) name and shape them: an R5 CodeableReference in
// R4 is "…/5.0/StructureDefinition/extension-Encounter.reason" with
// sub-extensions "concept" and "reference". Report counts them. Converting
// back restores such extensions into elements.
//
// Where a translation is not one to one, the converted value is given and
// the original kept beside it as an extension, which the way back restores:
// Encounter.status (R4 arrived and triaged both become in-progress; R5
// discharged and completed both become finished), MedicationStatement.status
// (R4 active, completed, stopped, … all become recorded), Consent.status
// (proposed becomes draft), Consent.dateTime with a time of day (R5 has a
// date). Going to R4, an R5 element that fits only in part (a
// CodeableConcept with several codings where R4 has a Coding, a
// CodeableReference with both concept and reference, a list where R4 holds
// one value) is kept whole, and the first value that fits fills the R4
// element as well.
//
// So R4 → R5 → R4 gives back the input, and R5 → R4 → R5 too, apart from
// these documented differences:
//
//   - Immunization.protocolApplied.doseNumberString or seriesDosesString
//     holding a plain positive number comes back as doseNumberPositiveInt
//     (seriesDosesPositiveInt): R5 keeps only the string.
//   - Coverage.kind, mandatory in R5, is set to insurance when absent, and an
//     R5 Coverage of kind insurance loses the element in R4, which implies
//     it; likewise SampledData.intervalUnit ms, implied by R4's period.
//   - Elements restored from extensions come after the elements converted
//     directly when both fill the same list.
//   - An object's properties unknown to the source version are copied as they
//     are; the validator, not the converter, judges them.
//
// Known limits: a datatype kept whole as an extension value (valueDosage,
// valueAttachment) is not itself converted; primitive values are copied
// without checking the target's value sets except where a rule maps codes
// (Encounter.status, AllergyIntolerance.type, Device name types); and
// resource types outside supported (MessageHeader, Substance,
// ChargeItem, …) are refused rather than guessed at.
package r4
