package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared search statements by SQL text: the reader
// pool's, and the writer connection's (the searches of conditional
// interactions and transactions). A search's SQL depends only on the
// query's shape (values are bound), so the statements of the common
// searches are prepared once per connection: on the hot searches SQLite's
// parse and plan are about half of the time otherwise.
type stmtCache struct {
	db preparer
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// preparer is a pool (*sql.DB) or a connection (*sql.Conn).
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmtCacheSize bounds the statements kept; beyond it the cache starts
// over (statements still in use are closed when their rows are).
const stmtCacheSize = 512

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st := c.m[query]
	c.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[query]; old != nil {
		st.Close()
		return old, nil
	}
	if c.m == nil || len(c.m) >= stmtCacheSize {
		for _, s := range c.m {
			s.Close()
		}
		c.m = make(map[string]*sql.Stmt)
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
}

// QueryContext and QueryRowContext make the cache a querier.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.get(ctx, query)
	if err != nil {
		// An *sql.Row cannot be made with an error: let the pool report it.
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
