// Package webhooks is the one place Peak Voice produces outgoing events and
// delivers them: an event is stored in the same transaction as the change
// that caused it, its delivery is enqueued on the durable job queue in that
// transaction, and workers POST it, signed, up to three times (about 0 s,
// 5 s and 35 s). Every attempt is kept and readable through the API.
package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

// DefaultSchedule is the spec's: three attempts, at about 0 s, 5 s and 35 s
// after the event.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 35 * time.Second}

// Config configures the service.
type Config struct {
	DB    *db.DB
	Queue *jobs.Queue
	// Secret signs every delivery (peak_voice_webhook_signing_secret).
	Secret []byte
	// AllowPrivate lets deliveries reach loopback and private addresses
	// (development mode, where receivers run on the same machine).
	AllowPrivate bool
	// Schedule is the offset of each attempt from the first; its length is
	// the number of attempts. Tests scale it down. Default DefaultSchedule.
	Schedule []time.Duration
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Workers bounds concurrent deliveries per process (default
	// DefaultWorkers); deliveries run on a job queue of their own.
	Workers int
	Logger  *slog.Logger
	// Transport overrides the guarded transport (tests only).
	Transport http.RoundTripper
}

// Queue is the job queue deliveries run on. Deliveries enqueued by older
// versions on the default queue are still worked there.
const Queue = "webhooks"

// DefaultWorkers is how many deliveries a process attempts at once. Each
// mostly waits on the receiver, so this is well above the default queue's
// concurrency: deliveries were bounded by it, not by the CPU or the database.
const DefaultWorkers = 100

// Service emits and delivers events.
type Service struct {
	cfg    Config
	db     *db.DB
	queue  *jobs.Queue
	client *http.Client
	log    *slog.Logger
}

// New builds the service and registers its worker in reg.
func New(cfg Config, reg *jobs.Registry) (*Service, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhooks: a signing secret is required")
	}
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger}
	s.client = newClient(cfg.Timeout, cfg.AllowPrivate, cfg.Transport)
	jobs.Register(reg, &deliverWorker{s: s})
	reg.Queue(Queue, cfg.Workers)
	return s, nil
}

// SetQueue gives the service the queue its deliveries go on. The queue is
// built after workers register, so it arrives here rather than in New.
func (s *Service) SetQueue(q *jobs.Queue) { s.queue = q }

// NewEvent describes an event to emit.
type NewEvent struct {
	TeamID string
	Type   string // e.g. "call.completed"
	// URL receives the event; empty records the event without delivering it.
	URL  string
	Data any
}

// Event is a stored event.
type Event struct {
	ID         string          `json:"event_id" doc:"Stable id; consumers dedupe on it. The same across attempts and redeliveries."`
	Type       string          `json:"event" doc:"Event type, e.g. callback.matched."`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// envelope is the exact body sent: the spec's {event, event_id, occurred_at, data}.
type envelope struct {
	Event      string          `json:"event"`
	EventID    string          `json:"event_id"`
	OccurredAt string          `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// Emit stores an event inside tx and, when it has a URL, enqueues its
// delivery in the same tx: if tx rolls back, nothing is ever sent; once it
// commits, the event is delivered even if the process dies right after.
func (s *Service) Emit(ctx context.Context, tx *sql.Tx, e NewEvent) (Event, error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return Event{}, fmt.Errorf("emit %s: encode data: %w", e.Type, err)
	}
	if e.Data == nil {
		data = []byte("{}")
	}
	now := db.Now()
	ev := Event{ID: uuid.Must(uuid.NewV7()).String(), Type: e.Type, OccurredAt: now, Data: data}
	body, err := json.Marshal(envelope{Event: ev.Type, EventID: ev.ID, OccurredAt: now.Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return Event{}, err
	}
	if err := insertEvent(ctx, tx, ev, e.TeamID, body); err != nil {
		return Event{}, fmt.Errorf("emit %s: %w", e.Type, err)
	}
	if e.URL == "" {
		return ev, nil
	}
	d := delivery{ID: uuid.Must(uuid.NewV7()).String(), EventID: ev.ID, TeamID: e.TeamID, EventType: e.Type,
		URL: e.URL, Status: StatusPending, Round: 1, CreatedAt: now, UpdatedAt: now}
	if err := insertDelivery(ctx, tx, d); err != nil {
		return Event{}, fmt.Errorf("emit %s: %w", e.Type, err)
	}
	if err := s.enqueue(ctx, tx, d.ID, d.Round); err != nil {
		return Event{}, err
	}
	return ev, nil
}

func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, deliveryID string, round int) error {
	if s.queue == nil {
		return errors.New("webhooks: no job queue")
	}
	_, err := s.queue.Enqueue(ctx, tx, deliverArgs{DeliveryID: deliveryID, Round: round},
		// Attempts on the schedule snooze between runs and do not count
		// here; these are for rescues after a crash and bookkeeping errors.
		&river.InsertOpts{MaxAttempts: len(s.cfg.Schedule) + rescueRuns, Queue: Queue})
	return err
}

// rescueRuns is how many runs of a delivery job may end without recording
// an attempt (a crash mid-attempt, a database error) before the queue
// gives up on it.
const rescueRuns = 5

// Delivery statuses.
const (
	StatusPending   = "pending"   // waiting for its first attempt
	StatusRetrying  = "retrying"  // an attempt failed; another is scheduled
	StatusSucceeded = "succeeded" // a receiver answered 2xx
	StatusFailed    = "failed"    // every attempt of the round failed
)

// Redeliver starts a new round of attempts for every delivery of an event of
// the team, and returns the event id's deliveries. It reports false when the
// team has no such event.
func (s *Service) Redeliver(ctx context.Context, teamID, eventID string) (bool, error) {
	found := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ds, err := deliveriesForEvent(ctx, tx, teamID, eventID)
		if err != nil {
			return err
		}
		if _, err := eventByID(ctx, tx, teamID, eventID); err != nil {
			if errors.Is(err, errNotFound) {
				return nil
			}
			return err
		}
		found = true
		now := db.Now()
		for _, d := range ds {
			round, err := startRound(ctx, tx, d.ID, now)
			if err != nil {
				return err
			}
			if err := s.enqueue(ctx, tx, d.ID, round); err != nil {
				return err
			}
		}
		return nil
	})
	return found, err
}
