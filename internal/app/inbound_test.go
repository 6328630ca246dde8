package app

import (
	"net/http"
	"testing"
	"time"
)

func TestInboundSessions(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada, bob := s.register(t, "ada@example.com"), s.register(t, "bob@example.com")
		ha, hb := bearer(ada.access), bearer(bob.access)
		agentID := s.do("POST", "/api/v1/agents", map[string]any{"name": "Front desk"}, ha...).expect(t, 201).data(t)["id"].(string)
		pnID, _ := s.claimNumber(t, ada)
		sink := newEventSink(t)

		before := time.Now()
		sess := s.do("POST", "/api/v1/inbound-sessions", map[string]any{
			"phone_number_id": pnID, "agent_id": agentID, "callback_window_seconds": 7200,
			"context_variables": map[string]any{"campaign": "rsvp-2026"}, "webhook_url": sink.srv.URL,
			"external_session_id": "pos-42", "allowed_caller_number": "+1 800 123 4567",
		}, ha...).expect(t, http.StatusCreated).data(t)
		id := sess["id"].(string)
		exp, _ := time.Parse(time.RFC3339Nano, sess["expires_at"].(string))
		if sess["status"] != "ready" || sess["allowed_caller_number"] != "+18001234567" ||
			exp.Sub(before) < 7199*time.Second || exp.Sub(before) > 7300*time.Second ||
			len(sess["callback_targets"].([]any)) != 0 || len(sess["expected_callers"].([]any)) != 0 {
			t.Fatalf("session %v", sess)
		}

		for _, c := range []struct {
			body   map[string]any
			status int
			code   string
		}{
			{map[string]any{"phone_number_id": "nope", "agent_id": agentID}, 404, "phone_number_not_found"},
			{map[string]any{"phone_number_id": pnID, "agent_id": "nope"}, 404, "agent_not_found"},
			{map[string]any{"phone_number_id": pnID, "agent_id": agentID, "allowed_caller_number": "12"}, 422, "invalid_phone_number"},
			{map[string]any{"phone_number_id": pnID, "agent_id": agentID, "expires_at": "2020-01-01T00:00:00Z"}, 422, "invalid_expires_at"},
			{map[string]any{"phone_number_id": pnID, "agent_id": agentID, "webhook_url": "ftp://x"}, 422, "invalid_webhook_url"},
		} {
			if got := s.do("POST", "/api/v1/inbound-sessions", c.body, ha...).expect(t, c.status).errCode(t); got != c.code {
				t.Fatalf("%v: %q, want %q", c.body, got, c.code)
			}
		}
		// Bob can use none of Ada's things.
		if c := s.do("POST", "/api/v1/inbound-sessions", map[string]any{"phone_number_id": pnID, "agent_id": agentID}, hb...).
			expect(t, 404).errCode(t); c != "phone_number_not_found" {
			t.Fatalf("bob: %q", c)
		}
		s.do("GET", "/api/v1/inbound-sessions/"+id, nil, hb...).expect(t, 404)
		s.do("PATCH", "/api/v1/inbound-sessions/"+id, map[string]any{"status": "released"}, hb...).expect(t, 404)
		s.do("POST", "/api/v1/inbound-sessions/"+id+"/callback-targets", map[string]any{"label": "x"}, hb...).expect(t, 404)

		target := s.do("POST", "/api/v1/inbound-sessions/"+id+"/callback-targets", map[string]any{
			"label": "Order #4421", "contact_name": "Jane Doe", "known_phone_numbers": []string{"+1 (800) 123-4567"},
			"context_variables": map[string]any{"order_id": "4421", "items_count": 3}, "priority": 2,
		}, ha...).expect(t, 201).data(t)
		if nums := target["known_phone_numbers"].([]any); len(nums) != 1 || nums[0] != "+18001234567" {
			t.Fatalf("target numbers not normalized: %v", target)
		}
		tid := target["id"].(string)
		s.do("POST", "/api/v1/inbound-sessions/"+id+"/callback-targets", map[string]any{"known_phone_numbers": []string{"call me"}}, ha...).expect(t, 422)
		patched := s.do("PATCH", "/api/v1/inbound-sessions/"+id+"/callback-targets/"+tid, map[string]any{"aliases": []string{"order 4421"}, "label": nil}, ha...).
			expect(t, 200).data(t)
		if patched["label"] != nil || patched["contact_name"] != "Jane Doe" || len(patched["aliases"].([]any)) != 1 {
			t.Fatalf("patched target %v", patched)
		}
		caller := s.do("POST", "/api/v1/inbound-sessions/"+id+"/expected-callers", map[string]any{"phone_number": "+1 415 555 0123", "contact_name": "Jane"}, ha...).
			expect(t, 201).data(t)
		if caller["phone_number"] != "+14155550123" {
			t.Fatalf("caller %v", caller)
		}
		s.do("POST", "/api/v1/inbound-sessions/"+id+"/expected-callers", map[string]any{"contact_name": "x"}, ha...).expect(t, 422)

		full := s.do("GET", "/api/v1/inbound-sessions/"+id, nil, ha...).expect(t, 200).data(t)
		if len(full["callback_targets"].([]any)) != 1 || len(full["expected_callers"].([]any)) != 1 {
			t.Fatalf("embedded %v", full)
		}
		list := s.do("GET", "/api/v1/inbound-sessions?agent_id="+agentID+"&status=ready&external_session_id=pos-42", nil, ha...).expect(t, 200)
		if n := len(list.Body["data"].([]any)); n != 1 {
			t.Fatalf("filtered list %d", n)
		}
		if n := len(s.do("GET", "/api/v1/inbound-sessions?status=released", nil, ha...).Body["data"].([]any)); n != 0 {
			t.Fatalf("released filter %d", n)
		}

		rel := s.do("PATCH", "/api/v1/inbound-sessions/"+id, map[string]any{"status": "released"}, ha...).expect(t, 200).data(t)
		if rel["status"] != "released" {
			t.Fatalf("release %v", rel)
		}
		ev := sink.waitFor(t, "session.released")
		if d := ev["data"].(map[string]any); d["inbound_session_id"] != id || d["status"] != "released" {
			t.Fatalf("event %v", ev)
		}
		if c := s.do("PATCH", "/api/v1/inbound-sessions/"+id, map[string]any{"callback_window_seconds": 600}, ha...).expect(t, 409).errCode(t); c != "session_closed" {
			t.Fatalf("patch released: %q", c)
		}
		s.do("DELETE", "/api/v1/inbound-sessions/"+id+"/callback-targets/"+tid, nil, ha...).expect(t, 204)
		s.do("DELETE", "/api/v1/inbound-sessions/"+id+"/callback-targets/"+tid, nil, ha...).expect(t, 404)
		s.do("DELETE", "/api/v1/inbound-sessions/"+id, nil, ha...).expect(t, 204)
		s.do("DELETE", "/api/v1/inbound-sessions/"+id, nil, ha...).expect(t, 204)
		if got := s.do("GET", "/api/v1/inbound-sessions/"+id, nil, ha...).expect(t, 200).data(t); got["status"] != "deleted" {
			t.Fatalf("after delete %v", got)
		}
		if n := len(s.do("GET", "/api/v1/inbound-sessions", nil, ha...).Body["data"].([]any)); n != 0 {
			t.Fatalf("deleted session still listed by default (%d)", n)
		}
	})
}

// TestInboundSessionsExpireOnTime: a session's status turns expired at its
// expiry without any request, and the sweeper writes it down.
func TestInboundSessionsExpireOnTime(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	ada := s.register(t, "ada@example.com")
	h := bearer(ada.access)
	agentID := s.do("POST", "/api/v1/agents", map[string]any{"name": "Desk"}, h...).expect(t, 201).data(t)["id"].(string)
	pnID, _ := s.claimNumber(t, ada)
	soon := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	id := s.do("POST", "/api/v1/inbound-sessions", map[string]any{"phone_number_id": pnID, "agent_id": agentID, "expires_at": soon}, h...).
		expect(t, 201).data(t)["id"].(string)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var stored string
		_ = s.app.DB.R.QueryRow(`SELECT status FROM inbound_sessions WHERE id = $1`, id).Scan(&stored)
		if stored == "expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session not expired by the sweeper (status %q)", stored)
		}
	}
	if got := s.do("GET", "/api/v1/inbound-sessions/"+id, nil, h...).expect(t, 200).data(t); got["status"] != "expired" {
		t.Fatalf("status %v", got["status"])
	}
	// Extending it reopens it.
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	if got := s.do("PATCH", "/api/v1/inbound-sessions/"+id, map[string]any{"expires_at": later}, h...).expect(t, 200).data(t); got["status"] != "ready" {
		t.Fatalf("extended %v", got["status"])
	}
}

// TestNumberPool leases pooled numbers to sessions and follows an entry
// through draining and cooldown back to available, driven by the durable
// sweeper (durations shortened by the test config).
func TestNumberPool(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada := s.register(t, "ada@example.com")
		h := bearer(ada.access)
		agentID := s.do("POST", "/api/v1/agents", map[string]any{"name": "Desk"}, h...).expect(t, 201).data(t)["id"].(string)
		pnID, _ := s.claimNumber(t, ada)
		s.do("POST", "/api/v1/number-pool", map[string]any{"phone_number_id": pnID}, h...).expect(t, 201)
		if c := s.do("POST", "/api/v1/number-pool", map[string]any{"phone_number_id": pnID}, h...).expect(t, 409).errCode(t); c != "phone_number_already_pooled" {
			t.Fatalf("%q", c)
		}
		sess := s.do("POST", "/api/v1/inbound-sessions", map[string]any{"use_number_pool": true, "agent_id": agentID}, h...).expect(t, 201).data(t)
		if sess["phone_number_id"] != pnID {
			t.Fatalf("leased %v", sess["phone_number_id"])
		}
		if c := s.do("POST", "/api/v1/inbound-sessions", map[string]any{"use_number_pool": true, "agent_id": agentID}, h...).expect(t, 409).errCode(t); c != "number_pool_exhausted" {
			t.Fatalf("%q", c)
		}
		if c := s.do("POST", "/api/v1/inbound-sessions", map[string]any{"phone_number_id": pnID, "agent_id": agentID}, h...).expect(t, 409).errCode(t); c != "pool_number_unavailable" {
			t.Fatalf("%q", c)
		}
		if c := s.do("DELETE", "/api/v1/number-pool/"+pnID, nil, h...).expect(t, 409).errCode(t); c != "pool_number_in_use" {
			t.Fatalf("%q", c)
		}
		entry := func() map[string]any {
			return s.do("GET", "/api/v1/number-pool", nil, h...).expect(t, 200).Body["data"].([]any)[0].(map[string]any)
		}
		if e := entry(); e["status"] != "leased" || e["inbound_session_id"] != sess["id"] {
			t.Fatalf("entry %v", e)
		}
		s.do("PATCH", "/api/v1/inbound-sessions/"+sess["id"].(string), map[string]any{"status": "released"}, h...).expect(t, 200)
		seen := map[string]bool{}
		for deadline := time.Now().Add(30 * time.Second); !seen["available"] || !seen["cooldown"]; time.Sleep(50 * time.Millisecond) {
			seen[entry()["status"].(string)] = true
			if time.Now().After(deadline) {
				t.Fatalf("pool entry went through %v", seen)
			}
		}
		if !seen["draining"] && !seen["cooldown"] {
			t.Fatalf("entry skipped draining/cooldown: %v", seen)
		}
		again := s.do("POST", "/api/v1/inbound-sessions", map[string]any{"use_number_pool": true, "agent_id": agentID}, h...).expect(t, 201).data(t)
		if again["phone_number_id"] != pnID {
			t.Fatal("number not leased again after cooldown")
		}
		if e := entry(); e["leases"].(float64) != 2 {
			t.Fatalf("leases %v", e)
		}
	})
}
