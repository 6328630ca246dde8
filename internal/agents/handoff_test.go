package agents_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/peakvoice/peakvoice/internal/agents"
	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

func handoff(enabled bool, mode string, targets ...map[string]any) map[string]any {
	list := []any{}
	for _, t := range targets {
		list = append(list, t)
	}
	return map[string]any{"telnyx": map[string]any{"handoff": map[string]any{"enabled": enabled, "voice_mode": mode, "targets": list}}}
}

func target(id string) map[string]any {
	return map[string]any{"agent_id": id, "name": "Specialist", "trigger": "billing questions", "description": "Handles billing."}
}

// TestHandoffRules checks every rule of "Handoff configuration" with its
// exact status and code, on create and on update.
func TestHandoffRules(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok, _ := e.register("desk@example.com")
		other, _ := e.register("rival@example.com")
		good := str(e.createAgent(tok, map[string]any{"name": "Billing", "channels": []any{"voice_inbound"}})["id"])
		outbound := str(e.createAgent(tok, map[string]any{"name": "Dialer", "channels": []any{"voice_outbound"}})["id"])
		foreign := str(e.createAgent(other, map[string]any{"name": "Theirs"})["id"])
		unsynced := str(e.createAgent(tok, map[string]any{"name": "Unsynced"})["id"])
		e.fault(telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 503, Count: 3, Method: "POST", PathPrefix: "/v2/ai/assistants/"})
		if u := e.do(tok, "PATCH", "/api/v1/agents/"+unsynced, map[string]any{"greeting": "x"}).expect(t, 200).data(t); u["provider_sync_status"] != "error" {
			t.Fatalf("could not make an unsynced agent: %v", u)
		}
		e.sim.ClearFaults()
		// No agent can be made on another provider through the API; store one directly.
		elsewhere := str(e.createAgent(tok, map[string]any{"name": "Elsewhere"})["id"])
		var raw string
		if err := e.d.R.QueryRow(`SELECT settings FROM agents WHERE id = $1`, elsewhere).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		_ = json.Unmarshal([]byte(raw), &st)
		st["default_voice_provider"] = "legacy"
		b, _ := json.Marshal(st)
		if _, err := e.d.W.Exec(`UPDATE agents SET settings = $1 WHERE id = $2`, string(b), elsewhere); err != nil {
			t.Fatal(err)
		}
		desk := str(e.createAgent(tok, map[string]any{"name": "Desk"})["id"])

		cases := []struct {
			name   string
			vc     map[string]any
			status int
			code   string
		}{
			{"empty targets", handoff(true, "unified"), 400, agents.CodeInvalidHandoffPolicy},
			{"duplicate", handoff(true, "unified", target(good), target(good)), 400, agents.CodeInvalidHandoffPolicy},
			{"distinct voices", handoff(true, "distinct", target(good)), 400, agents.CodeInvalidHandoffPolicy},
			{"self", handoff(true, "unified", target(desk)), 400, agents.CodeInvalidHandoffPolicy},
			{"other team", handoff(true, "unified", target(foreign)), 404, agents.CodeInvalidHandoffTarget},
			{"unknown", handoff(true, "unified", target("0190f7a4-0000-7000-8000-000000000000")), 404, agents.CodeInvalidHandoffTarget},
			{"no voice_inbound", handoff(true, "unified", target(outbound)), 409, agents.CodeInvalidHandoffTarget},
			{"other provider", handoff(true, "unified", target(elsewhere)), 409, agents.CodeInvalidHandoffTarget},
			{"not synced", handoff(true, "unified", target(unsynced)), 409, agents.CodeHandoffTargetNotSynced},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.do(tok, "PATCH", "/api/v1/agents/"+desk, map[string]any{"voice_config": c.vc}).expectErr(t, c.status, c.code)
				if c.name == "self" {
					return // there is no self on create
				}
				e.do(tok, "POST", "/api/v1/agents", map[string]any{"name": "New desk", "voice_config": c.vc}).expectErr(t, c.status, c.code)
			})
		}
		if g := e.do(tok, "GET", "/api/v1/agents/"+desk, nil).expect(t, 200).data(t); g["current_version"].(float64) != 1 {
			t.Fatalf("a rejected handoff changed the agent: %v", g)
		}

		// A valid policy reaches the carrier with both injected tools.
		u := e.do(tok, "PATCH", "/api/v1/agents/"+desk, map[string]any{"voice_config": handoff(true, "unified", target(good))}).
			expect(t, http.StatusOK).data(t)
		goodAssistant := str(e.do(tok, "GET", "/api/v1/agents/"+good, nil).data(t)["provider_agent_id"])
		as := e.assistant(str(u["provider_agent_id"]))
		ho := toolNamed(as, telnyx.ToolHandoff, "")
		if ho == nil || ho.Handoff.VoiceMode != "unified" || len(ho.Handoff.Assistants) != 1 ||
			ho.Handoff.Assistants[0].ID != goodAssistant || ho.Handoff.Assistants[0].Name != "Specialist" {
			t.Fatalf("handoff tool %+v", as.Tools)
		}
		lk := toolNamed(as, telnyx.ToolWebhook, agents.LookupToolName)
		if lk == nil || lk.Webhook.URL != publicURL+agents.LookupToolPath || !has(string(lk.Webhook.BodyParameters), "caller_phone_number") ||
			!has(string(lk.Webhook.BodyParameters), "caller_name") {
			t.Fatalf("lookup tool %+v", lk)
		}
		if !has(as.Instructions, "billing questions") {
			t.Fatalf("handoff guidance missing from instructions: %q", as.Instructions)
		}
		// Creating with the same policy works too.
		e.createAgent(tok, map[string]any{"name": "Desk 2", "voice_config": handoff(true, "unified", target(good))})

		// The target cannot be deleted while it is handed off to.
		r := e.do(tok, "DELETE", "/api/v1/agents/"+good, nil).expectErr(t, 409, agents.CodeAgentIsHandoffTarget)
		if ids := r.body["error"].(map[string]any)["details"].(map[string]any)["agent_ids"].([]any); len(ids) != 2 {
			t.Fatalf("referencing agents %v", ids)
		}

		// The target's assistant vanishes; reconciling it updates the desk's handoff tool.
		if err := e.carrier.DeleteAssistant(ctx, goodAssistant); err != nil {
			t.Fatal(err)
		}
		rep := e.do(tok, "POST", "/api/v1/agents/"+good+"/reconcile", nil).expect(t, 200).data(t)
		newTarget := str(rep["agent"].(map[string]any)["provider_agent_id"])
		acts := rep["actions"].([]any)
		if len(acts) != 3 || acts[0] != "recreated_assistant" || acts[1] != "updated_handoff_source:"+desk {
			t.Fatalf("actions %v", rep)
		}
		ho = toolNamed(e.assistant(str(u["provider_agent_id"])), telnyx.ToolHandoff, "")
		if ho == nil || ho.Handoff.Assistants[0].ID != newTarget {
			t.Fatalf("desk still hands off to the old assistant: %+v", ho)
		}
		if rep := e.do(tok, "POST", "/api/v1/agents/"+desk+"/reconcile", nil).expect(t, 200).data(t); rep["status"] != "in_sync" {
			t.Fatalf("desk drifted: %v", rep)
		}

		// Disabling handoff removes both tools.
		e.do(tok, "PATCH", "/api/v1/agents/"+desk, map[string]any{"voice_config": handoff(false, "unified")}).expect(t, 200)
		as = e.assistant(str(u["provider_agent_id"]))
		if toolNamed(as, telnyx.ToolHandoff, "") != nil || toolNamed(as, telnyx.ToolWebhook, agents.LookupToolName) != nil {
			t.Fatalf("tools left after disabling: %+v", as.Tools)
		}
	})
}
