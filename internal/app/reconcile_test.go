package app

import (
	"context"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// TestLostFinalCallbackIsReconciled: a call whose final status callback
// never arrived is finished by asking the carrier, and its result follows;
// a call still up is left alone.
func TestLostFinalCallbackIsReconciled(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newCallRig(t, s)
		ctx := context.Background()
		id := r.place(t, map[string]any{"phone_number_to": "+14155550142", "call_brief_variables": map[string]string{"customer_name": "Lo"}}).
			expect(t, 201).data(t)["id"].(string)
		r.waitCall(t, id, "result", func(d map[string]any) bool { return d["call"].(map[string]any)["result_status"] == "ready" })

		// Pretend the final callback was lost: the call still looks live.
		if _, err := s.app.DB.W.Exec(`UPDATE calls SET status = 'in_progress', status_rank = 4, ended_at = NULL,
			result_status = 'none', updated_at = $1 WHERE id = $2`, time.Now().Add(-time.Hour).UTC(), id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.app.DB.W.Exec(`DELETE FROM call_results WHERE call_id = $1`, id); err != nil {
			t.Fatal(err)
		}

		// A second call that is genuinely still talking.
		s.app.Sim.SetScript("+14155550143", []telnyxsim.ScriptStep{{Say: "hold on", PauseMS: 20000}, {Say: "bye", Hangup: true}})
		live := r.place(t, map[string]any{"phone_number_to": "+14155550143", "call_brief_variables": map[string]string{"customer_name": "Li"}}).
			expect(t, 201).data(t)["id"].(string)
		r.waitCall(t, live, "in progress", func(d map[string]any) bool { return d["call"].(map[string]any)["status"] == "in_progress" })

		// The periodic reconciler may get there first; either way exactly
		// the ended call is finished, never the live one.
		n, err := s.app.Calls.Reconcile(ctx, time.Now().Add(time.Minute))
		if err != nil || n > 1 {
			t.Fatalf("reconciled %d calls (%v), want at most the ended one", n, err)
		}
		d := r.waitCall(t, id, "reconciled result", func(d map[string]any) bool { return d["call"].(map[string]any)["result_status"] == "ready" })
		if c := d["call"].(map[string]any); c["status"] != "completed" || c["ended_at"] == nil {
			t.Fatalf("reconciled call %v", c)
		}
		if got := r.s.do("GET", "/api/v1/calls/"+live, nil, r.h...).expect(t, 200).data(t)["call"].(map[string]any); got["status"] != "in_progress" {
			t.Fatalf("a live call was finished: %v", got["status"])
		}
		s.do("POST", "/api/v1/calls/"+live+"/hangup", nil, r.h...).expect(t, 202)
	})
}
