package calls

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

// twoProcesses opens one fresh PostgreSQL schema through two separate
// connection pools, as two replicas would, each with its own service.
func twoProcesses(t *testing.T, limits Limits) (a, b *Service, d *db.DB) {
	t.Helper()
	base := os.Getenv(dbtest.PostgresURLEnv)
	if base == "" {
		t.Skip("needs PostgreSQL (" + dbtest.PostgresURLEnv + ")")
	}
	url := dbtest.FreshSchema(t, base)
	da := dbtest.Open(t, db.Options{URL: url, MaxConns: 8})
	db2, err := db.Open(context.Background(), db.Options{URL: url, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	a = New(Config{DB: da, Limits: limits, DialTimeout: time.Second}, jobs.NewRegistry())
	b = New(Config{DB: db2, Limits: limits, DialTimeout: time.Second}, jobs.NewRegistry())
	if _, err := da.W.Exec(`INSERT INTO teams (id, name, created_at) VALUES ('team-1', 'T', $1)`, db.Now()); err != nil {
		t.Fatal(err)
	}
	return a, b, da
}

func testCall(id, dispatch string) Call {
	now := db.Now()
	return Call{ID: id, AgentID: "a", Direction: Outbound, Status: StatusQueued, PhoneNumberFrom: "+13126200100",
		PhoneNumberTo: "+14155550142", Provider: "telnyx", ProviderAgentID: "asst", ResultStatus: ResultNone,
		CreatedAt: now, UpdatedAt: now, teamID: "team-1", dispatch: dispatch, eventSeq: 1}
}

// syncWriter collects a stream's output for another goroutine to read.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestStreamWakesAcrossProcesses: a stream open on process B is woken by
// PostgreSQL when process A appends to the call's log, long before its
// poll; the listener stops when asked.
func TestStreamWakesAcrossProcesses(t *testing.T) {
	t.Parallel()
	a, b, d := twoProcesses(t, Limits{})
	ctx := context.Background()
	stopB := b.StartEventListener(ctx)
	defer stopB()
	for deadline := time.Now().Add(10 * time.Second); !b.listen.connected.Load(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("listener never connected")
		}
	}
	if b.pollInterval() != pollEveryListened {
		t.Fatalf("poll while listening is %v, want %v", b.pollInterval(), pollEveryListened)
	}
	c := testCall("call-x", dispatchInFlight)
	c.UpdatedAt = db.Now().Add(-time.Minute)
	if err := insertCall(ctx, d.W, c); err != nil {
		t.Fatal(err)
	}
	if err := a.tx(ctx, func(tx *sql.Tx, touched func(string)) error {
		touched(c.ID)
		return appendEvent(ctx, tx, &c, EventStatus, statusEvent(c))
	}); err != nil {
		t.Fatal(err)
	}
	out := &syncWriter{}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.stream(sctx, out, func() error { return nil }, c, 0) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "id: 2\n"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stream never replayed the log: %q", out.String())
		}
	}
	for deadline := time.Now().Add(10 * time.Second); b.Subscribers(c.ID) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("stream never subscribed")
		}
	}
	before := b.listen.received.Load()
	// Process A settles the call: one more entry, and the call ends.
	t0 := time.Now()
	if err := a.settleUnknown(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("stream on B did not finish: %q", out.String())
	}
	lat := time.Since(t0)
	cancel()
	if !strings.Contains(out.String(), "id: 3\n") {
		t.Fatalf("stream on B missed A's event: %q", out.String())
	}
	if b.listen.received.Load() == before {
		t.Fatal("B's listener received no notification for A's event")
	}
	t.Logf("A's event reached B's stream %v after A committed it (poll while listening: %v)", lat.Round(time.Microsecond), pollEveryListened)
	stopB()
	if up, _, _ := b.ListenerStats(); up {
		t.Fatal("listener still up after stop")
	}
}

// TestLiveCapAcrossProcesses: creations racing on two processes never
// put more calls under way than the cap, and the shared call-creation
// bucket admits no more than its burst between them.
func TestLiveCapAcrossProcesses(t *testing.T) {
	t.Parallel()
	const capLive = 3
	a, b, _ := twoProcesses(t, Limits{MaxLiveCalls: capLive, Burst: 7, CallsPerMinute: 0.001})
	ctx := context.Background()
	var mu sync.Mutex
	created, capped, limited := 0, 0, 0
	var wg sync.WaitGroup
	for i := range 24 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := testCall(fmt.Sprintf("call-%d", i), dispatchPending)
			err := s.admitRate(ctx, "team-1")
			if err == nil {
				err = s.tx(ctx, func(tx *sql.Tx, touched func(string)) error {
					if err := s.lockTeamCalls(ctx, tx, "team-1"); err != nil {
						return err
					}
					if err := s.admitLive(ctx, tx, "team-1"); err != nil {
						return err
					}
					return insertCall(ctx, tx, c)
				})
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case strings.Contains(fmt.Sprint(err), "calls under way"):
				capped++
			case strings.Contains(fmt.Sprint(err), "faster than"):
				limited++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	live, err := countLive(ctx, a.db.R, "team-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("24 creations on two processes: %d created, %d over the live cap, %d over the rate; %d live", created, capped, limited, live)
	if created != capLive || live != capLive {
		t.Fatalf("created %d, %d live; want exactly the cap, %d", created, live, capLive)
	}
	if created+capped != 7 || limited != 24-7 {
		t.Fatalf("the shared bucket (burst 7) admitted %d", created+capped)
	}
}
