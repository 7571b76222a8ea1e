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

// keyBlockPage is how many index rows one query of KeyBlocks reads (a
// variable for the test of blocks spanning pages).
var keyBlockPage = 10000

// KeyBlocks implements store.KeyMatcher: idx_token_code read in (code,
// rid) order, a page at a time, each page resuming after the last row of
// the one before, so a block may span pages.
func (db *DB) KeyBlocks(ctx context.Context, typ, param, after string, fn func(code string, ids []string) error) error {
	pid := paramID(typ, param)
	type row struct {
		code, id string
		rid      int64
	}
	var (
		code  string
		ids   []string
		lastC = indexKey(after)
		lastR = int64(1<<62 - 1) // after the last rid of code "after": the next code
	)
	if after == "" {
		lastR = -1
	}
	for {
		var page []row
		err := db.onReads(ctx, func(r *readSide) error {
			page = page[:0]
			rows, err := r.pool.QueryContext(ctx, `SELECT t.code, t.rid, k.id FROM idx_token t JOIN resource_key k ON k.rid = t.rid
				WHERE t.pid = ? AND t.code >= ? AND t.system = '' AND (t.code > ? OR t.rid > ?) AND k.deleted = 0
				ORDER BY t.code, t.rid LIMIT ?`, pid, lastC, lastC, lastR, keyBlockPage)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var x row
				if err := rows.Scan(&x.code, &x.rid, &x.id); err != nil {
					return err
				}
				page = append(page, x)
			}
			return rows.Err()
		})
		if err != nil {
			return readErr(ctx, "key blocks", err)
		}
		for _, x := range page {
			if x.code != code && ids != nil {
				if err := fn(code, ids); err != nil {
					return err
				}
				ids = nil
			}
			code = x.code
			ids = append(ids, x.id)
		}
		if len(page) < keyBlockPage {
			if ids != nil {
				return fn(code, ids)
			}
			return nil
		}
		last := page[len(page)-1]
		lastC, lastR = last.code, last.rid
	}
}

// KeyCount implements store.KeyMatcher.
func (db *DB) KeyCount(ctx context.Context, typ, param string) (int64, error) {
	var n int64
	err := db.onReads(ctx, func(r *readSide) error {
		return r.pool.QueryRowContext(ctx, "SELECT count(*) FROM idx_token WHERE pid = ? AND system = ''", paramID(typ, param)).Scan(&n)
	})
	if err != nil {
		return 0, readErr(ctx, "key count", err)
	}
	return n, nil
}
