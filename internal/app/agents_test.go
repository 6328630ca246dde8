package app

import (
	"net/http"
	"testing"
	"time"
)

// TestAgentBinding creates agents through the API, binds numbers to them,
// and checks the binding rules and that deleting an agent unbinds it.
func TestAgentBinding(t *testing.T) {
	t.Parallel()
	eachServer(t, func(t *testing.T, s *testServer) {
		ada, bob := s.register(t, "ada@example.com"), s.register(t, "bob@example.com")
		ha, hb := bearer(ada.access), bearer(bob.access)
		agent := s.do("POST", "/api/v1/agents", map[string]any{"name": "Front desk", "instructions": "Greet callers.",
			"channels": []string{"voice_inbound", "voice_outbound"}}, ha...).expect(t, http.StatusCreated).data(t)
		agentID := agent["id"].(string)
		if agent["provider_sync_status"] != "synced" || agent["provider_agent_id"] == "" {
			t.Fatalf("agent %v", agent)
		}
		bobAgent := s.do("POST", "/api/v1/agents", map[string]any{"name": "Bob's"}, hb...).expect(t, http.StatusCreated).data(t)

		pnID, _ := s.claimNumber(t, ada)
		bound := s.do("PATCH", "/api/v1/phone-numbers/"+pnID, map[string]any{"voice_agent_id": agentID}, ha...).expect(t, 200).data(t)
		if bound["voice_agent_id"] != agentID {
			t.Fatalf("bind %v", bound)
		}
		if c := s.do("PATCH", "/api/v1/phone-numbers/"+pnID, map[string]any{"voice_agent_id": bobAgent["id"]}, ha...).
			expect(t, 404).errCode(t); c != "agent_not_found" {
			t.Fatalf("other team's agent: %q", c)
		}
		list := s.do("GET", "/api/v1/phone-numbers?voice_agent_id="+agentID, nil, ha...).expect(t, 200).Body["data"].([]any)
		if len(list) != 1 {
			t.Fatalf("filter by agent: %v", list)
		}

		// Claiming with a binding works in one step.
		avail := s.do("GET", "/api/v1/phone-numbers/available", nil, ha...).expect(t, 200).Body["data"].([]any)
		second := s.do("POST", "/api/v1/phone-numbers", map[string]any{"phone_number": avail[0].(map[string]any)["phone_number"],
			"voice_agent_id": agentID}, ha...).expect(t, 201).data(t)
		if second["voice_agent_id"] != agentID {
			t.Fatalf("claim with binding %v", second)
		}

		s.do("DELETE", "/api/v1/agents/"+agentID, nil, ha...).expect(t, 204)
		for _, id := range []string{pnID, second["id"].(string)} {
			if n := s.do("GET", "/api/v1/phone-numbers/"+id, nil, ha...).expect(t, 200).data(t); n["voice_agent_id"] != nil {
				t.Fatalf("number %s still bound to a deleted agent", id)
			}
		}
		// The assistant is removed from the carrier by a durable job.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, err := s.app.Carrier.GetAssistant(t.Context(), agent["provider_agent_id"].(string)); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("assistant still on the carrier after the agent was deleted")
			}
		}
	})
}
