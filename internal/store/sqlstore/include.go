package sqlstore

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// maxIterate bounds the rounds of _include:iterate and _revinclude:iterate.
const maxIterate = 4

// maxIncluded bounds the resources one page includes.
const maxIncluded = 10 * store.MaxPageSize

// includes returns the current versions of the resources that the page's
// matches include and revinclude, each once and none of the matches.
func includes(ctx context.Context, d *dialect, db querier, q *search.Query, matches []pageKey) ([]*store.Version, error) {
	seen := make(map[int64]bool, len(matches))
	byType := make(map[string][]int64)
	for _, m := range matches {
		seen[m.rid] = true
		byType[m.typ] = append(byType[m.typ], m.rid)
	}
	var found []int64
	sources := byType
	for round := 0; round <= maxIterate && len(sources) > 0 && len(found) < maxIncluded; round++ {
		next := make(map[string][]int64)
		run := func(inc search.Include, rev bool) error {
			if round > 0 && !inc.Iterate {
				return nil
			}
			var rows []typedRid
			var err error
			if rev {
				rows, err = revIncludeRound(ctx, d, db, q.Access, inc, sources)
			} else {
				rows, err = includeRound(ctx, d, db, q.Access, inc, sources[inc.SourceType])
			}
			if err != nil {
				return err
			}
			for _, r := range rows {
				if !seen[r.rid] {
					seen[r.rid] = true
					found = append(found, r.rid)
					next[r.typ] = append(next[r.typ], r.rid)
				}
			}
			return nil
		}
		for _, inc := range q.Includes {
			if err := run(inc, false); err != nil {
				return nil, err
			}
		}
		for _, inc := range q.RevIncludes {
			if err := run(inc, true); err != nil {
				return nil, err
			}
		}
		sources = next
	}
	if len(found) > maxIncluded {
		found = found[:maxIncluded]
	}
	return versionsOf(ctx, d, db, found)
}

type typedRid struct {
	rid int64
	typ string
}

func ridsJSON(rids []int64) string {
	b, _ := json.Marshal(rids)
	return string(b)
}

// includeRound follows inc's reference parameter out of sources (of
// inc.SourceType) to live targets.
func includeRound(ctx context.Context, d *dialect, db querier, access *search.Access, inc search.Include, sources []int64) ([]typedRid, error) {
	if len(sources) == 0 {
		return nil, nil
	}
	b := &sqlBuilder{d: d, access: access}
	seen, err := b.visible("t", nil)
	if err != nil {
		return nil, err
	}
	query := "SELECT DISTINCT t.rid, t.type FROM idx_reference x JOIN resource_key t ON t.type = x.ref_type AND t.id = x.ref_id AND t.deleted = 0" +
		" WHERE x.rid IN (" + d.ridSet(b.arg(ridsJSON(sources))) + ") AND " + referencePids(b, "x", inc) + " AND " + seen
	if inc.TargetType != "" {
		query += " AND x.ref_type = " + b.arg(inc.TargetType)
	}
	return queryTypedRids(ctx, db, query, b.args)
}

// revIncludeRound finds live resources of inc.SourceType whose reference
// parameter points at any of sources.
func revIncludeRound(ctx context.Context, d *dialect, db querier, access *search.Access, inc search.Include, sources map[string][]int64) ([]typedRid, error) {
	var all []int64
	for typ, rids := range sources {
		if inc.TargetType == "" || inc.TargetType == typ {
			all = append(all, rids...)
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	b := &sqlBuilder{d: d, access: access}
	query := "SELECT DISTINCT x.rid, CAST(" + b.arg(inc.SourceType) + " AS TEXT) FROM resource_key m JOIN idx_reference x ON " + referencePids(b, "x", inc) +
		" AND x.ref_type = m.type AND x.ref_id = m.id"
	where := " WHERE m.rid IN (" + d.ridSet(b.arg(ridsJSON(all))) + ")"
	if access != nil {
		// The sources found must be visible themselves.
		seen, err := b.visible("s", []string{inc.SourceType})
		if err != nil {
			return nil, err
		}
		query += " JOIN resource_key s ON s.rid = x.rid"
		where += " AND " + seen
	}
	query += where
	return queryTypedRids(ctx, db, query, b.args)
}

// referencePids is the condition selecting the rows x of inc's reference
// parameter, or of all of its source type's for inc.Param "*".
func referencePids(b *sqlBuilder, x string, inc search.Include) string {
	if inc.Param != "*" {
		return b.param(x, []string{inc.SourceType}, inc.Param)
	}
	var codes, ps []string
	for code, sp := range spec.R5().SearchParamsFor(inc.SourceType) {
		if sp.Type == "reference" {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes) // the same SQL text each time, for the statement cache
	for _, code := range codes {
		ps = append(ps, b.arg(paramID(inc.SourceType, code)))
	}
	if len(ps) == 0 {
		return "FALSE"
	}
	return x + ".pid IN (" + strings.Join(ps, ", ") + ")"
}

func queryTypedRids(ctx context.Context, db querier, query string, args []any) ([]typedRid, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError{err}
	}
	defer rows.Close()
	var out []typedRid
	for rows.Next() {
		var r typedRid
		if err := rows.Scan(&r.rid, &r.typ); err != nil {
			return nil, dbError{err}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError{err}
	}
	return out, nil
}

// versionsOf reads the current versions of live resources by rid, in the
// order given.
func versionsOf(ctx context.Context, d *dialect, db querier, rids []int64) ([]*store.Version, error) {
	if len(rids) == 0 {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT k.rid, "+versionColumns+
		" FROM resource_key k JOIN resource_version v ON v.seq = k.seq"+
		" WHERE k.rid IN ("+d.ridSet("?")+") AND k.deleted = 0", ridsJSON(rids))
	if err != nil {
		return nil, dbError{err}
	}
	defer rows.Close()
	byRid := make(map[int64]*store.Version, len(rids))
	for rows.Next() {
		var rid int64
		v, err := scanVersion(scanFunc(func(dest ...any) error { return rows.Scan(append([]any{&rid}, dest...)...) }))
		if err != nil {
			return nil, dbError{err}
		}
		byRid[rid] = v
	}
	if err := rows.Err(); err != nil {
		return nil, dbError{err}
	}
	out := make([]*store.Version, 0, len(byRid))
	for _, rid := range rids {
		if v := byRid[rid]; v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}
