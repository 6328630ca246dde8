// Package dbtest gives tests a fresh, migrated database on every engine:
// SQLite always, and PostgreSQL when PEAKVOICE_TEST_POSTGRES_URL is set (each
// test gets its own schema there, dropped afterwards).
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for admin connections

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

// PostgresURLEnv names the variable that turns PostgreSQL tests on.
const PostgresURLEnv = "PEAKVOICE_TEST_POSTGRES_URL"

// Engine opens fresh databases of one kind.
type Engine struct {
	Name string
	// Options returns Open options for a new, empty database.
	Options func(t testing.TB) db.Options
}

// Engines lists the engines to test on.
func Engines() []Engine {
	es := []Engine{{Name: "sqlite", Options: func(t testing.TB) db.Options {
		return db.Options{DataDir: t.TempDir()}
	}}}
	if base := os.Getenv(PostgresURLEnv); base != "" {
		es = append(es, Engine{Name: "postgres", Options: func(t testing.TB) db.Options {
			return db.Options{URL: FreshSchema(t, base), MaxConns: 8}
		}})
	}
	return es
}

// Each runs fn as a subtest once per engine, with a fresh migrated database.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) {
			fn(t, Open(t, e.Options(t)))
		})
	}
}

// Open opens and migrates a database (app and job-queue schemas) and closes
// it when the test ends.
func Open(t testing.TB, opts db.Options) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, opts)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := jobs.Migrate(ctx, d); err != nil {
		t.Fatalf("migrate jobs: %v", err)
	}
	return d
}

// FreshSchema creates an empty schema on the PostgreSQL server at base and
// returns a URL whose connections use it; the schema is dropped at cleanup.
func FreshSchema(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
