// Package mpi is the matching core of a master patient index: it decides
// whether two Patient resources describe the same person.
//
// It is pure logic, with no database. FromPatient normalises a FHIR Patient
// into a Person (folded names, nickname groups, phonetic keys, digits-only
// phones, normalised identifiers and addresses); Model.Compare scores a pair
// field by field with Fellegi–Sunter weights and grades the total as certain,
// probable, possible or none, with the per-field evidence kept so that every
// decision can be explained. Person.BlockingKeys gives the few index keys a
// store uses to find candidates without scanning; EstimateEM re-estimates
// the weights from unlabelled comparisons. Generate builds a deterministic,
// culturally varied population with realistic duplicates and hard
// non-matches (twins, households, common names), and Evaluate measures
// precision and recall of the whole pipeline on it.
//
// docs/mpi.md explains the method, the default weights and the measured
// figures.
package mpi
