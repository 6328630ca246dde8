// Package jobs is Peak Voice's durable job queue: River on SQLite
// (riversqlite) or PostgreSQL (riverpgxv5). Domains register workers in a
// Registry and enqueue jobs inside the same transaction as the change that
// causes them, so a job exists exactly when its change committed.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/peakvoice/peakvoice/internal/db"
)

// Registry collects the workers that domains plug in before the queue starts.
type Registry struct {
	workers  *river.Workers
	kinds    []string
	periodic []*river.PeriodicJob
	queues   map[string]int // extra queues: name → concurrent jobs per process
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{workers: river.NewWorkers()}
}

// Register adds a worker for the job kind of T.
func Register[T river.JobArgs](r *Registry, w river.Worker[T]) {
	river.AddWorker(r.workers, w)
	var zero T
	r.kinds = append(r.kinds, zero.Kind())
}

// Every schedules a job to be enqueued every interval (on one process of a
// cluster: the queue's leader), and once at start. Its worker must be
// registered too.
func (r *Registry) Every(interval time.Duration, args func() river.JobArgs) {
	r.periodic = append(r.periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args(), nil },
		&river.PeriodicJobOpts{RunOnStart: true}))
}

// Queue declares a queue of its own for jobs enqueued with InsertOpts.Queue
// set to name, worked by up to maxWorkers jobs at a time in each process. A
// domain whose jobs are many and mostly waiting on the network (webhook
// deliveries) gets its own queue, so a backlog of them neither starves the
// default queue's jobs nor is held to the default queue's concurrency.
func (r *Registry) Queue(name string, maxWorkers int) {
	if r.queues == nil {
		r.queues = map[string]int{}
	}
	r.queues[name] = maxWorkers
}

// Kinds lists the registered job kinds in registration order.
func (r *Registry) Kinds() []string { return append([]string(nil), r.kinds...) }

// Config tunes the queue. Zero values take defaults fit for interactive work:
// River's own defaults (100 ms cooldown, 1 s poll) would add up to a second
// to every webhook and SMS.
type Config struct {
	MaxWorkers           int           // concurrent jobs of the default queue per process (default 20)
	FetchCooldown        time.Duration // default 5 ms
	FetchPollInterval    time.Duration // default 50 ms
	JobTimeout           time.Duration // default 1 min
	RescueStuckJobsAfter time.Duration // default 2 min (must exceed JobTimeout)
	Logger               *slog.Logger
}

func (c *Config) defaults() {
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = 20
	}
	if c.FetchCooldown <= 0 {
		c.FetchCooldown = 5 * time.Millisecond
	}
	if c.FetchPollInterval <= 0 {
		c.FetchPollInterval = 50 * time.Millisecond
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = time.Minute
	}
	if c.RescueStuckJobsAfter <= c.JobTimeout {
		c.RescueStuckJobsAfter = c.JobTimeout + time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// runner is the part of a River client that starts and stops work; the
// SQLite and PostgreSQL clients have different transaction types but share it.
type runner interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

// Queue enqueues and runs jobs.
type Queue struct {
	d        *db.DB
	inserter *river.Client[*sql.Tx] // inserts through database/sql transactions
	runner   runner                 // works jobs (nil when the registry is empty)
	started  bool
}

// New builds a queue on d with the registry's workers. Call Start to work
// jobs; a queue that is never started can still enqueue.
func New(d *db.DB, reg *Registry, cfg Config) (*Queue, error) {
	cfg.defaults()
	rc := &river.Config{
		FetchCooldown:        cfg.FetchCooldown,
		FetchPollInterval:    cfg.FetchPollInterval,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		Logger:               cfg.Logger,
	}
	if reg != nil && len(reg.kinds) > 0 {
		rc.Workers = reg.workers
		rc.PeriodicJobs = reg.periodic
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}}
		for name, n := range reg.queues {
			rc.Queues[name] = river.QueueConfig{MaxWorkers: n}
		}
	}
	q := &Queue{d: d}
	switch d.Dialect {
	case db.SQLite:
		c, err := river.NewClient(riversqlite.New(d.W), rc)
		if err != nil {
			return nil, fmt.Errorf("river client: %w", err)
		}
		q.inserter = c
		if rc.Workers != nil {
			q.runner = c
		}
	case db.Postgres:
		// Inserts go through database/sql so they join the domain's *sql.Tx;
		// the worker client uses pgx natively for LISTEN/NOTIFY wake-ups.
		ins, err := river.NewClient(riverdatabasesql.New(d.W), &river.Config{Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("river insert client: %w", err)
		}
		q.inserter = ins
		if rc.Workers != nil {
			c, err := river.NewClient(riverpgxv5.New(d.Pool), rc)
			if err != nil {
				return nil, fmt.Errorf("river client: %w", err)
			}
			q.runner = c
		}
	default:
		return nil, fmt.Errorf("jobs: unsupported dialect %q", d.Dialect)
	}
	return q, nil
}

// Enqueue inserts a job inside tx: it becomes visible to workers when tx
// commits and disappears if tx rolls back.
func (q *Queue) Enqueue(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobRow, error) {
	res, err := q.inserter.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return res.Job, nil
}

// Start begins working jobs in the background until Stop.
func (q *Queue) Start(ctx context.Context) error {
	if q.runner == nil {
		return nil
	}
	if err := q.runner.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	q.started = true
	return nil
}

// Running reports whether the queue is working jobs.
func (q *Queue) Running() bool { return q.runner == nil || q.started }

// Stop lets running jobs finish until ctx is done, then cancels the rest;
// cancelled jobs are retried later, by this process or another.
func (q *Queue) Stop(ctx context.Context) error {
	if q.runner == nil || !q.started {
		return nil
	}
	q.started = false
	err := q.runner.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return q.runner.StopAndCancel(cctx)
	}
	return err
}

// Depth counts jobs waiting to run (available, scheduled or retryable) and
// running, for metrics.
func (q *Queue) Depth(ctx context.Context) (waiting, running int64, err error) {
	err = q.d.R.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN state IN ('available','scheduled','retryable') THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0)
		FROM river_job`).Scan(&waiting, &running)
	return waiting, running, err
}

// Migrate creates or upgrades River's own tables.
func Migrate(ctx context.Context, d *db.DB) error {
	var err error
	switch d.Dialect {
	case db.SQLite:
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(d.W), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	case db.Postgres:
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riverdatabasesql.New(d.W), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	default:
		err = fmt.Errorf("unsupported dialect %q", d.Dialect)
	}
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	return nil
}
