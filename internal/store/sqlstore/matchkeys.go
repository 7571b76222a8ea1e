package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/store"
)

var _ store.KeyMatcher = (*DB)(nil)

// maxMatchCodes bounds the codes of one MatchKeys call (each is a
// subquery).
const maxMatchCodes = 64

// MatchKeys implements store.KeyMatcher on the reader side. Each code is
// one seek of idx_token_code (pid, code, system), cut at perCode rows; the
// union is counted per resource.
func (db *DB) MatchKeys(ctx context.Context, typ, param string, codes []string, perCode, limit int) ([]store.KeyMatch, error) {
	if len(codes) == 0 || limit <= 0 || perCode <= 0 {
		return nil, nil
	}
	if len(codes) > maxMatchCodes {
		codes = codes[:maxMatchCodes]
	}
	pid := paramID(typ, param)
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString("SELECT k.id, count(*) AS shared FROM (")
	for i, code := range codes {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		// Parenthesised with an alias, so that each LIMIT binds its own
		// subquery in both databases.
		fmt.Fprintf(&b, "SELECT rid FROM (SELECT rid FROM idx_token WHERE pid = ? AND code = ? AND system = '' LIMIT ?) AS c%d", i)
		args = append(args, pid, indexKey(code), perCode)
	}
	b.WriteString(") m JOIN resource_key k ON k.rid = m.rid WHERE k.deleted = 0 GROUP BY k.id ORDER BY shared DESC, k.id LIMIT ?")
	args = append(args, limit)
	var found []store.KeyMatch
	err := db.onReads(ctx, func(r *readSide) error {
		found = found[:0]
		rows, err := r.pool.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m store.KeyMatch
			if err := rows.Scan(&m.ID, &m.Shared); err != nil {
				return err
			}
			found = append(found, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, readErr(ctx, "match keys", err)
	}
	return found, nil
}
