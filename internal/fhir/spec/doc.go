// Package spec holds the parts of the FHIR R5 core specification a server
// needs at run time, compiled into the binary: the structure of every
// resource and datatype (snapshot elements with cardinality, types,
// bindings and invariants), every SearchParameter, the CompartmentDefinitions,
// and the value sets behind required bindings, expanded ahead of time.
//
// The definitions are generated from the official package
// hl7.fhir.r5.core 5.0.0 by ./gen (run `go generate ./internal/fhir/spec`)
// into r5.json.gz; PROVENANCE.md records the source and what was kept.
// R5 decodes them once and shares them; they are read-only afterwards.
//
// Paths follow the specification: an element is named by its full path in
// the snapshot of the type that defines it ("Observation.component.value[x]"),
// and a position inside a resource by a (type, path) pair, so that the same
// navigation serves the validator, search indexing and FHIRPath.
package spec

//go:generate go run ./gen -pkg ../../../../shared/fhir/hl7.fhir.r5.core-5.0.0.tgz -out r5.json.gz
