package inbound

import (
	"strings"
	"testing"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
)

// TestTargetsReadInOneRangeScan: on SQLite a session's callback targets are
// read off the table's own key, in order, with no look-ups into the table
// and no sort (see migration 0016); by id they are found through the
// unique index.
func TestTargetsReadInOneRangeScan(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.Options{DataDir: t.TempDir()})
	plan := func(q string, args ...any) string {
		rows, err := d.R.Query(`EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	if p := plan(targetsOfSQL, "sess-1"); !strings.Contains(p, "USING PRIMARY KEY (session_id=?)") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("targets of a session: %s", p)
	}
	byID := `SELECT ` + targetCols + ` FROM callback_targets WHERE id = $1 AND session_id = $2`
	if p := plan(byID, "t-1", "sess-1"); !strings.Contains(p, "callback_targets_id_idx") && !strings.Contains(p, "PRIMARY KEY") {
		t.Errorf("target by id: %s", p)
	}
}
