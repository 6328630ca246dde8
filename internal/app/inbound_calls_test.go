package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// posRig is the spec's POS worked example: a front-desk agent with a
// specialist to hand off to, a number bound to the desk, and a callback
// session with one target.
type posRig struct {
	s          *testServer
	h          []string
	desk       string
	specialist string
	number     string // E.164
	numberID   string
	session    string
	sink       *eventSink
}

func newPOSRig(t *testing.T, s *testServer, sessionExtra map[string]any) *posRig {
	t.Helper()
	acc := s.register(t, "pos@example.com")
	r := &posRig{s: s, h: bearer(acc.access), sink: newEventSink(t)}
	r.specialist = s.do("POST", "/api/v1/agents", map[string]any{"name": "General Specialist",
		"channels": []string{"voice_inbound"}}, r.h...).expect(t, 201).data(t)["id"].(string)
	r.desk = s.do("POST", "/api/v1/agents", map[string]any{
		"name":         "Front desk",
		"instructions": "Caller status {{caller_match_status}}. Order {{order_id}}. Campaign {{campaign}}.",
		"voice_config": map[string]any{"provider": "telnyx", "telnyx": map[string]any{"handoff": map[string]any{
			"enabled": true, "voice_mode": "unified",
			"targets": []map[string]any{{"name": "General Specialist", "agent_id": r.specialist,
				"trigger": "caller needs help unrelated to an order", "description": "fallback specialist"}},
		}}},
	}, r.h...).expect(t, 201).data(t)["id"].(string)
	r.numberID, r.number = s.claimNumber(t, acc)
	s.do("PATCH", "/api/v1/phone-numbers/"+r.numberID, map[string]any{"voice_agent_id": r.desk}, r.h...).expect(t, 200)
	body := map[string]any{"phone_number_id": r.numberID, "agent_id": r.desk, "callback_window_seconds": 3600,
		"context_variables": map[string]any{"campaign": "pos-callback"}, "webhook_url": r.sink.srv.URL}
	for k, v := range sessionExtra {
		body[k] = v
	}
	r.session = s.do("POST", "/api/v1/inbound-sessions", body, r.h...).expect(t, 201).data(t)["id"].(string)
	s.do("POST", "/api/v1/inbound-sessions/"+r.session+"/callback-targets", map[string]any{
		"label": "Order #4421", "contact_name": "Jane Doe", "known_phone_numbers": []string{"+14155550123"},
		"context_variables":                 map[string]any{"order_id": "4421", "items_count": 3},
		"suggested_handoff_target_agent_id": r.specialist,
	}, r.h...).expect(t, 201)
	return r
}

// callIn injects a call into the simulator and waits for it to end.
func (r *posRig) callIn(t *testing.T, from string, script []telnyxsim.ScriptStep) telnyxsim.Call {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"from": from, "to": r.number, "caller_name": "Jane", "script": script})
	res, err := http.Post(r.s.app.SimInfo.URL+"/_sim/inbound-calls", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Data telnyxsim.Call }
	_ = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("inject: %d", res.StatusCode)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, ok := r.s.app.Sim.Call(created.Data.CallControlID); ok && c.EndedAt != "" {
			return c
		}
	}
	t.Fatal("simulated call never ended")
	return telnyxsim.Call{}
}

// peakCall waits for our record of a call to reach a final state with a
// settled result and returns its detail.
func (r *posRig) peakCall(t *testing.T, callSID string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		list := r.s.do("GET", "/api/v1/calls?direction=inbound", nil, r.h...).expect(t, 200).Body["data"].([]any)
		for _, it := range list {
			c := it.(map[string]any)
			if c["provider_call_id"] == callSID && c["result_status"] != "pending" && c["ended_at"] != nil {
				return r.s.do("GET", "/api/v1/calls/"+c["id"].(string), nil, r.h...).expect(t, 200).data(t)
			}
		}
	}
	t.Fatalf("no finished inbound call record for %s", callSID)
	return nil
}

func transcriptText(d map[string]any) string {
	res, _ := d["result"].(map[string]any)
	if res == nil {
		return ""
	}
	var b strings.Builder
	for _, turn := range res["transcript"].([]any) {
		b.WriteString(turn.(map[string]any)["text"].(string) + "\n")
	}
	return b.String()
}

func TestInboundCallbackMatchedAndUnmatched(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newPOSRig(t, s, nil)

		// Jane calls from her known number: matched, with her order context.
		sim := r.callIn(t, "+14155550123", nil)
		if sim.Status != "completed" || len(sim.AssistantIDs) == 0 {
			t.Fatalf("simulated call %+v", sim)
		}
		d := r.peakCall(t, sim.CallControlID)
		call := d["call"].(map[string]any)
		if call["direction"] != "inbound" || call["inbound_session_id"] != r.session || call["agent_id"] != r.desk || call["status"] != "completed" {
			t.Fatalf("call record %v", call)
		}
		text := transcriptText(d)
		if !strings.Contains(text, "Caller status matched") || !strings.Contains(text, "Order 4421") || !strings.Contains(text, "Campaign pos-callback") {
			t.Fatalf("assistant did not get the matched context:\n%s", text)
		}
		r.sink.waitFor(t, "callback.received")
		m := r.sink.waitFor(t, "callback.matched")
		if md := m["data"].(map[string]any); md["inbound_session_id"] != r.session || md["call_id"] != call["id"] || md["match_status"] != "matched" || md["callback_target_id"] == nil {
			t.Fatalf("callback.matched %v", m)
		}
		if hs := r.sink.waitFor(t, "handoff.suggested"); hs["data"].(map[string]any)["suggested_handoff_target_agent_id"] != r.specialist {
			t.Fatalf("handoff.suggested %v", hs)
		}

		// A stranger: unmatched, and never told Jane's order.
		sim = r.callIn(t, "+14155550188", nil)
		text = transcriptText(r.peakCall(t, sim.CallControlID))
		if !strings.Contains(text, "Caller status unmatched") || strings.Contains(text, "4421") || !strings.Contains(text, "Campaign pos-callback") {
			t.Fatalf("unmatched caller's context:\n%s", text)
		}
		r.sink.waitFor(t, "callback.unmatched")

		// Mid-call identification through the lookup tool.
		sim = r.callIn(t, "+14155550177", []telnyxsim.ScriptStep{
			{Say: "Hi, it's Jane Doe about my order"},
			{Tool: "lookup_inbound_caller_context", Arguments: map[string]any{"caller_name": "jane doe"}},
			{Say: "Thanks", Hangup: true},
		})
		if len(sim.ToolCalls) != 1 || sim.ToolCalls[0].Status != 200 || !strings.Contains(sim.ToolCalls[0].Response, `"order_id":"4421"`) ||
			!strings.Contains(sim.ToolCalls[0].Response, `"match_status":"matched"`) {
			t.Fatalf("lookup tool: %+v", sim.ToolCalls)
		}

		// The desk hands the caller to the specialist: the carrier switches
		// assistants and Peak Voice reports handoff.completed.
		sim = r.callIn(t, "+14155550123", []telnyxsim.ScriptStep{
			{Say: "I have a billing question"},
			{Handoff: "General Specialist"},
			{Say: "Thanks", Hangup: true},
		})
		if len(sim.AssistantIDs) != 2 {
			t.Fatalf("no handoff on the carrier: %+v", sim.AssistantIDs)
		}
		r.peakCall(t, sim.CallControlID)
		if hc := r.sink.waitFor(t, "handoff.completed"); hc["data"].(map[string]any)["inbound_session_id"] != r.session {
			t.Fatalf("handoff.completed %v", hc)
		}

		// Two targets tied on name and priority: the tool says ambiguous
		// rather than guess, and callback.ambiguous goes out.
		for _, name := range []string{"Sam Lee", "Sam Park"} {
			s.do("POST", "/api/v1/inbound-sessions/"+r.session+"/callback-targets", map[string]any{"contact_name": name, "label": name}, r.h...).expect(t, 201)
		}
		sim = r.callIn(t, "+14155550199", []telnyxsim.ScriptStep{
			{Tool: "lookup_inbound_caller_context", Arguments: map[string]any{"caller_name": "Sam"}},
			{Say: "ok", Hangup: true},
		})
		if len(sim.ToolCalls) != 1 || !strings.Contains(sim.ToolCalls[0].Response, `"match_status":"ambiguous"`) ||
			!strings.Contains(sim.ToolCalls[0].Response, "Sam Lee") {
			t.Fatalf("ambiguous lookup: %+v", sim.ToolCalls)
		}
		if amb := r.sink.waitFor(t, "callback.ambiguous"); len(amb["data"].(map[string]any)["candidate_target_ids"].([]any)) != 2 {
			t.Fatalf("callback.ambiguous %v", amb)
		}

		// With no callback targets left, callers get the session's context
		// only: session_only.
		full := s.do("GET", "/api/v1/inbound-sessions/"+r.session, nil, r.h...).expect(t, 200).data(t)
		for _, tg := range full["callback_targets"].([]any) {
			s.do("DELETE", "/api/v1/inbound-sessions/"+r.session+"/callback-targets/"+tg.(map[string]any)["id"].(string), nil, r.h...).expect(t, 204)
		}
		sim = r.callIn(t, "+14155550123", nil)
		if text := transcriptText(r.peakCall(t, sim.CallControlID)); !strings.Contains(text, "Caller status session_only") || strings.Contains(text, "4421") {
			t.Fatalf("session-only caller:\n%s", text)
		}
	})
}

func TestInboundGateRejectsAndLateCallers(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newPOSRig(t, s, map[string]any{"allowed_caller_number": "+14155550123"})
		sim := r.callIn(t, "+14155550188", nil)
		if len(sim.AssistantIDs) != 0 || sim.Status == "completed" {
			t.Fatalf("a caller the session does not allow was connected: %+v", sim)
		}
		if ev := r.sink.waitFor(t, "callback.unmatched"); ev["data"].(map[string]any)["match_status"] != "caller_not_allowed" {
			t.Fatalf("event %v", ev)
		}
		// The allowed caller gets through.
		if sim = r.callIn(t, "+14155550123", nil); sim.Status != "completed" || len(sim.AssistantIDs) == 0 {
			t.Fatalf("allowed caller: %+v", sim)
		}

		// Pool: the number is pooled and leased to a new session; once that
		// session ends, a late caller still reaches its agent and
		// callback.late is emitted.
		s.do("DELETE", "/api/v1/inbound-sessions/"+r.session, nil, r.h...).expect(t, 204)
		s.do("POST", "/api/v1/number-pool", map[string]any{"phone_number_id": r.numberID}, r.h...).expect(t, 201)
		late := newEventSink(t)
		pooled := s.do("POST", "/api/v1/inbound-sessions", map[string]any{"use_number_pool": true, "agent_id": r.desk,
			"webhook_url": late.srv.URL}, r.h...).expect(t, 201).data(t)["id"].(string)
		s.do("PATCH", "/api/v1/inbound-sessions/"+pooled, map[string]any{"status": "released"}, r.h...).expect(t, 200)
		sim = r.callIn(t, "+14155550166", nil)
		if sim.Status != "completed" {
			t.Fatalf("late caller during draining: %+v", sim)
		}
		ev := late.waitFor(t, "callback.late")
		if d := ev["data"].(map[string]any); d["inbound_session_id"] != pooled || d["pool_status"] == nil || d["caller_number"] != "+14155550166" {
			t.Fatalf("callback.late %v", ev)
		}
	})
}

func TestCarrierInboundEndpointsRejectForgeries(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	form := "CallSid=v3:abc&From=%2B14155550123&To=%2B13126200100&CallStatus=ringing"
	r := s.do("POST", "/webhooks/telnyx/texml/inbound", form, "Content-Type", "application/x-www-form-urlencoded")
	if r.Status != 401 || r.errCode(t) != "invalid_signature" {
		t.Fatalf("forged gate request: %d %s", r.Status, r.Raw)
	}
	tool := s.do("POST", "/webhooks/telnyx/tools/lookup-inbound-caller-context", `{"caller_name":"Jane"}`,
		"x-telnyx-call-control-id", "v3:nope", "X-Peak-Voice-Tool-Token", "guess")
	if tool.Status != 401 {
		t.Fatalf("forged tool call: %d %s", tool.Status, tool.Raw)
	}
	var n int
	_ = s.app.DB.R.QueryRow(`SELECT COUNT(*) FROM calls`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d calls recorded from forgeries", n)
	}
}

// TestExpectedCallersAreRecognised: an expected caller's number and name
// feed the initial match and the lookup tool, as a callback target's do,
// but carry no context; a caller who is both a target and an expected
// caller gets the target's context.
func TestExpectedCallersAreRecognised(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newPOSRig(t, s, nil)
		grace := s.do("POST", "/api/v1/inbound-sessions/"+r.session+"/expected-callers", map[string]any{
			"phone_number": "+14155550166", "contact_name": "Grace Hopper", "label": "Supplier"}, r.h...).expect(t, 201).data(t)["id"].(string)
		s.do("POST", "/api/v1/inbound-sessions/"+r.session+"/expected-callers", map[string]any{
			"phone_number": "+14155550123", "contact_name": "Jane Doe"}, r.h...).expect(t, 201)

		// Grace calls from her number: matched, with no order context.
		sim := r.callIn(t, "+14155550166", nil)
		text := transcriptText(r.peakCall(t, sim.CallControlID))
		if !strings.Contains(text, "Caller status matched") || strings.Contains(text, "4421") {
			t.Fatalf("expected caller's greeting:\n%s", text)
		}
		m := r.sink.waitFor(t, "callback.matched")
		if md := m["data"].(map[string]any); md["expected_caller_id"] != grace || md["callback_target_id"] != nil {
			t.Fatalf("callback.matched for an expected caller: %v", m)
		}

		// Jane is both a target and an expected caller: her target wins.
		sim = r.callIn(t, "+14155550123", nil)
		if text := transcriptText(r.peakCall(t, sim.CallControlID)); !strings.Contains(text, "Order 4421") {
			t.Fatalf("a caller who is also a target lost the target's context:\n%s", text)
		}

		// Grace calls from another number and gives her name.
		sim = r.callIn(t, "+14155550199", []telnyxsim.ScriptStep{
			{Say: "Hello, Grace Hopper here"},
			{Tool: "lookup_inbound_caller_context", Arguments: map[string]any{"caller_name": "grace hopper"}},
			{Say: "Bye", Hangup: true},
		})
		if len(sim.ToolCalls) != 1 || !strings.Contains(sim.ToolCalls[0].Response, `"expected_caller_id":"`+grace+`"`) ||
			!strings.Contains(sim.ToolCalls[0].Response, `"match_status":"matched"`) || strings.Contains(sim.ToolCalls[0].Response, "4421") {
			t.Fatalf("lookup by an expected caller's name: %+v", sim.ToolCalls)
		}
	})
}
