package db_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
)

// TestStatementReuse exercises the SQLite connections' prepared-statement
// cache: the same SQL run again while its rows are still open, a statement
// that failed while running and is then run again, and a cached statement
// after the schema changed under it.
func TestStatementReuse(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.Options{DataDir: t.TempDir()})
	ctx := context.Background()
	const list = `SELECT id FROM teams ORDER BY id`
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		for _, id := range []string{"t1", "t2", "t3"} {
			if err := insertTeam(ctx, tx, id); err != nil {
				return err
			}
		}
		// Nested use of one SQL text inside a transaction.
		outer, err := tx.QueryContext(ctx, list)
		if err != nil {
			return err
		}
		defer outer.Close()
		n := 0
		for outer.Next() {
			var id string
			if err := outer.Scan(&id); err != nil {
				return err
			}
			var inner int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+list+`)`).Scan(&inner); err != nil {
				return err
			}
			rows, err := tx.QueryContext(ctx, list)
			if err != nil {
				return err
			}
			for rows.Next() {
				inner--
			}
			rows.Close()
			if inner != 0 {
				t.Errorf("nested run of the same query saw a different row count")
			}
			n++
		}
		if n != 3 {
			t.Errorf("outer query saw %d rows, want 3", n)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}

	// A statement that fails while stepping, then runs fine.
	const check = `SELECT json_extract($1, '$.a')`
	var v sql.NullString
	if err := d.R.QueryRowContext(ctx, check, "not json").Scan(&v); err == nil {
		t.Fatal("malformed JSON accepted")
	}
	for range 3 {
		if err := d.R.QueryRowContext(ctx, check, `{"a":"ok"}`).Scan(&v); err != nil || v.String != "ok" {
			t.Fatalf("rerun after a failure: %q %v", v.String, err)
		}
	}
	if _, err := d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ('t1', 'dup', 0)`); !db.IsUniqueViolation(err) {
		t.Fatalf("duplicate insert: %v", err)
	}
	if _, err := d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ('t1', 'dup', 0)`); !db.IsUniqueViolation(err) {
		t.Fatalf("duplicate insert, cached: %v", err)
	}

	// Schema change under a cached statement, on the writer and a reader.
	const all = `SELECT * FROM teams WHERE id = $1`
	cols := func(q interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}) int {
		rows, err := q.QueryContext(ctx, all, "t1")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}
	before := cols(d.W)
	for range 4 {
		cols(d.R)
	}
	if _, err := d.W.ExecContext(ctx, `ALTER TABLE teams ADD COLUMN extra TEXT`); err != nil {
		t.Fatal(err)
	}
	if got := cols(d.W); got != before+1 {
		t.Errorf("writer after ALTER: %d columns, want %d", got, before+1)
	}
	for range 4 {
		if got := cols(d.R); got != before+1 {
			t.Errorf("reader after ALTER: %d columns, want %d", got, before+1)
		}
	}
}
