package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/webhooks"
)

func TestWebhookDeliveryLogAPI(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada := s.register(t, "ada@example.com")
		bob := s.register(t, "bob@example.com")
		secrets, err := loadDevSecrets(s.cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}

		var mu sync.Mutex
		var bodies [][]byte
		fail := 1 // fail the first attempt
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			if r.Header.Get(webhooks.HeaderSignature) != webhooks.Sign([]byte(secrets.WebhookSigningSecret), b) {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			bodies = append(bodies, b)
			if fail > 0 {
				fail--
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
		defer rcv.Close()

		bad := s.do("POST", "/api/v1/webhook-events/test", map[string]string{"url": "ftp://example.com"}, bearer(ada.access)...).
			expect(t, http.StatusUnprocessableEntity)
		if c := bad.errCode(t); c != "invalid_webhook_url" {
			t.Fatalf("code %q", c)
		}

		ev := s.do("POST", "/api/v1/webhook-events/test", map[string]string{"url": rcv.URL + "/in"}, bearer(ada.access)...).
			expect(t, http.StatusAccepted).data(t)
		eventID := ev["event_id"].(string)
		if ev["event"] != "webhook.test" || len(ev["deliveries"].([]any)) != 1 {
			t.Fatalf("test event %v", ev)
		}

		var detail map[string]any
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			detail = s.do("GET", "/api/v1/webhook-events/"+eventID, nil, bearer(ada.access)...).expect(t, 200).data(t)
			if detail["deliveries"].([]any)[0].(map[string]any)["status"] == "succeeded" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("never succeeded: %v", detail)
			}
		}
		d0 := detail["deliveries"].([]any)[0].(map[string]any)
		attempts := d0["attempts"].([]any)
		if len(attempts) != 2 || attempts[0].(map[string]any)["status_code"].(float64) != 500 || attempts[1].(map[string]any)["succeeded"] != true {
			t.Fatalf("attempts %v", attempts)
		}
		mu.Lock()
		var first map[string]any
		_ = json.Unmarshal(bodies[0], &first)
		mu.Unlock()
		if first["event_id"] != eventID {
			t.Fatalf("delivered body %v", first)
		}

		list := s.do("GET", "/api/v1/webhook-deliveries?status=succeeded&event_type=webhook.test", nil, "X-API-Key", apiKey(t, s, ada)).expect(t, 200)
		if n := len(list.Body["data"].([]any)); n != 1 {
			t.Fatalf("filtered list has %d", n)
		}
		none := s.do("GET", "/api/v1/webhook-deliveries?status=failed", nil, bearer(ada.access)...).expect(t, 200)
		if n := len(none.Body["data"].([]any)); n != 0 {
			t.Fatalf("failed filter has %d", n)
		}
		s.do("GET", "/api/v1/webhook-deliveries?status=bogus", nil, bearer(ada.access)...).expect(t, 422)

		// Bob sees none of it.
		s.do("GET", "/api/v1/webhook-events/"+eventID, nil, bearer(bob.access)...).expect(t, 404)
		s.do("POST", "/api/v1/webhook-events/"+eventID+"/redeliver", nil, bearer(bob.access)...).expect(t, 404)
		if n := len(s.do("GET", "/api/v1/webhook-deliveries", nil, bearer(bob.access)...).Body["data"].([]any)); n != 0 {
			t.Fatalf("bob lists %d deliveries", n)
		}

		red := s.do("POST", "/api/v1/webhook-events/"+eventID+"/redeliver", nil, bearer(ada.access)...).expect(t, 202).data(t)
		if red["deliveries"].([]any)[0].(map[string]any)["round"].(float64) != 2 {
			t.Fatalf("redeliver %v", red)
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			n := len(bodies)
			mu.Unlock()
			if n == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redelivery not received (%d bodies)", n)
			}
		}
	})
}

func apiKey(t *testing.T, s *testServer, a account) string {
	t.Helper()
	return s.do("POST", "/api/v1/auth/api-keys", map[string]string{"name": "test"}, bearer(a.access)...).
		expect(t, http.StatusCreated).data(t)["key"].(string)
}
