package sqlstore

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/audit"
)

// The audit index keeps each audit record's search terms (audit.Index) as
// posting lists (audit_posting, migration 0008): a row per term and
// indexing pass, listing the pass's records with the term. It is written
// in bulk (migration 0007): a record appended by sealAudit is chained and
// durable at once, and its terms wait, in the memory of the process that
// appended it, until the writer indexes the records after
// audit_indexed.through, every auditIndexEvery records and before any
// audit search (indexAuditNow). Per record, index rows were most of an
// audited read's cost; a pass writes one row for each distinct term it
// saw, where a row per term and record was six rows a read.
//
// A record whose terms are not in memory (appended by another process, or
// before a crash or restart) is indexed from its stored form in the log,
// so a crash loses nothing searchable. Passes cover contiguous, ascending
// ranges of seq (the audit lock keeps two processes from indexing at
// once), so a term's rows cover disjoint ranges, which the search relies
// on.

// auditIndexEvery is how many records may wait to be indexed before the
// writer indexes them in the batch that appends the last.
const auditIndexEvery = 2048

// auditIndexOpenChunk is the most records indexed per transaction when the
// store opens and catches up (other processes' appends are held up by the
// audit lock meanwhile).
const auditIndexOpenChunk = 10000

// sealedTerms are the search terms of the record seq, waiting to be indexed.
type sealedTerms struct {
	seq   int64
	terms []audit.Term
}

// indexedTerm is a search term of the record seq.
type indexedTerm struct {
	audit.Term
	seq int64
}

// auditIndexState is the writer's view of the index, writer goroutine only.
type auditIndexState struct {
	through   int64         // audit_indexed.through when last read or set
	sealed    []sealedTerms // appended by the running transaction
	unindexed []sealedTerms // committed by this process after through, in seq order
	wanted    bool          // a search asked for the index to be up to date
	moved     int64         // through as the running transaction sets it; 0 when it does not
}

// begin forgets what a previous, failed transaction left.
func (s *auditIndexState) begin() {
	clear(s.sealed)
	s.sealed = s.sealed[:0]
	s.wanted = false
	s.moved = 0
}

// commit takes in what the committed transaction appended and indexed.
func (s *auditIndexState) commit() {
	s.unindexed = append(s.unindexed, s.sealed...)
	clear(s.sealed)
	s.sealed = s.sealed[:0]
	if s.moved > 0 {
		s.through = s.moved
		i, _ := slices.BinarySearchFunc(s.unindexed, s.through+1, func(e sealedTerms, seq int64) int { return cmp.Compare(e.seq, seq) })
		s.unindexed = slices.Delete(s.unindexed, 0, i)
	}
	s.wanted = false
	s.moved = 0
}

// due reports whether the records up to tip should be indexed now.
func (s *auditIndexState) due(tip int64) bool {
	return s.wanted || tip-s.through >= auditIndexEvery
}

// indexAudit indexes the records after audit_indexed.through up to tip (at
// most limit of them when limit > 0) and moves through on, in the running
// transaction, which holds the audit lock. It returns the new through.
func (db *DB) indexAudit(ctx context.Context, tip int64, limit int64) (int64, error) {
	var through int64
	if err := db.wconn.QueryRowContext(ctx, "SELECT through FROM audit_indexed").Scan(&through); err != nil {
		return 0, err
	}
	if through >= tip {
		db.aidx.moved = through
		return through, nil
	}
	end := tip
	if limit > 0 {
		end = min(tip, through+limit)
	}
	n := 0
	for _, list := range [][]sealedTerms{db.aidx.unindexed, db.aidx.sealed} {
		for _, e := range list {
			n += len(e.terms)
		}
	}
	terms := make([]indexedTerm, 0, n)
	// The terms in memory, and the records between them read from the log.
	next := through + 1
	gap := func(upTo int64) error {
		if next > upTo {
			return nil
		}
		found, err := db.logTerms(ctx, next, upTo)
		terms = append(terms, found...)
		return err
	}
	for _, list := range [][]sealedTerms{db.aidx.unindexed, db.aidx.sealed} {
		for _, e := range list {
			if e.seq <= through || e.seq > end {
				continue
			}
			if err := gap(e.seq - 1); err != nil {
				return 0, err
			}
			for _, t := range e.terms {
				terms = append(terms, indexedTerm{t, e.seq})
			}
			next = e.seq + 1
		}
	}
	if err := gap(end); err != nil {
		return 0, err
	}
	// In seq order, as buildPostings needs: the gaps and the records in
	// memory were taken in turn.
	if err := db.insertPostings(ctx, buildPostings(terms)); err != nil {
		return 0, err
	}
	if _, err := db.wconn.ExecContext(ctx, "UPDATE audit_indexed SET through = ?", end); err != nil {
		return 0, err
	}
	db.aidx.moved = end
	return end, nil
}

// logTerms reads the records from..to of the log and returns their terms.
// A record that does not parse was tampered with (the server wrote JSON):
// verify reports it; it is left out of search rather than keeping the
// server from starting or the log from growing.
func (db *DB) logTerms(ctx context.Context, from, to int64) ([]indexedTerm, error) {
	rows, err := db.wconn.QueryContext(ctx, "SELECT seq, event FROM audit_event WHERE seq >= ? AND seq <= ? ORDER BY seq", from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var terms []indexedTerm
	for rows.Next() {
		var (
			seq  int64
			body []byte
		)
		if err := rows.Scan(&seq, &body); err != nil {
			return nil, err
		}
		found, err := audit.StoredTerms(body)
		if err != nil {
			slog.Warn(db.d.name+": audit record does not parse; not indexed", "seq", seq, "error", err)
			continue
		}
		for _, t := range found {
			terms = append(terms, indexedTerm{t, seq})
		}
	}
	return terms, rows.Err()
}

// A posting is one audit_posting row: the records of one indexing pass
// with the search term (name, key), in seq order.
type posting struct {
	name, key   string
	first, last int64
	seqs        []byte // the records after first: uvarint differences from the one before
}

// postingKey is the key a term is listed under: its value, except for a
// UUIDv7 _id, listed under its creation millisecond (the first 13
// characters, "xxxxxxxx-xxxx"), so that the records created in one
// millisecond share a row where each would have its own. A search checks
// the candidates' own terms, so the coarser key finds the same records.
func postingKey(t audit.Term) string {
	if t.Name == audit.ParamID && uuidV7(t.Value) {
		return t.Value[:13]
	}
	return t.Value
}

// uuidV7 reports whether id has the form store.NewID gives.
func uuidV7(id string) bool {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[14] != '7' || id[18] != '-' || id[23] != '-' {
		return false
	}
	for i := range len(id) {
		switch c := id[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		default:
			return false
		}
	}
	return true
}

// buildPostings groups terms, given in seq order, into one posting per
// (name, key). A pass of reads has a few distinct terms per record (its
// patient and entity) where it had six rows: the agent is nearly always
// the same, and a patient's chart is read many times over.
func buildPostings(terms []indexedTerm) []posting {
	at := make(map[[2]string]int, len(terms)/4)
	out := make([]posting, 0, len(terms)/4)
	for _, t := range terms {
		k := [2]string{t.Name, postingKey(t.Term)}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, posting{name: k[0], key: k[1], first: t.seq, last: t.seq, seqs: []byte{}})
			continue
		}
		p := &out[i]
		if t.seq <= p.last { // the record is listed already
			continue
		}
		p.seqs = binary.AppendUvarint(p.seqs, uint64(t.seq-p.last))
		p.last = t.seq
	}
	// In key order, so that the inserts walk the table's B-tree once
	// instead of seeking at random.
	slices.SortFunc(out, func(a, b posting) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.key, b.key))
	})
	return out
}

// postingSeqs appends the records a posting lists to seqs, in seq order.
// A malformed list (only tampering makes one) yields what it can.
func postingSeqs(seqs []int64, first int64, list []byte) []int64 {
	seqs = append(seqs, first)
	for s := first; len(list) > 0; {
		d, n := binary.Uvarint(list)
		if n <= 0 || d == 0 {
			break
		}
		s += int64(d)
		seqs = append(seqs, s)
		list = list[n:]
	}
	return seqs
}

// postingInsertChunk is the most audit_posting rows one INSERT appends.
const postingInsertChunk = 64

// insertPostings appends the postings to audit_posting on the writer
// connection. A row that is there already (the same term's records up to
// the same seq) is left as it is: only indexing one record twice makes
// one, and the audit lock keeps two processes from doing that.
func (db *DB) insertPostings(ctx context.Context, postings []posting) error {
	if db.d == postgresDialect && len(postings) > 0 {
		// One statement, five arrays: one round trip for the lot.
		n := len(postings)
		names, keys, lasts, firsts, seqs := make([]string, n), make([]string, n), make([]int64, n), make([]int64, n), make([][]byte, n)
		for i, p := range postings {
			names[i], keys[i], lasts[i], firsts[i], seqs[i] = p.name, p.key, p.last, p.first, p.seqs
		}
		_, err := db.wconn.ExecContext(ctx, `INSERT INTO audit_posting (name, key, last, first, seqs)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[]) ON CONFLICT DO NOTHING`, names, keys, lasts, firsts, seqs)
		return err
	}
	return db.insertRows(ctx, &db.postingInserts, db.d.insertIgnore+" audit_posting (name, key, last, first, seqs)", db.d.ignoreSuffix, 5, postingInsertChunk, len(postings),
		func(args []any, i int) []any {
			p := postings[i]
			return append(args, p.name, p.key, p.last, p.first, p.seqs)
		})
}

// purgePostings takes the records up to through out of audit_posting, in
// the purge's transaction: rows listing only such records go, and a row
// listing records on both sides is written again with the later ones.
func (db *DB) purgePostings(ctx context.Context, through int64) error {
	rows, err := db.wconn.QueryContext(ctx, "SELECT name, key, last, first, seqs FROM audit_posting WHERE first <= ? AND last > ?", through, through)
	if err != nil {
		return err
	}
	var kept []posting
	for rows.Next() {
		var (
			p    posting
			list []byte
		)
		if err := rows.Scan(&p.name, &p.key, &p.last, &p.first, &list); err != nil {
			rows.Close()
			return err
		}
		seqs := postingSeqs(nil, p.first, list)
		i, _ := slices.BinarySearch(seqs, through+1)
		seqs = seqs[i:]
		p.first, p.last, p.seqs = seqs[0], seqs[len(seqs)-1], []byte{}
		for i := 1; i < len(seqs); i++ {
			p.seqs = binary.AppendUvarint(p.seqs, uint64(seqs[i]-seqs[i-1]))
		}
		kept = append(kept, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := db.wconn.ExecContext(ctx, "DELETE FROM audit_posting WHERE first <= ?", through); err != nil {
		return err
	}
	return db.insertPostings(ctx, kept)
}

// catchUpAuditIndex indexes every record waiting, a transaction per
// auditIndexOpenChunk records: when the store opens, those left unindexed
// (by a crash, by a process that stopped, by a migration); when it closes,
// its own. It returns how many records it indexed.
func (db *DB) catchUpAuditIndex(ctx context.Context) (int64, error) {
	indexed := int64(0)
	for {
		var from, to int64
		err := db.auditTx(ctx, true, func(tip int64, _ []byte) (err error) {
			if err := db.wconn.QueryRowContext(ctx, "SELECT through FROM audit_indexed").Scan(&from); err != nil {
				return err
			}
			to, err = db.indexAudit(ctx, tip, auditIndexOpenChunk)
			return err
		})
		if err != nil {
			return indexed, fmt.Errorf("audit index: %w", err)
		}
		if to <= from {
			return indexed, nil
		}
		indexed += to - from
	}
}

// indexAuditNow brings the audit index up to the log's tip, so that a search
// sees every record committed before it started. It asks the writer only
// when records wait.
func (db *DB) indexAuditNow(ctx context.Context) error {
	var waiting bool
	err := db.readers.QueryRowContext(ctx, `SELECT coalesce((SELECT max(seq) FROM audit_event), 0) > (SELECT through FROM audit_indexed)`).Scan(&waiting)
	if err != nil {
		return readErr(ctx, "audit search: index", err)
	}
	if !waiting {
		return nil
	}
	return db.submitAudit(ctx, func(tx *txn) error {
		if err := tx.usable(); err != nil {
			return err
		}
		tx.db.aidx.wanted = true
		return nil
	})
}
