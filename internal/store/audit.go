package store

import (
	"context"
	"time"

	"github.com/emr-project/emr/internal/audit"
)

// AuditSearcher searches the audit log (the AuditEvent search and a
// patient's access report). A Store implements it when its backend keeps
// the log's search index.
type AuditSearcher interface {
	// SearchAudit returns one page of audit records matching q, newest
	// first unless q.Ascending. It returns fhir.KindInvalid for a cursor it
	// did not issue.
	SearchAudit(ctx context.Context, q AuditQuery) (*AuditPage, error)
}

// EncodedAuditAppender is AppendAudit for events already encoded with
// audit.Encode, the fast path of the events of reads and searches. A Store
// implements it when it keeps events as audit.Encode makes them.
type EncodedAuditAppender interface {
	AppendEncodedAudit(ctx context.Context, events ...audit.Encoded) error
}

// AuditQuery selects audit records. Every list of Terms must match (a
// search parameter repeated is AND) and within one list any term may (a
// comma-separated value is OR); so must Recorded, likewise.
type AuditQuery struct {
	Terms    [][]audit.Term
	Recorded [][]TimeRange
	// Count is the page size (the store caps it; 0 means its default).
	Count int
	// Cursor continues from a page's Next or Prev ("" for the first page).
	Cursor string
	// Ascending orders oldest first (_sort=date); the default is newest
	// first (_sort=-date). Both follow seq, the order recorded.
	Ascending bool
	// Total asks for the number of matches of the whole search.
	Total bool
}

// TimeRange is the half-open interval [From, To) of AuditEvent.recorded in
// unix milliseconds; a zero bound is open.
type TimeRange struct {
	From, To int64
}

// AuditPage is one page of an audit search.
type AuditPage struct {
	Records []AuditRecord
	// Total is the number of matches, or -1 when not asked.
	Total int64
	// Next and Prev are cursors for the neighbouring pages ("" for none).
	Next, Prev string
}

// AuditRecord is an audit record: the AuditEvent JSON, as chained or, for
// a record kept in compact form, as rendered from it (audit.Render).
type AuditRecord struct {
	Seq      int64
	Recorded time.Time
	Event    []byte
}
