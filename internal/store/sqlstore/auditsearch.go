package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Audit search pages.
const (
	defaultAuditCount = 50
	maxAuditCount     = 1000
)

// driverRank ranks a term by how few records it usually matches (lower
// is fewer): a query's best term whose values are all indexed drives the
// search (its posting lists, read in seq order, give the candidate
// records, which stop once the page is full); every candidate is checked
// against the whole query by its own terms. A failure outcome and
// break-glass are rare, a success or an action common; a purpose of use
// is given to most accesses.
func driverRank(t audit.Term) int {
	switch t.Name {
	case audit.ParamID:
		return 0
	case audit.ParamPatient, audit.ParamEntity:
		return 1
	case audit.ParamAgent, audit.ParamAgentName:
		return 2
	case audit.ParamSecurity:
		return 3
	case audit.ParamOutcome:
		if t.Value != "0" && !strings.HasSuffix(t.Value, "|0") {
			return 3
		}
		return 7
	case audit.ParamCode, audit.ParamCategory:
		return 4
	case audit.ParamPurpose:
		return 5
	}
	return 6 // action
}

// SearchAudit implements store.AuditSearcher on the reader pool, in one
// read transaction (a snapshot: the postings and the records they list
// agree).
func (db *DB) SearchAudit(ctx context.Context, q store.AuditQuery) (*store.AuditPage, error) {
	if err := db.indexAuditNow(ctx); err != nil {
		return nil, err
	}
	count := q.Count
	if count <= 0 {
		count = defaultAuditCount
	}
	count = min(count, maxAuditCount)
	// Which way this page reads seq: the sort's way, or back against it
	// for a previous page (then reversed).
	var (
		bound    int64
		backward bool
	)
	if q.Cursor != "" {
		dir, num := q.Cursor[:1], q.Cursor[1:]
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n <= 0 || (dir != "n" && dir != "p") {
			return nil, fmt.Errorf("store: audit search: %w", fhir.Errorf(fhir.KindInvalid, "_cursor %q was not issued by this server", q.Cursor))
		}
		bound, backward = n, dir == "p"
	}
	descending := !q.Ascending != backward

	tx, err := db.readers.BeginTx(ctx, db.d.historyTx)
	if err != nil {
		return nil, readErr(ctx, "audit search", err)
	}
	defer tx.Rollback()
	s := newAuditScan(tx, q)

	page := &store.AuditPage{Total: -1}
	err = s.run(ctx, descending, bound, count+1, func(r store.AuditRecord) bool {
		page.Records = append(page.Records, r)
		return len(page.Records) <= count
	})
	if err != nil {
		return nil, readErr(ctx, "audit search", err)
	}
	more := len(page.Records) > count
	if more {
		page.Records = page.Records[:count]
	}
	for i, r := range page.Records {
		// A record that does not render was tampered with: it is
		// returned as stored, which does not parse either (verify says
		// where).
		if json, err := audit.Render(r.Event); err == nil {
			page.Records[i].Event = json
		}
	}
	if backward {
		slices.Reverse(page.Records)
	}
	if n := len(page.Records); n > 0 {
		first, last := page.Records[0].Seq, page.Records[n-1].Seq
		// Forward: a next page when there are more, a previous one when
		// this page came from a cursor. Back: the other way round.
		more, came := more, bound > 0
		if backward {
			more, came = came, more
		}
		if more {
			page.Next = "n" + strconv.FormatInt(last, 10)
		}
		if came {
			page.Prev = "p" + strconv.FormatInt(first, 10)
		}
	}
	if q.Total {
		if page.Total, err = s.total(ctx); err != nil {
			return nil, readErr(ctx, "audit search: total", err)
		}
	}
	return page, nil
}

// auditScan finds the records an audit query matches.
type auditScan struct {
	tx *sql.Tx
	q  store.AuditQuery
	// driver is the values of the query's driving parameter (nil to scan
	// the log): a record with none of them does not match.
	driver []audit.Term
	// exact: the driver's postings list exactly the matches (one value,
	// listed under itself, and nothing else asked).
	exact bool
	// check is the term lists a candidate is checked against: all but
	// the driver's when its values are listed under themselves.
	check [][]audit.Term
}

func newAuditScan(tx *sql.Tx, q store.AuditQuery) *auditScan {
	s := &auditScan{tx: tx, q: q}
	// The driver: the parameter of the most selective kind among those
	// whose values are all indexed (an implicit value has no postings,
	// audit.Implicit), single values before lists of them.
	rank := func(list []audit.Term) int {
		r := 0
		for _, t := range list {
			r = max(r, driverRank(t))
		}
		return 8*len(list) + r
	}
	pick := -1
	for i, list := range q.Terms {
		if len(list) == 0 || slices.ContainsFunc(list, audit.Implicit) {
			continue
		}
		if pick < 0 || rank(list) < rank(q.Terms[pick]) {
			pick = i
		}
	}
	s.check = q.Terms
	if pick >= 0 {
		s.driver = q.Terms[pick]
		listed := !slices.ContainsFunc(s.driver, func(t audit.Term) bool { return postingKey(t) != t.Value })
		if listed {
			s.check = slices.Delete(slices.Clone(q.Terms), pick, pick+1)
		}
		s.exact = listed && len(s.check) == 0 && len(q.Recorded) == 0 && len(s.driver) == 1
	}
	return s
}

// matches reports whether a record answers the query: each parameter by
// one of its values (a term of the record's, or an implicit value and no
// term of that parameter), and each date list by one of its ranges.
func (s *auditScan) matches(recorded int64, event []byte) bool {
	for _, list := range s.q.Recorded {
		if !slices.ContainsFunc(list, func(r store.TimeRange) bool {
			return (r.From == 0 || recorded >= r.From) && (r.To == 0 || recorded < r.To)
		}) {
			return false
		}
	}
	if len(s.check) == 0 {
		return true
	}
	terms, err := audit.StoredTerms(event)
	if err != nil {
		return false // tampered with: verify reports it
	}
	for _, list := range s.check {
		if !slices.ContainsFunc(list, func(t audit.Term) bool {
			return slices.Contains(terms, t) ||
				audit.Implicit(t) && !slices.ContainsFunc(terms, func(u audit.Term) bool { return u.Name == t.Name })
		}) {
			return false
		}
	}
	return true
}

// run yields the matching records in seq order (descending or not),
// those before bound (after it, ascending) when bound > 0, until yield
// returns false. want is how many the caller expects to take (0: all),
// for the size of the first reads.
func (s *auditScan) run(ctx context.Context, descending bool, bound int64, want int, yield func(store.AuditRecord) bool) error {
	// Candidates are read in batches growing from what a page takes.
	batchSize := func(read int) int {
		if want <= 0 {
			return recordBatch
		}
		return min(recordBatch, max(want, read))
	}
	if s.driver == nil {
		return s.scanLog(ctx, descending, bound, batchSize, yield)
	}
	streams := make([]*postingStream, len(s.driver))
	for i, t := range s.driver {
		streams[i] = &postingStream{tx: s.tx, name: t.Name, key: postingKey(t), descending: descending, bound: bound}
	}
	var batch []int64
	flushed := 0
	flush := func() (bool, error) {
		if len(batch) == 0 {
			return true, nil
		}
		found, err := s.records(ctx, batch)
		flushed += len(batch)
		batch = batch[:0]
		if err != nil {
			return false, err
		}
		for _, r := range found {
			if s.matches(r.Recorded.UnixMilli(), r.Event) && !yield(r) {
				return false, nil
			}
		}
		return true, nil
	}
	last := int64(-1)
	for {
		// The next candidate of the union of the driver's values, each
		// once.
		next := int64(-1)
		for _, st := range streams {
			seq, err := st.peek(ctx)
			if err != nil {
				return err
			}
			if seq > 0 && (next < 0 || (descending && seq > next) || (!descending && seq < next)) {
				next = seq
			}
		}
		if next < 0 {
			_, err := flush()
			return err
		}
		for _, st := range streams {
			if seq, _ := st.peek(ctx); seq == next {
				st.pop()
			}
		}
		if next == last {
			continue
		}
		last = next
		batch = append(batch, next)
		if len(batch) >= batchSize(flushed) {
			if more, err := flush(); err != nil || !more {
				return err
			}
		}
	}
}

// recordBatch is the most candidate records one query reads.
const recordBatch = 256

// records reads the records seqs (in that order; a record purged
// meanwhile is missing).
func (s *auditScan) records(ctx context.Context, seqs []int64) ([]store.AuditRecord, error) {
	args := make([]any, len(seqs))
	for i, seq := range seqs {
		args[i] = seq
	}
	rows, err := s.tx.QueryContext(ctx, "SELECT seq, recorded, event FROM audit_event WHERE seq IN (?"+strings.Repeat(", ?", len(seqs)-1)+")", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	at := make(map[int64]store.AuditRecord, len(seqs))
	for rows.Next() {
		r, err := scanAuditRecord(rows)
		if err != nil {
			return nil, err
		}
		at[r.Seq] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]store.AuditRecord, 0, len(seqs))
	for _, seq := range seqs {
		if r, ok := at[seq]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func scanAuditRecord(rows *sql.Rows) (store.AuditRecord, error) {
	var (
		r        store.AuditRecord
		recorded int64
	)
	err := rows.Scan(&r.Seq, &recorded, &r.Event)
	r.Recorded = time.UnixMilli(recorded).UTC()
	return r, err
}

// scanLog reads the log itself, in chunks (batchSize), checking each: a
// query no postings can drive (dates only, or implicit values).
func (s *auditScan) scanLog(ctx context.Context, descending bool, bound int64, batchSize func(read int) int, yield func(store.AuditRecord) bool) error {
	op, order := "<", "DESC"
	if !descending {
		op, order = ">", "ASC"
	}
	dateConds, dateArgs := recordedConds(s.q.Recorded)
	for read := 0; ; {
		chunkSize := batchSize(read)
		conds, args := slices.Clone(dateConds), slices.Clone(dateArgs)
		if bound > 0 {
			conds, args = append(conds, "seq "+op+" ?"), append(args, bound)
		}
		rows, err := s.tx.QueryContext(ctx, "SELECT seq, recorded, event FROM audit_event"+where(conds)+" ORDER BY seq "+order+" LIMIT ?", append(args, chunkSize)...)
		if err != nil {
			return err
		}
		var chunk []store.AuditRecord
		for rows.Next() {
			r, err := scanAuditRecord(rows)
			if err != nil {
				rows.Close()
				return err
			}
			chunk = append(chunk, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range chunk {
			if s.matches(r.Recorded.UnixMilli(), r.Event) && !yield(r) {
				return nil
			}
		}
		if len(chunk) < chunkSize {
			return nil
		}
		read += len(chunk)
		bound = chunk[len(chunk)-1].Seq
	}
}

// recordedConds is the query's dates as SQL conditions on recorded.
func recordedConds(recorded [][]store.TimeRange) (conds []string, args []any) {
	for _, list := range recorded {
		var ors []string
		for _, r := range list {
			var c []string
			if r.From != 0 {
				c = append(c, "recorded >= ?")
				args = append(args, r.From)
			}
			if r.To != 0 {
				c = append(c, "recorded < ?")
				args = append(args, r.To)
			}
			if len(c) == 0 {
				c = []string{"1 = 1"}
			}
			ors = append(ors, "("+strings.Join(c, " AND ")+")")
		}
		if len(ors) > 0 {
			conds = append(conds, "("+strings.Join(ors, " OR ")+")")
		}
	}
	return conds, args
}

// total counts the matches of the whole query: from the postings alone
// when they list exactly the matches, by checking every candidate
// otherwise.
func (s *auditScan) total(ctx context.Context) (int64, error) {
	n := int64(0)
	if s.exact {
		t := s.driver[0]
		rows, err := s.tx.QueryContext(ctx, "SELECT first, seqs FROM audit_posting WHERE name = ? AND key = ?", t.Name, t.Value)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		var seqs []int64
		for rows.Next() {
			var (
				first int64
				list  []byte
			)
			if err := rows.Scan(&first, &list); err != nil {
				return 0, err
			}
			seqs = postingSeqs(seqs[:0], first, list)
			n += int64(len(seqs))
		}
		return n, rows.Err()
	}
	if s.driver == nil && len(s.q.Terms) == 0 {
		conds, args := recordedConds(s.q.Recorded)
		err := s.tx.QueryRowContext(ctx, "SELECT count(*) FROM audit_event"+where(conds), args...).Scan(&n)
		return n, err
	}
	if s.driver == nil && len(s.q.Recorded) == 0 && !slices.ContainsFunc(s.q.Terms, func(list []audit.Term) bool {
		return len(list) != 1 || !audit.Implicit(list[0])
	}) {
		return s.implicitTotal(ctx)
	}
	err := s.run(ctx, true, 0, 0, func(store.AuditRecord) bool { n++; return true })
	return n, err
}

// implicitTotal counts the matches of a query of implicit values only
// (action=R, outcome=0: most of the log) from the postings, without
// reading a record: a record fails to match when it has a term of one of
// the parameters but not the implicit value itself (which is listed when
// a record has it beside another value).
func (s *auditScan) implicitTotal(ctx context.Context) (int64, error) {
	var n int64
	if err := s.tx.QueryRowContext(ctx, "SELECT count(*) FROM audit_event").Scan(&n); err != nil {
		return 0, err
	}
	var failing []int64
	for _, list := range s.q.Terms {
		name := list[0].Name
		rows, err := s.tx.QueryContext(ctx, "SELECT key, first, seqs FROM audit_posting WHERE name = ?", name)
		if err != nil {
			return 0, err
		}
		var other, implicit []int64
		for rows.Next() {
			var (
				key   string
				first int64
				list  []byte
			)
			if err := rows.Scan(&key, &first, &list); err != nil {
				rows.Close()
				return 0, err
			}
			if audit.Implicit(audit.Term{Name: name, Value: key}) {
				implicit = postingSeqs(implicit, first, list)
			} else {
				other = postingSeqs(other, first, list)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		slices.Sort(implicit)
		for _, seq := range other {
			if _, found := slices.BinarySearch(implicit, seq); !found {
				failing = append(failing, seq)
			}
		}
	}
	slices.Sort(failing)
	return n - int64(len(slices.Compact(failing))), nil
}

// postingStream reads a term's postings in seq order, a few rows at a
// time, and gives their records one by one: descending, those before
// bound; ascending, those after it (any when bound is 0).
type postingStream struct {
	tx         *sql.Tx
	name, key  string
	descending bool
	bound      int64
	pending    []int64 // read, in the stream's order
	cursor     int64   // the last row's last seq read (0 before the first)
	done       bool
}

// postingRows is how many postings a stream reads per query.
const postingRows = 16

// peek returns the stream's next record, or -1 at its end.
func (p *postingStream) peek(ctx context.Context) (int64, error) {
	for len(p.pending) == 0 && !p.done {
		if err := p.fill(ctx); err != nil {
			return 0, err
		}
	}
	if len(p.pending) == 0 {
		return -1, nil
	}
	return p.pending[0], nil
}

func (p *postingStream) pop() { p.pending = p.pending[1:] }

// fill reads the next rows. A term's rows cover disjoint ranges of seq,
// ordered by last: descending from a bound, the first row wanted may be
// the one whose range holds the bound (the first with last >= bound).
func (p *postingStream) fill(ctx context.Context) error {
	var query string
	var args []any
	holding := false // reading the row holding the bound: a row short is not the end
	switch {
	case p.descending && p.cursor == 0 && p.bound > 0:
		holding = true
		// The row holding the bound, then (cursor set) those before it.
		query = "SELECT first, last, seqs FROM audit_posting WHERE name = ? AND key = ? AND last >= ? ORDER BY last LIMIT 1"
		args = []any{p.name, p.key, p.bound}
		p.cursor = p.bound
	case p.descending && p.cursor == 0:
		query = "SELECT first, last, seqs FROM audit_posting WHERE name = ? AND key = ? ORDER BY last DESC LIMIT ?"
		args = []any{p.name, p.key, postingRows}
	case p.descending:
		query = "SELECT first, last, seqs FROM audit_posting WHERE name = ? AND key = ? AND last < ? ORDER BY last DESC LIMIT ?"
		args = []any{p.name, p.key, p.cursor, postingRows}
	default:
		query = "SELECT first, last, seqs FROM audit_posting WHERE name = ? AND key = ? AND last > ? ORDER BY last LIMIT ?"
		args = []any{p.name, p.key, max(p.cursor, p.bound), postingRows}
	}
	rows, err := p.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			first, last int64
			list        []byte
		)
		if err := rows.Scan(&first, &last, &list); err != nil {
			return err
		}
		n++
		seqs := postingSeqs(nil, first, list)
		if p.descending {
			slices.Reverse(seqs)
		}
		for _, seq := range seqs {
			if p.bound == 0 || (p.descending && seq < p.bound) || (!p.descending && seq > p.bound) {
				p.pending = append(p.pending, seq)
			}
		}
		if !holding {
			p.cursor = last
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !holding && n < postingRows {
		p.done = true
	}
	return nil
}

func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}
