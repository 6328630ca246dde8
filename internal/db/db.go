// Package db opens Peak Voice's database — SQLite by default, PostgreSQL at
// scale — applies its migrations, and runs transactions. Every query in the
// product goes through database/sql with $N placeholders, which both engines
// accept, so the domains share one SQL code path; the few differences between
// the engines live in dialect.go.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Dialect names the database engine behind a DB.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database. On SQLite, W holds the single writer connection
// (SQLite allows one writer at a time, and River asks for one connection to
// avoid SQLITE_BUSY) and R a small pool of read-only connections; on
// PostgreSQL both are the same pool, and Pool exposes it natively for the
// job queue's LISTEN/NOTIFY driver.
type DB struct {
	Dialect Dialect
	W       *sql.DB
	R       *sql.DB
	Pool    *pgxpool.Pool // PostgreSQL only
	Path    string        // SQLite only: the database file

	group *grouper // SQLite only: coalesces concurrent Tx calls into one commit
}

// Options tune Open.
type Options struct {
	// URL is a postgres:// URL; empty selects SQLite under DataDir.
	URL string
	// DataDir holds the SQLite file when URL is empty.
	DataDir string
	// MaxConns bounds the PostgreSQL pool (0: 20). SQLite readers are fixed.
	MaxConns int32
}

// Open connects to the database described by opts. It does not migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.URL == "" {
		return openSQLite(ctx, opts.DataDir)
	}
	if strings.HasPrefix(opts.URL, "postgres://") || strings.HasPrefix(opts.URL, "postgresql://") {
		return openPostgres(ctx, opts)
	}
	return nil, fmt.Errorf("database url: unsupported scheme (want postgres://…, or empty for SQLite)")
}

// SQLitePragmas are set on every SQLite connection. WAL with
// synchronous=FULL makes each commit durable once it returns. With WAL,
// any commit empties every other connection's page cache, so readers would
// fetch each page with a pread; mmap_size lets them read the database file
// through a shared mapping instead (pages still in the WAL are read from it
// as before).
var SQLitePragmas = []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)",
	"mmap_size(1073741824)"}

func openSQLite(ctx context.Context, dataDir string) (*DB, error) {
	if dataDir == "" {
		return nil, errors.New("sqlite: a data directory is required")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data dir: %w", err)
	}
	path := filepath.Join(dataDir, "peakvoice.db")
	// Times are stored as integer microseconds so that they compare and sort
	// correctly in SQL and round-trip exactly; PostgreSQL keeps microseconds too.
	q := url.Values{}
	for _, p := range SQLitePragmas {
		q.Add("_pragma", p)
	}
	q.Set("_time_integer_format", "unix_micro")
	q.Set("_inttotime", "1")
	writerQ := cloneValues(q)
	writerQ.Set("_txlock", "immediate")
	drv := sqliteDriver()
	w := sql.OpenDB(&cachingConnector{drv: drv, dsn: "file:" + path + "?" + writerQ.Encode(), keep: true})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readerQ := cloneValues(q)
	readerQ.Add("_pragma", "query_only(1)")
	r := sql.OpenDB(&cachingConnector{drv: drv, dsn: "file:" + path + "?" + readerQ.Encode()})
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return &DB{Dialect: SQLite, W: w, R: r, Path: path, group: &grouper{w: w}}, nil
}

// sqliteDriver returns the registered SQLite driver (sql.Open does not
// connect, so this opens nothing).
func sqliteDriver() driver.Driver {
	tmp, _ := sql.Open("sqlite", "")
	defer tmp.Close()
	return tmp.Driver()
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func openPostgres(ctx context.Context, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	cfg.MaxConns = 20
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	sdb := stdlib.OpenDBFromPool(pool)
	return &DB{Dialect: Postgres, W: sdb, R: sdb, Pool: pool}, nil
}

// Close releases every connection.
func (d *DB) Close() error {
	var errs []error
	if d.R != nil && d.R != d.W {
		errs = append(errs, d.R.Close())
	}
	if d.W != nil {
		errs = append(errs, d.W.Close())
	}
	if d.Pool != nil {
		d.Pool.Close()
	}
	return errors.Join(errs...)
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	return d.W.PingContext(ctx)
}

// Tx runs fn in a transaction on the writer and commits when fn returns nil.
// An error from fn, or a panic (re-raised in the caller's goroutine), rolls
// back fn's writes. Work that must happen only if the change commits (jobs,
// events) is enqueued through the same tx. Tx returns nil only once fn's
// writes are durably committed; if ctx is done before fn starts, fn does not
// run and Tx returns ctx.Err().
//
// On SQLite, concurrent calls share commits (group commit): each fn runs in
// its caller's goroutine, one after another, inside its own SAVEPOINT of a
// transaction that is committed once for up to 64 of them, so one fsync
// serves them all; a lone caller is not delayed. So fn must treat tx as valid
// only until it returns, never call Commit or Rollback on it, never call Tx or
// use d.W itself (that deadlocks, as it did with one connection), and never
// block on something another goroutine does only after its own Tx call
// returns. Statements inside a writer transaction are not interrupted when
// their ctx ends (SQLite would abandon the whole shared transaction); a
// cancelled fn fails at its next statement instead, rolling back only its own
// work. On PostgreSQL each call is its own transaction.
func (d *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	if d.group != nil {
		return d.group.tx(ctx, fn)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := d.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Querier is what both *sql.DB and *sql.Tx offer; store functions take it so
// they run alone or inside a caller's transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
