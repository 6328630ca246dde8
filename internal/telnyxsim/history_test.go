package telnyxsim_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

func sendSMS(t *testing.T, srv *httptest.Server, hookURL string) string {
	t.Helper()
	status, body := call(t, srv, "POST", "/v2/messages", key, map[string]any{
		"from": telnyxsim.DefaultNumbers()[0], "to": "+13125550100", "text": "hi", "webhook_url": hookURL})
	if status != 200 {
		t.Fatalf("send: HTTP %d %v", status, body)
	}
	return body["data"].(map[string]any)["id"].(string)
}

func messageStatus(t *testing.T, srv *httptest.Server, id string) (int, string) {
	t.Helper()
	status, body := call(t, srv, "GET", "/v2/messages/"+id, key, nil)
	if status != 200 {
		return status, ""
	}
	to, _ := body["data"].(map[string]any)["to"].([]any)
	return status, to[0].(map[string]any)["status"].(string)
}

// TestHistoryIsBounded checks that a long-running simulator forgets its
// oldest finished messages past Config.History, and never one still
// being played out.
func TestHistoryIsBounded(t *testing.T) {
	t.Parallel()
	sim, err := telnyxsim.New(telnyxsim.Config{APIKey: key, StepDelay: time.Millisecond, History: 8})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { sim.Close() })
	h := newHook(t, sim.PublicKey())

	var ids []string
	for range 30 {
		id := sendSMS(t, srv, h.URL)
		ids = append(ids, id)
		// Let each finish, so that the next append may forget it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, st := messageStatus(t, srv, id); st == "delivered" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s never delivered", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if status, _ := messageStatus(t, srv, ids[0]); status != 404 {
		t.Errorf("the oldest finished message: HTTP %d, want 404 (forgotten)", status)
	}
	if status, _ := messageStatus(t, srv, ids[len(ids)-1]); status != 200 {
		t.Errorf("the newest message: HTTP %d, want 200", status)
	}
	remembered := 0
	for _, id := range ids {
		if status, _ := messageStatus(t, srv, id); status == 200 {
			remembered++
		}
	}
	if remembered < 8 || remembered > 10 {
		t.Errorf("%d of 30 messages remembered, want 8–10 (History 8, trimmed a quarter past it)", remembered)
	}
	if n := len(sim.Deliveries()); n > 4*8+8 {
		t.Errorf("%d deliveries remembered, want at most %d", n, 4*8+8)
	}

	// Messages still being played out are never forgotten.
	slow, err := telnyxsim.New(telnyxsim.Config{APIKey: key, StepDelay: time.Hour, History: 4})
	if err != nil {
		t.Fatal(err)
	}
	slowSrv := httptest.NewServer(slow.Handler())
	t.Cleanup(slowSrv.Close)
	t.Cleanup(func() { slow.Close() })
	var pending []string
	for range 12 {
		pending = append(pending, sendSMS(t, slowSrv, h.URL))
	}
	for _, id := range pending {
		if status, st := messageStatus(t, slowSrv, id); status != 200 {
			t.Errorf("in-flight message %s (%s): HTTP %d, want 200", id, st, status)
		}
	}
}
