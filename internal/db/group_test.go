package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

type groupNoteArgs struct {
	Note string `json:"note"`
}

func (groupNoteArgs) Kind() string { return "test_group_note" }

func insertTeam(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ($1, $1, $2)`, id, db.Now())
	return err
}

func teamExists(t *testing.T, d *db.DB, id string) bool {
	t.Helper()
	var n int
	if err := d.R.QueryRow(`SELECT COUNT(*) FROM teams WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// waitFor polls cond; it only bounds a wait that should end almost at once,
// and fails the test if the condition never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var errPlanned = errors.New("planned failure")

// TestTxConcurrentMixedOutcomes runs many concurrent Tx calls that succeed,
// fail or panic: each caller sees exactly its own outcome, a panic is
// re-raised in its caller's goroutine, and only the successful callers'
// rows exist.
func TestTxConcurrentMixedOutcomes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		const n = 150
		start := make(chan struct{})
		errs := make([]error, n)
		panics := make([]any, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { panics[i] = recover() }()
				<-start
				errs[i] = d.Tx(ctx, func(tx *sql.Tx) error {
					if err := insertTeam(ctx, tx, fmt.Sprintf("team-%d", i)); err != nil {
						return err
					}
					switch i % 3 {
					case 1:
						return fmt.Errorf("caller %d: %w", i, errPlanned)
					case 2:
						panic(fmt.Sprintf("caller %d panics", i))
					}
					return nil
				})
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			id := fmt.Sprintf("team-%d", i)
			switch i % 3 {
			case 0:
				if errs[i] != nil || panics[i] != nil {
					t.Errorf("caller %d: err %v, panic %v", i, errs[i], panics[i])
				}
				if !teamExists(t, d, id) {
					t.Errorf("caller %d succeeded but its row is missing", i)
				}
			case 1:
				if !errors.Is(errs[i], errPlanned) || !strings.Contains(errs[i].Error(), fmt.Sprintf("caller %d:", i)) {
					t.Errorf("caller %d: want its own error, got %v", i, errs[i])
				}
				if teamExists(t, d, id) {
					t.Errorf("caller %d failed but its row exists", i)
				}
			case 2:
				if panics[i] != fmt.Sprintf("caller %d panics", i) {
					t.Errorf("caller %d: want its own panic, got %v (err %v)", i, panics[i], errs[i])
				}
				if teamExists(t, d, id) {
					t.Errorf("caller %d panicked but its row exists", i)
				}
			}
		}
	})
}

// TestGroupCommitBatch lines several callers up behind a running fn on
// SQLite, so they share one transaction: later fns see earlier fns' writes
// but not those of a fn that failed or panicked, a job enqueued by a failed
// fn never exists, and a caller cancelled while queued does not run.
func TestGroupCommitBatch(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.Options{DataDir: t.TempDir()})
	q, err := jobs.New(d, nil, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	release := make(chan struct{})
	running := make(chan struct{})
	type result struct {
		err error
		p   any
	}
	results := map[string]chan result{}
	call := func(name string, ctx context.Context, fn func(tx *sql.Tx) error) {
		ch := make(chan result, 1)
		results[name] = ch
		go func() {
			var r result
			defer func() { r.p = recover(); ch <- r }()
			r.err = d.Tx(ctx, fn)
		}()
	}
	enqueue := func(tx *sql.Tx, note string) error {
		_, err := q.Enqueue(ctx, tx, groupNoteArgs{Note: note}, nil)
		return err
	}

	call("a", ctx, func(tx *sql.Tx) error {
		close(running)
		<-release
		return insertTeam(ctx, tx, "a")
	})
	<-running
	queued := 0
	lineUp := func(name string, ctx context.Context, fn func(tx *sql.Tx) error) {
		call(name, ctx, fn)
		queued++
		waitFor(t, name+" to queue", func() bool { return db.GroupQueued(d) == queued })
	}
	lineUp("b", ctx, func(tx *sql.Tx) error {
		if err := insertTeam(ctx, tx, "b"); err != nil {
			return err
		}
		return enqueue(tx, "from-b")
	})
	lineUp("c", ctx, func(tx *sql.Tx) error {
		if err := insertTeam(ctx, tx, "c"); err != nil {
			return err
		}
		if err := enqueue(tx, "from-c"); err != nil {
			return err
		}
		return errPlanned
	})
	lineUp("d", ctx, func(tx *sql.Tx) error {
		if err := insertTeam(ctx, tx, "d"); err != nil {
			return err
		}
		panic("d panics")
	})
	var sawInE string
	lineUp("e", ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM teams ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			sawInE += id
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return insertTeam(ctx, tx, "e")
	})
	cctx, cancel := context.WithCancel(ctx)
	fRan := false
	lineUp("f", cctx, func(tx *sql.Tx) error {
		fRan = true
		return insertTeam(ctx, tx, "f")
	})
	cancel()
	if r := <-results["f"]; !errors.Is(r.err, context.Canceled) || r.p != nil {
		t.Fatalf("cancelled caller: err %v, panic %v", r.err, r.p)
	}
	close(release)

	for _, name := range []string{"a", "b", "e"} {
		if r := <-results[name]; r.err != nil || r.p != nil {
			t.Errorf("%s: err %v, panic %v", name, r.err, r.p)
		}
	}
	if r := <-results["c"]; !errors.Is(r.err, errPlanned) {
		t.Errorf("c: want errPlanned, got %v (panic %v)", r.err, r.p)
	}
	if r := <-results["d"]; r.p != "d panics" {
		t.Errorf("d: want its panic, got %v (err %v)", r.p, r.err)
	}
	if fRan {
		t.Error("the cancelled caller's fn ran")
	}
	// e ran in the same transaction as a and b (it saw their uncommitted
	// rows) and after c and d had been rolled back to their savepoints.
	if sawInE != "ab" {
		t.Errorf("e saw teams %q, want \"ab\"", sawInE)
	}
	for id, want := range map[string]bool{"a": true, "b": true, "c": false, "d": false, "e": true, "f": false} {
		if got := teamExists(t, d, id); got != want {
			t.Errorf("team %s exists = %v, want %v", id, got, want)
		}
	}
	var notes []string
	rows, err := d.R.Query(`SELECT args FROM river_job WHERE kind = $1`, groupNoteArgs{}.Kind())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var args string
		if err := rows.Scan(&args); err != nil {
			t.Fatal(err)
		}
		notes = append(notes, args)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "from-b") {
		t.Fatalf("jobs: %q, want only b's", notes)
	}
}

// TestTxCancelledBeforeStart: a done context means fn never runs.
func TestTxCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		err := d.Tx(ctx, func(tx *sql.Tx) error { ran = true; return nil })
		if !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("err %v, ran %v", err, ran)
		}
	})
}

// TestTxDurableAcrossReopen commits from many concurrent callers, closes the
// database and opens it again: every acknowledged row is there.
func TestTxDurableAcrossReopen(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := e.Options(t)
			d1 := dbtest.Open(t, opts)
			const n = 100
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = d1.Tx(ctx, func(tx *sql.Tx) error {
						return insertTeam(ctx, tx, fmt.Sprintf("durable-%d", i))
					})
				}()
			}
			wg.Wait()
			if err := d1.Close(); err != nil {
				t.Fatal(err)
			}
			d2 := dbtest.Open(t, opts)
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("caller %d: %v", i, errs[i])
				}
				if !teamExists(t, d2, fmt.Sprintf("durable-%d", i)) {
					t.Fatalf("row %d acknowledged but missing after reopen", i)
				}
			}
		})
	}
}

// TestGroupCommitCancelMidStatement cancels a fn's context while its long
// write statement runs, with other fns in the same batch: SQLite would
// abandon the whole transaction if the statement were interrupted, so it is
// not; the cancelled fn fails at its next statement and only its own rows
// are rolled back.
func TestGroupCommitCancelMidStatement(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.Options{DataDir: t.TempDir()})
	ctx := context.Background()
	release := make(chan struct{})
	running := make(chan struct{})
	errs := map[string]chan error{}
	call := func(name string, fn func(tx *sql.Tx) error) {
		ch := make(chan error, 1)
		errs[name] = ch
		go func() { ch <- d.Tx(ctx, fn) }()
	}
	call("a", func(tx *sql.Tx) error {
		close(running)
		<-release
		return insertTeam(ctx, tx, "a")
	})
	<-running
	queued := 0
	lineUp := func(name string, fn func(tx *sql.Tx) error) {
		call(name, fn)
		queued++
		waitFor(t, name+" to queue", func() bool { return db.GroupQueued(d) == queued })
	}
	lineUp("b", func(tx *sql.Tx) error { return insertTeam(ctx, tx, "b") })
	lineUp("c", func(tx *sql.Tx) error {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			time.Sleep(2 * time.Millisecond)
			cancel()
		}()
		_, err := tx.ExecContext(cctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
			INSERT INTO teams (id, name, created_at) SELECT 'bulk-' || i, 'bulk', 0 FROM n`)
		if err != nil {
			return err
		}
		<-cctx.Done()
		_, err = tx.ExecContext(cctx, `INSERT INTO teams (id, name, created_at) VALUES ('c', 'c', 0)`)
		if err == nil {
			return errors.New("a statement ran on a cancelled context")
		}
		return err
	})
	lineUp("d", func(tx *sql.Tx) error { return insertTeam(ctx, tx, "d") })
	close(release)
	for _, name := range []string{"a", "b", "d"} {
		if err := <-errs[name]; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := <-errs["c"]; !errors.Is(err, context.Canceled) {
		t.Errorf("c: want context.Canceled, got %v", err)
	}
	for id, want := range map[string]bool{"a": true, "b": true, "c": false, "d": true, "bulk-1": false} {
		if got := teamExists(t, d, id); got != want {
			t.Errorf("team %s exists = %v, want %v", id, got, want)
		}
	}
}
