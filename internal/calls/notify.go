package calls

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peakvoice/peakvoice/internal/db"
)

// eventChannel is the PostgreSQL notification channel on which a committed
// change to a call's log is announced, with the call's id as payload. The
// announcement is only a wake-up: streams always read the log itself, so a
// lost or duplicated notification costs latency at worst, never an event.
const eventChannel = "peakvoice_call_events"

// Intervals of the broker's shared safety poll (one batched read of the
// followed calls' log positions per round, not one per stream). On
// PostgreSQL while the listener is reconnecting, other replicas' commits
// are only seen by the poll, so it runs often; otherwise every commit
// wakes its streams (in-process after commit; on PostgreSQL also through
// the listener, and on SQLite this process is the only writer), and the
// poll is just a safety net.
const (
	pollEvery         = 2 * time.Second
	pollEveryListened = 10 * time.Second
)

// publishEvents announces, inside tx, that the logs of the given calls
// grew. PostgreSQL delivers the notifications when tx commits and drops
// them when it rolls back, so listeners never wake for a change that did
// not happen. On SQLite there is one process and nothing to announce.
func (s *Service) publishEvents(ctx context.Context, tx *sql.Tx, ids []string) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, eventChannel, id); err != nil {
			return err
		}
	}
	return nil
}

// listener holds a dedicated PostgreSQL connection that LISTENs on
// eventChannel and wakes this process's streams when any process (this
// one included) commits an event.
type listener struct {
	s         *Service
	connected atomic.Bool
	received  atomic.Int64 // notifications taken
	reconnect atomic.Int64 // connections made, the first included
}

// StartEventListener starts the cross-replica wake-ups of call streams and
// returns the function that stops them and waits until they have stopped.
// The caller owns it: start it with the server, stop it on shutdown. On
// SQLite it does nothing.
func (s *Service) StartEventListener(ctx context.Context) (stop func()) {
	if s.db.Dialect != db.Postgres || s.db.Pool == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.listen.run(ctx)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}

// run keeps a listening connection until ctx ends, reconnecting with a
// bounded backoff. After every (re)connection all streams are woken once:
// whatever was committed while nobody listened is read from the log.
func (l *listener) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.session(ctx)
		l.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		l.s.log.Warn("call event listener lost its connection; call streams are polled every "+pollEvery.String()+" until it is back",
			"err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// session is one connection's life: connect, LISTEN, wake subscribers on
// each notification.
func (l *listener) session(ctx context.Context) error {
	cfg := l.s.db.Pool.Config().ConnConfig.Copy()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+eventChannel); err != nil {
		return err
	}
	l.connected.Store(true)
	l.reconnect.Add(1)
	l.s.broker.notifyAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		l.received.Add(1)
		l.s.broker.notify(n.Payload)
	}
}

// pollInterval is the pause between rounds of the shared safety poll.
func (s *Service) pollInterval() time.Duration {
	if s.db.Dialect != db.Postgres || s.listen.connected.Load() {
		return pollEveryListened
	}
	return pollEvery
}

// ListenerStats reports the cross-replica listener's state: whether it is
// connected, how many notifications it has taken and how many connections
// it has made (for metrics).
func (s *Service) ListenerStats() (connected bool, notifications, connections int64) {
	return s.listen.connected.Load(), s.listen.received.Load(), s.listen.reconnect.Load()
}

// Metrics of the cross-replica listener.
var (
	listenerUpDesc = prometheus.NewDesc("peakvoice_call_events_listener_up",
		"1 when this process listens for other replicas' call events (PostgreSQL), 0 otherwise.", nil, nil)
	listenerNotifDesc = prometheus.NewDesc("peakvoice_call_events_notifications_total",
		"Call-event notifications this process has received from PostgreSQL.", nil, nil)
	listenerConnDesc = prometheus.NewDesc("peakvoice_call_events_listener_connections_total",
		"Connections the call-event listener has made (more than one means it reconnected).", nil, nil)
)

type listenerCollector struct{ s *Service }

// Collector exposes the listener's state as Prometheus metrics.
func (s *Service) Collector() prometheus.Collector { return listenerCollector{s} }

func (c listenerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- listenerUpDesc
	ch <- listenerNotifDesc
	ch <- listenerConnDesc
}

func (c listenerCollector) Collect(ch chan<- prometheus.Metric) {
	up, n, conns := c.s.ListenerStats()
	v := 0.0
	if up {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(listenerUpDesc, prometheus.GaugeValue, v)
	ch <- prometheus.MustNewConstMetric(listenerNotifDesc, prometheus.CounterValue, float64(n))
	ch <- prometheus.MustNewConstMetric(listenerConnDesc, prometheus.CounterValue, float64(conns))
}
