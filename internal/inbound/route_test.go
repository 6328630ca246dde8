package inbound

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/jobs"
	"github.com/peakvoice/peakvoice/internal/numbers"
)

type fixture struct {
	s      *Service
	d      *db.DB
	team   string
	number string // phone number id
	e164   string
}

func newFixture(t *testing.T, d *db.DB) fixture {
	t.Helper()
	f := fixture{d: d, team: uuid.NewString(), number: uuid.NewString(), e164: "+13126200100"}
	at := db.Now()
	mustExec(t, d, `INSERT INTO teams (id, name, created_at) VALUES ($1, 'T', $2)`, f.team, at)
	mustExec(t, d, `INSERT INTO phone_numbers (id, team_id, phone_number, provider, provider_number_id, status, sms_capable,
		voice_capable, voice_agent_id, created_at, updated_at) VALUES ($1, $2, $3, 'telnyx', 'c1', 'active', TRUE, TRUE, 'bound-agent', $4, $4)`,
		f.number, f.team, f.e164, at)
	f.s = New(Config{DB: d, Numbers: numbers.New(numbers.Config{DB: d})}, jobs.NewRegistry())
	return f
}

func mustExec(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	if _, err := d.W.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) session(t *testing.T, agent string, allowed *string, vars map[string]any, expires time.Time) Session {
	t.Helper()
	at := db.Now()
	s := Session{ID: uuid.NewString(), PhoneNumberID: f.number, AgentID: agent, Status: StatusReady, ExpiresAt: expires,
		CallbackWindowSeconds: 3600, AllowedCallerNumber: allowed, ContextVariables: vars, CreatedAt: at, UpdatedAt: at, teamID: f.team}
	if err := insertSession(context.Background(), f.d.W, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRouteAndIdentify(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		now := time.Now()

		// No session: the bound agent answers.
		dec, err := f.s.Route(ctx, f.e164, "+14155550123", now)
		if err != nil || dec.Reject || dec.AgentID != "bound-agent" || dec.SessionID != "" {
			t.Fatalf("fallback: %+v %v", dec, err)
		}
		// Unknown number.
		if dec, _ := f.s.Route(ctx, "+14155559999", "+14155550123", now); !dec.Reject || dec.Known {
			t.Fatalf("unknown number: %+v", dec)
		}

		allowed := "+18001234567"
		sess := f.session(t, "desk", &allowed, map[string]any{"campaign": "pos-callback"}, now.Add(time.Hour))
		dec, _ = f.s.Route(ctx, f.e164, "+14155550123", now)
		if !dec.Reject || dec.MatchStatus != CallerNotAllowed || dec.SessionID != sess.ID {
			t.Fatalf("not allowed: %+v", dec)
		}
		if dec, _ = f.s.Route(ctx, f.e164, allowed, now); dec.Reject || dec.AgentID != "desk" {
			t.Fatalf("allowed caller: %+v", dec)
		}
		// An expected caller passes the gate too.
		if _, err := f.s.AddCaller(ctx, f.team, sess.ID, CallerFields{PhoneNumber: strp("+14155550123")}); err != nil {
			t.Fatal(err)
		}
		if dec, _ = f.s.Route(ctx, f.e164, "+14155550123", now); dec.Reject {
			t.Fatalf("expected caller rejected: %+v", dec)
		}

		// No targets: session_only, with the session's context only.
		id, err := f.s.Identify(ctx, f.team, sess.ID, allowed)
		if err != nil || id.MatchStatus != CallerSessionOnly || id.Variables["campaign"] != "pos-callback" || id.Variables["caller_match_status"] != "session_only" {
			t.Fatalf("session only: %+v %v", id, err)
		}
		if _, err := f.s.AddTarget(ctx, f.team, sess.ID, TargetFields{ContactName: strp("Jane Doe"),
			KnownPhoneNumbers: []string{allowed}, ContextVariables: map[string]any{"order_id": "4421", "items_count": 3}}); err != nil {
			t.Fatal(err)
		}
		id, _ = f.s.Identify(ctx, f.team, sess.ID, allowed)
		if id.MatchStatus != CallerMatched || id.Variables["order_id"] != "4421" || id.Variables["items_count"] != "3" ||
			id.Variables["contact_name"] != "Jane Doe" || id.Variables["campaign"] != "pos-callback" {
			t.Fatalf("matched: %+v", id.Variables)
		}
		// An unmatched caller never receives a target's variables.
		id, _ = f.s.Identify(ctx, f.team, sess.ID, "+14155550144")
		if id.MatchStatus != CallerUnmatched || id.Variables["order_id"] != "" || id.Variables["contact_name"] != "" {
			t.Fatalf("unmatched leaked target context: %+v", id.Variables)
		}
		// The expected caller is recognised by number, with no target's
		// variables and no callback_target_id.
		id, _ = f.s.Identify(ctx, f.team, sess.ID, "+14155550123")
		if id.MatchStatus != CallerMatched || id.Variables["expected_caller_id"] == "" || id.Variables["callback_target_id"] != "" ||
			id.Variables["order_id"] != "" {
			t.Fatalf("expected caller: %+v", id.Variables)
		}
	})
}

func TestRouteDuringDrainingAndCooldown(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		now := time.Now()
		sess := f.session(t, "desk", nil, nil, now.Add(time.Hour))
		at := db.Now()
		mustExec(t, d, `INSERT INTO number_pool (phone_number_id, team_id, status, session_id, leases, created_at, updated_at)
			VALUES ($1, $2, 'leased', $3, 1, $4, $4)`, f.number, f.team, sess.ID, at)
		if err := f.s.DeleteSession(ctx, f.team, sess.ID); err != nil {
			t.Fatal(err)
		}
		dec, err := f.s.Route(ctx, f.e164, "+14155550123", now)
		if err != nil || dec.PoolStatus != PoolDraining || dec.SessionID != sess.ID || dec.AgentID != "desk" || !dec.Late() {
			t.Fatalf("draining: %+v %v", dec, err)
		}
		mustExec(t, d, `UPDATE number_pool SET status = 'cooldown' WHERE phone_number_id = $1`, f.number)
		dec, _ = f.s.Route(ctx, f.e164, "+14155550123", now)
		if dec.PoolStatus != PoolCooldown || dec.SessionID != "" || dec.AgentID != "bound-agent" {
			t.Fatalf("cooldown: %+v", dec)
		}
	})
}

func strp(s string) *string { return &s }

// TestPoolTransitionsOnAFakeClock drives the sweeper's pool step with
// explicit times: leased → draining → cooldown → available, each only when
// its time has come.
func TestPoolTransitionsOnAFakeClock(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		f.s.cfg.PoolDrain, f.s.cfg.PoolCooldown = time.Hour, 24*time.Hour
		t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
		sess := f.session(t, "desk", nil, nil, t0.Add(30*time.Minute))
		mustExec(t, d, `INSERT INTO number_pool (phone_number_id, team_id, status, session_id, leases, created_at, updated_at)
			VALUES ($1, $2, 'leased', $3, 1, $4, $4)`, f.number, f.team, sess.ID, t0)
		status := func() string {
			var s string
			if err := d.R.QueryRow(`SELECT status FROM number_pool WHERE phone_number_id = $1`, f.number).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		steps := []struct {
			at   time.Time
			want string
		}{
			{t0.Add(10 * time.Minute), PoolLeased},                  // session still running
			{t0.Add(31 * time.Minute), PoolDraining},                // session expired
			{t0.Add(31*time.Minute + 59*time.Minute), PoolDraining}, // drain not over
			{t0.Add(31*time.Minute + 61*time.Minute), PoolCooldown}, // drained
			{t0.Add(31*time.Minute + 61*time.Minute + 23*time.Hour), PoolCooldown},
			{t0.Add(31*time.Minute + 61*time.Minute + 25*time.Hour), PoolAvailable},
		}
		for i, st := range steps {
			if err := f.s.advancePool(ctx, st.at); err != nil {
				t.Fatal(err)
			}
			if got := status(); got != st.want {
				t.Fatalf("step %d at %s: %s, want %s", i, st.at.Format(time.Kitchen), got, st.want)
			}
		}
	})
}
