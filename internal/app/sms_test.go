package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// claimNumber gives the account's team a simulator number and returns its
// id and E.164 form.
func (s *testServer) claimNumber(t *testing.T, a account) (string, string) {
	t.Helper()
	avail := s.do("GET", "/api/v1/phone-numbers/available", nil, bearer(a.access)...).expect(t, 200).Body["data"].([]any)
	if len(avail) == 0 {
		t.Fatal("no numbers left on the simulator")
	}
	num := avail[0].(map[string]any)["phone_number"].(string)
	d := s.do("POST", "/api/v1/phone-numbers", map[string]any{"phone_number": num}, bearer(a.access)...).expect(t, 201).data(t)
	return d["id"].(string), num
}

// eventSink is a webhook receiver that keeps the events it got.
type eventSink struct {
	mu     sync.Mutex
	events []map[string]any
	srv    *httptest.Server
}

func newEventSink(t *testing.T) *eventSink {
	e := &eventSink{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		_ = json.NewDecoder(r.Body).Decode(&ev)
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *eventSink) types() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		out = append(out, fmt.Sprint(ev["event"]))
	}
	return out
}

func (e *eventSink) waitFor(t *testing.T, typ string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		e.mu.Lock()
		for _, ev := range e.events {
			if ev["event"] == typ {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
	}
	t.Fatalf("no %s event; got %v", typ, e.types())
	return nil
}

// waitStatus polls a message until it reaches status.
func (s *testServer) waitMessage(t *testing.T, a account, id, status string) map[string]any {
	t.Helper()
	var m map[string]any
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = s.do("GET", "/api/v1/sms/"+id, nil, bearer(a.access)...).expect(t, 200).data(t)
		if m["status"] == status {
			return m
		}
	}
	t.Fatalf("message %s stuck at %v, want %s", id, m["status"], status)
	return nil
}

// simSends counts the outbound messages the simulator accepted with text.
func (s *testServer) simSends(t *testing.T, text string) int {
	t.Helper()
	res, err := http.Get(s.app.SimInfo.URL + "/_sim/messages?direction=outbound")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Data []struct {
			Text string `json:"text"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range body.Data {
		if m.Text == text {
			n++
		}
	}
	return n
}

func TestSMSSendDeliverAndReplay(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada := s.register(t, "ada@example.com")
		h := bearer(ada.access)
		pnID, from := s.claimNumber(t, ada)
		sink := newEventSink(t)
		body := map[string]any{"to": "+1 (415) 555-0142", "text": "Your table is ready", "idempotency_key": "k-1",
			"from_number": from, "webhook_url": sink.srv.URL}
		r := s.do("POST", "/api/v1/sms/send", body, h...).expect(t, 201)
		m := r.data(t)
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("first send marked as a replay")
		}
		if m["to"] != "+14155550142" || m["from"] != from || m["phone_number_id"] != pnID || m["segments"].(float64) != 1 ||
			m["provider_message_id"] == nil || m["direction"] != "outbound" || m["status"] != "queued" {
			t.Fatalf("sent %v", m)
		}
		id := m["id"].(string)
		done := s.waitMessage(t, ada, id, "delivered")
		if done["sent_at"] == nil || done["delivered_at"] == nil || done["error_code"] != nil {
			t.Fatalf("delivered message %v", done)
		}
		sink.waitFor(t, "sms.sent")
		if ev := sink.waitFor(t, "sms.delivered"); ev["data"].(map[string]any)["message_id"] != id {
			t.Fatalf("event %v", ev)
		}

		again := s.do("POST", "/api/v1/sms/send", body, h...).expect(t, 201)
		if again.Header.Get("Idempotent-Replayed") != "true" || again.data(t)["id"] != id || again.data(t)["status"] != "delivered" {
			t.Fatalf("replay %v %s", again.Header, again.Raw)
		}
		if n := s.simSends(t, "Your table is ready"); n != 1 {
			t.Fatalf("carrier saw %d sends, want 1", n)
		}
		body["text"] = "Something else"
		if c := s.do("POST", "/api/v1/sms/send", body, h...).expect(t, 422).errCode(t); c != "idempotency_key_reused" {
			t.Fatalf("code %q", c)
		}

		// Magic failure number: the carrier reports a failure with its code.
		fail := s.do("POST", "/api/v1/sms/send", map[string]any{"to": "+14155550004", "text": "x", "idempotency_key": "k-fail",
			"phone_number_id": pnID, "webhook_url": sink.srv.URL}, h...).expect(t, 201).data(t)
		failed := s.waitMessage(t, ada, fail["id"].(string), "failed")
		if failed["error_code"] == nil || failed["failed_at"] == nil || failed["delivered_at"] != nil {
			t.Fatalf("failed message %v", failed)
		}
		sink.waitFor(t, "sms.failed")

		// Another team cannot read it.
		bob := s.register(t, "bob@example.com")
		s.do("GET", "/api/v1/sms/"+id, nil, bearer(bob.access)...).expect(t, 404)
		// The same key is Bob's own: it does not collide with Ada's.
		if c := s.do("POST", "/api/v1/sms/send", map[string]any{"to": "+14155550142", "text": "hi", "idempotency_key": "k-1",
			"from_number": from}, bearer(bob.access)...).expect(t, 404).errCode(t); c != "sender_not_found" {
			t.Fatalf("bob using ada's number: %q", c)
		}
	})
}

func TestSMSValidationCodes(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	ada := s.register(t, "ada@example.com")
	h := bearer(ada.access)
	pnID, from := s.claimNumber(t, ada)
	base := func() map[string]any {
		return map[string]any{"to": "+14155550142", "text": "hi", "idempotency_key": "v", "phone_number_id": pnID}
	}
	cases := []struct {
		name   string
		mut    func(map[string]any)
		status int
		code   string
	}{
		{"bad to", func(b map[string]any) { b["to"] = "555" }, 422, "invalid_phone_number"},
		{"no sender", func(b map[string]any) { delete(b, "phone_number_id") }, 422, "invalid_sender"},
		{"two senders", func(b map[string]any) { b["from_number"] = from }, 422, "invalid_sender"},
		{"unknown sender", func(b map[string]any) { b["phone_number_id"] = "nope" }, 404, "sender_not_found"},
		{"not our number", func(b map[string]any) { delete(b, "phone_number_id"); b["from_number"] = "+14155550177" }, 404, "sender_not_found"},
		{"missing key", func(b map[string]any) { delete(b, "idempotency_key") }, 422, "validation_error"},
		{"empty text", func(b map[string]any) { b["text"] = "" }, 422, "validation_error"},
		{"text as number", func(b map[string]any) { b["text"] = 5 }, 422, "validation_error"},
		{"bad media", func(b map[string]any) { b["media_urls"] = []string{"file:///etc/passwd"} }, 422, "invalid_media_url"},
		{"bad webhook", func(b map[string]any) { b["webhook_url"] = "ftp://x" }, 422, "invalid_webhook_url"},
	}
	for i, c := range cases {
		b := base()
		b["idempotency_key"] = fmt.Sprintf("v-%d", i)
		c.mut(b)
		r := s.do("POST", "/api/v1/sms/send", b, h...).expect(t, c.status)
		if got := r.errCode(t); got != c.code {
			t.Errorf("%s: code %q, want %q (%s)", c.name, got, c.code, r.Raw)
		}
	}
	s.do("PATCH", "/api/v1/phone-numbers/"+pnID, map[string]any{"status": "inactive"}, h...).expect(t, 200)
	if c := s.do("POST", "/api/v1/sms/send", base(), h...).expect(t, 409).errCode(t); c != "sender_inactive" {
		t.Fatalf("inactive sender: %q", c)
	}
	if n := len(s.do("GET", "/api/v1/sms", nil, h...).Body["data"].([]any)); n != 0 {
		t.Fatalf("%d messages recorded by refused requests", n)
	}
}

func TestSMSCarrierOutageAndConcurrency(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada := s.register(t, "ada@example.com")
		h := bearer(ada.access)
		pnID, _ := s.claimNumber(t, ada)

		if _, err := s.app.Sim.AddFault(telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 503, Count: 5, Method: "POST", PathPrefix: "/v2/messages"}); err != nil {
			t.Fatal(err)
		}
		body := map[string]any{"to": "+14155550142", "text": "during the outage", "idempotency_key": "out-1", "phone_number_id": pnID}
		first := s.do("POST", "/api/v1/sms/send", body, h...).expect(t, 502)
		if c := first.errCode(t); c != "telephony_provider_error" {
			t.Fatalf("code %q", c)
		}
		s.app.Sim.ClearFaults()
		retry := s.do("POST", "/api/v1/sms/send", body, h...).expect(t, 502)
		if retry.Header.Get("Idempotent-Replayed") != "true" || retry.errCode(t) != "telephony_provider_error" {
			t.Fatalf("retry after outage: %v %s", retry.Header, retry.Raw)
		}
		if n := s.simSends(t, "during the outage"); n != 0 {
			t.Fatalf("carrier saw %d sends during the outage", n)
		}
		msgID := first.Body["error"].(map[string]any)["details"].(map[string]any)["message_id"].(string)
		if m := s.do("GET", "/api/v1/sms/"+msgID, nil, h...).expect(t, 200).data(t); m["status"] != "failed" || m["error_code"] != "telephony_provider_error" {
			t.Fatalf("stored outcome %v", m)
		}

		// 64 concurrent identical requests: one message, one carrier send,
		// every answer the stored one or a 409.
		const n = 64
		same := map[string]any{"to": "+14155550142", "text": "only once", "idempotency_key": "race-1", "phone_number_id": pnID}
		raw, _ := json.Marshal(same)
		var wg sync.WaitGroup
		statuses := make([]int, n)
		ids := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", s.base+"/api/v1/sms/send", bytes.NewReader(raw))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+ada.access)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				statuses[i] = res.StatusCode
				var d struct{ Data struct{ ID string } }
				_ = json.Unmarshal(b, &d)
				ids[i] = d.Data.ID
			}()
		}
		wg.Wait()
		created := map[string]bool{}
		for i, st := range statuses {
			switch st {
			case 201:
				created[ids[i]] = true
			case 409:
			default:
				t.Fatalf("request %d answered %d", i, st)
			}
		}
		if len(created) != 1 {
			t.Fatalf("%d distinct messages created", len(created))
		}
		if got := s.simSends(t, "only once"); got != 1 {
			t.Fatalf("carrier saw %d sends, want 1", got)
		}
		list := s.do("GET", "/api/v1/sms?direction=outbound", nil, h...).expect(t, 200)
		count := 0
		for _, m := range list.Body["data"].([]any) {
			if m.(map[string]any)["text"] == "only once" {
				count++
			}
		}
		if count != 1 {
			t.Fatalf("%d stored messages for one key", count)
		}
	})
}

func TestInboundSMSAndConversations(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada := s.register(t, "ada@example.com")
		h := bearer(ada.access)
		pnID, ours := s.claimNumber(t, ada)
		remote := "+14155550123"

		s.do("POST", "/api/v1/sms/send", map[string]any{"to": remote, "text": "Can we call you back?", "idempotency_key": "c-1",
			"phone_number_id": pnID}, h...).expect(t, 201)
		inject := func(from, to, text string) {
			b, _ := json.Marshal(map[string]string{"from": from, "to": to, "text": text})
			res, err := http.Post(s.app.SimInfo.URL+"/_sim/inbound-messages", "application/json", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 201 {
				t.Fatalf("inject: %d", res.StatusCode)
			}
		}
		inject(remote, ours, "Yes please, after 5pm")
		var inbound []any
		for deadline := time.Now().Add(20 * time.Second); len(inbound) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			inbound = s.do("GET", "/api/v1/sms/inbound?from_number="+strings.ReplaceAll(remote, "+", "%2B"), nil, h...).expect(t, 200).Body["data"].([]any)
		}
		if len(inbound) != 1 {
			t.Fatal("inbound message never listed")
		}
		in := inbound[0].(map[string]any)
		if in["text"] != "Yes please, after 5pm" || in["status"] != "received" || in["to"] != ours || in["phone_number_id"] != pnID {
			t.Fatalf("inbound %v", in)
		}
		s.do("GET", "/api/v1/sms/inbound/"+in["id"].(string), nil, h...).expect(t, 200)

		convs := s.do("GET", "/api/v1/conversations", nil, h...).expect(t, 200).Body["data"].([]any)
		if len(convs) != 1 {
			t.Fatalf("conversations %v", convs)
		}
		c := convs[0].(map[string]any)
		if c["id"] != in["conversation_id"] || c["message_count"].(float64) != 2 || c["inbound_count"].(float64) != 1 ||
			c["last_direction"] != "inbound" || c["last_message_preview"] != "Yes please, after 5pm" || c["remote_number"] != remote {
			t.Fatalf("conversation %v", c)
		}
		thread := s.do("GET", "/api/v1/conversations/"+c["id"].(string)+"/messages", nil, h...).expect(t, 200).Body["data"].([]any)
		if len(thread) != 2 || thread[0].(map[string]any)["direction"] != "outbound" || thread[1].(map[string]any)["direction"] != "inbound" {
			t.Fatalf("thread %v", thread)
		}
		bob := s.register(t, "bob@example.com")
		s.do("GET", "/api/v1/conversations/"+c["id"].(string), nil, bearer(bob.access)...).expect(t, 404)
		s.do("GET", "/api/v1/conversations/"+c["id"].(string)+"/messages", nil, bearer(bob.access)...).expect(t, 404)

		// A number no team holds any more (released, but still routed to
		// Peak Voice on the carrier): recorded for operators, not dropped.
		otherID, unheld := s.claimNumber(t, ada)
		s.do("DELETE", "/api/v1/phone-numbers/"+otherID, nil, h...).expect(t, 204)
		inject(remote, unheld, "anyone there?")
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var n int
			_ = s.app.DB.R.QueryRow(`SELECT COUNT(*) FROM unrouted_messages WHERE to_number = $1`, unheld).Scan(&n)
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("inbound SMS to an unheld number was not recorded")
			}
		}
	})
}

func TestCarrierWebhookRejectsForgeries(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	forged := `{"data":{"id":"evt-1","event_type":"message.received","occurred_at":"2026-01-01T00:00:00Z","payload":{"id":"m-1","from":{"phone_number":"+14155550123"},"to":[{"phone_number":"+13126200100"}],"text":"forged"}}}`
	for _, hdr := range [][]string{
		nil,
		{"telnyx-signature-ed25519", "AAAA", "telnyx-timestamp", fmt.Sprint(time.Now().Unix())},
		{"telnyx-signature-ed25519", strings.Repeat("A", 86) + "==", "telnyx-timestamp", fmt.Sprint(time.Now().Unix())},
	} {
		r := s.do("POST", "/webhooks/telnyx/messaging", forged, hdr...).expect(t, 401)
		if c := r.errCode(t); c != "invalid_signature" {
			t.Fatalf("code %q", c)
		}
	}
	var n int
	_ = s.app.DB.R.QueryRow(`SELECT COUNT(*) FROM carrier_events`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d carrier events stored from forgeries", n)
	}
}

// TestLostSMSEventsAreReconciled: the carrier's events for a message are
// all lost (the simulator drops them), so the message stays where the send
// left it until the reconciler asks the carrier, which moves it to
// delivered and sends the customer's sms.delivered webhook, once.
func TestLostSMSEventsAreReconciled(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, e.Options(t))
			cfg.SMSReconcileAfter, cfg.SMSReconcileEvery = 2*time.Second, 500*time.Millisecond
			s := startServer(t, cfg)
			ada := s.register(t, "ada@example.com")
			pnID, _ := s.claimNumber(t, ada)
			sink := newEventSink(t)
			if _, err := s.app.Sim.AddFault(telnyxsim.Fault{Kind: telnyxsim.FaultDropWebhooks, Count: 10}); err != nil {
				t.Fatal(err)
			}
			m := s.do("POST", "/api/v1/sms/send", map[string]any{"to": "+14155550142", "text": "Your order shipped",
				"idempotency_key": "lost-1", "phone_number_id": pnID, "webhook_url": sink.srv.URL}, bearer(ada.access)...).expect(t, 201).data(t)
			id := m["id"].(string)
			if m["status"] == "delivered" {
				t.Fatal("delivered before any event could arrive")
			}
			got := s.waitMessage(t, ada, id, "delivered")
			if got["delivered_at"] == nil {
				t.Fatalf("delivered without delivered_at: %v", got)
			}
			dropped := 0
			for _, d := range s.app.Sim.Deliveries() {
				if strings.Contains(d.Error, "drop_webhooks") {
					dropped++
				}
			}
			if dropped == 0 {
				t.Fatal("the simulator dropped no events; the test proves nothing")
			}
			sink.waitFor(t, "sms.delivered")
			// Later passes find nothing to do: the webhook went out once.
			time.Sleep(1500 * time.Millisecond)
			n := 0
			for _, typ := range sink.types() {
				if typ == "sms.delivered" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("sms.delivered arrived %d times", n)
			}
		})
	}
}
