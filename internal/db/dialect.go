package db

import (
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// This file is where the two engines differ. Queries use $N placeholders and
// portable SQL (ON CONFLICT, RETURNING); DDL is written once with PostgreSQL
// type names, which ddlFor rewrites for SQLite.

// ddlFor adapts a migration written for PostgreSQL to the given dialect.
// SQLite keeps times as integer microseconds in TIMESTAMP-declared columns
// (the driver converts them to time.Time) and JSON as text.
func ddlFor(d Dialect, ddl string) string {
	if d != SQLite {
		return ddl
	}
	return strings.NewReplacer(
		"TIMESTAMPTZ", "TIMESTAMP",
		"JSONB", "TEXT",
		"BIGSERIAL", "INTEGER",
	).Replace(ddl)
}

// IsUniqueViolation reports whether err is a unique or primary-key
// constraint failure on either engine.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) {
		c := sqlErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Now is the current time as both engines store it: UTC, whole microseconds.
// Values written with it read back equal.
func Now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}
