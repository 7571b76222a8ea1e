// Package fhir is the resource model shared by every part of the EMR: a FHIR
// resource is kept as its JSON object tree (map[string]any, with numbers as
// json.Number so that decimal precision survives a round trip), read by a
// strict parser that refuses what FHIR JSON forbids, and written back with
// resourceType, id and meta first. It also defines the error kinds every
// layer returns and their OperationOutcome form.
package fhir
