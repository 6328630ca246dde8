package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
)

// hammer sends copies concurrent copies of each request and collects the
// answers: status and the created resource id.
func hammer(t *testing.T, base string, keys, copies int, build func(key int) (path string, body []byte, hdr []string)) map[int][]struct {
	status int
	id     string
} {
	t.Helper()
	type answer = struct {
		status int
		id     string
	}
	out := map[int][]answer{}
	var mu sync.Mutex
	sem := make(chan struct{}, 128)
	var wg sync.WaitGroup
	for k := range keys {
		path, body, hdr := build(k)
		for range copies {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				req, _ := http.NewRequest("POST", base+path, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				a := answer{}
				res, err := http.DefaultClient.Do(req)
				if err == nil {
					raw, _ := io.ReadAll(res.Body)
					res.Body.Close()
					a.status = res.StatusCode
					var d struct{ Data struct{ ID string } }
					_ = json.Unmarshal(raw, &d)
					a.id = d.Data.ID
				}
				mu.Lock()
				out[k] = append(out[k], a)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

// TestIdempotencyUnderContention: 200 keys, 32 concurrent identical
// requests each, for SMS sends and call creation: one resource and one
// carrier action per key, every answer the stored one or a 409, no 5xx.
func TestIdempotencyUnderContention(t *testing.T) {
	t.Parallel()
	keys, copies := 200, 32
	if testing.Short() {
		keys = 20
	}
	cfg := testConfig(t, dbOptionsSQLite(t))
	cfg.CallsPerMinute, cfg.CallBurst, cfg.MaxLiveCalls = 1e6, 1e6, 1e6
	s := startServer(t, cfg)
	r := newCallRig(t, s)
	// An API key, not a 15-minute access token: on a loaded machine under
	// the race detector this test can outlast a token.
	h := []string{"X-API-Key", apiKey(t, s, r.acct)}
	check := func(what string, got map[int][]struct {
		status int
		id     string
	}) map[string]bool {
		t.Helper()
		ids := map[string]bool{}
		for k, answers := range got {
			perKey := map[string]bool{}
			for _, a := range answers {
				switch {
				case a.status == 201 && a.id != "":
					perKey[a.id] = true
				case a.status == 409:
				default:
					t.Fatalf("%s key %d: answered %d", what, k, a.status)
				}
			}
			if len(perKey) != 1 {
				t.Fatalf("%s key %d: %d distinct resources", what, k, len(perKey))
			}
			for id := range perKey {
				ids[id] = true
			}
		}
		if len(ids) != keys {
			t.Fatalf("%s: %d resources for %d keys", what, len(ids), keys)
		}
		return ids
	}

	sms := hammer(t, s.base, keys, copies, func(k int) (string, []byte, []string) {
		b, _ := json.Marshal(map[string]any{"to": "+14155550142", "text": fmt.Sprintf("contention %d", k),
			"idempotency_key": fmt.Sprintf("sms-%d", k), "phone_number_id": r.fromID})
		return "/api/v1/sms/send", b, h
	})
	check("sms", sms)
	for k := range keys {
		if n := s.simSends(t, fmt.Sprintf("contention %d", k)); n != 1 {
			t.Fatalf("sms key %d reached the carrier %d times", k, n)
		}
	}

	calls := hammer(t, s.base, keys, copies, func(k int) (string, []byte, []string) {
		b, _ := json.Marshal(map[string]any{"agent_id": r.agent.ID, "phone_number_to": "+14155550142",
			"call_brief_variables": map[string]string{"customer_name": fmt.Sprintf("c%d", k)}})
		return "/api/v1/calls", b, append(append([]string{}, h...), "Idempotency-Key", fmt.Sprintf("call-%d", k))
	})
	callIDs := check("calls", calls)
	placed := 0
	for _, c := range s.app.Sim.Calls() {
		if c.Direction == "outbound" {
			placed++
		}
	}
	if placed != len(callIDs) {
		t.Fatalf("the carrier placed %d calls for %d keys", placed, len(callIDs))
	}

	// A used key with a different body is refused with the conflict code.
	b, _ := json.Marshal(map[string]any{"to": "+14155550142", "text": "different", "idempotency_key": "sms-0", "phone_number_id": r.fromID})
	if c := s.do("POST", "/api/v1/sms/send", string(b), h...).expect(t, 422).errCode(t); c != "idempotency_key_reused" {
		t.Fatalf("sms reuse: %q", c)
	}
	cb, _ := json.Marshal(map[string]any{"agent_id": r.agent.ID, "phone_number_to": "+14155550199", "call_brief_variables": map[string]string{"customer_name": "x"}})
	if c := s.do("POST", "/api/v1/calls", string(cb), append(append([]string{}, h...), "Idempotency-Key", "call-0")...).expect(t, 422).errCode(t); c != "idempotency_key_reused" {
		t.Fatalf("call reuse: %q", c)
	}
}
