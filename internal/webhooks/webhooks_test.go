package webhooks

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

// Known answers: HMAC-SHA256 from RFC 4231 test case 2, and the Standard
// Webhooks reference vector.
func TestSignaturesKnownAnswers(t *testing.T) {
	t.Parallel()
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	key, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	std := SignStandard(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; std != want {
		t.Fatalf("SignStandard = %s, want %s", std, want)
	}
}

// hit is one request a test receiver saw.
type hit struct {
	at      time.Time
	header  http.Header
	body    []byte
	replied int
}

// receiver answers with the statuses given in turn (the last repeats).
type receiver struct {
	mu      sync.Mutex
	hits    []hit
	replies []int
	srv     *httptest.Server
}

func newReceiver(t *testing.T, replies ...int) *receiver {
	r := &receiver{replies: replies}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		code := r.replies[min(len(r.hits), len(r.replies)-1)]
		r.hits = append(r.hits, hit{at: time.Now(), header: req.Header.Clone(), body: body, replied: code})
		r.mu.Unlock()
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"ok":false,"note":"from the receiver"}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) snapshot() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

func (r *receiver) waitHits(t *testing.T, n int) []hit {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if h := r.snapshot(); len(h) >= n {
			return h
		}
	}
	t.Fatalf("receiver saw %d requests, want %d", len(r.snapshot()), n)
	return nil
}

var testSecret = []byte("test-signing-secret")

var testSchedule = []time.Duration{0, 150 * time.Millisecond, 450 * time.Millisecond}

// setup builds the service on d with a running queue.
func setup(t *testing.T, d *db.DB, start bool) *Service {
	t.Helper()
	reg := jobs.NewRegistry()
	s, err := New(Config{DB: d, Secret: testSecret, AllowPrivate: true, Schedule: testSchedule}, reg)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(d, reg, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.SetQueue(q)
	if start {
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = q.Stop(ctx)
		})
	}
	return s
}

func seedTeam(t *testing.T, d *db.DB) string {
	t.Helper()
	id := uuid.NewString()
	if _, err := d.W.Exec(`INSERT INTO teams (id, name, created_at) VALUES ($1, 'T', $2)`, id, db.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

func emit(t *testing.T, s *Service, team, url string) Event {
	t.Helper()
	var ev Event
	err := s.db.Tx(context.Background(), func(tx *sql.Tx) error {
		var err error
		ev, err = s.Emit(context.Background(), tx, NewEvent{TeamID: team, Type: "call.completed", URL: url,
			Data: map[string]any{"call_id": "c-1"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func waitStatus(t *testing.T, s *Service, team, eventID, status string) EventDetail {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		d, err := s.EventDetail(context.Background(), team, eventID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Deliveries) == 1 && d.Deliveries[0].Status == status {
			return d
		}
	}
	d, _ := s.EventDetail(context.Background(), team, eventID)
	t.Fatalf("delivery never reached %s: %+v", status, d.Deliveries)
	return EventDetail{}
}

func TestRetriesUntilSuccessOnTheSchedule(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := setup(t, d, true)
		team := seedTeam(t, d)
		rcv := newReceiver(t, 500, 503, 204)
		ev := emit(t, s, team, rcv.srv.URL+"/hook")
		hits := rcv.waitHits(t, 3)
		detail := waitStatus(t, s, team, ev.ID, StatusSucceeded)

		deliveryIDs := map[string]bool{}
		for i, h := range hits {
			var env struct {
				Event, EventID, OccurredAt string
				Data                       map[string]any
			}
			if err := json.Unmarshal(h.body, &env); err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			_ = json.Unmarshal(h.body, &raw)
			if raw["event"] != "call.completed" || raw["event_id"] != ev.ID || raw["data"].(map[string]any)["call_id"] != "c-1" {
				t.Fatalf("attempt %d body %s", i+1, h.body)
			}
			occ, err := time.Parse(time.RFC3339Nano, raw["occurred_at"].(string))
			if err != nil || occ.Location() != time.UTC || raw["occurred_at"].(string)[len(raw["occurred_at"].(string))-1] != 'Z' {
				t.Fatalf("occurred_at %v", raw["occurred_at"])
			}
			if h.header.Get("Content-Type") != "application/json" || h.header.Get(HeaderEventType) != "call.completed" {
				t.Fatalf("headers %v", h.header)
			}
			if h.header.Get(HeaderSignature) != Sign(testSecret, h.body) {
				t.Fatalf("attempt %d: bad signature", i+1)
			}
			ts := h.header.Get(HeaderSWTime)
			var tsn int64
			_ = json.Unmarshal([]byte(ts), &tsn)
			if h.header.Get(HeaderSWID) != ev.ID || h.header.Get(HeaderSWSig) != SignStandard(testSecret, ev.ID, tsn, h.body) {
				t.Fatalf("attempt %d: standard webhook headers %v", i+1, h.header)
			}
			id := h.header.Get(HeaderDeliveryID)
			if _, err := uuid.Parse(id); err != nil || deliveryIDs[id] {
				t.Fatalf("attempt %d: delivery id %q not a fresh UUID", i+1, id)
			}
			deliveryIDs[id] = true
		}
		// Attempts are never early: each waits at least its scheduled gap.
		for i := 1; i < 3; i++ {
			if gap, want := hits[i].at.Sub(hits[i-1].at), testSchedule[i]-testSchedule[i-1]; gap < want {
				t.Errorf("attempt %d came %v after the previous one, scheduled gap %v", i+1, gap, want)
			}
		}
		dl := detail.Deliveries[0]
		if dl.AttemptCount != 3 || len(dl.Attempts) != 3 || dl.CompletedAt == nil || *dl.LastStatusCode != 204 {
			t.Fatalf("delivery log %+v", dl)
		}
		for i, a := range dl.Attempts {
			if a.Attempt != i+1 || !deliveryIDs[a.ID] || a.Succeeded != (i == 2) {
				t.Fatalf("attempt log %d: %+v", i, a)
			}
		}
		if dl.Attempts[0].Error == "" || dl.Attempts[0].ResponseBody == "" || *dl.Attempts[0].StatusCode != 500 {
			t.Fatalf("failed attempt not described: %+v", dl.Attempts[0])
		}
	})
}

func TestStopsAfterThreeFailures(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := setup(t, d, true)
		team := seedTeam(t, d)
		rcv := newReceiver(t, 500)
		redirect := newReceiver(t, 302)
		ev := emit(t, s, team, rcv.srv.URL)
		ev2 := emit(t, s, team, redirect.srv.URL)
		detail := waitStatus(t, s, team, ev.ID, StatusFailed)
		waitStatus(t, s, team, ev2.ID, StatusFailed)
		time.Sleep(2 * testSchedule[2]) // time for a wrong fourth attempt to show up
		if n := len(rcv.snapshot()); n != 3 {
			t.Fatalf("receiver saw %d attempts, want 3", n)
		}
		dl := detail.Deliveries[0]
		if dl.AttemptCount != 3 || dl.NextAttemptAt != nil || dl.LastError == nil {
			t.Fatalf("log: %+v", dl)
		}
		// The redirect was recorded as a failure and never followed.
		if n := len(redirect.snapshot()); n != 3 {
			t.Fatalf("redirecting receiver saw %d requests, want 3 (Location must not be followed)", n)
		}
		d2, _ := s.EventDetail(context.Background(), team, ev2.ID)
		if a := d2.Deliveries[0].Attempts[0]; a.Succeeded || *a.StatusCode != 302 || a.Error == "" {
			t.Fatalf("redirect attempt %+v", a)
		}

		// A redelivery starts a new round with the same event id.
		rcv.mu.Lock()
		rcv.replies = []int{200}
		rcv.mu.Unlock()
		found, err := s.Redeliver(context.Background(), team, ev.ID)
		if err != nil || !found {
			t.Fatalf("redeliver: %v %v", found, err)
		}
		after := waitStatus(t, s, team, ev.ID, StatusSucceeded)
		hits := rcv.waitHits(t, 4)
		var raw map[string]any
		_ = json.Unmarshal(hits[3].body, &raw)
		if raw["event_id"] != ev.ID || after.Deliveries[0].Round != 2 || after.Deliveries[0].AttemptCount != 4 {
			t.Fatalf("redelivery: %v round %d", raw["event_id"], after.Deliveries[0].Round)
		}
		if found, _ := s.Redeliver(context.Background(), "another-team", ev.ID); found {
			t.Fatal("another team redelivered the event")
		}
	})
}

func TestRolledBackEventIsNeverSent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := setup(t, d, true)
		team := seedTeam(t, d)
		rcv := newReceiver(t, 200)
		boom := errors.New("boom")
		err := d.Tx(context.Background(), func(tx *sql.Tx) error {
			if _, err := s.Emit(context.Background(), tx, NewEvent{TeamID: team, Type: "x.y", URL: rcv.srv.URL}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		// A committed event after it proves the queue is working.
		ev := emit(t, s, team, rcv.srv.URL)
		waitStatus(t, s, team, ev.ID, StatusSucceeded)
		time.Sleep(300 * time.Millisecond)
		hits := rcv.snapshot()
		if len(hits) != 1 {
			t.Fatalf("receiver saw %d requests, want only the committed event", len(hits))
		}
		var n int
		_ = d.R.QueryRow(`SELECT COUNT(*) FROM webhook_events WHERE team_id = $1`, team).Scan(&n)
		if n != 1 {
			t.Fatalf("%d events stored, want 1", n)
		}
	})
}

// TestCommittedEventSurvivesRestart commits an event while no worker runs,
// closes the database as a crash would, and delivers after reopening.
func TestCommittedEventSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			opts := e.Options(t)
			d1 := dbtest.Open(t, opts)
			s1 := setup(t, d1, false)
			team := seedTeam(t, d1)
			rcv := newReceiver(t, 200)
			ev := emit(t, s1, team, rcv.srv.URL)
			if err := d1.Close(); err != nil {
				t.Fatal(err)
			}
			d2 := dbtest.Open(t, opts)
			s2 := setup(t, d2, true)
			hits := rcv.waitHits(t, 1)
			var raw map[string]any
			_ = json.Unmarshal(hits[0].body, &raw)
			if raw["event_id"] != ev.ID {
				t.Fatalf("delivered %v, want %s", raw["event_id"], ev.ID)
			}
			waitStatus(t, s2, team, ev.ID, StatusSucceeded)
		})
	}
}

// TestSlowReceiverTimesOut: an attempt that outlasts the timeout counts as
// failed, and is recorded as a timeout.
func TestSlowReceiverTimesOut(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, db.Options{DataDir: t.TempDir()})
	reg := jobs.NewRegistry()
	s, err := New(Config{DB: d, Secret: testSecret, AllowPrivate: true, Schedule: []time.Duration{0}, Timeout: 200 * time.Millisecond}, reg)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(d, reg, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.SetQueue(q)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	team := seedTeam(t, d)
	ev := emit(t, s, team, slow.URL)
	detail := waitStatus(t, s, team, ev.ID, StatusFailed)
	a := detail.Deliveries[0].Attempts[0]
	if a.Succeeded || a.StatusCode != nil || a.Error != "timed out" {
		t.Fatalf("attempt %+v", a)
	}
}

// TestRescuedRunMakesTheLostAttempt: a process died during a delivery's
// last attempt, so that attempt was never recorded, and the queue rescues
// the job on a later run. That run makes the third attempt — the one that
// was lost — instead of being discarded or counting itself as a fourth.
func TestRescuedRunMakesTheLostAttempt(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		for _, reply := range []int{500, 204} {
			s := setup(t, d, false) // no queue running: the test plays the queue's part
			team := seedTeam(t, d)
			rcv := newReceiver(t, reply)
			ev := emit(t, s, team, rcv.srv.URL)
			var dl delivery
			var err error
			if err = d.R.QueryRow(`SELECT id FROM webhook_deliveries WHERE event_id = $1`, ev.ID).Scan(&dl.ID); err != nil {
				t.Fatal(err)
			}
			dl, _, err = deliveryForAttempt(context.Background(), d.R, dl.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Attempts 1 and 2 happened and failed; attempt 3 was cut off.
			for n := 1; n <= 2; n++ {
				code := 503
				next := time.Now().Add(time.Second)
				a := Attempt{ID: uuid.NewString(), Round: 1, Attempt: n, StartedAt: db.Now(), StatusCode: &code, Error: "receiver answered 503"}
				if err := d.Tx(context.Background(), func(tx *sql.Tx) error { return recordAttempt(context.Background(), tx, dl, a, StatusRetrying, &next) }); err != nil {
					t.Fatal(err)
				}
			}
			w := &deliverWorker{s: s}
			job := &river.Job[deliverArgs]{JobRow: &rivertype.JobRow{Attempt: 4}, Args: deliverArgs{DeliveryID: dl.ID, Round: 1}}
			if err := w.Work(context.Background(), job); err != nil {
				t.Fatalf("rescued run: %v", err)
			}
			if n := len(rcv.snapshot()); n != 1 {
				t.Fatalf("receiver saw %d requests, want the one lost attempt", n)
			}
			want := StatusFailed
			if reply == 204 {
				want = StatusSucceeded
			}
			detail, err := s.EventDetail(context.Background(), team, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := detail.Deliveries[0]
			if got.Status != want || got.AttemptCount != 3 || len(got.Attempts) != 3 || got.Attempts[len(got.Attempts)-1].Attempt != 3 {
				t.Fatalf("reply %d: status %s, %d attempts %+v; want %s after attempt 3", reply, got.Status, got.AttemptCount, got.Attempts, want)
			}
			// Another run (a duplicate rescue) attempts nothing more.
			if err := w.Work(context.Background(), job); err != nil || len(rcv.snapshot()) != 1 {
				t.Fatalf("second run: %v, receiver saw %d", err, len(rcv.snapshot()))
			}
		}
	})
}
