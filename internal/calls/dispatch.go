package calls

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/carriererr"
	"github.com/peakvoice/peakvoice/internal/db"
)

// dispatch makes the one carrier dial of a recorded call and records its
// outcome. Whoever claims the dial (the request inline, or the backstop
// job) dials; anyone else leaves the call as it finds it.
func (s *Service) dispatch(ctx context.Context, id string) (Call, error) {
	ctx = context.WithoutCancel(ctx)
	var c Call
	claimed := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if claimed, err = claimDispatch(ctx, tx, id); err != nil || !claimed {
			return err
		}
		c, err = scanCall(tx.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return Call{}, err
	}
	if !claimed {
		return scanCall(s.db.W.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE id = $1`, id))
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	placed, dialErr := s.cfg.Carrier.StartCall(dctx, Dial{AssistantID: c.ProviderAgentID, From: c.PhoneNumberFrom,
		To: c.PhoneNumberTo, Variables: c.DynamicVariables, StatusCallbackURL: s.cfg.StatusCallbackURL})
	cancel()
	err = s.tx(ctx, func(tx *sql.Tx, touched func(string)) error {
		cur, err := lockCall(ctx, tx, "id = $1", id)
		if err != nil {
			return err
		}
		now := db.Now()
		cur.dispatch, cur.UpdatedAt = dispatchDone, now
		if dialErr == nil {
			cur.ProviderCallID = &placed.CallControlID
			c = cur
			return saveCall(ctx, tx, cur)
		}
		status, code := http.StatusBadGateway, CodeTelephonyProvider
		if errors.Is(dialErr, ErrVoiceRuntime) {
			code = CodeVoiceProvider
			if errors.Is(dialErr, carriererr.ErrUnavailable) {
				status = http.StatusServiceUnavailable
			}
		}
		s.log.WarnContext(ctx, "call dial failed at the carrier", "call_id", id, "err", dialErr)
		old := cur.Status
		cur.Status, cur.ErrorCode, cur.EndedAt, cur.replyStatus = StatusFailed, &code, &now, &status
		if d := carriererr.DetailOf(dialErr); d != "" {
			cur.ErrorDetail = &d
		}
		if err := saveCall(ctx, tx, cur); err != nil {
			return err
		}
		touched(id)
		c = cur
		return s.transition(ctx, tx, old, &c)
	})
	return c, err
}

// settleUnknown ends a call whose dial was left in flight by a process
// that stopped: it is never dialed again, since it may have rung.
func (s *Service) settleUnknown(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx, touched func(string)) error {
		c, err := lockCall(ctx, tx, "id = $1", id)
		if err != nil || c.dispatch != dispatchInFlight {
			return err
		}
		now := db.Now()
		code, reply := CodeOutcomeUnknown, http.StatusBadGateway
		old := c.Status
		c.dispatch, c.UpdatedAt, c.ErrorCode, c.replyStatus = dispatchUnknown, now, &code, &reply
		if !Terminal(c.Status) {
			c.Status, c.EndedAt = StatusFailed, &now
		}
		if err := saveCall(ctx, tx, c); err != nil {
			return err
		}
		touched(id)
		if old == c.Status {
			return nil
		}
		return s.transition(ctx, tx, old, &c)
	})
}

// dispatchArgs is the backstop for a call's dial.
type dispatchArgs struct {
	CallID string `json:"call_id"`
}

func (dispatchArgs) Kind() string { return "call_dispatch" }

// dispatchOpts schedules the backstop after the inline dial must have
// finished, so the two never race for a live dial.
func dispatchOpts(dialTimeout time.Duration) *river.InsertOpts {
	return &river.InsertOpts{ScheduledAt: time.Now().Add(dialTimeout + 5*time.Second), MaxAttempts: 10}
}

type dispatchWorker struct {
	river.WorkerDefaults[dispatchArgs]
	s *Service
}

func (w *dispatchWorker) Work(ctx context.Context, j *river.Job[dispatchArgs]) error {
	c, err := scanCall(w.s.db.R.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE id = $1`, j.Args.CallID))
	if errors.Is(err, errNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch c.dispatch {
	case dispatchPending:
		_, err = w.s.dispatch(ctx, c.ID)
		return err
	case dispatchInFlight:
		if time.Since(c.UpdatedAt) < w.s.cfg.DialTimeout+time.Second {
			return river.JobSnooze(w.s.cfg.DialTimeout)
		}
		w.s.log.Warn("call dial left in flight by a stopped process marked outcome_unknown", "call_id", c.ID)
		return w.s.settleUnknown(ctx, c.ID)
	}
	return nil
}

// rateLimiter is a token bucket per team, in process memory.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter() *rateLimiter { return &rateLimiter{buckets: map[string]*bucket{}} }

// take spends one token of the team's bucket, or reports how long until
// one is available.
func (r *rateLimiter) take(team string, perMinute float64, burst int) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	b, ok := r.buckets[team]
	if !ok {
		b = &bucket{tokens: float64(burst), at: now}
		r.buckets[team] = b
	}
	perSec := perMinute / 60
	b.tokens = math.Min(float64(burst), b.tokens+now.Sub(b.at).Seconds()*perSec)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / perSec * float64(time.Second)), false
}
