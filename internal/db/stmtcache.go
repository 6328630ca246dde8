package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
)

// SQLite connections here keep the statements they run prepared.
//
// database/sql hands each ExecContext/QueryContext straight to the driver,
// which parses and plans the SQL text every time and throws the result away.
// River's job queries are long, and the writer connection runs every write in
// the process one after another, so that parsing sat on the critical path
// (about a third of the CPU of the webhook benchmark). cachingConn wraps a
// driver connection and reuses one prepared statement per SQL text. SQLite
// re-prepares a cached statement by itself when the schema changes.
//
// On the writer it also stops a caller's context from interrupting a
// statement inside a transaction: SQLite answers an interrupted write by
// rolling back the whole transaction, which under group commit holds other
// callers' work too. A cancelled caller still stops at its next statement
// (database/sql checks the context before handing it to the driver), and
// nothing inside a writer transaction waits for a lock, because BEGIN
// IMMEDIATE took it.

// maxCachedStmts bounds the prepared statements one connection keeps.
const maxCachedStmts = 256

// driverConn is what the wrapped connection must offer; the SQLite driver
// implements all of it.
type driverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// stmtCtx is what a prepared statement must offer to be reused.
type stmtCtx interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachingConnector opens connections through drv and wraps them.
type cachingConnector struct {
	drv  driver.Driver
	dsn  string
	keep bool // writer: statements inside a transaction ignore cancellation
}

func (c *cachingConnector) Connect(context.Context) (driver.Conn, error) {
	inner, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	dc, ok := inner.(driverConn)
	if !ok {
		return inner, nil // not the driver we know: use it as it is
	}
	return &cachingConn{driverConn: dc, stmts: map[string]*cachedStmt{}, keep: c.keep}, nil
}

func (c *cachingConnector) Driver() driver.Driver { return c.drv }

type cachedStmt struct {
	st   stmtCtx
	busy bool // rows of this statement are open
}

// cachingConn is used by one goroutine at a time: database/sql holds the
// connection's lock around every call into it, rows included.
type cachingConn struct {
	driverConn
	stmts map[string]*cachedStmt
	keep  bool
	inTx  bool
}

// ctx returns the context a statement runs under.
func (c *cachingConn) ctx(ctx context.Context) context.Context {
	if c.keep && c.inTx {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns the cached statement for query, preparing it if needed, or
// nil when it cannot be used now (its rows are open, or preparing failed —
// the uncached path then reports the error as usual).
func (c *cachingConn) stmt(ctx context.Context, query string) *cachedStmt {
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil
		}
		return cs
	}
	if err := ctx.Err(); err != nil {
		return nil
	}
	st, err := c.driverConn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	sc, ok := st.(stmtCtx)
	if !ok {
		_ = st.Close()
		return nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for q, old := range c.stmts { // evict one idle statement, any
			if !old.busy {
				_ = old.st.Close()
				delete(c.stmts, q)
				break
			}
		}
	}
	cs := &cachedStmt{st: sc}
	c.stmts[query] = cs
	return cs
}

func (c *cachingConn) drop(query string, cs *cachedStmt) {
	if c.stmts[query] == cs {
		delete(c.stmts, query)
	}
	_ = cs.st.Close()
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ctx = c.ctx(ctx)
	cs := c.stmt(ctx, query)
	if cs == nil {
		return c.driverConn.ExecContext(ctx, query, args)
	}
	cs.busy = true
	res, err := cs.st.ExecContext(ctx, args)
	cs.busy = false
	return res, err
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ctx = c.ctx(ctx)
	cs := c.stmt(ctx, query)
	if cs == nil {
		return c.driverConn.QueryContext(ctx, query, args)
	}
	cs.busy = true
	rows, err := cs.st.QueryContext(ctx, args)
	if err != nil {
		cs.busy = false
		if ctx.Err() != nil || errors.Is(err, driver.ErrBadConn) {
			// Be conservative about the statement's state after an
			// interrupted or failed query: prepare it afresh next time.
			c.drop(query, cs)
		}
		return nil, err
	}
	return &cachedRows{rows: rows, cs: cs}, nil
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.driverConn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return &trackedTx{Tx: tx, c: c}, nil
}

// Begin is the deprecated form; database/sql uses BeginTx.
func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) Close() error {
	for q, cs := range c.stmts {
		_ = cs.st.Close()
		delete(c.stmts, q)
	}
	return c.driverConn.Close()
}

type trackedTx struct {
	driver.Tx
	c *cachingConn
}

func (t *trackedTx) Commit() error {
	err := t.Tx.Commit()
	t.c.inTx = false
	return err
}

func (t *trackedTx) Rollback() error {
	err := t.Tx.Rollback()
	t.c.inTx = false
	return err
}

// cachedRows frees its statement for reuse when closed and passes the
// column-type questions through.
type cachedRows struct {
	rows driver.Rows
	cs   *cachedStmt
}

func (r *cachedRows) Columns() []string              { return r.rows.Columns() }
func (r *cachedRows) Next(dest []driver.Value) error { return r.rows.Next(dest) }

func (r *cachedRows) Close() error {
	err := r.rows.Close()
	r.cs.busy = false
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
