// Package store defines how the EMR keeps FHIR resources: the Store and Tx
// interfaces every backend implements (store/sqlstore, on SQLite or PostgreSQL),
// and the shapes of what they return. Errors are *fhir.Error values of the
// kinds documented on each method, so callers never see driver errors.
package store

import (
	"context"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
)

// Version is one stored version of a resource.
type Version struct {
	Type        string
	ID          string
	VersionID   int64 // 1, 2, 3 … per resource
	LastUpdated time.Time
	Deleted     bool          // a tombstone written by delete
	Resource    fhir.Resource // nil for a tombstone; meta.versionId and meta.lastUpdated are set
	// Seq orders every version in the store: a later write has a larger Seq.
	// History pages use it as their cursor. LastUpdated never decreases as
	// Seq grows.
	Seq int64
}

// Store is a FHIR resource store. It is safe for concurrent use, and
// concurrent calls behave as if they ran one at a time:
//   - Writes are serialisable: each fn sees, through its Tx, every Write
//     committed before it and its own writes, and nothing else; a check in
//     fn followed by a write (conditional create, read-modify-write) cannot
//     interleave with another Write.
//   - A read (Read, VRead, History, Search) sees a committed Write entirely
//     or not at all, never a Write whose fn failed; the matches of one
//     Search page come from one moment between Writes; and a read that
//     starts after another returned sees at least what that one saw.
//   - Concurrent Writes never fail because of each other (no deadlock or
//     serialisation errors reach the caller); only their own preconditions
//     (If-Match) fail them.
type Store interface {
	// Read returns the current version of typ/id. It returns an error of kind
	// fhir.KindNotFound if no version exists, and for a deleted resource the
	// tombstone Version together with an error of kind fhir.KindGone.
	Read(ctx context.Context, typ, id string) (*Version, error)
	// VRead returns one version of typ/id (a tombstone has Deleted set and no
	// error). It returns fhir.KindNotFound if that version does not exist.
	VRead(ctx context.Context, typ, id string, versionID int64) (*Version, error)
	// History returns one page of versions, newest first.
	History(ctx context.Context, q HistoryQuery) (*HistoryPage, error)
	// Write runs fn in one transaction and commits it durably (fsync'd) before
	// returning nil. If fn returns an error nothing it did is kept and that
	// error is returned. Writes are serialised; fn must not block on other
	// writes.
	Write(ctx context.Context, fn func(tx Tx) error) error
	// AppendAudit durably records audit events outside any other write (reads
	// and searches are audited this way). Concurrent calls may share one commit.
	AppendAudit(ctx context.Context, events ...fhir.Resource) error
	// Search runs a parsed query and returns one page of current, not
	// deleted resources that match, with the included resources and the
	// links to the neighbouring pages. It returns fhir.KindInvalid for a
	// cursor it did not issue.
	Search(ctx context.Context, q *search.Query) (*SearchResult, error)
	// Reindex rebuilds the search index of every current resource with the
	// store's extractor. It is resumable: after an interruption it carries
	// on where it stopped. progress, when not nil, is called now and then
	// with the resources done and the total.
	Reindex(ctx context.Context, progress func(done, total int64)) error
	// Close releases the database.
	Close() error
	Records
}

// Record is an infrastructure record: a user account, a session, an OAuth2
// client, a signing key. Patient data never goes here: it lives in FHIR
// resources. The store keeps Value as it is given.
type Record struct {
	Kind string // what the record is: "user", "session", …
	Key  string // unique within Kind
	// Owner groups records for ListRecords ("" for none), e.g. the user a
	// session belongs to.
	Owner string
	// Expires, when not zero, is when the record ends: from then on it is
	// missing for GetRecord and ListRecords, and DeleteExpiredRecords
	// removes it.
	Expires time.Time
	// Version is set by the store: 1 when created, one more at each put.
	Version int64
	Value   []byte
}

// Records keeps infrastructure records. Each call is one durable
// transaction (the Tx methods of the same names join a Write instead);
// reads see every committed put, never a replica's older copy.
type Records interface {
	// GetRecord returns the record kind/key, or an error of kind
	// fhir.KindNotFound when there is none (or it has expired).
	GetRecord(ctx context.Context, kind, key string) (*Record, error)
	// ListRecords returns the records of kind owned by owner (every record
	// of kind when owner is ""), ordered by key, expired ones left out.
	ListRecords(ctx context.Context, kind, owner string) ([]*Record, error)
	// PutRecord stores r and returns its new version. ifVersion 0 creates
	// it (fhir.KindConflict when kind/key exists and has not expired); a
	// positive ifVersion replaces version ifVersion only
	// (fhir.KindPreconditionFailed otherwise); AnyVersion creates or
	// replaces whatever is there.
	PutRecord(ctx context.Context, r *Record, ifVersion int64) (int64, error)
	// DeleteRecord removes kind/key; a missing record is not an error.
	DeleteRecord(ctx context.Context, kind, key string) error
	// DeleteExpiredRecords removes the records expired at now and says how
	// many there were.
	DeleteExpiredRecords(ctx context.Context, now time.Time) (int64, error)
}

// KeyMatcher finds resources by the codes they share in one token
// parameter, ranked by how many: the candidate selection of record
// matching (internal/mpi indexes each Patient's blocking keys as the
// tokens of a parameter no client can search, and asks for the patients
// sharing the most keys with a given one), through the index, never a scan.
type KeyMatcher interface {
	// MatchKeys returns the current (not deleted) resources of type typ
	// whose index holds a token of parameter param, without system, equal
	// to one of codes: at most perCode of them for each code (so a code
	// that thousands share cannot flood the answer) and at most limit in
	// all, those sharing the most codes first, then by id.
	MatchKeys(ctx context.Context, typ, param string, codes []string, perCode, limit int) ([]KeyMatch, error)
	// KeyBlocks calls fn with each code of parameter param of type typ
	// greater than after, in code order, and the ids of the current
	// resources holding it: the blocks a duplicate scan
	// compares within. It stops at fn's first error and returns it.
	KeyBlocks(ctx context.Context, typ, param, after string, fn func(code string, ids []string) error) error
	// KeyCount returns how many tokens of parameter param the current
	// resources of type typ hold: the work of a scan over KeyBlocks.
	KeyCount(ctx context.Context, typ, param string) (int64, error)
}

// KeyMatch is a resource found by MatchKeys and how many codes it shares.
type KeyMatch struct {
	ID     string
	Shared int
}

// AnyVersion is the ifVersion of PutRecord that creates or replaces.
const AnyVersion int64 = -1

// Tx is a write transaction. It is valid only inside the fn given to Write.
type Tx interface {
	// Now is the transaction's timestamp: every version it writes has this
	// meta.lastUpdated.
	Now() time.Time
	// Read is Store.Read inside the transaction (it sees the transaction's own writes).
	Read(typ, id string) (*Version, error)
	// Create stores res as version 1 of a new resource with a new
	// server-assigned id (any id in res is replaced). It sets meta.versionId
	// and meta.lastUpdated on res.
	Create(res fhir.Resource) (*Version, error)
	// Update stores res as the next version of res.Type()/res.ID(), or as
	// version 1 if no version exists (update as create, created is true). A
	// deleted resource is brought back as its next version. If ifMatch is not
	// zero and the current version is not ifMatch, it returns an error of kind
	// fhir.KindPreconditionFailed (a missing resource never matches).
	Update(res fhir.Resource, ifMatch int64) (v *Version, created bool, err error)
	// Delete writes a tombstone as the next version of typ/id. Deleting a
	// resource that is already deleted or never existed writes nothing and
	// returns (nil, nil). ifMatch works as in Update.
	Delete(typ, id string, ifMatch int64) (*Version, error)
	// AppendAudit records an audit event in this transaction, so the write and
	// its audit commit or fail together.
	AppendAudit(event fhir.Resource) error
	// Search is Store.Search inside the transaction: it sees the
	// transaction's own writes (conditional create, update and delete
	// decide on it).
	Search(q *search.Query) (*SearchResult, error)
	// GetRecord, PutRecord and DeleteRecord are those of Records, inside
	// the transaction: a login's failure count and its audit event commit
	// together.
	GetRecord(kind, key string) (*Record, error)
	PutRecord(r *Record, ifVersion int64) (int64, error)
	DeleteRecord(kind, key string) error
}

// SearchResult is one page of a search.
type SearchResult struct {
	// Matches are the page's resources in the requested order.
	Matches []*Version
	// Included are resources added by _include and _revinclude, each once
	// and none of them among Matches.
	Included []*Version
	// Total is the number of matches of the whole search, or -1 when it was
	// not counted (_total=none, or estimate where counting is costly).
	Total int64
	// Next and Prev are opaque cursors for the neighbouring pages ("" when
	// there is none); a Query with Cursor set to one continues from there.
	Next, Prev string
}

// Extractor turns a resource into its search index entries. A backend
// calls it for every version it writes, inside the write's transaction.
type Extractor interface {
	Extract(res fhir.Resource) ([]search.Entry, error)
	// Version identifies the definitions and extraction rules; when it
	// changes, stored indexes are stale until Reindex runs.
	Version() string
}

// Prepared is a resource with the part of its write that needs no
// transaction done ahead: its search index entries, extracted on the
// caller's goroutine so that the one writer only stores. A Preparer makes
// it; Tx.UpdatePrepared (where the Tx is a PreparedUpdater) writes it.
// The resource must not change between the two, apart from the
// meta.versionId and meta.lastUpdated the store sets (no index entry reads
// them): the entries would no longer describe it.
type Prepared struct {
	Resource fhir.Resource
	Entries  []search.Entry
	// Extractor is the extractor version the entries come from; a write
	// under another version extracts again.
	Extractor string
	// Backend is what else the backend prepared (sqlstore: the JSON of
	// the resource's first version, to be stamped with its time).
	Backend any
}

// Preparer is a Store that can prepare resources for writing.
type Preparer interface {
	Prepare(res fhir.Resource) (*Prepared, error)
}

// PreparedUpdater is a Tx that can write a Prepared resource: Update with
// the extraction already done.
type PreparedUpdater interface {
	UpdatePrepared(p *Prepared, ifMatch int64) (v *Version, created bool, err error)
}

// BatchCreator is a Tx that can write many Prepared resources, each the
// first version of a resource that does not exist yet, in one go: fewer
// round trips where the database is across a network (an importer's
// batch). The versions come back in the order of ps; a resource that
// turns out to exist is updated, as UpdatePrepared would.
type BatchCreator interface {
	CreatePrepared(ps []*Prepared) ([]*Version, error)
}

// Prefetcher is a Tx that can read the current versions of many resources
// in one query ahead of writing them (an importer does, for each batch):
// a later Read of one of them inside the same Write function answers from
// what was fetched, without asking the database again. refs are
// "Type/id".
type Prefetcher interface {
	Prefetch(refs []string) error
}

// BulkLoader is a Store that can load an empty database faster: during a
// bulk load it leaves out the search indexes that only speed searches up,
// and builds each once at the end, which costs less than keeping it up to
// date row by row (an importer loading a new store does).
//
// During a bulk load every write and search stays correct and durable;
// searches may be slow, since they scan where an index would seek. A
// process that dies during one leaves the indexes to the next Open, which
// builds them before it returns.
type BulkLoader interface {
	// BeginBulk begins a bulk load if the store holds no resources and no
	// other bulk load runs (in any process), and reports whether it did.
	// It returns an error only for a failing database.
	BeginBulk(ctx context.Context) (bool, error)
	// EndBulk ends the bulk load this store began, building the indexes it
	// left out; without one running it does nothing. On error the load
	// stays open and EndBulk (or Close, or the next Open) may be tried again.
	EndBulk(ctx context.Context) error
	// BulkLoading reports whether a bulk load this store began is running:
	// a caller that would search on every write (a duplicate check) may
	// wait for EndBulk instead.
	BulkLoading() bool
}

// HistoryQuery selects versions for a history interaction.
type HistoryQuery struct {
	Type string // "" for system history
	ID   string // "" for type or system history; needs Type
	// Since keeps versions with LastUpdated >= Since (when not zero).
	Since time.Time
	// AtStart/AtEnd (when not zero) keep versions that were current at some
	// moment in [AtStart, AtEnd): written before AtEnd and not superseded by a
	// later version of the same resource before AtStart.
	AtStart, AtEnd time.Time
	// Count is the page size (the store caps it; 0 means its default).
	Count int
	// Before (when not zero) keeps versions with Seq < Before: the next page
	// after one whose last entry had Seq == Before.
	Before int64
	// After (when not zero) keeps versions with Seq > After, still returned
	// newest first: the previous page before one whose first entry had Seq == After.
	After int64
}

// HistoryPage is one page of history, newest first.
type HistoryPage struct {
	Versions []*Version
	// More reports whether older versions than the last one returned match.
	More bool
	// Newer reports whether newer versions than the first one returned match.
	Newer bool
}

// DefaultPageSize and MaxPageSize bound history and search pages.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)
