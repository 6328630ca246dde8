package app

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// simSigner signs carrier webhooks with the embedded simulator's key, as
// the simulator itself does.
func simSigner(t *testing.T, s *testServer) func(body []byte, at time.Time) []string {
	t.Helper()
	secrets, err := loadDevSecrets(s.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := base64.RawURLEncoding.DecodeString(secrets.SimSigningKey)
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return func(body []byte, at time.Time) []string {
		ts := strconv.FormatInt(at.Unix(), 10)
		sig := ed25519.Sign(priv, append([]byte(ts+"|"), body...))
		return []string{"telnyx-signature-ed25519", base64.StdEncoding.EncodeToString(sig), "telnyx-timestamp", ts}
	}
}

// TestCarrierEventsAreVerifiedAndAppliedOnce: stale and re-serialized
// requests are refused and change nothing; fifty concurrent copies of one
// valid event change the message once and send one webhook.
func TestCarrierEventsAreVerifiedAndAppliedOnce(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada := s.register(t, "ada@example.com")
		h := bearer(ada.access)
		pnID, ours := s.claimNumber(t, ada)
		sink := newEventSink(t)
		m := s.do("POST", "/api/v1/sms/send", map[string]any{"to": "+14155550142", "text": "x", "idempotency_key": "once",
			"phone_number_id": pnID, "webhook_url": sink.srv.URL}, h...).expect(t, 201).data(t)
		s.waitMessage(t, ada, m["id"].(string), "delivered")
		pid := m["provider_message_id"].(string)
		sign := simSigner(t, s)
		event := func(id, status string) []byte {
			return []byte(fmt.Sprintf(`{"data":{"id":%q,"event_type":"message.finalized","record_type":"event","occurred_at":"2026-01-01T00:00:00Z",`+
				`"payload":{"id":%q,"to":[{"phone_number":"+14155550142","status":%q}],"errors":[{"code":"40300","title":"late failure"}]}}}`,
				id, pid, status))
		}

		// Stale: a correct signature from ten minutes ago.
		body := event("evt-stale", "delivery_failed")
		s.do("POST", "/webhooks/telnyx/messaging", string(body), sign(body, time.Now().Add(-10*time.Minute))...).expect(t, 401)
		// Re-serialized: signed, then the body's whitespace changed.
		hdr := sign(body, time.Now())
		s.do("POST", "/webhooks/telnyx/messaging", string(bytes.ReplaceAll(body, []byte(`,"`), []byte(`, "`))), hdr...).expect(t, 401)

		// A valid late failure for the delivered message is recorded but
		// does not move it backwards.
		late := event("evt-late", "delivery_failed")
		s.do("POST", "/webhooks/telnyx/messaging", string(late), sign(late, time.Now())...).expect(t, 204)

		// Fifty concurrent copies of one valid inbound message: one message.
		var wg sync.WaitGroup
		codes := make(chan int, 50)
		dup := []byte(fmt.Sprintf(`{"data":{"id":"evt-dup","event_type":"message.received","record_type":"event",`+
			`"occurred_at":"2026-01-01T00:00:00Z","payload":{"id":"prov-inbound-1","from":{"phone_number":"+14155550142"},`+
			`"to":[{"phone_number":%q}],"text":"once only"}}}`, ours))
		dupHdr := sign(dup, time.Now())
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", s.base+"/webhooks/telnyx/messaging", bytes.NewReader(dup))
				for i := 0; i+1 < len(dupHdr); i += 2 {
					req.Header.Set(dupHdr[i], dupHdr[i+1])
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					codes <- 0
					return
				}
				res.Body.Close()
				codes <- res.StatusCode
			}()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != http.StatusNoContent {
				t.Fatalf("duplicate event answered %d", c)
			}
		}
		got := s.do("GET", "/api/v1/sms/"+m["id"].(string), nil, h...).expect(t, 200).data(t)
		if got["status"] != "delivered" || got["error_code"] != nil {
			t.Fatalf("a late failure moved a delivered message: %v", got)
		}
		var applied, inbound int
		_ = s.app.DB.R.QueryRow(`SELECT COUNT(*) FROM carrier_events WHERE id IN ('evt-stale', 'evt-dup', 'evt-late')`).Scan(&applied)
		if applied != 2 {
			t.Fatalf("carrier events recorded: %d, want evt-dup and evt-late once each", applied)
		}
		_ = s.app.DB.R.QueryRow(`SELECT COUNT(*) FROM messages WHERE provider_message_id = 'prov-inbound-1'`).Scan(&inbound)
		if inbound != 1 {
			t.Fatalf("%d inbound messages from fifty copies of one event", inbound)
		}
		time.Sleep(200 * time.Millisecond)
		n := 0
		for _, typ := range sink.types() {
			if typ == "sms.failed" {
				n++
			}
		}
		if n != 0 {
			t.Fatalf("%d sms.failed events for a delivered message", n)
		}
	})
}
