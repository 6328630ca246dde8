package auth

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/peakvoice/peakvoice/internal/db"
)

// throttle limits sign-in attempts per email and per client address with
// token buckets, so guessing a password is slow from one address and slow
// against one account from many.
type throttle struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
	// shared, when set (PostgreSQL), keeps the buckets in the database so
	// that every replica spends from the same ones.
	shared *db.DB
}

// maxBuckets bounds memory: past it, buckets that have refilled (and so
// carry no information) are dropped.
const maxBuckets = 50_000

func newThrottle(perSecond float64, burst int) *throttle {
	return &throttle{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*rate.Limiter{}}
}

// allow spends one attempt from each key's bucket. When any is empty it
// spends nothing and says how long to wait.
func (t *throttle) allow(email, addr string) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if len(t.buckets) > maxBuckets {
		for k, l := range t.buckets {
			if l.TokensAt(now) >= float64(t.burst) {
				delete(t.buckets, k)
			}
		}
	}
	keys := []string{"email:" + email, "addr:" + addr}
	var wait time.Duration
	for _, k := range keys {
		l := t.buckets[k]
		if l == nil {
			l = rate.NewLimiter(t.limit, t.burst)
			t.buckets[k] = l
		}
		if l.TokensAt(now) < 1 {
			r := l.ReserveN(now, 1)
			wait = max(wait, r.DelayFrom(now))
			r.CancelAt(now)
		}
	}
	if wait > 0 {
		return wait, false
	}
	for _, k := range keys {
		t.buckets[k].AllowN(now, 1)
	}
	return 0, true
}

// sharedIn makes the throttle keep its buckets in d when d is PostgreSQL,
// where several replicas must agree; on SQLite (one process) it stays in
// memory.
func (t *throttle) sharedIn(d *db.DB) *throttle {
	if d != nil && d.Dialect == db.Postgres {
		t.shared = d
	}
	return t
}

// allowCtx is allow with the buckets wherever the throttle keeps them. A
// database error fails closed for this attempt.
func (t *throttle) allowCtx(ctx context.Context, email, addr string) (time.Duration, bool, error) {
	if t.shared == nil {
		wait, ok := t.allow(email, addr)
		return wait, ok, nil
	}
	return t.shared.TakeTokens(ctx, []string{"login:email:" + email, "login:addr:" + addr}, float64(t.limit), t.burst)
}
