package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/time/rate"
)

// TeamLimits bound what one team's credentials may ask of this process:
// a token bucket of requests (Rate per second, Burst at once) and a cap
// on requests in progress at once (InFlight; long-lived streams are not
// counted). A team over either gets 429 with Retry-After, and the other
// teams are not slowed. Zero values take the defaults; a negative value
// switches that limit off. Each replica keeps its own counts.
type TeamLimits struct {
	Rate     float64
	Burst    int
	InFlight int
}

// The defaults: generous for an integration, tight enough that one team's
// runaway loop cannot take the server from the others.
const (
	DefaultTeamRate     = 200
	DefaultTeamBurst    = 400
	DefaultTeamInFlight = 100
)

// Codes of the team limits.
const (
	CodeTooManyConcurrent  = "too_many_concurrent_requests"
	teamStateIdleAfter     = 10 * time.Minute
	teamStatePruneInterval = time.Minute
)

// MetaLongLived marks an operation whose response stays open (an event
// stream): it is rate limited when it starts, but not counted in flight.
const MetaLongLived = "long_lived"

type teamState struct {
	lim      *rate.Limiter
	inFlight int
	seen     time.Time
}

type teamLimiter struct {
	cfg       TeamLimits
	mu        sync.Mutex
	teams     map[string]*teamState
	lastPrune time.Time
}

func newTeamLimiter(cfg TeamLimits) *teamLimiter {
	if cfg.Rate == 0 {
		cfg.Rate = DefaultTeamRate
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultTeamBurst
	}
	if cfg.InFlight == 0 {
		cfg.InFlight = DefaultTeamInFlight
	}
	return &teamLimiter{cfg: cfg, teams: map[string]*teamState{}}
}

// acquire admits one request of team, or says why not. release must be
// called when an admitted request that counts in flight ends.
func (l *teamLimiter) acquire(team string, counted bool, now time.Time) (release func(), refuse *Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastPrune) > teamStatePruneInterval {
		for id, st := range l.teams {
			if st.inFlight == 0 && now.Sub(st.seen) > teamStateIdleAfter {
				delete(l.teams, id)
			}
		}
		l.lastPrune = now
	}
	st := l.teams[team]
	if st == nil {
		st = &teamState{}
		if l.cfg.Rate > 0 && l.cfg.Burst > 0 {
			st.lim = rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)
		}
		l.teams[team] = st
	}
	st.seen = now
	if counted && l.cfg.InFlight > 0 && st.inFlight >= l.cfg.InFlight {
		return nil, NewError(http.StatusTooManyRequests, CodeTooManyConcurrent,
			"this team has "+strconv.Itoa(st.inFlight)+" requests in progress; wait for some to finish").
			WithHeader("Retry-After", "1")
	}
	if st.lim != nil {
		r := st.lim.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			secs := int(math.Ceil(d.Seconds()))
			return nil, NewError(http.StatusTooManyRequests, CodeRateLimited,
				"too many requests for this team; slow down").WithHeader("Retry-After", strconv.Itoa(max(secs, 1)))
		}
	}
	if !counted || l.cfg.InFlight <= 0 {
		return func() {}, nil
	}
	st.inFlight++
	return func() {
		l.mu.Lock()
		st.inFlight--
		l.mu.Unlock()
	}, nil
}

// longLived reports whether op streams its response.
func longLived(op *huma.Operation) bool {
	v, _ := op.Metadata[MetaLongLived].(bool)
	return v
}
