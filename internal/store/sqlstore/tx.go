package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// txn is the store.Tx given to one Write fn. It runs on the writer
// connection inside that fn's savepoint.
type txn struct {
	db   *DB
	ctx  context.Context // the batch's, not the caller's
	now  time.Time
	done bool // fn has returned: the Tx must not be used any more
	// auditFile says that fn changes only the audit log's own tables
	// (writeReq.auditFile).
	auditFile bool
	// absent are the "type/id" this function read and found missing, and
	// has not written since: writing one needs no second look (an
	// importer reads each resource before writing it, and on PostgreSQL
	// a look is a round trip). The transaction holds the write lock, so
	// nothing else creates them meanwhile.
	absent map[string]bool
	// fetched are the current versions Prefetch read, by "type/id" (nil
	// for one that does not exist), until the function writes them.
	fetched map[string]*store.Version
	// body is the prepared JSON of the resource UpdatePrepared is writing.
	body *preparedBody
}

var _ store.Tx = (*txn)(nil)

var errTxDone = fhir.Errorf(fhir.KindInternal, "store.Tx used after its Write function returned")

// Prepare extracts res's index entries on the caller's goroutine, so that
// a write of it (Tx.UpdatePrepared) leaves the one writer only storing.
// Importers prepare in their parallel workers.
func (db *DB) Prepare(res fhir.Resource) (*store.Prepared, error) {
	p := &store.Prepared{Resource: res}
	if db.extractor == nil {
		return p, nil
	}
	entries, err := db.extractor.Extract(res)
	if err != nil {
		return nil, fmt.Errorf("store: %s/%s: index: %w", res.Type(), res.ID(), err)
	}
	p.Entries, p.Extractor = entries, db.extractor.Version()
	p.Backend = db.d.prepareBody(res)
	return p, nil
}

// preparedBody is the JSON of a resource's first version made off the
// writer: stamped with a placeholder time, whose place (at) the writer
// overwrites with the real one.
type preparedBody struct {
	json []byte // nil when the writer must serialise (see prepareBody)
	at   int
	// fts is the resource's full text, for its idx_fts row.
	fts ftsText
}

// placeholderStamp is the meta.lastUpdated a prepared body carries until
// it is written: the same width as every instant the store writes.
var (
	placeholderTime  = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	placeholderStamp = []byte(`"lastUpdated":"` + formatInstant(placeholderTime) + `"`)
)

// prepareBody makes res's full-text words and serialises it as version 1;
// the JSON is left out when it holds the placeholder elsewhere too (a
// contained resource stamped so): the writer then serialises it itself.
func (d *dialect) prepareBody(res fhir.Resource) *preparedBody {
	p := &preparedBody{fts: *d.fullText(res)}
	stamp(res, 1, placeholderTime)
	body := res.JSON()
	if at := bytes.Index(body, placeholderStamp); at >= 0 && bytes.Index(body[at+1:], placeholderStamp) < 0 {
		p.json, p.at = body, at+len(`"lastUpdated":"`)
	}
	return p
}

// stamped returns the prepared JSON with the real time in place.
func (b *preparedBody) stamped(now time.Time) []byte {
	out := slices.Clone(b.json)
	copy(out[b.at:], formatInstant(now))
	return out
}

// Write implements store.Store.
func (db *DB) Write(ctx context.Context, fn func(tx store.Tx) error) error {
	return db.submit(ctx, func(tx *txn) error { return fn(tx) })
}

// AppendAudit implements store.Store: the events share a commit with other
// queued writes and audits.
func (db *DB) AppendAudit(ctx context.Context, events ...fhir.Resource) error {
	if len(events) == 0 {
		return nil
	}
	// Encode the events here, in the caller's goroutine, not in the writer
	// goroutine that every write and audited read waits for: under
	// concurrent reads the encoding was a quarter of the writer's time.
	encoded := make([]audit.Encoded, len(events))
	for i, ev := range events {
		if ev == nil {
			return fmt.Errorf("store: audit: %w", fhir.Errorf(fhir.KindInvalid, "no audit event"))
		}
		if ev.ID() == "" {
			ev.SetID(store.NewID())
		}
		encoded[i] = audit.Encoded{Stored: ev.JSON(), Terms: audit.Index(ev)}
	}
	return db.AppendEncodedAudit(ctx, encoded...)
}

// AppendEncodedAudit implements store.EncodedAuditAppender: AppendAudit
// for events audit.Encode made.
func (db *DB) AppendEncodedAudit(ctx context.Context, events ...audit.Encoded) error {
	if len(events) == 0 {
		return nil
	}
	return db.submitAudit(ctx, func(tx *txn) error {
		if err := tx.usable(); err != nil {
			return err
		}
		recorded := tx.now.UnixMilli()
		for _, ev := range events {
			tx.db.pending = append(tx.db.pending, pendingAudit{recorded: recorded, event: ev.Stored, terms: ev.Terms})
		}
		return nil
	})
}

func (tx *txn) Now() time.Time { return tx.now }

// usable refuses a Tx whose fn has returned, and any statement after a
// database error in the batch: SQLite may have rolled the whole transaction
// back (disk full, I/O error), and a statement run then would autocommit on
// its own, outside the all-or-nothing of its Write.
func (tx *txn) usable() error {
	if tx.done {
		return errTxDone
	}
	if tx.db.batchErr != nil {
		return internalErr("write", tx.db.batchErr)
	}
	return nil
}

// dbErr records a database failure for the batch (runBatch then fails every
// write in it) and returns it wrapped for the caller.
func (tx *txn) dbErr(op string, err error) error {
	if tx.db.batchErr == nil {
		tx.db.batchErr = err
	}
	return internalErr(op, err)
}

func (tx *txn) Read(typ, id string) (*store.Version, error) {
	if err := tx.usable(); err != nil {
		return nil, err
	}
	if v, ok := tx.fetched[typ+"/"+id]; ok {
		switch {
		case v == nil:
			return nil, fmt.Errorf("store: read %s/%s: %w", typ, id, notFound(typ, id))
		case v.Deleted:
			return v, fmt.Errorf("store: read %s/%s: %w", typ, id, gone(typ, id, v.VersionID))
		}
		return v, nil
	}
	v, err := scanVersion(tx.db.wstmt.readCurrent.QueryRowContext(tx.ctx, typ, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if tx.absent == nil {
			tx.absent = map[string]bool{}
		}
		tx.absent[typ+"/"+id] = true
		return nil, fmt.Errorf("store: read %s/%s: %w", typ, id, notFound(typ, id))
	case err != nil:
		return nil, tx.dbErr(fmt.Sprintf("read %s/%s", typ, id), err)
	case v.Deleted:
		return v, fmt.Errorf("store: read %s/%s: %w", typ, id, gone(typ, id, v.VersionID))
	}
	return v, nil
}

// prefetchChunk is the most resources one Prefetch query asks for; fewer
// go by halves, so that each size is prepared once (prefetchStmt).
const prefetchChunk = 256

// Prefetch reads the current versions of refs ("Type/id") in queries of
// prefetchChunk each; those missing count as absent for the writes that
// follow (no second look).
func (tx *txn) Prefetch(refs []string) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if tx.fetched == nil {
		tx.fetched = map[string]*store.Version{}
	}
	if tx.absent == nil {
		tx.absent = map[string]bool{}
	}
	for len(refs) > 0 {
		k := prefetchChunk
		for k > len(refs) {
			k /= 2
		}
		chunk := refs[:k]
		refs = refs[len(chunk):]
		args := make([]any, 0, 2*len(chunk))
		for _, ref := range chunk {
			typ, id, ok := strings.Cut(ref, "/")
			if !ok {
				return fmt.Errorf("store: prefetch: %q is not Type/id", ref)
			}
			args = append(args, typ, id)
			tx.fetched[ref] = nil
			tx.absent[ref] = true
		}
		stmt, err := tx.db.prefetchStmt(tx.ctx, len(chunk))
		if err != nil {
			return tx.dbErr("prefetch", err)
		}
		rows, err := stmt.QueryContext(tx.ctx, args...)
		if err != nil {
			return tx.dbErr("prefetch", err)
		}
		for rows.Next() {
			v, err := scanVersion(rows)
			if err != nil {
				rows.Close()
				return tx.dbErr("prefetch", err)
			}
			key := v.Type + "/" + v.ID
			tx.fetched[key] = v
			delete(tx.absent, key)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return tx.dbErr("prefetch", err)
		}
	}
	return nil
}

// prefetchStmt returns Prefetch's query for n resources, prepared on the
// writer connection the first time.
func (db *DB) prefetchStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	if stmt := db.prefetches[n]; stmt != nil {
		return stmt, nil
	}
	stmt, err := db.wconn.PrepareContext(ctx, `SELECT `+versionColumns+` FROM resource_current c JOIN resource_version v ON v.seq = c.seq
		WHERE (c.type, c.id) IN (`+strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ")+`)`)
	if err != nil {
		return nil, err
	}
	if db.prefetches == nil {
		db.prefetches = map[int]*sql.Stmt{}
	}
	db.prefetches[n] = stmt
	return stmt, nil
}

func (tx *txn) Create(res fhir.Resource) (*store.Version, error) {
	if err := tx.usable(); err != nil {
		return nil, err
	}
	typ := res.Type()
	if typ == "" {
		return nil, fmt.Errorf("store: create: %w", fhir.Errorf(fhir.KindInvalid, "the resource has no resourceType"))
	}
	res.SetID(store.NewID())
	return tx.insert(typ, res.ID(), 1, res, "", "create", nil)
}

func (tx *txn) Update(res fhir.Resource, ifMatch int64) (*store.Version, bool, error) {
	return tx.update(res, ifMatch, nil)
}

// UpdatePrepared is Update with the index entries p carries, when they
// come from this store's extractor version.
func (tx *txn) UpdatePrepared(p *store.Prepared, ifMatch int64) (*store.Version, bool, error) {
	if p == nil {
		return nil, false, fmt.Errorf("store: update: %w", fhir.Errorf(fhir.KindInvalid, "nothing prepared"))
	}
	var entries []search.Entry
	if tx.db.extractor != nil && p.Extractor == tx.db.extractor.Version() {
		if entries = p.Entries; entries == nil {
			entries = []search.Entry{} // extracted, and none: not "extract now"
		}
	}
	tx.body, _ = p.Backend.(*preparedBody)
	defer func() { tx.body = nil }()
	return tx.update(p.Resource, ifMatch, entries)
}

// update is Update with entries as in insert.
func (tx *txn) update(res fhir.Resource, ifMatch int64, entries []search.Entry) (*store.Version, bool, error) {
	if err := tx.usable(); err != nil {
		return nil, false, err
	}
	typ, id := res.Type(), res.ID()
	if typ == "" || !fhir.ValidID(id) {
		return nil, false, fmt.Errorf("store: update %s/%s: %w", typ, id,
			fhir.Errorf(fhir.KindInvalid, "update needs a resourceType and a valid id"))
	}
	cur, err := tx.current(typ, id, ifMatch, "update")
	if err != nil {
		return nil, false, err
	}
	v, err := tx.insert(typ, id, cur.versionID+1, res, cur.pkey, "update", entries)
	return v, err == nil && !cur.exists, err
}

func (tx *txn) Delete(typ, id string, ifMatch int64) (*store.Version, error) {
	if err := tx.usable(); err != nil {
		return nil, err
	}
	cur, err := tx.current(typ, id, ifMatch, "delete")
	if err != nil || !cur.exists || cur.deleted {
		return nil, err
	}
	return tx.insert(typ, id, cur.versionID+1, nil, cur.pkey, "delete", nil)
}

// currentState is what a write needs to know of a resource's current
// version.
type currentState struct {
	versionID       int64
	deleted, exists bool
	pkey            string // its patient key, where the dialect keeps one
}

// current returns the current state of typ/id and checks ifMatch against
// it. A deleted resource has no current representation, so like a missing
// one it never matches an If-Match.
func (tx *txn) current(typ, id string, ifMatch int64, op string) (currentState, error) {
	var c currentState
	var err error
	if tx.absent[typ+"/"+id] {
		err = sql.ErrNoRows
	} else {
		err = tx.db.wstmt.currentState.QueryRowContext(tx.ctx, typ, id).Scan(&c.versionID, &c.deleted, &c.pkey)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return c, tx.dbErr(fmt.Sprintf("%s %s/%s", op, typ, id), err)
	default:
		c.exists = true
	}
	if ifMatch != 0 && (!c.exists || c.deleted || c.versionID != ifMatch) {
		return c, fmt.Errorf("store: %s %s/%s: %w", op, typ, id,
			fhir.Errorf(fhir.KindPreconditionFailed, "If-Match version %d does not match the current version of %s/%s", ifMatch, typ, id))
	}
	return c, nil
}

// insert writes version versionID of typ/id (a tombstone when res is nil)
// and makes it current. A tombstone keeps prevKey, the patient key of the
// version it follows, so that it stays beside the resource's other rows.
//
// entries are res's index entries when the caller extracted them already
// (UpdatePrepared); nil has the extractor make them here.
func (tx *txn) insert(typ, id string, versionID int64, res fhir.Resource, prevKey, op string, entries []search.Entry) (*store.Version, error) {
	var body []byte
	if res != nil {
		stamp(res, versionID, tx.now)
		if tx.body != nil && tx.body.json != nil && versionID == 1 {
			body = tx.body.stamped(tx.now) // the same bytes res.JSON() gives
		} else {
			body = res.JSON()
		}
		if tx.db.extractor != nil && entries == nil {
			var err error
			if entries, err = tx.db.extractor.Extract(res); err != nil {
				return nil, fmt.Errorf("store: %s %s/%s: index: %w", op, typ, id, err)
			}
		}
	}
	delete(tx.absent, typ+"/"+id)
	delete(tx.fetched, typ+"/"+id)
	deleted := res == nil
	pkey := prevKey
	if !deleted {
		pkey = patientKey(typ, id, entries)
	}
	d := tx.db.d
	ms := tx.now.UnixMilli()
	var seq, rid int64
	var err error
	if create := tx.db.wstmt.createNew; create != nil && versionID == 1 {
		args := d.pkArg([]any{typ, id, versionID, ms, b2i(deleted), body}, pkey)
		args = append(args, d.pkArg([]any{typ, id, versionID, b2i(deleted)}, pkey)...)
		args = append(args, d.pkArg([]any{typ, id, ms, b2i(deleted)}, pkey)...)
		if err := create.QueryRowContext(tx.ctx, args...).Scan(&seq, &rid); err != nil {
			return nil, tx.dbErr(fmt.Sprintf("%s %s/%s", op, typ, id), err)
		}
	} else {
		seq, err = d.insertID(tx.ctx, tx.db.wstmt.insertVersion, d.pkArg([]any{typ, id, versionID, ms, b2i(deleted), body}, pkey)...)
		if err != nil {
			return nil, tx.dbErr(fmt.Sprintf("%s %s/%s", op, typ, id), err)
		}
		setCurrent := tx.db.wstmt.setCurrent
		if versionID == 1 {
			setCurrent = tx.db.wstmt.insertCurrent
		}
		if _, err := setCurrent.ExecContext(tx.ctx, d.pkArg([]any{typ, id, versionID, seq, b2i(deleted)}, pkey)...); err != nil {
			return nil, tx.dbErr(fmt.Sprintf("%s %s/%s", op, typ, id), err)
		}
	}
	if err := tx.index(typ, id, seq, ms, rid, res, entries, pkey, versionID == 1); err != nil {
		return nil, tx.dbErr(fmt.Sprintf("%s %s/%s: index", op, typ, id), err)
	}
	tx.db.batchWrites++
	return &store.Version{
		Type: typ, ID: id, VersionID: versionID, LastUpdated: tx.now,
		Deleted: deleted, Resource: res, Seq: seq,
	}, nil
}

// AppendAudit records event in this transaction. An event without an id is
// given one (store.NewID), as a stored resource needs it. The event is
// inserted and chained at the end of the batch (sealAudit); a savepoint
// rolled back drops it from there.
func (tx *txn) AppendAudit(event fhir.Resource) error {
	if err := tx.usable(); err != nil {
		return err
	}
	if event == nil {
		return fmt.Errorf("store: audit: %w", fhir.Errorf(fhir.KindInvalid, "no audit event"))
	}
	if event.ID() == "" {
		event.SetID(store.NewID())
	}
	tx.db.pending = append(tx.db.pending, pendingAudit{recorded: tx.now.UnixMilli(), event: event.JSON(), terms: audit.Index(event), direct: tx.auditFile})
	return nil
}
