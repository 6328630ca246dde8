package messaging

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
)

// StatusChecker asks the carrier where one of our messages stands. A
// carrier adapter that offers it gets the reconciler; one that does not
// relies on events alone.
type StatusChecker interface {
	MessageStatus(ctx context.Context, providerID string) (StatusUpdate, error)
}

// The reconciler's defaults. Telnyx keeps a message for 10 days, so older
// ones cannot be asked about.
const (
	defaultReconcileAfter = 10 * time.Minute
	defaultReconcileEvery = time.Minute
	reconcileRecheck      = time.Hour
	reconcileHorizon      = 10 * 24 * time.Hour
	reconcileBatch        = 100
)

// reconcileArgs runs one pass of the SMS reconciler.
type reconcileArgs struct{}

func (reconcileArgs) Kind() string { return "sms_reconcile" }

type reconcileWorker struct {
	river.WorkerDefaults[reconcileArgs]
	s *Service
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[reconcileArgs]) error {
	n, err := w.s.Reconcile(ctx, time.Now())
	if n > 0 {
		w.s.log.Info("sms reconciler moved messages the carrier's events had not", "count", n)
	}
	return err
}

// Reconcile asks the carrier about outbound messages that were handed to
// it but whose state has not moved for ReconcileAfter (the carrier's
// events were lost, for example while this server was down), and applies
// what it says: the same forward-only rules and the same webhooks as an
// event. Each message is asked about at most once an hour, and only while
// the carrier still keeps it. It returns how many messages moved.
func (s *Service) Reconcile(ctx context.Context, now time.Time) (int, error) {
	checker, ok := s.cfg.Carrier.(StatusChecker)
	if !ok {
		return 0, nil
	}
	now = now.UTC()
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+messageCols+` FROM messages
		WHERE status_rank < $1 AND updated_at < $2 AND created_at > $3 AND direction = 'outbound'
		  AND dispatch = 'done' AND provider_message_id IS NOT NULL AND (checked_at IS NULL OR checked_at < $4)
		ORDER BY updated_at LIMIT `+strconv.Itoa(reconcileBatch),
		statusRank[StatusDelivered], now.Add(-s.cfg.ReconcileAfter), now.Add(-reconcileHorizon), now.Add(-reconcileRecheck))
	stale, err := db.Collect(rows, err, func(r db.Scanner) (Message, error) { return scanMessage(r) })
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, m := range stale {
		if ctx.Err() != nil {
			return moved, ctx.Err()
		}
		u, err := checker.MessageStatus(ctx, *m.ProviderMessageID)
		if err != nil {
			// The carrier is down or forgot the message: try the others,
			// and this one again after the recheck interval.
			s.log.Warn("sms reconciler could not ask the carrier", "message_id", m.ID, "err", err)
			if err := s.markChecked(ctx, m.ID, now); err != nil {
				return moved, err
			}
			continue
		}
		before := m.Status
		// One synthetic event id per message and carrier status, so a
		// status learned here and later by a late event applies once.
		if err := s.ApplyStatus(ctx, "reconcile:"+*m.ProviderMessageID+":"+u.Status, "message.reconciled", u); err != nil && !errors.Is(err, errRetryLater) {
			return moved, err
		}
		after, err := messageByID(ctx, s.db.R, m.teamID, m.ID)
		if err != nil {
			return moved, err
		}
		if after.Status != before {
			moved++
		}
		if err := s.markChecked(ctx, m.ID, now); err != nil {
			return moved, err
		}
	}
	return moved, nil
}

func (s *Service) markChecked(ctx context.Context, id string, at time.Time) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE messages SET checked_at = $1 WHERE id = $2`, at, id)
		return err
	})
}
