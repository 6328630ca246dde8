package httpapi

import (
	"net/http"
	"testing"
	"time"
)

func TestTeamLimiter(t *testing.T) {
	now := time.Now()
	t.Run("in flight", func(t *testing.T) {
		l := newTeamLimiter(TeamLimits{Rate: -1, InFlight: 2})
		r1, e1 := l.acquire("a", true, now)
		r2, e2 := l.acquire("a", true, now)
		if e1 != nil || e2 != nil {
			t.Fatalf("first two refused: %v %v", e1, e2)
		}
		if _, e := l.acquire("a", true, now); e == nil || e.status != http.StatusTooManyRequests || e.Body.Code != CodeTooManyConcurrent {
			t.Fatalf("third in flight: %+v", e)
		}
		if _, e := l.acquire("b", true, now); e != nil {
			t.Fatalf("another team refused: %v", e)
		}
		if r, e := l.acquire("a", false, now); e != nil {
			t.Fatalf("a stream counted in flight: %v", e)
		} else {
			r()
		}
		r1()
		if r3, e := l.acquire("a", true, now); e != nil {
			t.Fatalf("after a release: %v", e)
		} else {
			r3()
		}
		r2()
	})
	t.Run("rate", func(t *testing.T) {
		l := newTeamLimiter(TeamLimits{Rate: 2, Burst: 3, InFlight: -1})
		for i := range 3 {
			if _, e := l.acquire("a", true, now); e != nil {
				t.Fatalf("request %d of the burst refused: %v", i, e)
			}
		}
		_, e := l.acquire("a", true, now)
		if e == nil || e.Body.Code != CodeRateLimited || e.headers.Get("Retry-After") != "1" {
			t.Fatalf("over the burst: %+v", e)
		}
		if _, e := l.acquire("b", true, now); e != nil {
			t.Fatalf("another team refused: %v", e)
		}
		// A refused request spends nothing: half a second later one token
		// has come back.
		if _, e := l.acquire("a", true, now.Add(500*time.Millisecond)); e != nil {
			t.Fatalf("after refilling: %v", e)
		}
	})
	t.Run("idle teams are forgotten", func(t *testing.T) {
		l := newTeamLimiter(TeamLimits{})
		r, _ := l.acquire("a", true, now)
		r()
		l.acquire("b", true, now.Add(teamStateIdleAfter+2*teamStatePruneInterval))
		if _, ok := l.teams["a"]; ok || len(l.teams) != 1 {
			t.Fatalf("teams kept: %v", l.teams)
		}
	})
}
