package telnyx_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyx"
)

// signed builds headers the way Telnyx signs: Ed25519 over "ts|body".
func signed(priv ed25519.PrivateKey, ts time.Time, body []byte) http.Header {
	t := strconv.FormatInt(ts.Unix(), 10)
	sig := ed25519.Sign(priv, append([]byte(t+"|"), body...))
	h := http.Header{}
	h.Set("telnyx-timestamp", t)
	h.Set("telnyx-signature-ed25519", base64.StdEncoding.EncodeToString(sig))
	return h
}

func TestVerifier(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	v, err := telnyx.NewVerifier(base64.StdEncoding.EncodeToString(pub))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"data":{"event_type":"message.sent","id":"e1","payload":{"text":"hi"}}}`)

	var compact bytes.Buffer
	reser, _ := json.MarshalIndent(json.RawMessage(body), "", "  ")
	json.Compact(&compact, reser)

	cases := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"valid", signed(priv, now, body), body, nil},
		{"valid within tolerance", signed(priv, now.Add(-4*time.Minute), body), body, nil},
		{"forged by another key", signed(otherPriv, now, body), body, telnyx.ErrBadSignature},
		{"body re-serialized", signed(priv, now, body), reser, telnyx.ErrBadSignature},
		{"body tampered", signed(priv, now, body), bytes.Replace(body, []byte("hi"), []byte("ho"), 1), telnyx.ErrBadSignature},
		{"stale", signed(priv, now.Add(-6*time.Minute), body), body, telnyx.ErrStaleTimestamp},
		{"future", signed(priv, now.Add(6*time.Minute), body), body, telnyx.ErrStaleTimestamp},
		{"missing", http.Header{}, body, telnyx.ErrMissingSignature},
	}
	for _, tc := range cases {
		err := v.Verify(tc.h, tc.body, now)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Sanity: the compacted re-serialization equals the original bytes, so
	// re-serializing with different whitespace is what breaks verification.
	if !bytes.Equal(compact.Bytes(), body) {
		t.Fatalf("test body is not compact JSON")
	}

	// A replayed request whose timestamp header was refreshed fails too.
	replay := signed(priv, now.Add(-10*time.Minute), body)
	replay.Set("telnyx-timestamp", strconv.FormatInt(now.Unix(), 10))
	if err := v.Verify(replay, body, now); !errors.Is(err, telnyx.ErrBadSignature) {
		t.Errorf("refreshed timestamp: %v", err)
	}

	malformed := signed(priv, now, body)
	malformed.Set("telnyx-signature-ed25519", "not base64!!")
	if err := v.Verify(malformed, body, now); !errors.Is(err, telnyx.ErrMalformedSignature) {
		t.Errorf("bad base64: %v", err)
	}
	short := signed(priv, now, body)
	short.Set("telnyx-signature-ed25519", base64.StdEncoding.EncodeToString([]byte("short")))
	if err := v.Verify(short, body, now); !errors.Is(err, telnyx.ErrMalformedSignature) {
		t.Errorf("short signature: %v", err)
	}
	badTS := signed(priv, now, body)
	badTS.Set("telnyx-timestamp", "yesterday")
	if err := v.Verify(badTS, body, now); !errors.Is(err, telnyx.ErrMalformedSignature) {
		t.Errorf("bad timestamp: %v", err)
	}
	onlySig := signed(priv, now, body)
	onlySig.Del("telnyx-timestamp")
	if err := v.Verify(onlySig, body, now); !errors.Is(err, telnyx.ErrMissingSignature) {
		t.Errorf("missing timestamp: %v", err)
	}
	if err := v.WithTolerance(time.Hour).Verify(signed(priv, now.Add(-30*time.Minute), body), body, now); err != nil {
		t.Errorf("custom tolerance: %v", err)
	}

	for _, k := range []string{"", "!!!", base64.StdEncoding.EncodeToString([]byte("too short"))} {
		if _, err := telnyx.NewVerifier(k); err == nil {
			t.Errorf("NewVerifier(%q) accepted a bad key", k)
		}
	}
}

func TestParseEventShapes(t *testing.T) {
	t.Parallel()
	// Shapes written from the facts file (§5.4, §7), not from the simulator.
	hangup := []byte(`{"data":{"record_type":"event","event_type":"call.hangup","id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
	 "occurred_at":"2018-02-02T22:25:27.521992Z","payload":{"call_control_id":"v3:abc","call_leg_id":"428c31b6-7af4-4bcb-b7f5-5013ef9657c1",
	 "call_session_id":"428c31b6-abf4-4bcb-b7f5-5013ef9657c1","connection_id":"1293384261075731499","from":"+13125550100","to":"+13125550101",
	 "state":"hangup","hangup_cause":"normal_clearing","hangup_source":"caller"}},"meta":{"attempt":2,"delivered_to":"https://example.com/hooks"}}`)
	ev, err := telnyx.ParseEvent(hangup)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != telnyx.EventCallHangup || ev.Attempt != 2 || ev.DeliveredTo != "https://example.com/hooks" ||
		ev.OccurredAt.IsZero() || ev.ID != "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0" {
		t.Errorf("envelope: %+v", ev)
	}
	call, err := ev.Call()
	if err != nil || call.CallControlID != "v3:abc" || call.HangupCause != "normal_clearing" || call.HangupSource != "caller" {
		t.Errorf("payload: %v %+v", err, call)
	}
	if _, err := ev.Message(); err == nil {
		t.Error("a call event decoded as a message")
	}

	init := []byte(`{"data":{"record_type":"event","id":"e-1","event_type":"assistant.initialization","occurred_at":"2025-04-07T10:00:00Z",
	 "payload":{"telnyx_conversation_channel":"phone_call","telnyx_agent_target":"+13128675309","telnyx_end_user_target":"+15551234567",
	 "telnyx_end_user_target_verified":false,"call_control_id":"v3:u5OAKG","assistant_id":"assistant-123"}}}`)
	ev, err = telnyx.ParseEvent(init)
	if err != nil || ev.Attempt != 0 {
		t.Fatalf("init: %v %+v", err, ev)
	}
	ai, err := ev.AssistantInitialization()
	if err != nil || ai.AgentTarget != "+13128675309" || ai.EndUserTarget != "+15551234567" || ai.CallControlID != "v3:u5OAKG" ||
		ai.AssistantID != "assistant-123" || ai.Channel != "phone_call" || ai.EventID != "e-1" {
		t.Errorf("init payload: %v %+v", err, ai)
	}

	for _, bad := range []string{`[]`, `{"data":{}}`, `not json`, `{"meta":{"attempt":1}}`} {
		if _, err := telnyx.ParseEvent([]byte(bad)); !errors.Is(err, telnyx.ErrNotEvent) {
			t.Errorf("ParseEvent(%s) = %v", bad, err)
		}
	}

	resp, _ := json.Marshal(telnyx.DynamicVariablesResponse{
		Variables:            map[string]string{"full_name": "Rachel"},
		ConversationMetadata: map[string]string{"tier": "premium"},
		MemoryInsightQuery:   "insight_ids=1,2",
	})
	var shape map[string]map[string]any
	if err := json.Unmarshal(resp, &shape); err != nil {
		t.Fatal(err)
	}
	if shape["dynamic_variables"]["full_name"] != "Rachel" || shape["memory"]["insight_query"] != "insight_ids=1,2" {
		t.Errorf("dynamic variables response: %s", resp)
	}
	if md, _ := shape["conversation"]["metadata"].(map[string]any); md["tier"] != "premium" {
		t.Errorf("conversation metadata: %s", resp)
	}
}

func TestTeXMLBuilders(t *testing.T) {
	t.Parallel()
	if got := string(telnyx.TeXMLReject("busy")); got != `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Reject reason="busy"></Reject></Response>` {
		t.Errorf("reject: %s", got)
	}
	if got := string(telnyx.TeXMLConnectAssistant(`assistant-1"&`)); got != `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Connect><AIAssistant id="assistant-1&#34;&amp;"></AIAssistant></Connect></Response>` {
		t.Errorf("connect: %s", got)
	}
}

func TestParseFormCallbacks(t *testing.T) {
	t.Parallel()
	cb, err := telnyx.ParseCallStatus([]byte("CallSid=v3%3Aabc&CallStatus=completed&SequenceNumber=3&CallDuration=14&CallSessionId=s1&HangupCause=normal_clearing&Timestamp=2024-01-01T00%3A00%3A00.000000Z"))
	if err != nil {
		t.Fatal(err)
	}
	if cb.CallSID != "v3:abc" || !cb.Final() || cb.SequenceNumber != 3 || cb.CallDuration != 14*time.Second || cb.CallSessionID != "s1" || cb.Timestamp.IsZero() {
		t.Errorf("status: %+v", cb)
	}
	if _, err := telnyx.ParseCallStatus([]byte("CallStatus=ringing")); err == nil {
		t.Error("missing CallSid accepted")
	}
	if _, err := telnyx.ParseCallStatus([]byte("CallSid=a&CallStatus=ringing&SequenceNumber=x")); err == nil {
		t.Error("bad SequenceNumber accepted")
	}
	req, err := telnyx.ParseTeXMLRequest([]byte("CallSid=v3%3Ax&From=%2B1312&To=%2B1415&ConnectionId=77&AccountSid=acc&CallingPartyType=pstn"))
	if err != nil || req.CallSID != "v3:x" || req.From != "+1312" || req.ConnectionID != "77" || req.CallingPartyType != "pstn" {
		t.Errorf("texml request: %v %+v", err, req)
	}
	tr, err := telnyx.ParseToolRequest(http.Header{"X-Telnyx-Call-Control-Id": {"v3:y"}}, []byte(`{"q":1}`))
	if err != nil || tr.CallControlID != "v3:y" || string(tr.Arguments) != `{"q":1}` {
		t.Errorf("tool request: %v %+v", err, tr)
	}
	if _, err := telnyx.ParseToolRequest(http.Header{}, []byte(`{`)); err == nil {
		t.Error("bad tool body accepted")
	}
}
