package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

type noteArgs struct {
	Note string `json:"note"`
}

func (noteArgs) Kind() string { return "test_note" }

// noteWorker records the notes of the jobs it works.
type noteWorker struct {
	river.WorkerDefaults[noteArgs]
	mu   sync.Mutex
	seen []string
	ran  chan string
}

func (w *noteWorker) Work(ctx context.Context, j *river.Job[noteArgs]) error {
	w.mu.Lock()
	w.seen = append(w.seen, j.Args.Note)
	w.mu.Unlock()
	w.ran <- j.Args.Note
	return nil
}

// TestCommittedJobSurvivesRestart enqueues one job in a committed
// transaction and one in a rolled-back transaction while no worker runs,
// closes the database as a crash would leave it, then reopens it with a
// worker: the committed job runs, the rolled-back one never exists.
func TestCommittedJobSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := e.Options(t)

			d1 := dbtest.Open(t, opts)
			q1, err := jobs.New(d1, nil, jobs.Config{})
			if err != nil {
				t.Fatal(err)
			}
			err = d1.Tx(ctx, func(tx *sql.Tx) error {
				_, err := q1.Enqueue(ctx, tx, noteArgs{Note: "committed"}, nil)
				return err
			})
			if err != nil {
				t.Fatalf("committed tx: %v", err)
			}
			errRollback := errors.New("roll back on purpose")
			err = d1.Tx(ctx, func(tx *sql.Tx) error {
				if _, err := q1.Enqueue(ctx, tx, noteArgs{Note: "rolled-back"}, nil); err != nil {
					return err
				}
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatalf("rolled-back tx: got %v", err)
			}
			if err := d1.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}

			d2 := dbtest.Open(t, opts)
			w := &noteWorker{ran: make(chan string, 10)}
			reg := jobs.NewRegistry()
			jobs.Register(reg, w)
			q2, err := jobs.New(d2, reg, jobs.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := q2.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				_ = q2.Stop(sctx)
			})

			select {
			case note := <-w.ran:
				if note != "committed" {
					t.Fatalf("first job worked = %q, want committed", note)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the committed job did not run after restart")
			}
			assertNoJob(t, d2, "rolled-back")
			// Wait until the committed job is recorded as completed, so the
			// queue has certainly fetched everything there was to fetch.
			waitCompleted(t, d2)
			w.mu.Lock()
			defer w.mu.Unlock()
			if len(w.seen) != 1 {
				t.Fatalf("worked %v, want only the committed job", w.seen)
			}
		})
	}
}

func assertNoJob(t *testing.T, d *db.DB, note string) {
	t.Helper()
	var n int
	if err := d.R.QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = 'test_note'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("river_job has %d test_note jobs, want 1 (the %s job must not exist)", n, note)
	}
}

func waitCompleted(t *testing.T, d *db.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var state string
		if err := d.R.QueryRow(`SELECT state FROM river_job WHERE kind = 'test_note'`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == "completed" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("committed job never reached completed")
}
