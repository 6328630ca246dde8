package calls

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

// TestDialLeftInFlightIsNeverRedialed: a call whose dial was under way
// when the process stopped ends failed with outcome_unknown, and the
// backstop job does not dial it again. The service has no carrier at all:
// any attempt to dial would panic.
func TestDialLeftInFlightIsNeverRedialed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := New(Config{DB: d, DialTimeout: time.Second}, jobs.NewRegistry())
		if _, err := d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ('team-1', 'T', $1)`, db.Now()); err != nil {
			t.Fatal(err)
		}
		old := db.Now().Add(-time.Minute)
		mk := func(id, dispatch string, updated time.Time) {
			c := Call{ID: id, AgentID: "a", Direction: Outbound, Status: StatusQueued, PhoneNumberFrom: "+13126200100",
				PhoneNumberTo: "+14155550142", Provider: "telnyx", ProviderAgentID: "asst", ResultStatus: ResultNone,
				CreatedAt: old, UpdatedAt: updated, teamID: "team-1", dispatch: dispatch, eventSeq: 1}
			if err := insertCall(ctx, d.W, c); err != nil {
				t.Fatal(err)
			}
		}
		mk("stale", dispatchInFlight, old)
		mk("fresh", dispatchInFlight, db.Now())
		w := &dispatchWorker{s: s}
		if err := w.Work(ctx, &river.Job[dispatchArgs]{Args: dispatchArgs{CallID: "stale"}}); err != nil {
			t.Fatal(err)
		}
		c, err := callByID(ctx, d.R, "team-1", "stale")
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != StatusFailed || c.ErrorCode == nil || *c.ErrorCode != CodeOutcomeUnknown || c.dispatch != dispatchUnknown ||
			c.EndedAt == nil || replyFor(c) != 502 {
			t.Fatalf("stale dial settled as %+v", c)
		}
		evs, err := eventsAfter(ctx, d.R, "stale", 1, 10)
		if err != nil || len(evs) != 1 || evs[0].Status != StatusFailed || evs[0].Seq != 2 {
			t.Fatalf("log after settling: %v %v", evs, err)
		}
		// A dial that may still be under way is left alone for now.
		err = w.Work(ctx, &river.Job[dispatchArgs]{Args: dispatchArgs{CallID: "fresh"}})
		if err == nil {
			t.Fatal("a fresh in-flight dial was settled instead of snoozed")
		}
		if c, _ := callByID(ctx, d.R, "team-1", "fresh"); c.Status != StatusQueued || c.dispatch != dispatchInFlight {
			t.Fatalf("fresh dial changed: %+v", c)
		}
	})
}

func TestBuildResultObjectives(t *testing.T) {
	t.Parallel()
	a := Artifacts{ConversationID: "conv", Insights: []InsightResult{
		{ID: "sum", Result: "The caller confirmed."},
		{ID: "data", Result: `{"confirm": true, "callback": false, "party_size": 4}`},
	}}
	r := buildResult(a, []Objective{{Name: "confirm"}, {Name: "callback"}, {Name: "upsell"}})
	if r.Summary == nil || *r.Summary != "The caller confirmed." || r.StructuredData["party_size"] != float64(4) || len(r.Insights) != 2 {
		t.Fatalf("result %+v", r)
	}
	want := map[string]string{"confirm": "met", "callback": "not_met", "upsell": "unknown"}
	for _, o := range r.Objectives {
		if o.Status != want[o.Name] || (o.Status == "unknown") != (o.Evidence == nil) {
			t.Errorf("objective %s: %s (evidence %v)", o.Name, o.Status, o.Evidence)
		}
	}
	if len(r.Objectives) != 3 || r.Transcript == nil {
		t.Fatalf("objectives %v transcript %v", r.Objectives, r.Transcript)
	}
}

func TestRateLimiterRefillsOverTime(t *testing.T) {
	t.Parallel()
	rl := newRateLimiter()
	for i := 0; i < 2; i++ {
		if _, ok := rl.take("t", 60, 2); !ok {
			t.Fatalf("token %d refused within the burst", i)
		}
	}
	wait, ok := rl.take("t", 60, 2)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("third token: ok %v wait %v", ok, wait)
	}
	if _, ok := rl.take("other", 60, 2); !ok {
		t.Fatal("teams share a bucket")
	}
	rl.buckets["t"].at = rl.buckets["t"].at.Add(-2 * time.Second) // two seconds pass at one a second
	if _, ok := rl.take("t", 60, 2); !ok {
		t.Fatal("bucket did not refill")
	}
}
