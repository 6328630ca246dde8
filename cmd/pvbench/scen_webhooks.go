package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/peakvoice/peakvoice/internal/webhooks"
)

// sink is the loopback receiver of Peak Voice's outgoing webhooks. It
// answers 204 at once and, per path, counts deliveries and how long each
// took from the event's occurred_at.
type sink struct {
	srv  *http.Server
	url  string
	mu   sync.Mutex
	got  map[string]int
	lat  map[string][]time.Duration
	last map[string]time.Time
	ids  map[string]map[string]struct{} // distinct event_ids per path
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String(), got: map[string]int{}, lat: map[string][]time.Duration{}, last: map[string]time.Time{},
		ids: map[string]map[string]struct{}{}}
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		now := time.Now()
		var env struct {
			EventID    string    `json:"event_id"`
			OccurredAt time.Time `json:"occurred_at"`
		}
		_ = json.Unmarshal(b, &env)
		s.mu.Lock()
		s.got[r.URL.Path]++
		s.last[r.URL.Path] = now
		if env.EventID != "" {
			if s.ids[r.URL.Path] == nil {
				s.ids[r.URL.Path] = map[string]struct{}{}
			}
			s.ids[r.URL.Path][env.EventID] = struct{}{}
		}
		if !env.OccurredAt.IsZero() {
			s.lat[r.URL.Path] = append(s.lat[r.URL.Path], now.Sub(env.OccurredAt))
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *sink) close() { _ = s.srv.Close() }

func (s *sink) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[path]
}

// distinct is how many different events path has received.
func (s *sink) distinct(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids[path])
}

// waitFor waits until path has received n deliveries or limit passes.
func (s *sink) waitFor(path string, n int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for s.count(path) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// settle waits for the job queue to empty, so the work a scenario left
// behind — webhook deliveries, call results — does not run into the next
// one, and notes how long that took. It waits at most ten scenario
// durations (and never over a minute), which keeps short runs short.
func (t *target) settle(ctx context.Context, r *result) {
	if t.app == nil {
		return
	}
	start := time.Now()
	limit := min(time.Minute, 10*t.runFor)
	for time.Since(start) < limit {
		waiting, running, err := t.app.Queue.Depth(ctx)
		if err != nil || waiting+running == 0 {
			if d := time.Since(start); d > 200*time.Millisecond && r != nil {
				r.note("job queue drained %s after the run", d.Round(10*time.Millisecond))
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r != nil {
		r.note("job queue still busy %s after the run", limit)
	}
}

// scenWebhooksAPI emits webhook.test events through the API at full
// speed for the duration and measures the deliveries at the receiver,
// end to end: from the first request to the last delivery.
func scenWebhooksAPI(ctx context.Context, o *options, t *target, s *sink) *result {
	const path = "/deliver-api"
	before := s.count(path)
	start := time.Now()
	body := mustJSON(map[string]string{"url": s.url + path})
	emit := runClosed(ctx, o.duration, o.concurrency, t.pid, func(ctx context.Context, _, _ int) int {
		return t.cl.status(ctx, "POST", "/api/v1/webhook-events/test", body, t.auth()...)
	})
	accepted := emit.Statuses[http.StatusAccepted]
	ok := s.waitFor(path, before+accepted, 2*time.Minute)
	return s.deliveryResult("webhooks-delivered(api)", path, before, start, emit, ok,
		"events emitted through POST /api/v1/webhook-events/test: %d accepted at %.0f/s (p99 %s)", accepted, emit.rate(), ms(emit.pct(0.99)))
}

// scenWebhooksBacklog commits o.backlog events straight through the
// webhooks service (500 per transaction, as a burst of domain events
// would) and times how fast the queue delivers them.
func scenWebhooksBacklog(ctx context.Context, o *options, t *target, s *sink) *result {
	const path = "/deliver-backlog"
	before := s.count(path)
	rss := sampleRSS(t.pid)
	start := time.Now()
	var emitErr error
	for done := 0; done < o.backlog && emitErr == nil; done += 500 {
		n := min(500, o.backlog-done)
		emitErr = t.app.DB.Tx(ctx, func(tx *sql.Tx) error {
			for range n {
				if _, err := t.app.Webhooks.Emit(ctx, tx, webhooks.NewEvent{TeamID: t.teamID, Type: "webhook.test",
					URL: s.url + path, Data: map[string]any{"message": "backlog"}}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	emitted := time.Since(start)
	ok := s.waitFor(path, before+o.backlog, 3*time.Minute)
	emit := &result{PeakRSS: rss.Stop()}
	r := s.deliveryResult("webhooks-delivered(backlog)", path, before, start, emit, ok,
		"%d events committed through the webhooks service in %s", o.backlog, emitted.Round(time.Millisecond))
	if emitErr != nil {
		r.note("emit failed: %v", emitErr)
	}
	return r
}

func (s *sink) deliveryResult(name, path string, before int, start time.Time, emit *result, complete bool, format string, args ...any) *result {
	s.mu.Lock()
	n := s.got[path] - before
	last := s.last[path]
	lat := append([]time.Duration(nil), s.lat[path][before:]...)
	s.mu.Unlock()
	r := &result{Name: name, Count: n, Lat: lat, Statuses: map[int]int{204: n}, PeakRSS: emit.PeakRSS}
	if n > 0 {
		r.Elapsed = last.Sub(start)
	}
	r.finish()
	r.note(format, args...)
	r.note("latency is from the event's occurred_at to its arrival at the receiver; rate is deliveries over first emit → last delivery")
	if !complete {
		r.note("INCOMPLETE: the receiver got %d deliveries before the wait ended", n)
	}
	for st, c := range emit.Statuses {
		if st != http.StatusAccepted {
			r.Statuses[st] += c
		}
	}
	return r
}
