// Package fhirpath compiles and evaluates FHIRPath (normative release N1
// plus the FHIR-specific functions) over resources held as JSON trees
// (fhir.Resource, map[string]any). It serves search-parameter extraction,
// invariants and FHIRPath Patch: every result item is a Node that carries
// its value, its FHIR type name and where it sits in the tree (parent
// object, key, index), so a caller can read it, index it or rewrite it.
//
// Compile once, evaluate many times; an Expression is safe for concurrent
// use:
//
//	x, err := fhirpath.Compile("Observation.value.ofType(Quantity)")
//	nodes, err := x.Evaluate(&fhirpath.Context{Model: model}, resource)
//	ok, known, err := inv.EvaluateBool(&fhirpath.Context{Resource: bundleEntry}, resource)
//
// Type information comes from an optional Model (Context.Model), an
// interface of two methods, ChildType and BaseType, that a StructureDefinition-backed
// adapter implements. Without one, types are inferred from the JSON:
// resources by resourceType, choice elements by the suffix of their key
// (valueQuantity is a Quantity), primitives by their JSON kind; complex
// elements then have an unknown ("") type and misspelt names are not
// reported. With a Model, a name that no item's type declares is an error
// unless Context.Lenient is set.
//
// Decimals are exact (Decimal, on math/big); dates and times keep their
// precision, and comparing values that differ only beyond the shorter
// precision gives an empty result; quantities convert between common UCUM
// units and the calendar durations.
//
// Not implemented: the terminology functions (%terminologies), CDA
// (hasTemplateIdOf), and static type checking beyond element names.
package fhirpath
