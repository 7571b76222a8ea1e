// Package search is the FHIR R5 search language without SQL: it extracts
// index entries from a resource by the SearchParameter definitions
// (FHIRPath), and parses a query string into a Query plan that a store
// backend translates into its own SQL. Both sides share one normalisation
// (strings, dates, numbers, quantities), so that what is indexed and what is
// asked compare exactly.
package search
