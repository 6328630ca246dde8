package telnyx_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

func TestInboundCallRejectAndConnect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)

	specialist, err := b.client.CreateAssistant(c, telnyx.AssistantParams{Name: "Billing", Instructions: "Handle billing for {{caller}}.",
		Greeting: str("Billing here, {{caller}}.")})
	if err != nil {
		t.Fatal(err)
	}
	front, err := b.client.CreateAssistant(c, telnyx.AssistantParams{Name: "Front desk", Instructions: "Greet {{caller}}.",
		Greeting: str("Front desk, hello {{caller}}."), DynamicVariables: map[string]string{"caller": "friend"},
		Tools: []telnyx.Tool{{Type: telnyx.ToolHandoff, Handoff: &telnyx.HandoffTool{VoiceMode: "unified",
			Assistants: []telnyx.HandoffTarget{{ID: specialist.ID, Name: "Billing"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	blocked := "+13125550188"
	// The voice_url is the product's TeXML gate: reject one caller, connect
	// everyone else to the front desk.
	gate := newReceiver(t, b.verifier, func(r received, w http.ResponseWriter) {
		req, err := telnyx.ParseTeXMLRequest(r.body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", telnyx.TeXMLContentType)
		if req.From == blocked {
			w.Write(telnyx.TeXMLReject("busy"))
			return
		}
		w.Write(telnyx.TeXMLConnectAssistant(front.ID))
	})
	status := newReceiver(t, b.verifier, nil)
	app, err := b.client.CreateTeXMLApp(c, telnyx.TeXMLAppParams{FriendlyName: "gate", VoiceURL: gate.URL, StatusCallback: status.URL})
	if err != nil {
		t.Fatal(err)
	}
	nums, _ := b.client.ListAllPhoneNumbers(c, telnyx.PhoneNumberFilter{})
	ours := nums[3]
	if _, err := b.client.UpdatePhoneNumber(c, ours.ID, telnyx.PhoneNumberUpdate{ConnectionID: &app.ID}); err != nil {
		t.Fatal(err)
	}

	var rejected telnyxsim.Call
	if code := b.simJSON(t, http.MethodPost, "/_sim/inbound-calls", map[string]any{"from": blocked, "to": ours.PhoneNumber}, &rejected); code != 201 {
		t.Fatalf("inject: HTTP %d", code)
	}
	if !callIDRe.MatchString(rejected.CallControlID) || rejected.Direction != "inbound" {
		t.Errorf("injected call: %+v", rejected)
	}
	eventually(t, "rejected call ends", func() bool { sc, _ := b.sim.Call(rejected.CallControlID); return sc.EndedAt != "" })
	sc, _ := b.sim.Call(rejected.CallControlID)
	if sc.Status != "busy" || sc.HangupCause != "user_busy" || sc.ConversationID != "" || !strings.Contains(sc.TeXML, "<Reject") {
		t.Errorf("rejected call: %+v", sc)
	}

	var accepted telnyxsim.Call
	b.simJSON(t, http.MethodPost, "/_sim/inbound-calls", map[string]any{
		"from": "+13125550177", "to": ours.PhoneNumber, "caller_name": "Jane",
		"script": []telnyxsim.ScriptStep{{Say: "I have a billing question", Handoff: "Billing"}, {Say: "Thanks", Hangup: true}},
	}, &accepted)
	eventually(t, "connected call ends", func() bool { sc, _ := b.sim.Call(accepted.CallControlID); return sc.EndedAt != "" })
	sc, _ = b.sim.Call(accepted.CallControlID)
	if sc.Status != "completed" || sc.HangupSource != "caller" || len(sc.AssistantIDs) != 2 ||
		sc.AssistantIDs[0] != front.ID || sc.AssistantIDs[1] != specialist.ID || sc.Error != "" {
		t.Errorf("connected call: %+v", sc)
	}

	// The gate saw both calls, signed and with Telnyx's parameters.
	reqs := gate.all()
	if len(reqs) != 2 {
		t.Fatalf("gate requests: %d", len(reqs))
	}
	tr, _ := telnyx.ParseTeXMLRequest(reqs[1].body)
	if tr.CallSID != accepted.CallControlID || tr.To != ours.PhoneNumber || tr.ConnectionID != app.ID || tr.AccountSID == "" || tr.CallingPartyType != "pstn" {
		t.Errorf("texml request: %+v", tr)
	}

	conv, err := b.client.FindConversationByCall(c, accepted.CallControlID)
	if err != nil {
		t.Fatal(err)
	}
	if conv.Metadata["telnyx_end_user_target"] != "+13125550177" || conv.Metadata["telnyx_agent_target"] != ours.PhoneNumber {
		t.Errorf("metadata: %+v", conv.Metadata)
	}
	msgs, _ := b.client.ListConversationMessages(c, conv.ID)
	var texts []string
	handedOff := false
	for _, m := range msgs {
		texts = append(texts, m.Role+": "+m.Text)
		for _, tc := range m.ToolCalls {
			handedOff = handedOff || (tc.Function.Name == "handoff" && strings.Contains(tc.Function.Arguments, specialist.ID))
		}
	}
	joined := strings.Join(texts, "\n")
	if !handedOff || !strings.Contains(joined, "assistant: Front desk, hello friend.") || !strings.Contains(joined, "assistant: Billing here, friend.") ||
		!strings.Contains(joined, "Handle billing for friend.") {
		t.Errorf("handoff transcript (handoff=%v):\n%s", handedOff, joined)
	}

	// Status callbacks for both calls reached the app's status_callback.
	eventually(t, "status callbacks", func() bool { return len(status.all()) >= 3 })
	byCall := map[string][]string{}
	for _, cb := range statuses(t, status) {
		byCall[cb.CallSID] = append(byCall[cb.CallSID], cb.CallStatus)
	}
	if strings.Join(byCall[rejected.CallControlID], ",") != "busy" || strings.Join(byCall[accepted.CallControlID], ",") != "in-progress,completed" {
		t.Errorf("callbacks: %v", byCall)
	}
}

func TestInboundCallToAssistantDefaultApp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	a, err := b.client.CreateAssistant(c, telnyx.AssistantParams{Name: "Direct", Instructions: "i", Greeting: str("Direct line.")})
	if err != nil {
		t.Fatal(err)
	}
	nums, _ := b.client.ListAllPhoneNumbers(c, telnyx.PhoneNumberFilter{})
	if _, err := b.client.UpdatePhoneNumber(c, nums[4].ID, telnyx.PhoneNumberUpdate{ConnectionID: &a.Telephony.DefaultTeXMLAppID}); err != nil {
		t.Fatal(err)
	}
	var call telnyxsim.Call
	b.simJSON(t, http.MethodPost, "/_sim/inbound-calls", map[string]any{"from": "+13125550177", "to": nums[4].PhoneNumber}, &call)
	eventually(t, "call ends", func() bool { sc, _ := b.sim.Call(call.CallControlID); return sc.EndedAt != "" })
	sc, _ := b.sim.Call(call.CallControlID)
	if sc.Status != "completed" || len(sc.AssistantIDs) != 1 || sc.AssistantIDs[0] != a.ID || sc.ConversationID == "" {
		t.Errorf("call: %+v", sc)
	}
	// A number with no connection fails the call.
	var orphan telnyxsim.Call
	b.simJSON(t, http.MethodPost, "/_sim/inbound-calls", map[string]any{"from": "+13125550177", "to": nums[0].PhoneNumber}, &orphan)
	eventually(t, "orphan call ends", func() bool { sc, _ := b.sim.Call(orphan.CallControlID); return sc.EndedAt != "" })
	if sc, _ := b.sim.Call(orphan.CallControlID); sc.Status != "failed" || sc.Error == "" {
		t.Errorf("orphan: %+v", sc)
	}
}
