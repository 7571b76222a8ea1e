// Package validate checks a resource against the FHIR R5 definitions of
// package spec before it is stored: structure (known elements, JSON kinds,
// arrays exactly where the definition repeats), cardinality, primitive
// formats, codes of required bindings, reference syntax and targets, and
// contained and nested resources. FHIRPath invariants are left to an
// optional InvariantChecker.
//
// Every issue's Expression is a FHIRPath to the element, written with the
// JSON property names of the resource: a list element carries its index and
// a single one does not, and a choice keeps its type suffix, e.g.
// "Patient.name[0].given[1]", "Observation.valueQuantity.value",
// "Bundle.entry[2].resource.subject.reference". The primitive extension
// "_birthDate" is reported at "Patient.birthDate" (its id and extension
// below it), as FHIRPath sees it. A nested resource continues the path of
// the element holding it ("Bundle.entry[0].resource.status"), without an
// ofType() step.
//
// Issue codes follow the FHIR IssueType value set: structure (unknown
// element, wrong JSON kind, array where one value belongs or the reverse,
// too many values, empty or null values), required (a mandatory element is
// missing), value (a primitive is malformed), code-invalid (a code outside a
// required value set), invalid (a malformed or disallowed reference) and
// invariant (a failed constraint, when a checker is plugged in).
package validate
