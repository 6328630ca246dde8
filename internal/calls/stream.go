package calls

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// broker wakes the streams following a call when its log grows. A wake-up
// carries no event: streams read the log from the database, so nothing is
// lost when a subscriber is slow (its one-slot channel just stays full).
type broker struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func newBroker() *broker { return &broker{subs: map[string]map[chan struct{}]struct{}{}} }

// subscribe registers interest in a call; cancel must be called on exit.
func (b *broker) subscribe(callID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs[callID] == nil {
		b.subs[callID] = map[chan struct{}]struct{}{}
	}
	b.subs[callID][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs[callID], ch)
		if len(b.subs[callID]) == 0 {
			delete(b.subs, callID)
		}
		b.mu.Unlock()
	}
}

func (b *broker) notify(callID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[callID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// notifyAll wakes every stream, e.g. after a gap in cross-process
// notifications during which events may have been committed.
func (b *broker) notifyAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, chans := range b.subs {
		for ch := range chans {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
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

// finished reports whether a call's stream has nothing more to say: the
// call ended and its result is settled (or none is coming).
func finished(c Call) bool {
	return Terminal(c.Status) && c.ResultStatus != ResultPending
}

// stream writes a call's log as server-sent events from after lastID,
// follows it live with heartbeats, and returns once the call is finished
// and everything is written, or when the client or the server goes away.
func (s *Service) stream(ctx context.Context, w io.Writer, flush func() error, c Call, lastID int) error {
	wake, cancel := s.broker.subscribe(c.ID)
	defer cancel()
	hb := time.NewTicker(s.currentLimits().Heartbeat)
	defer hb.Stop()
	// The poll re-reads the log even without a wake-up, in case one was
	// missed (see pollInterval).
	poll := time.NewTimer(s.pollInterval())
	defer poll.Stop()
	if _, err := fmt.Fprintf(w, "retry: 2000\n\n"); err != nil {
		return err
	}
	for {
		// Read the call before its log: a log read after seeing the call
		// finished holds every event up to the end.
		cur, err := callByID(ctx, s.db.R, c.teamID, c.ID)
		if err != nil {
			return err
		}
		for {
			evs, err := eventsAfter(ctx, s.db.R, c.ID, lastID, 200)
			if err != nil {
				return err
			}
			for _, e := range evs {
				b, _ := json.Marshal(e)
				if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, b); err != nil {
					return err
				}
				lastID = e.Seq
			}
			if len(evs) < 200 {
				break
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if finished(cur) && lastID >= cur.eventSeq {
			return nil
		}
		poll.Reset(s.pollInterval())
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Done:
			return nil
		case <-wake:
		case <-poll.C:
		case <-hb.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return err
			}
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
