package db

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
)

// Where builds an AND-ed WHERE clause with numbered placeholders for list
// queries whose filters are optional. Write conditions with one "?" for
// their argument.
type Where struct {
	conds []string
	args  []any
}

// NewWhere starts a clause with a first condition (usually the tenant).
func NewWhere(cond string, arg any) *Where {
	w := &Where{}
	w.Add(cond, arg)
	return w
}

// Add appends a condition and its argument.
func (w *Where) Add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
}

// AddIf appends a string-valued condition when the value is not empty.
func (w *Where) AddIf(cond, value string) {
	if value != "" {
		w.Add(cond, value)
	}
}

// Raw appends a condition that takes no argument.
func (w *Where) Raw(cond string) { w.conds = append(w.conds, cond) }

// Scanner is a row or rows positioned on a row.
type Scanner interface{ Scan(dest ...any) error }

// Page runs "SELECT COUNT(*) FROM table WHERE …" and "SELECT cols FROM
// table WHERE … ORDER BY order LIMIT … OFFSET …", scanning each row.
func Page[T any](ctx context.Context, q Querier, cols, table string, w *Where, order string, limit, offset int,
	scan func(Scanner) (T, error)) ([]T, int, error) {
	cond := strings.Join(w.conds, " AND ")
	var total int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE `+cond, w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	n := len(w.args)
	args := append(append([]any(nil), w.args...), limit, offset)
	rows, err := q.QueryContext(ctx, `SELECT `+cols+` FROM `+table+` WHERE `+cond+` ORDER BY `+order+
		` LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2), args...)
	out, err := Collect(rows, err, scan)
	return out, total, err
}

// Collect scans every row of a query into a slice (never nil), closing rows.
func Collect[T any](rows *sql.Rows, err error, scan func(Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// StrPtr turns a nullable text column into a *string (nil for NULL).
func StrPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	v := s.String
	return &v
}

// TimePtr turns a nullable time column into a *time.Time in UTC (nil for
// NULL).
func TimePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
