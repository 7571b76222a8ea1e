// Package importer loads FHIR data from files into a store.Store: JSON
// Bundles (transaction, batch, collection, searchset), single JSON resources
// and NDJSON (one resource per line, as a Bulk Data export writes it), from
// files or whole directory trees.
//
// The work is a pipeline: one reader walks the files and cuts them into
// jobs (a whole JSON file, or a few hundred NDJSON lines), a pool of workers
// parses, converts and validates them in parallel, and one writer stores
// the results in batches of a few hundred resources per Store.Write, so
// every batch is one durable transaction. A transaction Bundle is one unit:
// it is written in a single Store.Write, all of it or none of it.
//
// Resources keep their ids (update as create), so importing the same input
// twice creates nothing new: a resource equal to the stored one apart from
// meta.versionId and meta.lastUpdated is counted as unchanged and not
// written. Bundle entries referring to each other by fullUrl (urn:uuid:…)
// are rewritten to Type/id; an entry without an id takes the uuid of its
// fullUrl, or failing that a hash of its content, so the id is the same on
// every run.
//
// Each file is read as R5 or R4 (see Version and Options.FHIRVersion). R4
// resources go through Options.ConvertR4 before validation; without one,
// an R4 file is refused with a message saying so.
package importer
