package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/calls"
	"github.com/peakvoice/peakvoice/internal/numbers"
)

// overlayAgents is the real agents domain, plus a few agents in states the
// agents API never produces (never synced, no assistant, another runtime),
// so the calls domain's refusals of them can be tested.
type overlayAgents struct {
	real  agentCalls
	bind  agentBinding
	mu    sync.Mutex
	extra map[string]calls.CallAgent // by team/agent id
}

func (m *overlayAgents) put(team string, a calls.CallAgent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extra[team+"/"+a.ID] = a
}

func (m *overlayAgents) synthetic(team, id string) (calls.CallAgent, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.extra[team+"/"+id]
	return a, ok
}

func (m *overlayAgents) CallAgent(ctx context.Context, team, id string) (calls.CallAgent, error) {
	if a, ok := m.synthetic(team, id); ok {
		return a, nil
	}
	return m.real.CallAgent(ctx, team, id)
}

func (m *overlayAgents) NormalizeBrief(ctx context.Context, team, id, text string, vars map[string]string) (map[string]string, error) {
	if _, ok := m.synthetic(team, id); ok {
		return vars, nil
	}
	return m.real.NormalizeBrief(ctx, team, id, text, vars)
}

func (m *overlayAgents) ResolveAgent(ctx context.Context, team, id string) (numbers.AgentInfo, error) {
	if a, ok := m.synthetic(team, id); ok {
		return numbers.AgentInfo{Provider: a.Provider}, nil
	}
	return m.bind.ResolveAgent(ctx, team, id)
}

// callRig is a server with a team, an agent whose assistant is on the
// simulator, and the team's first number bound to it.
type callRig struct {
	s       *testServer
	acct    account
	h       []string
	agents  *overlayAgents
	agent   calls.CallAgent
	from    string
	fromID  string
	asstID  string
	dvHooks string
}

func newCallRig(t *testing.T, s *testServer) *callRig {
	t.Helper()
	r := &callRig{s: s, agents: &overlayAgents{real: agentCalls{s.app.Agents}, bind: agentBinding{s.app.Agents},
		extra: map[string]calls.CallAgent{}}}
	s.app.Calls.SetAgents(r.agents)
	s.app.Numbers.SetAgents(r.agents)
	r.acct = s.register(t, fmt.Sprintf("caller-%d@example.com", time.Now().UnixNano()))
	r.h = bearer(r.acct.access)
	r.fromID, r.from = s.claimNumber(t, r.acct)
	// A real agent, provisioned on the simulator by the agents domain, whose
	// brief contract requires customer_name.
	ag := s.do("POST", "/api/v1/agents", map[string]any{
		"name": "Reminder", "instructions": "Remind {{customer_name}} of the booking. Match: {{caller_match_status}}.",
		"channels":            []string{"voice_outbound", "voice_inbound"},
		"objectives":          []map[string]string{{"name": "confirm", "description": "The customer confirms the booking."}},
		"call_brief_contract": map[string]any{"variables": []map[string]any{{"name": "customer_name", "required": true}}},
	}, r.h...).expect(t, 201).data(t)
	r.asstID = ag["provider_agent_id"].(string)
	r.agent = calls.CallAgent{ID: ag["id"].(string), Provider: "telnyx", ProviderAgentID: r.asstID, SyncStatus: calls.SyncStatusSynced,
		Channels: []string{"voice_outbound", "voice_inbound"}, Objectives: []calls.Objective{{Name: "confirm"}}}
	s.do("PATCH", "/api/v1/phone-numbers/"+r.fromID, map[string]any{"voice_agent_id": r.agent.ID}, r.h...).expect(t, 200)
	return r
}

func (r *callRig) place(t *testing.T, body map[string]any, headers ...string) reply {
	t.Helper()
	if body["agent_id"] == nil {
		body["agent_id"] = r.agent.ID
	}
	return r.s.do("POST", "/api/v1/calls", body, append(append([]string{}, r.h...), headers...)...)
}

// waitCall polls a call until done(detail) holds.
func (r *callRig) waitCall(t *testing.T, id string, what string, done func(d map[string]any) bool) map[string]any {
	t.Helper()
	var d map[string]any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		d = r.s.do("GET", "/api/v1/calls/"+id, nil, r.h...).expect(t, 200).data(t)
		if done(d) {
			return d
		}
	}
	t.Fatalf("call %s never %s: %v", id, what, d["call"])
	return nil
}

func settled(d map[string]any) bool {
	c := d["call"].(map[string]any)
	return calls.Terminal(c["status"].(string)) && c["result_status"] != calls.ResultPending
}

// sseEvent is one event read from a stream.
type sseEvent struct {
	ID   int
	Type string
	Data string
}

// readStream reads a call's stream to its end, returning events and
// whether a keep-alive comment was seen.
func (r *callRig) readStream(t *testing.T, id string, lastEventID string) ([]sseEvent, bool) {
	t.Helper()
	req, _ := http.NewRequest("GET", r.s.base+"/api/v1/calls/"+id+"/stream", nil)
	req.Header.Set("Authorization", r.h[1])
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("stream: %d %s", res.StatusCode, b)
	}
	var out []sseEvent
	var cur sseEvent
	keepAlive := false
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Type != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
			keepAlive = true
		case strings.HasPrefix(line, "id: "):
			cur.ID, _ = strconv.Atoi(line[4:])
		case strings.HasPrefix(line, "event: "):
			cur.Type = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.Data = line[6:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
	return out, keepAlive
}

func statusOf(e sseEvent) string {
	i := strings.Index(e.Data, `"status":"`)
	if i < 0 {
		return ""
	}
	rest := e.Data[i+10:]
	return rest[:strings.IndexByte(rest, '"')]
}

// emitted lists the sink's event types in the order they were emitted:
// deliveries run concurrently and may arrive in any order, but event ids
// are time-ordered (UUIDv7).
func emitted(e *eventSink) []string {
	e.mu.Lock()
	evs := slices.Clone(e.events)
	e.mu.Unlock()
	slices.SortFunc(evs, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["event_id"]), fmt.Sprint(b["event_id"]))
	})
	out := []string{}
	for _, ev := range evs {
		out = append(out, fmt.Sprint(ev["event"]))
	}
	return out
}

func TestCallCompletesWithResultStreamAndWebhooks(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newCallRig(t, s)
		sink := newEventSink(t)
		res := r.place(t, map[string]any{"phone_number_to": "+1 415 555 0142", "call_brief_variables": map[string]string{"customer_name": " Ada "},
			"call_brief_text": "Booking at 7pm", "webhook_url": sink.srv.URL, "greeting": "Hi!"}).expect(t, 201)
		c := res.data(t)
		id := c["id"].(string)
		if c["phone_number_from"] != r.from || c["phone_number_to"] != "+14155550142" || c["provider_call_id"] == nil ||
			c["direction"] != "outbound" || c["compatibility_overrides"].(map[string]any)["greeting"] != "Hi!" {
			t.Fatalf("created call: %v", c)
		}
		// Follow the call live from its first event to its end.
		events, _ := r.readStream(t, id, "")
		var statuses []string
		for i, e := range events {
			if e.ID != i+1 {
				t.Fatalf("event %d has id %d: %v", i, e.ID, events)
			}
			statuses = append(statuses, e.Type+":"+statusOf(e))
		}
		want := []string{"call.status:queued", "call.status:initiated", "call.status:ringing", "call.status:in_progress",
			"call.status:completed", "call.result_ready:completed"}
		if !slices.Equal(statuses, want) {
			t.Fatalf("stream events %v, want %v", statuses, want)
		}
		// Resuming from the middle replays the rest and ends.
		rest, _ := r.readStream(t, id, "3")
		if len(rest) != len(events)-3 || rest[0].ID != 4 || rest[len(rest)-1].Type != calls.EventResultReady {
			t.Fatalf("resume after 3: %v", rest)
		}

		d := r.waitCall(t, id, "settled", settled)
		call, result := d["call"].(map[string]any), d["result"].(map[string]any)
		if call["status"] != "completed" || call["answered_at"] == nil || call["ended_at"] == nil ||
			call["hangup_cause"] != "normal_clearing" || call["duration_seconds"] == nil || call["result_status"] != "ready" {
			t.Fatalf("finished call: %v", call)
		}
		turns := result["transcript"].([]any)
		if len(turns) < 3 {
			t.Fatalf("transcript: %v", turns)
		}
		sawUser, sawReply := false, false
		for _, tu := range turns {
			m := tu.(map[string]any)
			sawUser = sawUser || (m["role"] == "user" && m["text"] == "Hello, who is this?")
			sawReply = sawReply || (m["role"] == "assistant" && strings.Contains(m["text"].(string), "Remind Ada of the booking. Match: ."))
			if m["at"] == nil {
				t.Fatalf("turn without time: %v", m)
			}
		}
		if !sawUser || !sawReply {
			t.Fatalf("transcript lacks the script or the filled-in brief: %v", turns)
		}
		if s, _ := result["summary"].(string); s == "" || len(result["insights"].([]any)) == 0 {
			t.Fatalf("summary/insights: %v", result)
		}
		objs := result["objectives"].([]any)
		if len(objs) != 1 || objs[0].(map[string]any)["name"] != "confirm" || objs[0].(map[string]any)["status"] != "unknown" {
			t.Fatalf("objectives: %v", objs)
		}
		recURL, _ := result["recording_url"].(string)
		if !strings.HasPrefix(recURL, s.app.PublicURL+"/api/v1/calls/"+id+"/recording") {
			t.Fatalf("recording_url %q", recURL)
		}
		req, _ := http.NewRequest("GET", recURL, nil)
		req.Header.Set("Authorization", r.h[1])
		rec, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		audio, _ := io.ReadAll(rec.Body)
		rec.Body.Close()
		if rec.StatusCode != 200 || !strings.HasPrefix(rec.Header.Get("Content-Type"), "audio/") || len(audio) == 0 {
			t.Fatalf("recording: %d %s, %d bytes", rec.StatusCode, rec.Header.Get("Content-Type"), len(audio))
		}
		if s.do("GET", "/api/v1/calls/"+id+"/recording", nil).Status != 401 {
			t.Fatal("recording served without credentials")
		}

		// The brief reached the assistant both ways: on the call and through
		// the dynamic-variables webhook, which this server answered.
		sc, ok := s.app.Sim.Call(call["provider_call_id"].(string))
		match, present := sc.DynamicVariables["caller_match_status"]
		if !ok || sc.DynamicVariables["customer_name"] != "Ada" || sc.DynamicVariables["call_brief_text"] != "Booking at 7pm" ||
			sc.DynamicVariablesWebhook == nil || sc.DynamicVariablesWebhook.Status != 200 || !present || match != "" {
			t.Fatalf("simulator call: %+v", sc)
		}

		sink.waitFor(t, "call.result_ready")
		if got := emitted(sink); !slices.Equal(got, []string{"call.initiated", "call.answered", "call.completed", "call.result_ready"}) {
			t.Fatalf("webhook sequence %v", got)
		}

		// Listing: newest first, filtered.
		list := s.do("GET", "/api/v1/calls?status=completed&agent_id="+r.agent.ID+"&direction=outbound", nil, r.h...).expect(t, 200)
		if items := list.Body["data"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
			t.Fatalf("list: %s", list.Raw)
		}
		if n := len(s.do("GET", "/api/v1/calls?status=busy", nil, r.h...).expect(t, 200).Body["data"].([]any)); n != 0 {
			t.Fatalf("status filter kept %d calls", n)
		}
		future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
		if n := len(s.do("GET", "/api/v1/calls?since="+future, nil, r.h...).expect(t, 200).Body["data"].([]any)); n != 0 {
			t.Fatalf("since filter kept %d calls", n)
		}
		// Another team sees none of it.
		other := s.register(t, "other-"+r.acct.email)
		s.do("GET", "/api/v1/calls/"+id, nil, bearer(other.access)...).expect(t, 404)
	})
}

func TestCallMagicNumberOutcomes(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		r := newCallRig(t, s)
		cases := []struct {
			to, status, cause, result string
			hook                      string
		}{
			{"+14155550001", "busy", "user_busy", "none", "call.failed"},
			{"+14155550002", "no_answer", "timeout", "none", "call.failed"},
			{"+14155550003", "completed", "normal_clearing", "ready", "call.completed"},
			{"+14155550004", "failed", "unspecified", "none", "call.failed"},
		}
		for _, c := range cases {
			sink := newEventSink(t)
			id := r.place(t, map[string]any{"phone_number_to": c.to, "call_brief_variables": map[string]string{"customer_name": "Bo"},
				"webhook_url": sink.srv.URL}).expect(t, 201).data(t)["id"].(string)
			call := r.waitCall(t, id, "settled", settled)["call"].(map[string]any)
			if call["status"] != c.status || call["hangup_cause"] != c.cause || call["result_status"] != c.result {
				t.Errorf("%s: %v", c.to, call)
			}
			if c.status == "failed" && call["error_code"] == nil {
				t.Errorf("%s: failed without error_code", c.to)
			}
			sink.waitFor(t, c.hook)
			if c.status != "completed" && slices.Contains(sink.types(), "call.answered") {
				t.Errorf("%s: unanswered call announced as answered: %v", c.to, sink.types())
			}
		}
	})
}
