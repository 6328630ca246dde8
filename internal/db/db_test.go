package db_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		n, err := d.Migrate(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("second migrate applied %d: %v", n, err)
		}
		var count int
		if err := d.R.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&count); err != nil || count == 0 {
			t.Fatalf("schema_migrations: %d %v", count, err)
		}
	})
}

func TestSQLiteSettings(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.Options{DataDir: t.TempDir()})
	var mode string
	var sync, fk int
	if err := d.W.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	if err := d.W.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("synchronous %d (want 2 = FULL) %v", sync, err)
	}
	if err := d.W.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys %d %v", fk, err)
	}
	// Readers read the file through a mapping (see SQLitePragmas).
	var mmap int64
	if err := d.R.QueryRow(`PRAGMA mmap_size`).Scan(&mmap); err != nil || mmap < 1<<28 {
		t.Fatalf("reader mmap_size %d %v", mmap, err)
	}
	// Readers cannot write.
	if _, err := d.R.Exec(`INSERT INTO teams (id, name, created_at) VALUES ('x', 'x', $1)`, db.Now()); err == nil {
		t.Fatal("reader pool accepted a write")
	}
}

// TestPortableSQL checks the things every store relies on, on both engines:
// $N placeholders, exact time round trips, time ordering, unique
// violations, and rollback.
func TestPortableSQL(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		t0 := db.Now()
		for i, name := range []string{"b", "a", "c"} {
			_, err := d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)`,
				"team-"+name, name, t0.Add(time.Duration(i)*1500*time.Microsecond))
			if err != nil {
				t.Fatal(err)
			}
		}
		var got time.Time
		if err := d.R.QueryRowContext(ctx, `SELECT created_at FROM teams WHERE id = $1`, "team-b").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(t0) {
			t.Fatalf("time round trip: wrote %v, read %v", t0, got)
		}
		rows, err := d.R.QueryContext(ctx, `SELECT name FROM teams WHERE created_at > $1 ORDER BY created_at DESC`, t0)
		if err != nil {
			t.Fatal(err)
		}
		var order string
		for rows.Next() {
			var n string
			_ = rows.Scan(&n)
			order += n
		}
		rows.Close()
		if order != "ca" {
			t.Fatalf("time comparison/order gave %q, want ca", order)
		}
		_, err = d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)`, "team-a", "dup", t0)
		if !db.IsUniqueViolation(err) {
			t.Fatalf("duplicate id: %v", err)
		}
		boom := errors.New("boom")
		err = d.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)`, "team-z", "z", t0); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("tx error %v", err)
		}
		var n int
		_ = d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM teams WHERE id = 'team-z'`).Scan(&n)
		if n != 0 {
			t.Fatal("rolled-back insert is visible")
		}
	})
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	t.Parallel()
	if _, err := db.Open(context.Background(), db.Options{URL: "mysql://x"}); err == nil {
		t.Fatal("mysql URL accepted")
	}
}
