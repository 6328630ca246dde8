package db_test

import (
	"context"
	"sync"
	"testing"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
)

// TestStmtsCacheQueries: the statement cache answers like the pool, sees
// rows written after a statement was prepared, keeps one statement per
// query text under concurrent use, and reports a bad query's error.
func TestStmtsCacheQueries(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		q := db.NewStmts(d.Dialect, d.R)
		c, cached := q.(*db.Stmts)
		if cached != (d.Dialect == db.SQLite) {
			t.Fatalf("cached %v on %s", cached, d.Dialect)
		}
		count := func() int {
			var n int
			if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM teams WHERE name = $1`, "cache").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != 0 {
			t.Fatalf("%d teams", n)
		}
		if _, err := d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ('t-cache', 'cache', $1)`, db.Now()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if n := count(); n != 1 {
					t.Errorf("%d teams after the insert", n)
				}
			}()
		}
		wg.Wait()
		rows, err := q.QueryContext(ctx, `SELECT id FROM teams WHERE name = $1`, "cache")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for rows.Next() {
			var id string
			_ = rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) != 1 || ids[0] != "t-cache" {
			t.Fatalf("ids %v", ids)
		}
		var x int
		if err := q.QueryRowContext(ctx, `SELECT nope FROM nowhere`).Scan(&x); err == nil {
			t.Fatal("a bad query gave no error")
		}
		if cached {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
