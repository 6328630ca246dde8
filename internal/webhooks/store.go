package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
)

var errNotFound = errors.New("not found")

// delivery is one event's journey to one URL.
type delivery struct {
	ID             string
	EventID        string
	TeamID         string
	EventType      string
	URL            string
	Status         string
	Round          int
	Attempts       int
	LastStatusCode *int
	LastError      *string
	NextAttemptAt  *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	CompletedAt    *time.Time
}

func insertEvent(ctx context.Context, q db.Querier, ev Event, teamID string, body []byte) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_events (id, team_id, event_type, occurred_at, body)
		VALUES ($1, $2, $3, $4, $5)`, ev.ID, teamID, ev.Type, ev.OccurredAt, string(body))
	return err
}

func insertDelivery(ctx context.Context, q db.Querier, d delivery) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_deliveries
		(id, event_id, team_id, event_type, url, status, round, attempts, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)`,
		d.ID, d.EventID, d.TeamID, d.EventType, d.URL, d.Status, d.Round, d.CreatedAt, d.UpdatedAt)
	return err
}

const deliveryCols = `d.id, d.event_id, d.team_id, d.event_type, d.url, d.status, d.round, d.attempts,
	d.last_status_code, d.last_error, d.next_attempt_at, d.created_at, d.updated_at, d.completed_at`

func scanDelivery(row interface{ Scan(...any) error }, extra ...any) (delivery, error) {
	var d delivery
	var code sql.NullInt64
	var lastErr sql.NullString
	var next, done sql.NullTime
	dest := append([]any{&d.ID, &d.EventID, &d.TeamID, &d.EventType, &d.URL, &d.Status, &d.Round, &d.Attempts,
		&code, &lastErr, &next, &d.CreatedAt, &d.UpdatedAt, &done}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return d, errNotFound
		}
		return d, err
	}
	if code.Valid {
		c := int(code.Int64)
		d.LastStatusCode = &c
	}
	if lastErr.Valid {
		d.LastError = &lastErr.String
	}
	d.NextAttemptAt = db.TimePtr(next)
	d.CompletedAt = db.TimePtr(done)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, nil
}

// deliveryForAttempt loads a delivery and the exact body to send.
func deliveryForAttempt(ctx context.Context, q db.Querier, id string) (delivery, []byte, error) {
	var body string
	d, err := scanDelivery(q.QueryRowContext(ctx, `SELECT `+deliveryCols+`, e.body
		FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.id = $1`, id), &body)
	return d, []byte(body), err
}

func recordAttempt(ctx context.Context, tx *sql.Tx, d delivery, a Attempt, status string, next *time.Time) error {
	var errText *string
	if a.Error != "" {
		errText = &a.Error
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts
		(id, delivery_id, team_id, round, attempt, started_at, status_code, latency_ms, error, response_body, succeeded)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		a.ID, d.ID, d.TeamID, a.Round, a.Attempt, a.StartedAt, a.StatusCode, a.LatencyMS, errText, a.ResponseBody, a.Succeeded)
	if err != nil {
		return err
	}
	now := db.Now()
	var completed *time.Time
	if status == StatusSucceeded || status == StatusFailed {
		completed = &now
	}
	var nextAt *time.Time
	if next != nil {
		n := next.UTC().Truncate(time.Microsecond)
		nextAt = &n
	}
	// Only the round this attempt belongs to may change the delivery: a
	// redelivery started meanwhile owns it now.
	_, err = tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1,
		last_status_code = $2, last_error = $3, next_attempt_at = $4, updated_at = $5, completed_at = $6
		WHERE id = $7 AND round = $8`,
		status, a.StatusCode, errText, nextAt, now, completed, d.ID, a.Round)
	return err
}

// startRound begins a redelivery round and returns its number.
// attemptsInRound counts the attempts recorded for a delivery's round.
func attemptsInRound(ctx context.Context, q db.Querier, id string, round int) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_attempts WHERE delivery_id = $1 AND round = $2`, id, round).Scan(&n)
	return n, err
}

// settleRound gives a delivery's round its final status without an
// attempt, when its attempts are all recorded but the status is not.
func settleRound(ctx context.Context, tx *sql.Tx, d delivery, status string) error {
	now := db.Now()
	_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $1, next_attempt_at = NULL, updated_at = $2,
		completed_at = $2 WHERE id = $3 AND round = $4`, status, now, d.ID, d.Round)
	return err
}

func startRound(ctx context.Context, tx *sql.Tx, id string, now time.Time) (int, error) {
	var round int
	err := tx.QueryRowContext(ctx, `UPDATE webhook_deliveries SET round = round + 1, status = $1,
		next_attempt_at = NULL, completed_at = NULL, updated_at = $2 WHERE id = $3 RETURNING round`,
		StatusPending, now, id).Scan(&round)
	return round, err
}

// storedEvent is an event row.
type storedEvent struct {
	ID, Type   string
	OccurredAt time.Time
	Body       string
}

func eventByID(ctx context.Context, q db.Querier, teamID, id string) (storedEvent, error) {
	var e storedEvent
	err := q.QueryRowContext(ctx, `SELECT id, event_type, occurred_at, body FROM webhook_events
		WHERE id = $1 AND team_id = $2`, id, teamID).Scan(&e.ID, &e.Type, &e.OccurredAt, &e.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return e, errNotFound
	}
	e.OccurredAt = e.OccurredAt.UTC()
	return e, err
}

func deliveriesForEvent(ctx context.Context, q db.Querier, teamID, eventID string) ([]delivery, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries d
		WHERE d.event_id = $1 AND d.team_id = $2 ORDER BY d.created_at, d.id`, eventID, teamID)
	return db.Collect(rows, err, func(r db.Scanner) (delivery, error) { return scanDelivery(r) })
}

func attemptsForDelivery(ctx context.Context, q db.Querier, deliveryID string) ([]Attempt, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, round, attempt, started_at, status_code, latency_ms, error, response_body, succeeded
		FROM webhook_attempts WHERE delivery_id = $1 ORDER BY started_at, round, attempt`, deliveryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var code sql.NullInt64
		var errText, body sql.NullString
		if err := rows.Scan(&a.ID, &a.Round, &a.Attempt, &a.StartedAt, &code, &a.LatencyMS, &errText, &body, &a.Succeeded); err != nil {
			return nil, err
		}
		if code.Valid {
			c := int(code.Int64)
			a.StatusCode = &c
		}
		a.StartedAt = a.StartedAt.UTC()
		a.Error, a.ResponseBody = errText.String, body.String
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeliveryFilter narrows a delivery listing.
type DeliveryFilter struct {
	EventID, EventType, Status, URL string
}

func listDeliveries(ctx context.Context, q db.Querier, teamID string, f DeliveryFilter, limit, offset int) ([]delivery, int, error) {
	w := db.NewWhere("d.team_id = ?", teamID)
	w.AddIf("d.event_id = ?", f.EventID)
	w.AddIf("d.event_type = ?", f.EventType)
	w.AddIf("d.status = ?", f.Status)
	w.AddIf("d.url = ?", f.URL)
	return db.Page(ctx, q, deliveryCols, "webhook_deliveries d", w, "d.created_at DESC, d.id DESC", limit, offset,
		func(r db.Scanner) (delivery, error) { return scanDelivery(r) })
}
