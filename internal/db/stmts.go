package db

import (
	"context"
	"database/sql"
	"sync"
)

// Stmts is a Querier over a connection pool that keeps the prepared
// statement of each query text it has run, for hot read paths. The SQLite
// driver compiles a statement's SQL on every call otherwise, which the
// dynamic-variables profile showed taking a quarter of the CPU. Use it
// only with a fixed set of query texts (no values spliced into the SQL):
// statements are kept until Close. On PostgreSQL, pgx already caches
// statements per connection, so NewStmts hands back the pool itself.
type Stmts struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// NewStmts returns a statement-caching Querier over pool on SQLite, and
// pool itself on other engines.
func NewStmts(d Dialect, pool *sql.DB) Querier {
	if d != SQLite || pool == nil {
		return pool
	}
	return &Stmts{db: pool, stmts: map[string]*sql.Stmt{}}
}

func (c *Stmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st := c.stmts[query]
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
	if prev := c.stmts[query]; prev != nil {
		_ = st.Close() // another caller prepared it first
		return prev, nil
	}
	c.stmts[query] = st
	return st, nil
}

// ExecContext runs a cached statement.
func (c *Stmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs a cached statement.
func (c *Stmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs a cached statement. If the statement cannot be
// prepared, the query runs uncached so that the *sql.Row carries the error.
func (c *Stmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Close releases the statements.
func (c *Stmts) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
	return nil
}
