package telnyx_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// statuses parses every received status callback.
func statuses(t *testing.T, rc *receiver) []*telnyx.CallStatusCallback {
	t.Helper()
	var out []*telnyx.CallStatusCallback
	for _, r := range rc.all() {
		cb, err := telnyx.ParseCallStatus(r.body)
		if err != nil {
			t.Fatalf("ParseCallStatus(%s): %v", r.body, err)
		}
		out = append(out, cb)
	}
	return out
}

func finalStatus(t *testing.T, rc *receiver) *telnyx.CallStatusCallback {
	t.Helper()
	var final *telnyx.CallStatusCallback
	eventually(t, "final status callback", func() bool {
		for _, cb := range statuses(t, rc) {
			if cb.Final() {
				final = cb
				return true
			}
		}
		return false
	})
	return final
}

func TestOutboundAICallEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)

	var initMu sync.Mutex
	var inits []*telnyx.AssistantInitialization
	dv := newReceiver(t, b.verifier, func(r received, w http.ResponseWriter) {
		ev, err := telnyx.ParseEvent(r.body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		ai, err := ev.AssistantInitialization()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		initMu.Lock()
		inits = append(inits, ai)
		initMu.Unlock()
		json.NewEncoder(w).Encode(telnyx.DynamicVariablesResponse{
			Variables:            map[string]string{"customer_name": "Jane Doe", "order_id": "from-webhook"},
			ConversationMetadata: map[string]string{"peakvoice_call_id": "call-123"},
		})
	})
	var toolMu sync.Mutex
	var toolReqs []*telnyx.ToolRequest
	var toolAuth []string
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tr, err := telnyx.ParseToolRequest(r.Header, body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		toolMu.Lock()
		toolReqs = append(toolReqs, tr)
		toolAuth = append(toolAuth, r.Header.Get("Authorization")+" "+r.URL.Path)
		toolMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"order":{"status":"shipped"}}`))
	}))
	t.Cleanup(tool.Close)
	status := newReceiver(t, b.verifier, nil)

	a, err := b.client.CreateAssistant(c, telnyx.AssistantParams{
		Name:                       "Caller",
		Instructions:               "Confirm order {{order_id}} for {{customer_name}} (status {{order_status}}).",
		Greeting:                   str("Hi {{customer_name}}, this is Peak Voice calling from {{telnyx_agent_target}}."),
		DynamicVariables:           map[string]string{"customer_name": "customer", "order_status": "unknown"},
		DynamicVariablesWebhookURL: &dv.URL,
		Tools: []telnyx.Tool{{Type: telnyx.ToolWebhook, Webhook: &telnyx.WebhookTool{
			Name: "order_status", Description: "Look up an order", URL: tool.URL + "/orders/{order_id}", Method: "POST",
			Headers:                []telnyx.Header{{Name: "Authorization", Value: "Bearer secret-for-{{customer_name}}"}},
			StoreFieldsAsVariables: []telnyx.StoredField{{Name: "order_status", ValuePath: "order.status"}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	from, to := telnyxsim.DefaultNumbers()[0], "+13125550142"
	b.sim.SetScript(to, []telnyxsim.ScriptStep{
		{Say: "Hello?"},
		{Say: "Where is my order?", Tool: "order_status", Arguments: map[string]any{"order_id": "4421", "detail": "full"}},
		{Say: "Thanks, bye.", Hangup: true},
	})
	call, err := b.client.StartAICall(c, telnyx.AICallParams{
		ConnectionID: a.Telephony.DefaultTeXMLAppID, From: from, To: to, AssistantID: a.ID,
		DynamicVariables: map[string]string{"order_id": "4421"}, StatusCallback: status.URL,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if !callIDRe.MatchString(call.CallSID) || call.Status != "queued" || call.From != from || call.To != to {
		t.Errorf("call: %+v", call)
	}
	final := finalStatus(t, status)
	if final.CallStatus != telnyx.CallStatusCompleted || final.CallSessionID == "" || final.CallDuration <= 0 || final.HangupSource != "callee" {
		t.Errorf("final: %+v", final)
	}
	var seen []string
	for i, cb := range statuses(t, status) {
		seen = append(seen, cb.CallStatus)
		if cb.SequenceNumber != i || cb.CallSID != call.CallSID || cb.ConnectionID != a.Telephony.DefaultTeXMLAppID {
			t.Errorf("callback %d: %+v", i, cb)
		}
	}
	if strings.Join(seen, ",") != "initiated,ringing,in-progress,completed" {
		t.Errorf("status sequence: %v", seen)
	}

	initMu.Lock()
	if len(inits) != 1 || inits[0].CallControlID != call.CallSID || inits[0].AgentTarget != from || inits[0].EndUserTarget != to || inits[0].AssistantID != a.ID {
		t.Errorf("assistant.initialization: %+v", inits)
	}
	initMu.Unlock()
	toolMu.Lock()
	if len(toolReqs) != 1 || toolReqs[0].CallControlID != call.CallSID || string(toolReqs[0].Arguments) != `{"detail":"full"}` ||
		toolAuth[0] != "Bearer secret-for-Jane Doe /orders/4421" {
		t.Errorf("tool requests: %+v %v", toolReqs, toolAuth)
	}
	toolMu.Unlock()

	conv, err := b.client.FindConversationByCall(c, call.CallSID)
	if err != nil {
		t.Fatalf("find conversation: %v", err)
	}
	if conv.Metadata["assistant_id"] != a.ID || conv.Metadata["call_control_id"] != call.CallSID || conv.Metadata["peakvoice_call_id"] != "call-123" {
		t.Errorf("conversation metadata: %+v", conv.Metadata)
	}
	if again, err := b.client.GetConversation(c, conv.ID); err != nil || again.ID != conv.ID {
		t.Errorf("get conversation: %v", err)
	}
	msgs, err := b.client.ListConversationMessages(c, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var toolCall *telnyx.ToolCall
	for _, m := range msgs {
		lines = append(lines, m.Role+": "+m.Text)
		if len(m.ToolCalls) > 0 {
			toolCall = &m.ToolCalls[0]
		}
	}
	transcript := strings.Join(lines, "\n")
	// Call variables beat the webhook (order_id), the webhook beats defaults
	// (customer_name), system variables are filled, and a tool result
	// stored as a variable is used afterwards (order_status).
	for _, want := range []string{
		"assistant: Hi Jane Doe, this is Peak Voice calling from " + from + ".",
		"user: Hello?",
		"Confirm order 4421 for Jane Doe",
		"tool: {\"order\":{\"status\":\"shipped\"}}",
		"user: Thanks, bye.",
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, transcript)
		}
	}
	if toolCall == nil || toolCall.Function.Name != "order_status" || !strings.Contains(toolCall.Function.Arguments, `"order_id":"4421"`) {
		t.Errorf("tool call: %+v", toolCall)
	}
	simCall, ok := b.sim.Call(call.CallSID)
	if !ok || simCall.DynamicVariables["order_status"] != "shipped" || !strings.Contains(simCall.Instructions, "status shipped") {
		t.Errorf("sim call: %+v", simCall)
	}

	ins, err := b.client.ListConversationInsights(c, conv.ID)
	if err != nil || len(ins) != 1 || ins[0].Status != "completed" || len(ins[0].Results) != 1 || ins[0].Results[0].Result == "" {
		t.Errorf("insights: %v %+v", err, ins)
	}
	recs, meta, err := b.client.ListRecordings(c, telnyx.RecordingFilter{CallSessionID: final.CallSessionID})
	if err != nil || len(recs) != 1 || meta.TotalResults != 1 {
		t.Fatalf("recordings: %v %+v", err, recs)
	}
	rec, err := b.client.GetRecording(c, recs[0].ID)
	if err != nil || rec.CallControlID != call.CallSID || rec.DurationMillis != final.CallDuration.Milliseconds() || rec.Status != "completed" ||
		!strings.HasPrefix(rec.DownloadURLs.MP3, b.srv.URL+"/_sim/recordings/") {
		t.Fatalf("recording: %v %+v", err, rec)
	}
	resp, err := http.Get(rec.DownloadURLs.MP3)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/mpeg" {
		t.Errorf("download: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestDynamicVariablesWebhookTimeoutFallsBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	slow := newReceiver(t, b.verifier, func(r received, w http.ResponseWriter) {
		<-r.ctx.Done() // never answers; returns once the simulator gives up
	})
	status := newReceiver(t, b.verifier, nil)
	a, err := b.client.CreateAssistant(c, telnyx.AssistantParams{
		Name: "Slow", Instructions: "Talk to {{customer_name}}.", Greeting: str("Hello {{customer_name}}"),
		DynamicVariables:           map[string]string{"customer_name": "valued customer"},
		DynamicVariablesWebhookURL: &slow.URL, DynamicVariablesWebhookTimeout: 50_000_000, // 50ms
	})
	if err != nil {
		t.Fatal(err)
	}
	call, err := b.client.StartAICall(c, telnyx.AICallParams{ConnectionID: a.Telephony.DefaultTeXMLAppID,
		From: telnyxsim.DefaultNumbers()[0], To: "+13125550150", AssistantID: a.ID, StatusCallback: status.URL})
	if err != nil {
		t.Fatal(err)
	}
	finalStatus(t, status)
	sc, _ := b.sim.Call(call.CallSID)
	if sc.DynamicVariablesWebhook == nil || !sc.DynamicVariablesWebhook.TimedOut {
		t.Errorf("webhook result: %+v", sc.DynamicVariablesWebhook)
	}
	conv, err := b.client.FindConversationByCall(c, call.CallSID)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := b.client.ListConversationMessages(c, conv.ID)
	if len(msgs) == 0 || msgs[0].Text != "Hello valued customer" {
		t.Errorf("greeting with fallback variables: %+v", msgs)
	}
}

func TestOutboundMagicNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	a, err := b.client.CreateAssistant(c, telnyx.AssistantParams{Name: "M", Instructions: "i", Greeting: str("Hello"),
		Telephony: &telnyx.TelephonySettings{Voicemail: &telnyx.VoicemailDetection{}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		to, status, answeredBy string
		conversation           bool
	}{
		{"+13125550001", telnyx.CallStatusBusy, "", false},
		{"+13125550002", telnyx.CallStatusNoAnswer, "", false},
		{"+13125550003", telnyx.CallStatusCompleted, "machine", true},
		{"+13125550004", telnyx.CallStatusFailed, "", false},
		{"+13125550005", telnyx.CallStatusCompleted, "human", true},
	}
	for _, tc := range cases {
		t.Run(tc.to, func(t *testing.T) {
			t.Parallel()
			status := newReceiver(t, b.verifier, nil)
			call, err := b.client.StartAICall(c, telnyx.AICallParams{ConnectionID: a.Telephony.DefaultTeXMLAppID,
				From: telnyxsim.DefaultNumbers()[0], To: tc.to, AssistantID: a.ID, StatusCallback: status.URL, MachineDetection: "Enable"})
			if err != nil {
				t.Fatal(err)
			}
			final := finalStatus(t, status)
			if final.CallStatus != tc.status || final.AnsweredBy != tc.answeredBy {
				t.Errorf("final: %s answered_by=%q, want %s %q", final.CallStatus, final.AnsweredBy, tc.status, tc.answeredBy)
			}
			_, err = b.client.FindConversationByCall(c, call.CallSID)
			if tc.conversation != (err == nil) {
				t.Errorf("conversation exists=%v, want %v (%v)", err == nil, tc.conversation, err)
			}
		})
	}
}

func TestHangupCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	status := newReceiver(t, b.verifier, nil)
	a, err := b.client.CreateAssistant(c, telnyx.AssistantParams{Name: "H", Instructions: "i"})
	if err != nil {
		t.Fatal(err)
	}
	to := "+13125550160"
	b.sim.SetScript(to, []telnyxsim.ScriptStep{{Say: "hold on", PauseMS: 600_000}})
	call, err := b.client.StartAICall(c, telnyx.AICallParams{ConnectionID: a.Telephony.DefaultTeXMLAppID,
		From: telnyxsim.DefaultNumbers()[0], To: to, AssistantID: a.ID, StatusCallback: status.URL})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "answered", func() bool { sc, _ := b.sim.Call(call.CallSID); return sc.Status == "in-progress" })
	if err := b.client.HangupCall(c, call.CallSID); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	final := finalStatus(t, status)
	if final.CallStatus != telnyx.CallStatusCompleted || final.HangupSource != "caller" {
		t.Errorf("final: %+v", final)
	}
	err = b.client.HangupCall(c, call.CallSID)
	var te *telnyx.Error
	if !telnyx.IsInvalidRequest(err) || !asError(err, &te) || te.Code != "90018" {
		t.Errorf("hangup of an ended call: %v", err)
	}
}

func TestStartAICallValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	a, err := b.client.CreateAssistant(c, telnyx.AssistantParams{Name: "V", Instructions: "i"})
	if err != nil {
		t.Fatal(err)
	}
	good := telnyx.AICallParams{ConnectionID: a.Telephony.DefaultTeXMLAppID, From: telnyxsim.DefaultNumbers()[0], To: "+13125550170", AssistantID: a.ID}
	for name, mutate := range map[string]func(*telnyx.AICallParams){
		"unknown assistant":  func(p *telnyx.AICallParams) { p.AssistantID = "assistant-00000000-0000-4000-8000-000000000000" },
		"unknown connection": func(p *telnyx.AICallParams) { p.ConnectionID = "123" },
		"foreign from":       func(p *telnyx.AICallParams) { p.From = "+14155550100" },
		"bad to":             func(p *telnyx.AICallParams) { p.To = "12345" },
	} {
		p := good
		mutate(&p)
		if _, err := b.client.StartAICall(c, p); !telnyx.IsInvalidRequest(err) {
			t.Errorf("%s: want InvalidRequest, got %v", name, err)
		}
	}
	if calls := b.sim.Calls(); len(calls) != 0 {
		t.Errorf("rejected requests created %d calls", len(calls))
	}
}
