package app

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/calls"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

func TestCallCreateErrors(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newCallRig(t, s)
		team := r.acct.teamID
		r.agents.put(team, calls.CallAgent{ID: "pending", Provider: "telnyx", ProviderAgentID: r.asstID, SyncStatus: "pending"})
		r.agents.put(team, calls.CallAgent{ID: "unprovisioned", Provider: "telnyx", SyncStatus: calls.SyncStatusSynced})
		lonely := s.do("POST", "/api/v1/agents", map[string]any{"name": "Lonely"}, r.h...).expect(t, 201).data(t)["id"].(string)
		r.agents.put(team, calls.CallAgent{ID: "elsewhere", Provider: "othervoice", ProviderAgentID: r.asstID, SyncStatus: calls.SyncStatusSynced})
		// A second number, bound to another agent; a third, switched off.
		otherID, other := s.claimNumber(t, r.acct)
		s.do("PATCH", "/api/v1/phone-numbers/"+otherID, map[string]any{"voice_agent_id": lonely}, r.h...).expect(t, 200)
		offID, off := s.claimNumber(t, r.acct)
		s.do("PATCH", "/api/v1/phone-numbers/"+offID, map[string]any{"status": "inactive"}, r.h...).expect(t, 200)

		brief := map[string]string{"customer_name": "Cy"}
		for _, c := range []struct {
			name   string
			body   map[string]any
			status int
			code   string
		}{
			{"unknown agent", map[string]any{"agent_id": "nope", "phone_number_to": "+14155550142"}, 404, "agent_not_found"},
			{"agent not synced", map[string]any{"agent_id": "pending", "phone_number_to": "+14155550142"}, 409, "agent_not_synced"},
			{"no assistant", map[string]any{"agent_id": "unprovisioned", "phone_number_to": "+14155550142"}, 409, "missing_provider_resource_id"},
			{"no line", map[string]any{"agent_id": "elsewhere", "phone_number_to": "+14155550142"}, 400, "no_phone_number"},
			{"line of another team", map[string]any{"phone_number_to": "+14155550142", "phone_number_from": "+14152360101"}, 404, "phone_number_not_found"},
			{"line bound to another agent", map[string]any{"phone_number_to": "+14155550142", "phone_number_from": other}, 409, "incompatible_phone"},
			{"line switched off", map[string]any{"phone_number_to": "+14155550142", "phone_number_from": off}, 409, "incompatible_phone"},
			{"runtime differs from line", map[string]any{"agent_id": "elsewhere", "phone_number_to": "+14155550142", "phone_number_from": off}, 409, "incompatible_phone"},
			{"legacy voice_provider mismatch", map[string]any{"phone_number_to": "+14155550142", "voice_provider": "vapi"}, 409, "phone_provider_mismatch"},
			{"brief incomplete", map[string]any{"phone_number_to": "+14155550142", "call_brief_variables": map[string]string{"other": "x"}}, 400, "missing_required_call_brief_variables"},
			{"bad callee", map[string]any{"phone_number_to": "12"}, 422, "invalid_phone_number"},
			{"bad caller", map[string]any{"phone_number_to": "+14155550142", "phone_number_from": "not a number"}, 422, "invalid_phone_number"},
		} {
			if c.body["call_brief_variables"] == nil {
				c.body["call_brief_variables"] = brief
			}
			res := r.place(t, c.body)
			if res.Status != c.status || res.errCode(t) != c.code {
				t.Errorf("%s: %d %s, want %d %s", c.name, res.Status, res.Raw, c.status, c.code)
			}
		}
		// Brief values are strings, strictly.
		res := r.place(t, map[string]any{"phone_number_to": "+14155550142", "call_brief_variables": map[string]any{"customer_name": 7}})
		if res.Status != 422 {
			t.Errorf("numeric brief value: %d %s", res.Status, res.Raw)
		}
		// A line whose provider differs from the agent's runtime.
		s.do("PATCH", "/api/v1/phone-numbers/"+offID, map[string]any{"status": "active"}, r.h...).expect(t, 200)
		if res := r.place(t, map[string]any{"agent_id": "elsewhere", "phone_number_to": "+14155550142", "phone_number_from": off}); res.Status != 409 || res.errCode(t) != "phone_provider_mismatch" {
			t.Errorf("provider mismatch: %d %s", res.Status, res.Raw)
		}
		if n := len(s.do("GET", "/api/v1/calls", nil, r.h...).expect(t, 200).Body["data"].([]any)); n != 0 {
			t.Fatalf("refused requests left %d calls", n)
		}

		// Carrier failures answer synchronously, and replays answer the same.
		if _, err := s.app.Sim.AddFault(telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 503, Count: 1, PathPrefix: "/v2/texml/ai_calls"}); err != nil {
			t.Fatal(err)
		}
		body := map[string]any{"phone_number_to": "+14155550142", "call_brief_variables": brief}
		first := r.place(t, body, "Idempotency-Key", "outage-1")
		if first.Status != 502 || first.errCode(t) != "telephony_provider_error" {
			t.Fatalf("dial during outage: %d %s", first.Status, first.Raw)
		}
		again := r.place(t, body, "Idempotency-Key", "outage-1")
		if again.Status != 502 || again.errCode(t) != "telephony_provider_error" || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay of failed dial: %d %s %v", again.Status, again.Raw, again.Header)
		}
		if _, err := s.app.Sim.AddFault(telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 503, Count: 100, PathPrefix: "/v2/ai/assistants"}); err != nil {
			t.Fatal(err)
		}
		res = r.place(t, body)
		s.app.Sim.ClearFaults()
		if res.Status != 503 || res.errCode(t) != "voice_provider_error" {
			t.Fatalf("assistant runtime down: %d %s", res.Status, res.Raw)
		}
		failed := s.do("GET", "/api/v1/calls?status=failed", nil, r.h...).expect(t, 200).Body["data"].([]any)
		if len(failed) != 2 {
			t.Fatalf("failed calls recorded: %d", len(failed))
		}
	})
}

func TestCallIdempotentRetries(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newCallRig(t, s)
		body := map[string]any{"phone_number_to": "+14155550177", "call_brief_variables": map[string]string{"customer_name": "Di"}}
		first := r.place(t, body, "Idempotency-Key", "k-1").expect(t, 201)
		again := r.place(t, body, "Idempotency-Key", "k-1").expect(t, 201)
		if again.Header.Get("Idempotent-Replayed") != "true" || again.data(t)["id"] != first.data(t)["id"] {
			t.Fatalf("replay: %v %s", again.Header, again.Raw)
		}
		if first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("first answer marked as a replay")
		}
		body["phone_number_to"] = "+14155550178"
		if res := r.place(t, body, "Idempotency-Key", "k-1"); res.Status != 422 || res.errCode(t) != "idempotency_key_reused" {
			t.Fatalf("same key, other body: %d %s", res.Status, res.Raw)
		}
		r.waitCall(t, first.data(t)["id"].(string), "settled", settled)
		n := 0
		for _, c := range s.app.Sim.Calls() {
			if c.To == "+14155550177" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("the simulator was dialed %d times for one key", n)
		}
	})
}

func TestCallLimitsHangupAndHeartbeat(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newCallRig(t, s)
		s.app.Sim.SetScript("+14155550190", []telnyxsim.ScriptStep{{Say: "Hold on"}, {PauseMS: 120000}})
		s.app.Calls.SetLimits(calls.Limits{CallsPerMinute: 600, Burst: 10, MaxLiveCalls: 1, Heartbeat: 20 * time.Millisecond})
		brief := map[string]string{"customer_name": "Ed"}
		long := r.place(t, map[string]any{"phone_number_to": "+14155550190", "call_brief_variables": brief}).expect(t, 201).data(t)["id"].(string)
		busy := r.place(t, map[string]any{"phone_number_to": "+14155550142", "call_brief_variables": brief})
		if busy.Status != 429 || busy.errCode(t) != "concurrent_call_limit" || busy.Header.Get("Retry-After") == "" {
			t.Fatalf("second live call: %d %s", busy.Status, busy.Raw)
		}
		r.waitCall(t, long, "answered", func(d map[string]any) bool { return d["call"].(map[string]any)["status"] == "in_progress" })

		// Stream while the call is live: keep-alives arrive, then hang up.
		type streamed struct {
			events    []sseEvent
			keepAlive bool
		}
		done := make(chan streamed, 1)
		go func() {
			evs, ka := r.readStream(t, long, "")
			done <- streamed{evs, ka}
		}()
		for deadline := time.Now().Add(10 * time.Second); s.app.Calls.Subscribers(long) == 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("stream never subscribed")
			}
		}
		time.Sleep(100 * time.Millisecond) // several heartbeat intervals
		s.do("POST", "/api/v1/calls/"+long+"/hangup", nil, r.h...).expect(t, http.StatusAccepted)
		var got streamed
		select {
		case got = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("stream did not end after the hangup")
		}
		if !got.keepAlive || len(got.events) == 0 || got.events[len(got.events)-1].Type != calls.EventResultReady {
			t.Fatalf("stream: keep-alive %v, events %v", got.keepAlive, got.events)
		}
		for deadline := time.Now().Add(5 * time.Second); s.app.Calls.Subscribers(long) != 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the ended stream is still subscribed")
			}
		}
		call := r.waitCall(t, long, "settled", settled)["call"].(map[string]any)
		if call["status"] != "completed" || call["hangup_source"] == nil {
			t.Fatalf("hung-up call: %v", call)
		}
		if res := s.do("POST", "/api/v1/calls/"+long+"/hangup", nil, r.h...); res.Status != 409 || res.errCode(t) != "call_not_active" {
			t.Fatalf("second hangup: %d %s", res.Status, res.Raw)
		}

		// A burst beyond the team's creation rate is refused with Retry-After.
		s.app.Calls.SetLimits(calls.Limits{CallsPerMinute: 1, Burst: 1, MaxLiveCalls: 50})
		codes := []int{}
		var limited reply
		for i := 0; i < 3; i++ {
			res := r.place(t, map[string]any{"phone_number_to": "+14155550142", "call_brief_variables": brief})
			codes = append(codes, res.Status)
			if res.Status == 429 {
				limited = res
			}
		}
		if codes[0] != 201 || codes[1] != 429 || codes[2] != 429 || limited.errCode(t) != "rate_limited" {
			t.Fatalf("burst answered %v: %s", codes, limited.Raw)
		}
		if ra, err := time.ParseDuration(limited.Header.Get("Retry-After") + "s"); err != nil || ra < time.Second {
			t.Fatalf("Retry-After %q", limited.Header.Get("Retry-After"))
		}
	})
}

func TestCallCarrierCallbacks(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newCallRig(t, s)
		id := r.place(t, map[string]any{"phone_number_to": "+14155550142", "call_brief_variables": map[string]string{"customer_name": "Flo"}}).
			expect(t, 201).data(t)["id"].(string)
		d := r.waitCall(t, id, "settled", settled)
		ccid := d["call"].(map[string]any)["provider_call_id"].(string)

		// A forged callback is refused before anything is read.
		form := "CallSid=" + ccid + "&CallStatus=ringing&SequenceNumber=99"
		for _, path := range []string{carrierCallStatusPath, carrierDynamicVariablesPath} {
			res := s.do("POST", path, form, "Content-Type", "application/x-www-form-urlencoded",
				"telnyx-timestamp", "1700000000", "telnyx-signature-ed25519", "AAAA")
			if res.Status != 401 || res.errCode(t) != "invalid_signature" {
				t.Fatalf("forged %s: %d %s", path, res.Status, res.Raw)
			}
		}

		// Late, duplicated and reordered news never moves a call backwards.
		ctx := context.Background()
		before := s.do("GET", "/api/v1/calls/"+id, nil, r.h...).expect(t, 200).data(t)["call"].(map[string]any)
		for _, u := range []calls.StatusUpdate{
			{CallControlID: ccid, Status: calls.StatusRinging, Sequence: 1},
			{CallControlID: ccid, Status: calls.StatusInProgress, Sequence: 42},
			{CallControlID: ccid, Status: calls.StatusBusy, Sequence: 43},
		} {
			if err := s.app.Calls.ApplyStatus(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		after := s.do("GET", "/api/v1/calls/"+id, nil, r.h...).expect(t, 200).data(t)["call"].(map[string]any)
		if after["status"] != "completed" || after["updated_at"] != before["updated_at"] {
			t.Fatalf("stale news changed the call: %v", after)
		}
		events, _ := r.readStream(t, id, "")
		if len(events) != 6 {
			t.Fatalf("log grew from stale news: %v", events)
		}
		// News about a call not recorded yet is to be delivered again.
		if err := s.app.Calls.ApplyStatus(ctx, calls.StatusUpdate{CallControlID: "v3:unknown", Status: calls.StatusRinging}); !calls.IsRetryLater(err) {
			t.Fatalf("unknown call: %v", err)
		}
	})
}
