package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// querier is the reader pool or, inside a write, the writer connection.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Search implements store.Store on the reader pool.
func (db *DB) Search(ctx context.Context, q *search.Query) (*store.SearchResult, error) {
	var res *store.SearchResult
	err := db.onReads(ctx, func(r *readSide) (err error) {
		res, err = runSearch(ctx, db.d, &r.search, q)
		return err
	})
	if err != nil {
		return nil, searchErr(ctx, err)
	}
	return res, nil
}

// Search implements store.Tx on the writer connection, so that it sees the
// transaction's own writes.
func (tx *txn) Search(q *search.Query) (*store.SearchResult, error) {
	if err := tx.usable(); err != nil {
		return nil, err
	}
	// The search must see this transaction's own writes, index rows
	// still buffered included.
	if err := tx.db.flushIndex(tx.ctx); err != nil {
		return nil, tx.dbErr("index", err)
	}
	res, err := runSearch(tx.ctx, tx.db.d, &tx.db.wsearch, q)
	if err != nil {
		if _, ok := err.(dbError); ok {
			return nil, tx.dbErr("search", err)
		}
		return nil, fmt.Errorf("store: search: %w", err)
	}
	return res, nil
}

// dbError marks a failure of the database, as opposed to a query the store
// refuses (a *fhir.Error).
type dbError struct{ error }

func (e dbError) Unwrap() error { return e.error }

func searchErr(ctx context.Context, err error) error {
	if de, ok := err.(dbError); ok {
		return readErr(ctx, "search", de.error)
	}
	return fmt.Errorf("store: search: %w", err)
}

// searchPlan is a query compiled to its WHERE clause and ordering.
type searchPlan struct {
	d     *dialect
	types []string // the resource types searched; empty: any
	sorts []sortExpr
	sig   string // the ordering, which a cursor must have been issued for
	// walk: no condition narrows the search to an index range, but the
	// first sort key is a parameter: read its index in order (the head,
	// resources with the value) and then the resources without it (the
	// tail), rather than sorting every resource of the type.
	walk bool
}

// pageMode is which rows a page query reads.
type pageMode int

const (
	modeAll  pageMode = iota
	modeHead          // walk: resources with a value of the first sort key, in index order
	modeTail          // walk: resources without it
)

// sortExpr is one ORDER BY key: an SQL expression over k that is never
// NULL (resources without the value sort last either way).
type sortExpr struct {
	expr string
	desc bool
	// For a parameter: its index table, column, code and the value of a
	// resource without it, so that the search can walk the table's index
	// in the sorted order (see searchPlan.walk).
	table, col, param, missing string
}

func runSearch(ctx context.Context, d *dialect, db querier, q *search.Query) (*store.SearchResult, error) {
	p, err := planSearch(d, q)
	if err != nil {
		return nil, err
	}
	var cur *cursor
	if q.Cursor != "" {
		if cur, err = decodeCursor(q.Cursor, p.sig, len(p.sorts)); err != nil {
			return nil, err
		}
	}
	size := q.Count
	switch {
	case q.CountGiven && q.Count == 0, q.Summary == "count":
		total, err := p.count(ctx, db, q, false)
		if err != nil {
			return nil, err
		}
		return &store.SearchResult{Total: total}, nil
	case size <= 0:
		size = store.DefaultPageSize
	case size > store.MaxPageSize:
		size = store.MaxPageSize
	}
	page, err := p.page(ctx, db, q, cur, size)
	if err != nil {
		return nil, err
	}
	res := &store.SearchResult{Matches: page.versions, Total: -1}
	offset := int64(0)
	backward := cur != nil && cur.Back
	if cur != nil {
		offset = cur.Offset
		if backward {
			offset = max(0, cur.Offset-int64(len(page.versions)))
			if !page.more {
				offset = 0 // back at the first page
			}
		}
	}
	if n := len(page.keys); n > 0 {
		first, last := page.keys[0], page.keys[n-1]
		if backward {
			res.Next = encodeCursor(cursor{Values: last.values, Rid: last.rid, Tail: last.tail, Offset: offset + int64(n), Sig: p.sig})
			if page.more {
				res.Prev = encodeCursor(cursor{Values: first.values, Rid: first.rid, Tail: first.tail, Back: true, Offset: offset, Sig: p.sig})
			}
		} else {
			if page.more {
				res.Next = encodeCursor(cursor{Values: last.values, Rid: last.rid, Tail: last.tail, Offset: offset + int64(n), Sig: p.sig})
			}
			if cur != nil {
				res.Prev = encodeCursor(cursor{Values: first.values, Rid: first.rid, Tail: first.tail, Back: true, Offset: offset, Sig: p.sig})
			}
		}
	}
	switch {
	case q.Total == "accurate":
		if res.Total, err = p.count(ctx, db, q, false); err != nil {
			return nil, err
		}
	case q.Total == "estimate":
		if res.Total, err = p.count(ctx, db, q, true); err != nil {
			return nil, err
		}
	case !backward && !page.more && (cur == nil || len(page.keys) > 0):
		// The last page: everything before it was counted along.
		res.Total = offset + int64(len(page.versions))
	}
	if len(q.Includes) > 0 || len(q.RevIncludes) > 0 {
		if res.Included, err = includes(ctx, d, db, q, page.keys); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// planSearch checks what does not depend on the page: types and ordering.
func planSearch(d *dialect, q *search.Query) (*searchPlan, error) {
	p := &searchPlan{d: d}
	switch {
	case q.Type != "":
		p.types = []string{q.Type}
	case len(q.Types) > 0:
		p.types = q.Types
	}
	var sig []string
	for _, s := range q.Sort {
		e, err := sortExpression(d, s, p.types)
		if err != nil {
			return nil, err
		}
		p.sorts = append(p.sorts, e)
		dir := ""
		if s.Descending {
			dir = "-"
		}
		sig = append(sig, dir+s.Name)
	}
	p.sig = strings.Join(sig, ",")
	p.walk = len(p.types) == 1 && q.Compartment == nil && len(p.sorts) > 0 && p.sorts[0].table != "" &&
		!slices.ContainsFunc(q.Filters, func(f *search.Filter) bool { return driveScore(f) > 0 })
	return p, nil
}

// paramTypes is the type list for index lookups of parameter code.
func (p *searchPlan) paramTypes(code string) []string {
	if len(p.types) > 0 {
		return p.types
	}
	return typesWithParam(code)
}

// where builds the conditions on k, the resource_key alias of the
// candidates: types, liveness, compartment and every filter. The most
// selective-looking positive condition drives the search as an IN over an
// index range; the others are correlated probes by rid.
func (p *searchPlan) where(b *sqlBuilder, q *search.Query) (string, error) {
	conds := []string{"k.deleted = 0"}
	if len(p.types) > 0 {
		conds = append(conds, b.in("k.type", p.types))
	}
	if q.Access != nil {
		seen, err := b.visible("k", p.types)
		if err != nil {
			return "", err
		}
		conds = append(conds, seen)
	}
	driver := -1
	if q.Compartment == nil {
		best := 0
		for i, f := range q.Filters {
			if s := driveScore(f); s > best {
				best, driver = s, i
			}
		}
	}
	if c := q.Compartment; c != nil {
		if _, ok := spec.R5().Compartments[c.Type]; !ok {
			return "", invalid("unknown compartment %s", c.Type)
		}
		ids := append([]string{c.ID}, q.MoreCompartments...)
		// (An id longer than an index key could match another's rows:
		// only idx_compartment holds it whole. No valid id is.)
		if len(p.types) == 1 && !slices.ContainsFunc(ids, func(id string) bool { return indexKey(id) != id }) {
			conds = append(conds, compartmentOfType(b, c.Type, ids, p.types[0]))
		} else {
			conds = append(conds, "k.rid IN (SELECT cm.rid FROM idx_compartment cm WHERE cm.comp_type = "+b.arg(c.Type)+
				" AND "+b.in("cm.comp_id", ids)+")")
		}
	}
	for i, f := range q.Filters {
		types := p.types
		if len(types) == 0 && f.Name != "" {
			types = typesWithParam(f.Name)
			if len(types) == 0 && f.Special == "" && f.Has == nil {
				return "", invalid("no resource type has a search parameter %s", f.Name)
			}
		}
		c, err := b.filter(f, types, "k", i == driver)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	return strings.Join(conds, " AND "), nil
}

// compartmentOfType is the condition that resource k, of type typ, is in
// compartment comp of one of ids, read from the rows that put it there
// (compartmentsOf): its reference rows of the compartment's parameters
// for typ, and for a resource of the compartment's own type its id.
// idx_compartment holds the same, but for every type of resource in the
// compartment: a patient's Conditions searched by code would walk all
// their Observations, Encounters and Claims too; the reference rows of
// typ's parameters are that type's alone (idx_reference_target).
func compartmentOfType(b *sqlBuilder, comp string, ids []string, typ string) string {
	var parts []string
	if params := compartmentParamsOf(typ)[comp]; len(params) > 0 {
		var pids []string
		for _, code := range params {
			for _, pid := range paramIDs([]string{typ}, code) {
				pids = append(pids, b.arg(pid))
			}
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = indexKey(id)
		}
		parts = append(parts, "SELECT x.rid FROM idx_reference x WHERE x.pid IN ("+strings.Join(pids, ", ")+
			") AND x.ref_type = "+b.key(comp)+" AND "+b.in("x.ref_id", keys))
	}
	if typ == comp {
		parts = append(parts, "SELECT o.rid FROM resource_key o WHERE o.type = "+b.arg(typ)+" AND "+b.in("o.id", ids))
	}
	if len(parts) == 0 {
		return "FALSE" // no resource of typ is in such a compartment
	}
	return "k.rid IN (" + strings.Join(parts, " UNION ALL ") + ")"
}

// sortExpression is the ORDER BY expression of one _sort key.
func sortExpression(d *dialect, s search.SortKey, types []string) (sortExpr, error) {
	e := sortExpr{desc: s.Descending}
	// Several values: the lowest sorts ascending, the highest descending.
	missingText := d.maxText
	missingNum := "1.7976931348623157e308"
	missingInt := "9223372036854775807" // dates are integers: keep the column's type
	agg := "min"
	if s.Descending {
		missingText, missingNum, missingInt, agg = "''", "-1.7976931348623157e308", "-9223372036854775807", "max"
	}
	switch s.Name {
	case "_id":
		e.expr = "k.id"
		return e, nil
	case "_lastUpdated":
		e.expr = "k.last_updated"
		return e, nil
	}
	if s.Param == nil {
		return e, invalid("unknown _sort parameter %s", s.Name)
	}
	var col, missing string
	switch search.Kind(s.Param.Type) {
	case search.KindString:
		col, missing = "text", missingText
	case search.KindToken:
		col, missing = "code", missingText
	case search.KindURI:
		col, missing = "uri", missingText
	case search.KindReference:
		col, missing = "ref_type || '/' || ref_id || ref_url", missingText
	case search.KindDate:
		col, missing = "low", missingInt
		if s.Descending {
			col = "high"
		}
	case search.KindNumber, search.KindQuantity:
		col, missing = "low", missingNum
	default:
		return e, notSupported("_sort on %s parameter %s", s.Param.Type, s.Name)
	}
	table := tableOf[search.Kind(s.Param.Type)]
	// The value is quoted into the SQL text, not bound, so that the
	// ordering does not shift the numbering of the filters' parameters;
	// parameter codes are [A-Za-z0-9_-] (checked).
	if !validCode(s.Name) {
		return e, invalid("bad _sort parameter %q", s.Name)
	}
	canonical := ""
	if s.Param.Type == string(search.KindQuantity) {
		canonical = " AND x.canonical = 0" // values as written, not the base-unit copies
	}
	if len(types) == 0 {
		types = typesWithParam(s.Name)
	}
	var pids []string
	alias := false
	for _, t := range types {
		alias = alias || aliasOf(t, s.Name) != nil
	}
	for _, pid := range paramIDs(types, s.Name) {
		pids = append(pids, strconv.FormatInt(pid, 10))
	}
	if len(pids) == 0 {
		pids = []string{"0"}
	}
	// +x.pid: read this resource's rows by the primary key; an index on
	// (pid, value) would serve the min/max by walking every row of the
	// parameter (see probeParam).
	e.expr = fmt.Sprintf("coalesce((SELECT %s(%s) FROM %s x WHERE x.rid = k.rid AND +x.pid IN (%s) AND x.grp = 0%s), %s)",
		agg, col, table, strings.Join(pids, ", "), canonical, missing)
	// An index walk reads one parameter's rows: not an alias's.
	if s.Param.Type != string(search.KindReference) && canonical == "" && !alias {
		e.table, e.col, e.param, e.missing = table, col, s.Name, missing
	}
	return e, nil
}

func validCode(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return s != ""
}

// pageKey identifies a row of the page in the ordering.
type pageKey struct {
	tail   bool // read by modeTail
	rid    int64
	typ    string
	values []any
}

type pageResult struct {
	versions []*store.Version
	keys     []pageKey
	more     bool // rows beyond the page in the direction read
}

// pageSQL is the query of one page after (or, backwards, before) the
// cursor: the matches' sort values, rid and current version, limit rows.
func (p *searchPlan) pageSQL(q *search.Query, cur *cursor, back bool, mode pageMode, limit int) (string, []any, error) {
	b := &sqlBuilder{d: p.d, access: q.Access}
	where, err := p.where(b, q)
	if err != nil {
		return "", nil, err
	}
	from := "resource_key k"
	cols := []string{"k.rid", "k.type"}
	var order, exprs []string
	for i, s := range p.sorts {
		expr := s.expr
		if i == 0 && mode == modeHead {
			expr = "x0." + s.col
		} else if i == 0 && mode == modeTail {
			expr = s.missing
		}
		cols = append(cols, fmt.Sprintf("%s AS s%d", expr, i))
		exprs = append(exprs, expr)
		order = append(order, fmt.Sprintf("s%d%s", i, dir(s.desc != back)))
	}
	order = append(order, "k.rid"+dir(back))
	switch s0 := p.sorts; mode {
	case modeHead:
		cmp := " < "
		if s0[0].desc {
			cmp = " > "
		}
		// One row per resource: the entry holding its sort value, the
		// first in the key's direction.
		from = s0[0].table + " x0 JOIN resource_key k ON k.rid = x0.rid"
		where = "x0.pid = " + b.arg(paramID(p.types[0], s0[0].param)) + " AND x0.grp = 0" +
			" AND NOT EXISTS (SELECT 1 FROM " + s0[0].table + " y WHERE y.rid = x0.rid AND y.pid = x0.pid AND y.grp = 0" +
			" AND (y." + s0[0].col + cmp + "x0." + s0[0].col + " OR (y." + s0[0].col + " = x0." + s0[0].col + " AND y.n < x0.n))) AND " + where
		// x0.rid, not k.rid: the index (pid, value) ends with rid,
		// so SQLite reads it in the page's order without sorting.
		order[len(order)-1] = "x0.rid" + dir(back)
	case modeTail:
		where += " AND NOT EXISTS (SELECT 1 FROM " + s0[0].table + " y WHERE y.rid = k.rid AND y.pid = " + b.arg(paramID(p.types[0], s0[0].param)) + " AND y.grp = 0)"
	}
	if cur != nil {
		where += " AND " + keyset(b, p.sorts, exprs, cur, back)
	}
	query := "SELECT " + strings.Join(cols, ", ") + ", " + versionColumns +
		" FROM " + from + " JOIN resource_version v ON v.seq = k.seq WHERE " + where +
		" ORDER BY " + strings.Join(order, ", ") + " LIMIT " + b.arg(limit)
	return query, b.args, nil
}

// page reads one page: size rows after (or before) the cursor, and whether
// there are more.
func (p *searchPlan) page(ctx context.Context, db querier, q *search.Query, cur *cursor, size int) (*pageResult, error) {
	back := cur != nil && cur.Back
	type phase struct {
		mode pageMode
		cur  *cursor
	}
	phases := []phase{{modeAll, cur}}
	if p.walk {
		inTail := cur != nil && cur.Tail
		switch {
		case !back && inTail:
			phases = []phase{{modeTail, cur}}
		case !back:
			phases = []phase{{modeHead, cur}, {modeTail, nil}}
		case inTail:
			phases = []phase{{modeTail, cur}, {modeHead, nil}}
		default:
			phases = []phase{{modeHead, cur}}
		}
	}
	res := &pageResult{}
	for _, ph := range phases {
		if len(res.keys) > size {
			break
		}
		if err := p.read(ctx, db, q, ph.cur, back, ph.mode, size+1-len(res.keys), res); err != nil {
			return nil, err
		}
	}
	if len(res.keys) > size {
		res.more = true
		res.keys, res.versions = res.keys[:size], res.versions[:size]
	}
	if back {
		slices.Reverse(res.keys)
		slices.Reverse(res.versions)
	}
	return res, nil
}

// read appends up to limit rows of one page query to res.
func (p *searchPlan) read(ctx context.Context, db querier, q *search.Query, cur *cursor, back bool, mode pageMode, limit int, res *pageResult) error {
	query, args, err := p.pageSQL(q, cur, back, mode, limit)
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return dbError{err}
	}
	defer rows.Close()
	for rows.Next() {
		key := pageKey{values: make([]any, len(p.sorts)), tail: mode == modeTail}
		dest := []any{&key.rid, &key.typ}
		for i := range key.values {
			dest = append(dest, &key.values[i])
		}
		ver, err := scanVersion(scanFunc(func(d ...any) error { return rows.Scan(append(dest, d...)...) }))
		if err != nil {
			return dbError{err}
		}
		res.keys = append(res.keys, key)
		res.versions = append(res.versions, ver)
	}
	if err := rows.Err(); err != nil {
		return dbError{err}
	}
	return nil
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

func dir(desc bool) string {
	if desc {
		return " DESC"
	}
	return ""
}

// keyset is the condition "after the cursor's row in the ordering" (or
// before it, backwards): (s0 > ?) OR (s0 = ? AND s1 > ?) … OR (all equal
// AND rid > ?). exprs are the sort keys' expressions in the page query
// (WHERE cannot name the select list's aliases in standard SQL).
func keyset(b *sqlBuilder, sorts []sortExpr, exprs []string, cur *cursor, back bool) string {
	var ors []string
	var eq []string
	op := func(desc bool) string {
		if desc != back {
			return " < "
		}
		return " > "
	}
	for i, s := range sorts {
		v := b.arg(cur.Values[i])
		ors = append(ors, "("+strings.Join(append(slices.Clone(eq), exprs[i]+op(s.desc)+v), " AND ")+")")
		eq = append(eq, exprs[i]+" = "+v)
	}
	ors = append(ors, "("+strings.Join(append(eq, "k.rid"+op(false)+b.arg(cur.Rid)), " AND ")+")")
	return "(" + strings.Join(ors, " OR ") + ")"
}

// estimateCap bounds the count of _total=estimate: beyond it the total is
// reported as unknown.
const estimateCap = 10000

// countSQL counts the matches, up to estimateCap+1 for an estimate.
func (p *searchPlan) countSQL(q *search.Query, estimate bool) (string, []any, error) {
	b := &sqlBuilder{d: p.d, access: q.Access}
	where, err := p.where(b, q)
	if err != nil {
		return "", nil, err
	}
	if estimate {
		return "SELECT count(*) FROM (SELECT 1 FROM resource_key k WHERE " + where + " LIMIT " + b.arg(estimateCap+1) + ") AS t", b.args, nil
	}
	return "SELECT count(*) FROM resource_key k WHERE " + where, b.args, nil
}

func (p *searchPlan) count(ctx context.Context, db querier, q *search.Query, estimate bool) (int64, error) {
	query, args, err := p.countSQL(q, estimate)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, dbError{err}
	}
	if estimate && n > estimateCap {
		return -1, nil
	}
	return n, nil
}
