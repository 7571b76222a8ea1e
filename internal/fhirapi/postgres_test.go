package fhirapi_test

import (
	"testing"

	"github.com/emr-project/emr/internal/store/pgtest"
)

// onPostgres makes newTestServer open PostgreSQL; TestOnPostgres sets it.
var onPostgres bool

func postgresDSN(t testing.TB) string { return pgtest.DSN(t) }

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestOnPostgres runs the API tests that exercise the store — search in
// all its forms, conditional interactions, transactions, history and the
// official examples with the search oracle — on PostgreSQL, so that both
// backends answer every request alike.
func TestOnPostgres(t *testing.T) {
	pgtest.DSN(t) // skips (or in CI fails) here when there is no server
	onPostgres = true
	defer func() { onPostgres = false }()
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"StatusCodes", TestStatusCodes},
		{"ReadReturnsServerMeta", TestReadReturnsServerMeta},
		{"TransactionResolvesReferences", TestTransactionResolvesReferences},
		{"TransactionAllOrNothing", TestTransactionAllOrNothing},
		{"TransactionOrderAndDuplicates", TestTransactionOrderAndDuplicates},
		{"BatchEntriesIndependent", TestBatchEntriesIndependent},
		{"BundlePatchEntries", TestBundlePatchEntries},
		{"HistoryPagingWhileWriting", TestHistoryPagingWhileWriting},
		{"HistoryShowsDeletes", TestHistoryShowsDeletes},
		{"SearchThroughTheAPI", TestSearchThroughTheAPI},
		{"SearchBundleFeatures", TestSearchBundleFeatures},
		{"SearchPagingWhileWriting", TestSearchPagingWhileWriting},
		{"ConditionalInteractions", TestConditionalInteractions},
		{"PatientEverything", TestPatientEverything},
		{"BulkExport", TestBulkExport},
		{"BulkExportTakenOver", TestBulkExportTakenOver},
		{"BulkExportAcrossBatches", TestBulkExportAcrossBatches},
		{"ForeignReferenceIsNotLocal", TestForeignReferenceIsNotLocal},
		{"EveryInteractionAudited", TestEveryInteractionAudited},
		{"AuditEventSearch", TestAuditEventSearch},
		{"AuditEventNotWritable", TestAuditEventNotWritable},
		{"AccessReport", TestAccessReport},
		{"PatientMerge", TestPatientMerge},
		{"PatientMergeConcurrent", TestPatientMergeConcurrent},
		{"PatientMergeHiddenPatient", TestPatientMergeHiddenPatient},
		{"PatientMergeResultPatient", TestPatientMergeResultPatient},
		{"UnmergeAfterChanges", TestUnmergeAfterChanges},
		{"PatientMatch", TestPatientMatch},
		{"PatientMatchSeesOnlyVisible", TestPatientMatchSeesOnlyVisible},
		{"DuplicateCheckAtCreate", TestDuplicateCheckAtCreate},
		{"DuplicateQueue", TestDuplicateQueue},
		{"OfficialExamplesRoundTrip", TestOfficialExamplesRoundTrip},
		{"R4CRUD", TestR4CRUD},
		{"R4SearchNames", TestR4SearchNames},
		{"R4Patch", TestR4Patch},
		{"R4PatchEntries", TestR4PatchEntries},
		{"R4ChainsAndTypes", TestR4ChainsAndTypes},
		{"R4SyntheaRoundTrip", TestR4SyntheaRoundTrip},
		{"R4BulkNDJSONRoundTrip", TestR4BulkNDJSONRoundTrip},
	} {
		t.Run(tc.name, tc.run)
	}
}
