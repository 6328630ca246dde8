package calls

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

// hubService is a service on d with one call (seq 1, dial in flight) and
// the shared safety poll paused for an hour unless every says otherwise.
func hubService(t *testing.T, d *db.DB, every time.Duration) (*Service, Call) {
	t.Helper()
	ctx := context.Background()
	s := New(Config{DB: d, DialTimeout: time.Second}, jobs.NewRegistry())
	s.broker.every = func() time.Duration { return every }
	if _, err := d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ('team-1', 'T', $1)`, db.Now()); err != nil {
		t.Fatal(err)
	}
	c := testCall("call-hub", dispatchInFlight)
	c.UpdatedAt = db.Now().Add(-time.Minute)
	if err := insertCall(ctx, d.W, c); err != nil {
		t.Fatal(err)
	}
	if _, err := d.W.ExecContext(ctx, `INSERT INTO call_events (call_id, seq, event_type, status, data, created_at)
		VALUES ($1, 1, $2, $3, '{}', $4)`, c.ID, EventStatus, c.Status, db.Now()); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// appendVia adds a status entry to the call's log. Through the service's
// tx the commit wakes the call's streams; with quiet it bypasses the hub,
// as a write this process does not know of would.
func appendVia(t *testing.T, s *Service, id string, quiet bool) {
	t.Helper()
	ctx := context.Background()
	add := func(tx *sql.Tx) error {
		c, err := lockCall(ctx, tx, "id = $1", id)
		if err != nil {
			return err
		}
		return appendEvent(ctx, tx, &c, EventStatus, statusEvent(c))
	}
	var err error
	if quiet {
		err = s.db.Tx(ctx, add)
	} else {
		err = s.tx(ctx, func(tx *sql.Tx, touched func(string)) error { touched(id); return add(tx) })
	}
	if err != nil {
		t.Fatal(err)
	}
}

// runStream follows c from lastID on a goroutine; the returned function
// waits until the output holds want, or fails after 20 s.
func runStream(t *testing.T, s *Service, c Call, lastID int) (out *syncWriter, waitFor func(want string), done chan error, stop func()) {
	t.Helper()
	out = &syncWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- s.stream(ctx, out, func() error { return nil }, c, lastID) }()
	waitFor = func(want string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), want); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("stream never wrote %q: %q", want, out.String())
			}
		}
	}
	return out, waitFor, done, cancel
}

// TestStreamWakesOnCommit: with the safety poll out of the way, a stream
// hears of an entry as soon as the transaction that added it commits, and
// ends once the call is settled.
func TestStreamWakesOnCommit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := hubService(t, d, time.Hour)
		idle := make(chan int, 16)
		s.hookIdle = func(_ string, last int) { idle <- last }
		_, waitFor, done, stop := runStream(t, s, c, 0)
		defer stop()
		if last := <-idle; last != 1 {
			t.Fatalf("replayed up to %d, want 1", last)
		}
		appendVia(t, s, c.ID, false)
		waitFor("id: 2\n")
		if last := <-idle; last != 2 {
			t.Fatalf("idle after %d, want 2", last)
		}
		if err := s.settleUnknown(context.Background(), c.ID); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("stream did not end after the call settled")
		}
		waitFor("id: 3\n")
		if n := s.Subscribers(c.ID); n != 0 {
			t.Fatalf("%d subscribers left", n)
		}
		if r := s.broker.rounds.Load(); r != 0 {
			t.Fatalf("the safety poll ran %d rounds; the wake-ups came from commits", r)
		}
	})
}

// TestStreamLosesNothingAroundReplay: entries committed right after the
// stream subscribed (before it read anything) and right after it replayed
// the log (before it waits) both reach it without any poll.
func TestStreamLosesNothingAroundReplay(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := hubService(t, d, time.Hour)
		s.hookSubscribed = func(id string) { appendVia(t, s, id, false) } // becomes 2
		var idles atomic.Int32
		s.hookIdle = func(id string, last int) {
			if idles.Add(1) == 1 {
				if last != 2 {
					t.Errorf("first replay ended at %d, want 2", last)
				}
				appendVia(t, s, id, false) // becomes 3, between replay and wait
			}
		}
		out, waitFor, _, stop := runStream(t, s, c, 0)
		defer stop()
		waitFor("id: 3\n")
		for i := 1; i <= 3; i++ {
			if n := strings.Count(out.String(), fmt.Sprintf("id: %d\n", i)); n != 1 {
				t.Fatalf("entry %d written %d times: %q", i, n, out.String())
			}
		}
	})
}

// TestSafetyPollWakesStreams: entries committed without the hub hearing
// (another writer) are found by the one shared poll, which checks every
// followed call in one round, and a stream resuming after Last-Event-ID
// gets only what follows it.
func TestSafetyPollWakesStreams(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := hubService(t, d, 20*time.Millisecond)
		idle := make(chan int, 64)
		s.hookIdle = func(_ string, last int) { idle <- last }
		out1, wait1, _, stop1 := runStream(t, s, c, 0)
		defer stop1()
		out2, wait2, _, stop2 := runStream(t, s, c, 1)
		defer stop2()
		<-idle
		<-idle
		appendVia(t, s, c.ID, true)
		wait1("id: 2\n")
		wait2("id: 2\n")
		if strings.Contains(out2.String(), "id: 1\n") || !strings.Contains(out1.String(), "id: 1\n") {
			t.Fatalf("resume: %q / %q", out1.String(), out2.String())
		}
		if s.broker.rounds.Load() == 0 {
			t.Fatal("no safety-poll round ran")
		}
	})
}

// TestSafetyPollStopsWithoutStreams: the poll goroutine exists only while
// some stream is open.
func TestSafetyPollStopsWithoutStreams(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := hubService(t, d, time.Millisecond)
		idle := make(chan int, 4)
		s.hookIdle = func(_ string, last int) { idle <- last }
		_, _, done, stop := runStream(t, s, c, 0)
		<-idle
		stop()
		<-done
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
			s.broker.mu.Lock()
			polling := s.broker.polling
			s.broker.mu.Unlock()
			if !polling {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the safety poll kept running with no stream open")
			}
		}
	})
}
