// Package fhirpath compiles and evaluates FHIRPath (normative release N1
// plus the FHIR-specific functions) over resources held as JSON trees
// (fhir.Resource). It serves search-parameter extraction, invariants and
// FHIRPath Patch: every result item is a Node that carries its value, its
// FHIR type name and where it sits in the tree (parent object, key, index).
//
// Type information comes from an optional Model; without one, types are
// inferred from the JSON (resourceType, choice suffixes, JSON kinds).
package fhirpath
