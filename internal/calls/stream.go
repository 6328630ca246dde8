package calls

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// broker is the in-process hub of call streams. A stream subscribes to its
// call before it first reads the log, and is woken when a transaction that
// touched the call commits in this process (Service.tx), when the
// PostgreSQL listener hears that another replica committed one, or when
// the broker's one shared safety poll finds a call whose log moved past
// what its stream has written. A wake-up carries no event: streams read
// the log from the database, so nothing is lost when a subscriber is slow
// (its one-slot channel just stays full).
type broker struct {
	mu   sync.Mutex
	subs map[string]map[*subscriber]struct{}
	// polling is true while the safety-poll goroutine runs; it runs only
	// while there are subscribers.
	polling bool
	// poll, when set, runs one safety-poll round (the Service supplies it).
	poll func(ids []string, seen map[string]int64)
	// every gives the pause between safety-poll rounds.
	every func() time.Duration
	done  <-chan struct{}
	// rounds counts completed safety-poll rounds (for tests).
	rounds atomic.Int64
}

// subscriber is one open stream: either a goroutine that waits on wake,
// or a hijacked connection (conn) that the hub schedules when woken.
type subscriber struct {
	wake chan struct{} // nil for a hijacked stream
	conn *connStream   // nil for a goroutine's stream
	// seq is the last event number the stream has written.
	seq atomic.Int64
}

func newBroker() *broker {
	return &broker{subs: map[string]map[*subscriber]struct{}{}}
}

// subscribe registers interest in a call; cancel must be called on exit.
// With cs nil the stream is woken through sub.wake; otherwise the wake-ups
// schedule cs on the hub.
func (b *broker) subscribe(callID string, cs *connStream) (*subscriber, func()) {
	sub := &subscriber{conn: cs}
	if cs == nil {
		sub.wake = make(chan struct{}, 1)
	}
	b.mu.Lock()
	if b.subs[callID] == nil {
		b.subs[callID] = map[*subscriber]struct{}{}
	}
	b.subs[callID][sub] = struct{}{}
	if !b.polling && b.poll != nil {
		b.polling = true
		go b.pollLoop()
	}
	b.mu.Unlock()
	return sub, func() {
		b.mu.Lock()
		delete(b.subs[callID], sub)
		if len(b.subs[callID]) == 0 {
			delete(b.subs, callID)
		}
		b.mu.Unlock()
	}
}

func (s *subscriber) signal() {
	if s.conn != nil {
		s.conn.schedule(true, false)
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (b *broker) notify(callID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs[callID] {
		sub.signal()
	}
}

// notifyAll wakes every stream, e.g. after a gap in cross-process
// notifications during which events may have been committed.
func (b *broker) notifyAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, subs := range b.subs {
		for sub := range subs {
			sub.signal()
		}
	}
}

// wakeBehind wakes the streams of a call that have written fewer events
// than seq.
func (b *broker) wakeBehind(callID string, seq int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs[callID] {
		if sub.seq.Load() < seq {
			sub.signal()
		}
	}
}

// pollLoop is the one safety poll of the process: every b.every() it
// checks the followed calls' log positions in a few batched reads and
// wakes the streams that are behind. It exits when nobody subscribes.
func (b *broker) pollLoop() {
	t := time.NewTimer(b.every())
	defer t.Stop()
	for {
		select {
		case <-b.done:
			b.mu.Lock()
			b.polling = false
			b.mu.Unlock()
			return
		case <-t.C:
		}
		b.mu.Lock()
		if len(b.subs) == 0 {
			b.polling = false
			b.mu.Unlock()
			return
		}
		ids := make([]string, 0, len(b.subs))
		seen := make(map[string]int64, len(b.subs))
		for id, subs := range b.subs {
			ids = append(ids, id)
			low := int64(-1)
			for sub := range subs {
				if v := sub.seq.Load(); low < 0 || v < low {
					low = v
				}
			}
			seen[id] = low
		}
		b.mu.Unlock()
		b.poll(ids, seen)
		b.rounds.Add(1)
		t.Reset(b.every())
	}
}

// subscribers counts a call's open streams (for tests).
func (b *broker) subscribers(callID string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs[callID])
}

// Subscribers reports how many streams follow a call.
func (s *Service) Subscribers(callID string) int { return s.broker.subscribers(callID) }

// pollBatch bounds the ids of one safety-poll query.
const pollBatch = 500

// safetyPoll is one round of the shared poll: it reads the log position
// and state of every followed call, pollBatch ids per query, and wakes the
// streams that have not written up to it, or whose call is finished (so
// they end).
func (s *Service) safetyPoll(ids []string, seen map[string]int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(ids) > 0 {
		n := min(len(ids), pollBatch)
		batch := ids[:n]
		ids = ids[n:]
		var q strings.Builder
		q.WriteString(`SELECT id, event_seq, status, result_status FROM calls WHERE id IN (`)
		args := make([]any, len(batch))
		for i, id := range batch {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("$" + strconv.Itoa(i+1))
			args[i] = id
		}
		q.WriteByte(')')
		rows, err := s.db.R.QueryContext(ctx, q.String(), args...)
		if err != nil {
			s.log.Warn("call stream safety poll failed; waking every stream", "err", err)
			s.broker.notifyAll()
			return
		}
		for rows.Next() {
			var id, status, result string
			var seq int64
			if err := rows.Scan(&id, &seq, &status, &result); err != nil {
				break
			}
			switch {
			case Terminal(status) && result != ResultPending:
				// Finished: wake every stream of it so each can end.
				s.broker.notify(id)
			case seq > seen[id]:
				s.broker.wakeBehind(id, seq)
			}
		}
		_ = rows.Close()
	}
}

// finished reports whether a call's stream has nothing more to say: the
// call ended and its result is settled (or none is coming).
func finished(c Call) bool {
	return Terminal(c.Status) && c.ResultStatus != ResultPending
}

// streamReads bounds the stream reads running at once (see offRead).
var streamReads = make(chan struct{}, 8)

// offRead runs fn, a database read of a stream, on a short-lived goroutine
// and waits for it. An open stream's goroutine lives as long as its
// connection; running the SQL driver on it would grow its stack for good
// (the SQLite driver's frames are deep), so the reads borrow a fresh stack
// that is given back when they return. At most cap(streamReads) run at
// once, so waking every stream at once does not grow thousands of stacks.
func offRead(fn func()) {
	streamReads <- struct{}{}
	done := make(chan struct{})
	go func() {
		defer func() { <-streamReads; close(done) }()
		fn()
	}()
	<-done
}

// streamState reads, off the stream's goroutine, the call and then its log
// after lastID (at most limit entries). The call is read first: a log read
// after seeing the call finished holds every event up to the end.
func (s *Service) streamState(ctx context.Context, teamID, callID string, lastID, limit int) (cur Call, evs []CallEvent, err error) {
	offRead(func() {
		cur, err = callByID(ctx, s.rq, teamID, callID)
		if err == nil {
			evs, err = eventsAfter(ctx, s.rq, callID, lastID, limit)
		}
	})
	return cur, evs, err
}

// streamPage is how many log entries a stream reads at a time.
const streamPage = 200

// The fixed lines of a stream: the reconnection delay it suggests to
// clients, sent first, and the comment that keeps an idle one alive.
const (
	streamRetry     = "retry: 2000\n\n"
	streamKeepAlive = ": keep-alive\n\n"
)

// writeLog writes a call's log after lastID to w as server-sent events, a
// page at a time, and returns the last event number written and whether
// the stream is over: the call is finished and everything is written.
// Both kinds of stream use it (stream, and connStream for hijacked ones).
func (s *Service) writeLog(ctx context.Context, w io.Writer, c Call, lastID int) (int, bool, error) {
	for {
		cur, evs, err := s.streamState(ctx, c.teamID, c.ID, lastID, streamPage)
		if err != nil {
			return lastID, false, err
		}
		for _, e := range evs {
			b, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, b); err != nil {
				return lastID, false, err
			}
			lastID = e.Seq
		}
		if len(evs) < streamPage {
			return lastID, finished(cur) && lastID >= cur.eventSeq, nil
		}
	}
}

// stream writes a call's log as server-sent events from after lastID,
// follows it live with heartbeats, and returns once the call is finished
// and everything is written, or when the client or the server goes away.
// It never polls on its own: the broker wakes it (see broker). This is
// the stream of a response whose connection could not be hijacked
// (HTTP/2, in-process writers); see serveHijacked for the other kind.
func (s *Service) stream(ctx context.Context, w io.Writer, flush func() error, c Call, lastID int) error {
	// Subscribe before the first read, so that an event committed after
	// the read is announced to this stream.
	sub, cancel := s.broker.subscribe(c.ID, nil)
	defer cancel()
	sub.seq.Store(int64(lastID))
	if s.hookSubscribed != nil {
		s.hookSubscribed(c.ID)
	}
	hb := time.NewTicker(s.currentLimits().Heartbeat)
	defer hb.Stop()
	if _, err := io.WriteString(w, streamRetry); err != nil {
		return err
	}
	for {
		var done bool
		var err error
		lastID, done, err = s.writeLog(ctx, w, c, lastID)
		if err != nil {
			return err
		}
		sub.seq.Store(int64(lastID))
		if err := flush(); err != nil {
			return err
		}
		if done {
			return nil
		}
		if s.hookIdle != nil {
			s.hookIdle(c.ID, lastID)
		}
	wait:
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Done:
			return nil
		case <-sub.wake:
		case <-hb.C:
			if _, err := io.WriteString(w, streamKeepAlive); err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
			goto wait
		}
	}
}

// parseLastEventID reads the Last-Event-ID header; anything unreadable
// replays from the start.
func parseLastEventID(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// flusher returns a flush function for w, through any wrappers.
func flusher(w io.Writer) func() error {
	rw, ok := w.(http.ResponseWriter)
	if !ok {
		return func() error { return nil }
	}
	rc := http.NewResponseController(rw)
	return func() error {
		if err := rc.Flush(); err != nil && err != http.ErrNotSupported {
			return err
		}
		return nil
	}
}
