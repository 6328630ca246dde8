package calls

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/jobs"
)

// liveStates is a carrier that only answers call-state lookups.
type liveStates struct {
	mu     sync.Mutex
	states map[string]LiveState
	asked  []string
}

func (c *liveStates) CallState(_ context.Context, id string) (LiveState, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, id)
	st, ok := c.states[id]
	return st, ok, nil
}

func (c *liveStates) StartCall(context.Context, Dial) (Placed, error) { panic("no dialing here") }
func (c *liveStates) Hangup(context.Context, string) error            { panic("no hangups here") }
func (c *liveStates) FetchResults(context.Context, Finished) (Artifacts, error) {
	panic("no results here")
}
func (c *liveStates) OpenRecording(context.Context, string) (io.ReadCloser, string, error) {
	panic("no recordings here")
}

// TestReconcileDialedCallThatNeverHeardBack: a call dialed just before the
// server went down, whose every status callback the carrier gave up on
// while it was down, is still queued although the carrier has it. The
// reconciler must check it like any other live call; left alone it would
// stay live forever, holding one of the team's live-call slots. A call
// that was never dialed is not the carrier's business.
func TestReconcileDialedCallThatNeverHeardBack(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		car := &liveStates{states: map[string]LiveState{
			"v3:ended": {Alive: false, SessionID: "sess-1"},
			"v3:alive": {Alive: true},
		}}
		s := New(Config{DB: d, Carrier: car}, jobs.NewRegistry())
		if _, err := d.W.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ('team-1', 'T', $1)`, db.Now()); err != nil {
			t.Fatal(err)
		}
		old := db.Now().Add(-time.Hour)
		mk := func(id, providerID, dispatch string) {
			c := Call{ID: id, AgentID: "a", Direction: Outbound, Status: StatusQueued, PhoneNumberFrom: "+13126200100",
				PhoneNumberTo: "+14155550142", Provider: "telnyx", ProviderAgentID: "asst", ResultStatus: ResultNone,
				CreatedAt: old, UpdatedAt: old, teamID: "team-1", dispatch: dispatch, eventSeq: 1}
			if providerID != "" {
				c.ProviderCallID = &providerID
			}
			if err := insertCall(ctx, d.W, c); err != nil {
				t.Fatal(err)
			}
		}
		mk("ended", "v3:ended", dispatchDone)
		mk("alive", "v3:alive", dispatchDone)
		mk("undialed", "", dispatchPending)

		n, err := s.Reconcile(ctx, time.Now().Add(-time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("reconciled %d calls (%v), want 1", n, err)
		}
		c, err := callByID(ctx, d.R, "team-1", "ended")
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != StatusFailed || c.ErrorCode == nil || *c.ErrorCode != "final_status_lost" || c.EndedAt == nil {
			t.Fatalf("the ended call was settled as %+v", c)
		}
		for _, id := range []string{"alive", "undialed"} {
			if c, _ := callByID(ctx, d.R, "team-1", id); c.Status != StatusQueued || c.EndedAt != nil {
				t.Fatalf("call %s changed: %+v", id, c)
			}
		}
		car.mu.Lock()
		defer car.mu.Unlock()
		if len(car.asked) != 2 {
			t.Fatalf("the carrier was asked about %v, want the two dialed calls", car.asked)
		}
	})
}
