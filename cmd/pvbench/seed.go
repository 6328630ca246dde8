package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/peakvoice/peakvoice/internal/db"
)

// Seeding by SQL copies a template row that the API created (so every
// column holds what the product itself writes) and changes the columns
// that must differ. Rows go in multi-row INSERTs inside batched
// transactions, which is what makes a million rows take seconds rather
// than hours of single commits.

// row is one template row: column names and their values.
type row struct {
	cols []string
	vals []any
}

// templateRow reads one row of table by its id.
func templateRow(ctx context.Context, d *db.DB, table, id string) (row, error) {
	rows, err := d.W.QueryContext(ctx, `SELECT * FROM `+table+` WHERE id = $1`, id)
	if err != nil {
		return row{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return row{}, err
	}
	if !rows.Next() {
		return row{}, fmt.Errorf("template %s %s not found", table, id)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return row{}, err
	}
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			vals[i] = string(b) // TEXT read back as bytes must not go in as a BLOB
		}
	}
	return row{cols: cols, vals: vals}, rows.Err()
}

// cloner inserts copies of a template row.
type cloner struct {
	d     *db.DB
	table string
	tmpl  row
	index map[string]int
	// perStmt rows per INSERT (bounded by the engines' parameter limits),
	// perTx rows per transaction.
	perStmt, perTx int
}

func newCloner(d *db.DB, table string, tmpl row) *cloner {
	c := &cloner{d: d, table: table, tmpl: tmpl, index: map[string]int{}, perTx: 20000}
	for i, col := range tmpl.cols {
		c.index[col] = i
	}
	// SQLite looks numbered parameters ($N) up by name in a list, which
	// is quadratic in their number: a 30,000-parameter INSERT spent most
	// of its time there. Anonymous ? parameters avoid it.
	c.perStmt = max(1, 8000/len(tmpl.cols))
	return c
}

// set is a change to one copy: column name → value.
type set map[string]any

// insert writes n copies; mutate(i) returns the columns copy i changes.
func (c *cloner) insert(ctx context.Context, n int, mutate func(i int) set) error {
	for i := range mutate(0) {
		if _, ok := c.index[i]; !ok {
			return fmt.Errorf("%s has no column %s", c.table, i)
		}
	}
	for start := 0; start < n; start += c.perTx {
		end := min(n, start+c.perTx)
		if err := c.d.Tx(ctx, func(tx *sql.Tx) error {
			for s := start; s < end; s += c.perStmt {
				if err := c.stmt(ctx, tx, s, min(end, s+c.perStmt), mutate); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("seed %s: %w", c.table, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func (c *cloner) stmt(ctx context.Context, tx *sql.Tx, from, to int, mutate func(i int) set) error {
	ncol := len(c.tmpl.cols)
	var b strings.Builder
	b.WriteString("INSERT INTO " + c.table + " (" + strings.Join(c.tmpl.cols, ", ") + ") VALUES ")
	args := make([]any, 0, (to-from)*ncol)
	for i := from; i < to; i++ {
		if i > from {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		vals := append([]any(nil), c.tmpl.vals...)
		for col, v := range mutate(i) {
			vals[c.index[col]] = v
		}
		for j := range vals {
			if j > 0 {
				b.WriteString(", ")
			}
			if c.d.Dialect == db.SQLite {
				b.WriteByte('?')
			} else {
				b.WriteString("$" + strconv.Itoa(len(args)+j+1))
			}
		}
		args = append(args, vals...)
		b.WriteByte(')')
	}
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return err
}

// callerNumber is the i-th distinct, well-formed US number for seeded
// callers (area code 312, exchanges 200–999).
func callerNumber(i int) string {
	return fmt.Sprintf("+1312%03d%04d", 200+(i/10000)%800, i%10000)
}
