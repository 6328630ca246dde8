package calls

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
)

// reconcileArgs runs the reconciler: a live call whose final status
// callback never arrived (the carrier gave up while this server was down)
// would otherwise stay live forever, holding a live-call slot and never
// producing its result. The reconciler asks the carrier and, when the call
// has ended, finishes it as if the callback had come.
type reconcileArgs struct{}

func (reconcileArgs) Kind() string { return "call_reconcile" }

type reconcileWorker struct {
	river.WorkerDefaults[reconcileArgs]
	s *Service
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[reconcileArgs]) error {
	n, err := w.s.Reconcile(ctx, time.Now().Add(-w.s.cfg.StaleAfter))
	if n > 0 {
		w.s.log.Warn("finished calls whose final status never arrived", "count", n)
	}
	return err
}

// Reconcile checks the live calls that have had no news since cutoff and
// finishes those the carrier says have ended. It returns how many it
// finished. Dialed calls still queued count too: every callback of a call
// dialed just before the server went down may have been lost.
func (s *Service) Reconcile(ctx context.Context, cutoff time.Time) (int, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+callCols+` FROM calls
		WHERE status_rank >= $1 AND status_rank < $2 AND provider_call_id IS NOT NULL AND updated_at < $3
		ORDER BY updated_at LIMIT 200`, statusRank[StatusQueued], terminalRank, cutoff.UTC())
	stale, err := db.Collect(rows, err, func(r db.Scanner) (Call, error) { return scanCall(r) })
	if err != nil {
		return 0, err
	}
	finished := 0
	for _, c := range stale {
		st, found, err := s.cfg.Carrier.CallState(ctx, *c.ProviderCallID)
		if err != nil {
			s.log.WarnContext(ctx, "reconcile: carrier lookup failed", "call_id", c.ID, "err", err)
			continue
		}
		if found && st.Alive {
			continue
		}
		u := StatusUpdate{CallControlID: *c.ProviderCallID, Sequence: -1, At: time.Now(), SessionID: st.SessionID,
			HangupCause: "unknown", HangupSource: "unknown", ErrorMessage: "final status reconciled with the carrier"}
		switch {
		case c.AnsweredAt != nil || st.DurationSeconds > 0:
			u.Status, u.Duration, u.HasDuration = StatusCompleted, time.Duration(st.DurationSeconds)*time.Second, true
		default:
			u.Status, u.ErrorCode = StatusFailed, "final_status_lost"
		}
		if err := s.ApplyStatus(ctx, u); err != nil {
			return finished, err
		}
		finished++
	}
	return finished, nil
}
