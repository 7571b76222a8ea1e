package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// firstSeqAt is the seq of the first version written at or after a time
// (unix ms), or MaxInt64 when there is none. last_updated never decreases
// along seq, so "last_updated >= t" is the same as "seq >= firstSeqAt(t)":
// one seek on resource_version_time instead of a filter on every row.
const firstSeqAt = `coalesce((SELECT seq FROM resource_version
	WHERE last_updated >= ? ORDER BY last_updated, seq LIMIT 1), 9223372036854775807)`

// historyFilter is the SQL of a HistoryQuery without its page bounds.
type historyFilter struct {
	from  string // FROM clause, table aliased v
	order string // column giving newest-first order when descending
	where []string
	args  []any
}

func (f *historyFilter) add(cond string, args ...any) {
	f.where = append(f.where, cond)
	f.args = append(f.args, args...)
}

func newHistoryFilter(d *dialect, q store.HistoryQuery) historyFilter {
	// Within one instance seq order is version order. Without INDEXED BY the
	// planner prefers resource_version_type for "type = ? AND seq < ?", which
	// walks every version of the type in the seq range.
	f := historyFilter{from: " FROM resource_version v", order: "v.seq"}
	if q.ID != "" {
		f.from, f.order = " FROM resource_version v"+d.versionIndexHint, "v.version_id"
	}
	if q.Type != "" {
		f.add("v.type = ?", q.Type)
		if q.ID != "" {
			f.add("v.id = ?", q.ID)
		}
	}
	if !q.Since.IsZero() {
		f.add("v.seq >= "+firstSeqAt, ceilMilli(q.Since))
	}
	if !q.AtEnd.IsZero() {
		// Written before AtEnd.
		f.add("v.seq < "+firstSeqAt, ceilMilli(q.AtEnd))
	}
	if !q.AtStart.IsZero() {
		// Still current at some moment at or after AtStart: the next
		// version, if any, was written after AtStart. (A version superseded
		// exactly at AtStart was not current at any moment of the window.)
		f.add(`NOT EXISTS (SELECT 1 FROM resource_version n
			WHERE n.type = v.type AND n.id = v.id AND n.version_id = v.version_id + 1
			AND n.last_updated <= ?)`, q.AtStart.UnixMilli())
	}
	return f
}

// whereSQL returns the WHERE clause with extra conditions appended.
func (f historyFilter) whereSQL(extra ...string) string {
	conds := append(slices.Clip(f.where), extra...)
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// pageSQL selects up to ? versions with before > seq > after; its
// arguments are pageArgs.
func (f historyFilter) pageSQL(ascending bool) string {
	dir := " DESC"
	if ascending {
		dir = " ASC"
	}
	return "SELECT " + versionColumns + f.from + f.whereSQL("v.seq < ?", "v.seq > ?") +
		" ORDER BY " + f.order + dir + " LIMIT ?"
}

func (f historyFilter) pageArgs(before, after int64, limit int) []any {
	return append(slices.Clip(f.args), before, after, limit)
}

// existsSQL asks whether a version matches the filter and cond, a condition
// on v.seq with one argument.
func (f historyFilter) existsSQL(cond string) string {
	return "SELECT EXISTS (SELECT 1" + f.from + f.whereSQL(cond) + ")"
}

// History implements store.Store. Pages are cut by seq, which only grows,
// so a cursor stays exact however many writes happen between pages. Both
// queries of a page run in one read transaction: one snapshot.
func (db *DB) History(ctx context.Context, q store.HistoryQuery) (*store.HistoryPage, error) {
	op := historyOp(q)
	if q.ID != "" && q.Type == "" {
		return nil, fmt.Errorf("store: %s: %w", op, fhir.Errorf(fhir.KindInvalid, "instance history needs a resource type"))
	}
	var page *store.HistoryPage
	err := db.onReads(ctx, func(r *readSide) (err error) {
		page, err = db.history(ctx, r.pool, q, op)
		return err
	})
	return page, err
}

// history reads one page of History on pool.
func (db *DB) history(ctx context.Context, pool *sql.DB, q store.HistoryQuery, op string) (*store.HistoryPage, error) {
	count := q.Count
	if count <= 0 {
		count = store.DefaultPageSize
	}
	count = min(count, store.MaxPageSize)
	before, after := q.Before, q.After
	if before <= 0 {
		before = math.MaxInt64
	}
	if after < 0 {
		after = 0
	}
	// Reading upward from After (a "previous" link) is the one case that
	// walks oldest first; the page is reversed afterwards.
	ascending := q.After > 0 && q.Before <= 0
	f := newHistoryFilter(db.d, q)

	tx, err := pool.BeginTx(ctx, db.d.historyTx)
	if err != nil {
		return nil, readErr(ctx, op, err)
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, f.pageSQL(ascending), f.pageArgs(before, after, count+1)...)
	if err != nil {
		return nil, readErr(ctx, op, err)
	}
	page := &store.HistoryPage{Versions: make([]*store.Version, 0, min(count, 64))}
	extra := false
	for rows.Next() {
		if len(page.Versions) == count {
			extra = true
			break
		}
		v, err := scanVersion(rows)
		if err != nil {
			rows.Close()
			return nil, readErr(ctx, op, err)
		}
		page.Versions = append(page.Versions, v)
	}
	if err := rows.Close(); err != nil {
		return nil, readErr(ctx, op, err)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(ctx, op, err)
	}
	if ascending {
		slices.Reverse(page.Versions)
	}

	// One direction is known from the extra row; the other needs a probe
	// beyond the first (or last) entry, or beyond the cursor when the page
	// is empty.
	exists := func(cond string, arg int64) (bool, error) {
		var ok bool
		err := tx.QueryRowContext(ctx, f.existsSQL(cond), append(slices.Clip(f.args), arg)...).Scan(&ok)
		return ok, err
	}
	n := len(page.Versions)
	if ascending {
		page.Newer = extra
		bound := after + 1 // empty page: anything at or below the cursor
		if n > 0 {
			bound = page.Versions[n-1].Seq
		}
		page.More, err = exists("v.seq < ?", bound)
	} else {
		page.More = extra
		if !extra && n > 0 && after > 0 {
			// The After bound cut the page short, not the data.
			page.More, err = exists("v.seq < ?", page.Versions[n-1].Seq)
		}
		switch {
		case err != nil:
		case n > 0:
			page.Newer, err = exists("v.seq > ?", page.Versions[0].Seq)
		case before != math.MaxInt64:
			page.Newer, err = exists("v.seq >= ?", before)
		}
	}
	if err != nil {
		return nil, readErr(ctx, op, err)
	}
	return page, nil
}

// ceilMilli is t in unix milliseconds, rounded up: last_updated has whole
// milliseconds, so "last_updated >= t" is "last_updated >= ceilMilli(t)".
// (UnixMilli rounds down, which is right for "last_updated <= t".)
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if !t.Equal(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

func historyOp(q store.HistoryQuery) string {
	switch {
	case q.ID != "":
		return fmt.Sprintf("history %s/%s", q.Type, q.ID)
	case q.Type != "":
		return "history " + q.Type
	}
	return "history"
}
