package sqlstore

import (
	"context"
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
// is fewer): a query's best single-valued term drives the search (a
// backward range scan of audit_index in seq order, which stops once the
// page is full); the others are checked per record by primary key. A
// failure outcome and break-glass are rare, a success or an action
// common; a purpose of use is given to most accesses.
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

// SearchAudit implements store.AuditSearcher on the reader pool.
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

	w := auditWhere(q)
	from := "audit_event e"
	key := "e.seq"
	if w.driver != nil {
		from = "audit_index d JOIN audit_event e ON e.seq = d.seq"
		key = "d.seq"
	}
	conds, args := w.conds, w.args
	if w.driver != nil {
		conds = append([]string{"d.name = ? AND d.value = ?"}, conds...)
		args = append([]any{w.driver.Name, w.driver.Value}, args...)
	}
	pageConds, pageArgs := slices.Clone(conds), slices.Clone(args)
	order := "DESC"
	if !descending {
		order = "ASC"
	}
	if bound > 0 {
		op := "<"
		if !descending {
			op = ">"
		}
		pageConds = append(pageConds, key+" "+op+" ?")
		pageArgs = append(pageArgs, bound)
	}
	query := "SELECT e.seq, e.recorded, e.event FROM " + from + where(pageConds) + " ORDER BY " + key + " " + order + " LIMIT ?"
	pageArgs = append(pageArgs, count+1)

	page := &store.AuditPage{Total: -1}
	rows, err := db.readers.QueryContext(ctx, query, pageArgs...)
	if err != nil {
		return nil, readErr(ctx, "audit search", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r        store.AuditRecord
			recorded int64
		)
		if err := rows.Scan(&r.Seq, &recorded, &r.Event); err != nil {
			return nil, readErr(ctx, "audit search", err)
		}
		// A record that does not render was tampered with: it is
		// returned as stored, which does not parse either (verify says
		// where).
		if json, err := audit.Render(r.Event); err == nil {
			r.Event = json
		}
		r.Recorded = time.UnixMilli(recorded).UTC()
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return nil, readErr(ctx, "audit search", err)
	}
	more := len(page.Records) > count
	if more {
		page.Records = page.Records[:count]
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
		countFrom := from
		if w.driver != nil && len(q.Recorded) == 0 {
			countFrom = "audit_index d"
		}
		if err := db.readers.QueryRowContext(ctx, "SELECT count(*) FROM "+countFrom+where(conds), args...).Scan(&page.Total); err != nil {
			return nil, readErr(ctx, "audit search: total", err)
		}
	}
	return page, nil
}

// auditConds is a query's conditions but the page bound: the driving term
// (nil to scan audit_event), and the rest as SQL on e (and d).
type auditConds struct {
	driver *audit.Term
	conds  []string
	args   []any
}

func auditWhere(q store.AuditQuery) auditConds {
	var w auditConds
	// The probes name the driver's seq, so that a count without a date
	// needs audit_index alone.
	key := "e.seq"

	terms := slices.Clone(q.Terms)
	// The driver: a single-valued term of the most selective kind (a
	// multi-valued one could match a record twice).
	pick := -1
	for i, list := range terms {
		// An implicit value has no rows to drive a search (audit.Implicit).
		if len(list) == 1 && !audit.Implicit(list[0]) && (pick < 0 || driverRank(list[0]) < driverRank(terms[pick][0])) {
			pick = i
		}
	}
	if pick >= 0 {
		key = "d.seq"
		w.driver = &terms[pick][0]
		terms = slices.Delete(terms, pick, pick+1)
	}
	for _, list := range terms {
		// One primary-key probe per value.
		var ors []string
		for _, t := range list {
			ors = append(ors, "EXISTS (SELECT 1 FROM audit_index x WHERE x.name = ? AND x.value = ? AND x.seq = "+key+")")
			w.args = append(w.args, t.Name, t.Value)
			if audit.Implicit(t) {
				// Not indexed: the records with no term of the parameter
				// have it (and records indexed before had it as a row).
				ors = append(ors, "NOT EXISTS (SELECT 1 FROM audit_index x WHERE x.name = ? AND x.seq = "+key+")")
				w.args = append(w.args, t.Name)
			}
		}
		w.conds = append(w.conds, "("+strings.Join(ors, " OR ")+")")
	}
	for _, list := range q.Recorded {
		var ors []string
		for _, r := range list {
			var c []string
			if r.From != 0 {
				c = append(c, "e.recorded >= ?")
				w.args = append(w.args, r.From)
			}
			if r.To != 0 {
				c = append(c, "e.recorded < ?")
				w.args = append(w.args, r.To)
			}
			if len(c) == 0 {
				c = []string{"1 = 1"}
			}
			ors = append(ors, "("+strings.Join(c, " AND ")+")")
		}
		if len(ors) > 0 {
			w.conds = append(w.conds, "("+strings.Join(ors, " OR ")+")")
		}
	}
	return w
}

func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}
