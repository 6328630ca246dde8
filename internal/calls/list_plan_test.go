package calls

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

// TestListQueryPlans: on SQLite, with one team owning every call and the
// statistics gathered (the case where the planner used to scan and sort
// the whole table), each list page is read in order off an index, without
// sorting, and each count reads an index only.
func TestListQueryPlans(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		if d.Dialect != db.SQLite {
			t.Skip("plans checked on SQLite; PostgreSQL's depend on table sizes")
		}
		ctx := context.Background()
		s := New(Config{DB: d, DialTimeout: time.Second}, jobs.NewRegistry())
		if _, err := d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ('team-1', 'T', $1)`, db.Now()); err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			c := testCall(fmt.Sprintf("call-%04d", i), dispatchDone)
			c.CreatedAt = c.CreatedAt.Add(-time.Duration(i) * time.Second)
			c.Status = []string{StatusCompleted, StatusFailed, StatusQueued}[i%3]
			if err := insertCall(ctx, d.W, c); err != nil {
				t.Fatal(err)
			}
		}
		since := db.Now().Add(-time.Minute)
		for _, analyze := range []bool{false, true} {
			if analyze {
				if _, err := d.W.ExecContext(ctx, `ANALYZE`); err != nil {
					t.Fatal(err)
				}
			}
			checkListPlans(t, s, since, analyze)
		}
		// The queries still answer correctly.
		got, total, err := listCalls(ctx, d.R, "team-1", Filter{Status: StatusCompleted}, 10, 5)
		if err != nil || total != 100 || len(got) != 10 || got[0].ID != "call-0015" {
			t.Fatalf("page: %d calls of %d, first %v, err %v", len(got), total, got, err)
		}
	})
}

func checkListPlans(t *testing.T, s *Service, since time.Time, analyzed bool) {
	t.Helper()
	for name, f := range map[string]Filter{
		"all":              {},
		"status":           {Status: StatusCompleted},
		"status+direction": {Status: StatusCompleted, Direction: Outbound},
		"agent":            {AgentID: "a"},
		"since":            {Since: &since},
	} {
		countSQL, pageSQL, args := listQueries("team-1", f)
		for _, q := range []struct {
			kind, sql string
			args      []any
		}{{"count", countSQL, args}, {"page", pageSQL, append(append([]any{}, args...), 50, 100)}} {
			plan := explain(t, s, q.sql, q.args)
			if name == "all" && q.kind == "count" {
				if !strings.Contains(plan, "SEARCH team_call_counts") {
					t.Errorf("unfiltered count (analyzed %v): plan %q", analyzed, plan)
				}
				continue
			}
			if !strings.Contains(plan, "INDEX calls_") || strings.Contains(plan, "TEMP B-TREE") ||
				strings.Contains(plan, "SCAN calls") || (q.kind == "count" && !strings.Contains(plan, "COVERING INDEX")) {
				t.Errorf("%s %s (analyzed %v): plan %q", name, q.kind, analyzed, plan)
			}
			t.Logf("%s %s (analyzed %v): %s", name, q.kind, analyzed, plan)
		}
	}
}

func explain(t *testing.T, s *Service, q string, args []any) string {
	t.Helper()
	rows, err := s.db.R.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return strings.Join(out, "; ")
}

// TestListTotalFromCounter: the unfiltered total comes from the per-team
// counter the triggers keep, and matches a count of the rows on both
// engines, for a team with calls, another team, and a team with none.
func TestListTotalFromCounter(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, team := range []string{"team-1", "team-2", "team-3"} {
			if _, err := d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ($1, 'T', $2)`, team, db.Now()); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 7 {
			c := testCall(fmt.Sprintf("c1-%d", i), dispatchDone)
			if err := insertCall(ctx, d.W, c); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 3 {
			c := testCall(fmt.Sprintf("c2-%d", i), dispatchDone)
			c.teamID = "team-2"
			if err := insertCall(ctx, d.W, c); err != nil {
				t.Fatal(err)
			}
		}
		for team, want := range map[string]int{"team-1": 7, "team-2": 3, "team-3": 0} {
			got, total, err := listCalls(ctx, d.R, team, Filter{}, 5, 0)
			if err != nil {
				t.Fatal(err)
			}
			var rows int
			if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM calls WHERE team_id = $1`, team).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if total != want || rows != want || len(got) != min(want, 5) {
				t.Fatalf("%s: total %d, rows %d, page %d; want %d", team, total, rows, len(got), want)
			}
		}
		// A statement inserting several calls at once counts them all.
		if _, err := d.W.ExecContext(ctx, `INSERT INTO calls (id, team_id, agent_id, direction, status,
			status_rank, from_number, to_number, provider, provider_agent_id, brief_variables, dynamic_variables, objectives, overrides,
			dispatch, result_status, event_seq, created_at, updated_at)
			SELECT id || '-copy', team_id, agent_id, direction, status, status_rank, from_number, to_number, provider, provider_agent_id,
			brief_variables, dynamic_variables, objectives, overrides, dispatch, result_status, event_seq, created_at, updated_at
			FROM calls WHERE team_id = 'team-2'`); err != nil {
			t.Fatal(err)
		}
		if _, total, err := listCalls(ctx, d.R, "team-2", Filter{}, 5, 0); err != nil || total != 6 {
			t.Fatalf("team-2 after a batch insert: total %d, want 6 (%v)", total, err)
		}
		// Deleting (nothing does today) keeps the count right.
		if _, err := d.W.ExecContext(ctx, `DELETE FROM calls WHERE id IN ('c1-0', 'c1-1')`); err != nil {
			t.Fatal(err)
		}
		if _, total, err := listCalls(ctx, d.R, "team-1", Filter{}, 5, 0); err != nil || total != 5 {
			t.Fatalf("team-1 after deleting two: total %d, want 5 (%v)", total, err)
		}
	})
}
