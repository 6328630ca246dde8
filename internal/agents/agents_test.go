package agents_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/peakvoice/peakvoice/internal/agents"
	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

func fullAgent() map[string]any {
	return map[string]any{
		"name":         "Front desk",
		"instructions": "Greet {{customer_name}} and confirm the booking.",
		"greeting":     "Hello!",
		"voice_config": map[string]any{"voice": "Telnyx.KokoroTTS.af", "language": "en", "model": "openai/gpt-4o"},
		"tools": []any{map[string]any{
			"name": "check_booking", "description": "Look a booking up", "url": "https://api.example.com/bookings/{id}",
			"method": "get", "headers": map[string]any{"Authorization": "Bearer {{#integration_secret}}k{{/integration_secret}}"},
			"parameters": map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string"}}},
		}},
		"channels":   []any{"voice_outbound", "sms"},
		"objectives": []any{map[string]any{"name": "confirm", "description": "Booking confirmed"}},
		"metadata":   map[string]any{"crm_id": "42"},
		"call_brief_contract": map[string]any{"variables": []any{
			map[string]any{"name": "customer_name", "required": true, "aliases": []any{"name"}},
			map[string]any{"name": "tier", "default": "basic", "allowed_values": []any{"basic", "gold"}},
		}},
		"structured_data_schema": map[string]any{"type": "object", "properties": map[string]any{"confirmed": map[string]any{"type": "boolean"}}},
	}
}

func TestCreateProvisionsAssistant(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		tok, _ := e.register("ada@example.com")
		a := e.createAgent(tok, fullAgent())
		if a["current_version"].(float64) != 1 || a["default_voice_provider"] != "telnyx" || a["voice_provider"] != "telnyx" ||
			a["voice_provider_agent_id"] != a["provider_agent_id"] || a["provider_sync_error"] != nil {
			t.Fatalf("agent %v", a)
		}
		tools := a["tools"].([]any)
		if tools[0].(map[string]any)["method"] != "GET" {
			t.Fatalf("method not normalized: %v", tools)
		}
		as := e.assistant(str(a["provider_agent_id"]))
		if as.Name != "Front desk" || as.Instructions != "Greet {{customer_name}} and confirm the booking." || as.Greeting != "Hello!" ||
			as.Model != "openai/gpt-4o" || as.Voice == nil || as.Voice.Voice != "Telnyx.KokoroTTS.af" {
			t.Fatalf("assistant %+v", as)
		}
		if as.DynamicVariablesWebhookURL != publicURL+agents.DynamicVariablesPath {
			t.Fatalf("dynamic variables webhook %q", as.DynamicVariablesWebhookURL)
		}
		if as.DynamicVariables["tier"] != "basic" || as.DynamicVariables["customer_name"] != "" {
			t.Fatalf("dynamic variable defaults %v", as.DynamicVariables)
		}
		if len(as.EnabledFeatures) != 2 {
			t.Fatalf("features %v", as.EnabledFeatures)
		}
		tool := toolNamed(as, telnyx.ToolWebhook, "check_booking")
		if tool == nil || tool.Webhook.URL != "https://api.example.com/bookings/{id}" || tool.Webhook.Method != "GET" ||
			len(tool.Webhook.Headers) != 1 || !has(string(tool.Webhook.BodyParameters), `"id"`) {
			t.Fatalf("webhook tool %+v", as.Tools)
		}
		if toolNamed(as, telnyx.ToolWebhook, agents.LookupToolName) != nil || toolNamed(as, telnyx.ToolHandoff, "") != nil {
			t.Fatal("handoff tools injected without handoff")
		}
		// Read back, list with filters, version 1.
		id := str(a["id"])
		got := e.do(tok, "GET", "/api/v1/agents/"+id, nil).expect(t, 200).data(t)
		if got["name"] != "Front desk" || got["metadata"].(map[string]any)["crm_id"] != "42" {
			t.Fatalf("get %v", got)
		}
		if n := len(e.do(tok, "GET", "/api/v1/agents?channel=sms", nil).expect(t, 200).list(t)); n != 1 {
			t.Fatalf("sms filter: %d", n)
		}
		if n := len(e.do(tok, "GET", "/api/v1/agents?channel=voice_inbound", nil).expect(t, 200).list(t)); n != 0 {
			t.Fatalf("voice_inbound filter: %d", n)
		}
		if n := len(e.do(tok, "GET", "/api/v1/agents?provider_sync_status=synced", nil).expect(t, 200).list(t)); n != 1 {
			t.Fatalf("status filter: %d", n)
		}
		v := e.do(tok, "GET", "/api/v1/agents/"+id+"/versions/1", nil).expect(t, 200).data(t)
		if v["instructions"] != got["instructions"] || len(v["changed_fields"].([]any)) != 9 {
			t.Fatalf("version 1 %v", v)
		}
		// Defaults for a minimal agent.
		m := e.createAgent(tok, map[string]any{"name": "Minimal"})
		if ch := m["channels"].([]any); len(ch) != 2 || ch[0] != "voice_inbound" {
			t.Fatalf("default channels %v", ch)
		}
		if e.assistant(str(m["provider_agent_id"])).Instructions == "" {
			t.Fatal("assistant without instructions")
		}
	})
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		tok, _ := e.register("val@example.com")
		tool := func(k string, v any) map[string]any {
			t := map[string]any{"name": "t1", "description": "d", "url": "https://api.example.com/x"}
			t[k] = v
			return map[string]any{"name": "a", "tools": []any{t}}
		}
		cases := map[string]map[string]any{
			"no name":            {"instructions": "x"},
			"blank name":         {"name": "   "},
			"ftp tool url":       tool("url", "ftp://example.com/x"),
			"loopback tool url":  tool("url", "http://127.0.0.1:8080/x"),
			"reserved tool name": tool("name", agents.LookupToolName),
			"bad method":         tool("method", "TRACE"),
			"bad parameters":     tool("parameters", map[string]any{"type": "array"}),
			"bad channel":        {"name": "a", "channels": []any{"fax"}},
			"no channels":        {"name": "a", "channels": []any{}},
			"other provider":     {"name": "a", "default_voice_provider": "vapi"},
			"legacy provider":    {"name": "a", "voice_provider": "retell"},
			"bad schema":         {"name": "a", "structured_data_schema": map[string]any{"type": "string"}},
			"unknown field":      {"name": "a", "colour": "blue"},
			"bad pattern":        {"name": "a", "call_brief_contract": map[string]any{"variables": []any{map[string]any{"name": "x", "pattern": "("}}}},
			"reserved variable":  {"name": "a", "call_brief_contract": map[string]any{"variables": []any{map[string]any{"name": "telnyx_x"}}}},
			"bad default":        {"name": "a", "call_brief_contract": map[string]any{"variables": []any{map[string]any{"name": "x", "default": "c", "allowed_values": []any{"a", "b"}}}}},
			"duplicate alias":    {"name": "a", "call_brief_contract": map[string]any{"variables": []any{map[string]any{"name": "x", "aliases": []any{"y"}}, map[string]any{"name": "y"}}}},
		}
		for name, body := range cases {
			r := e.do(tok, "POST", "/api/v1/agents", body)
			if r.status != http.StatusUnprocessableEntity || r.code(t) != "validation_error" {
				t.Errorf("%s: %d %s", name, r.status, r.raw)
			}
		}
		if n := e.simAssistantCount(); n != 0 {
			t.Fatalf("invalid agents reached the carrier: %d", n)
		}
		// Compatibility fields are accepted.
		a := e.createAgent(tok, map[string]any{"name": "compat", "voice_provider": "telnyx", "voice_id": "Telnyx.KokoroTTS.am"})
		if a["voice_config"].(map[string]any)["voice"] != "Telnyx.KokoroTTS.am" {
			t.Fatalf("voice_id not applied: %v", a["voice_config"])
		}
	})
}

// TestCarrierOutageLeavesNothing: create fails cleanly whatever goes wrong
// on the carrier, and nothing is stored.
func TestCarrierOutageLeavesNothing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		tok, _ := e.register("out@example.com")
		cases := []struct {
			fault  telnyxsim.Fault
			status int
			code   string
		}{
			{telnyxsim.Fault{Kind: telnyxsim.FaultUnreachable, Method: "POST", PathPrefix: "/v2/ai/assistants"}, 503, agents.CodeProviderUnavailable},
			{telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 500, Method: "POST", PathPrefix: "/v2/ai/assistants"}, 503, agents.CodeProviderUnavailable},
			{telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 422, Method: "POST", PathPrefix: "/v2/ai/assistants"}, 502, agents.CodeProviderError},
			{telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 401, Method: "POST", PathPrefix: "/v2/ai/assistants"}, 502, agents.CodeProviderError},
		}
		for _, c := range cases {
			e.fault(c.fault)
			r := e.do(tok, "POST", "/api/v1/agents", map[string]any{"name": "Doomed"}).expectErr(t, c.status, c.code)
			d := r.body["error"].(map[string]any)["details"].(map[string]any)
			if d["provider"] != "telnyx" || str(d["provider_error"]) == "" {
				t.Fatalf("details %v", d)
			}
		}
		if l := e.do(tok, "GET", "/api/v1/agents", nil).expect(t, 200); l.body["meta"].(map[string]any)["total"].(float64) != 0 {
			t.Fatalf("half-made agents: %s", l.raw)
		}
		var rows int
		if err := e.d.R.QueryRow(`SELECT COUNT(*) FROM agents`).Scan(&rows); err != nil || rows != 0 {
			t.Fatalf("agent rows %d %v", rows, err)
		}
		if n := e.simAssistantCount(); n != 0 {
			t.Fatalf("assistants on the carrier: %d", n)
		}
		e.createAgent(tok, map[string]any{"name": "After the outage"})
	})
}

func TestUpdateVersionsAndPush(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		tok, _ := e.register("upd@example.com")
		a := e.createAgent(tok, fullAgent())
		id, pid := str(a["id"]), str(a["provider_agent_id"])
		path := "/api/v1/agents/" + id

		u := e.do(tok, "PATCH", path, map[string]any{"instructions": "Be brief."}).expect(t, 200).data(t)
		if u["current_version"].(float64) != 2 || u["provider_sync_status"] != "synced" || u["greeting"] != "Hello!" {
			t.Fatalf("after patch %v", u)
		}
		if got := e.assistant(pid).Instructions; got != "Be brief." {
			t.Fatalf("carrier instructions %q", got)
		}
		v2 := e.do(tok, "GET", path+"/versions/2", nil).expect(t, 200).data(t)
		if cf := v2["changed_fields"].([]any); len(cf) != 1 || cf[0] != "instructions" {
			t.Fatalf("changed fields %v", cf)
		}
		if e.do(tok, "GET", path+"/versions/1", nil).expect(t, 200).data(t)["instructions"] == "Be brief." {
			t.Fatal("version 1 changed")
		}
		// Name and metadata alone make no version; the name still reaches the carrier.
		u = e.do(tok, "PATCH", path, map[string]any{"name": "Reception", "metadata": map[string]any{"k": "v"}}).expect(t, 200).data(t)
		if u["current_version"].(float64) != 2 || u["name"] != "Reception" {
			t.Fatalf("after rename %v", u)
		}
		if got := e.assistant(pid).Name; got != "Reception" {
			t.Fatalf("carrier name %q", got)
		}
		// The same values again change nothing.
		e.do(tok, "PATCH", path, map[string]any{"instructions": "Be brief."}).expect(t, 200)
		vs := e.do(tok, "GET", path+"/versions?per_page=1", nil).expect(t, 200)
		if vs.body["meta"].(map[string]any)["total"].(float64) != 2 || vs.list(t)[0].(map[string]any)["version_number"].(float64) != 2 {
			t.Fatalf("versions %s", vs.raw)
		}
		e.do(tok, "GET", path+"/versions/9", nil).expectErr(t, 404, agents.CodeVersionNotFound)
		e.do(tok, "GET", path+"/versions/abc", nil).expect(t, 422)

		// A failed push keeps the change and says so.
		e.fault(telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 503, Count: 5, Method: "POST", PathPrefix: "/v2/ai/assistants/"})
		u = e.do(tok, "PATCH", path, map[string]any{"greeting": "Hi there"}).expect(t, 200).data(t)
		if u["provider_sync_status"] != "error" || !has(str(u["provider_sync_error"]), agents.CodeProviderUnavailable) ||
			u["greeting"] != "Hi there" || u["current_version"].(float64) != 3 {
			t.Fatalf("after failed push %v", u)
		}
		if e.assistant(pid).Greeting != "Hello!" {
			t.Fatal("carrier changed despite the fault")
		}
		e.sim.ClearFaults()
		rep := e.do(tok, "POST", path+"/reconcile", nil).expect(t, 200).data(t)
		if rep["status"] != "repaired" || rep["agent"].(map[string]any)["provider_sync_status"] != "synced" {
			t.Fatalf("reconcile %v", rep)
		}
		if e.assistant(pid).Greeting != "Hi there" {
			t.Fatal("reconcile did not push the greeting")
		}
		// A validation failure changes nothing.
		e.do(tok, "PATCH", path, map[string]any{"channels": []any{"telepathy"}}).expectErr(t, 422, "validation_error")
		e.do(tok, "PATCH", path, map[string]any{"name": ""}).expect(t, 422)
		if g := e.do(tok, "GET", path, nil).expect(t, 200).data(t); g["current_version"].(float64) != 3 {
			t.Fatalf("version moved on a rejected patch: %v", g)
		}
	})
}

func TestReconcileRepairsDrift(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok, _ := e.register("rec@example.com")
		a := e.createAgent(tok, fullAgent())
		id, pid := str(a["id"]), str(a["provider_agent_id"])
		path := "/api/v1/agents/" + id + "/reconcile"

		rep := e.do(tok, "POST", path, nil).expect(t, 200).data(t)
		if rep["status"] != "in_sync" || len(rep["drift"].([]any)) != 0 || len(rep["actions"].([]any)) != 0 {
			t.Fatalf("fresh agent drifted: %v", rep)
		}
		// Someone edits the assistant on the carrier.
		if _, err := e.carrier.UpdateAssistant(ctx, pid, telnyx.AssistantParams{Instructions: "Sell timeshares.", Tools: []telnyx.Tool{}}); err != nil {
			t.Fatal(err)
		}
		rep = e.do(tok, "POST", path, nil).expect(t, 200).data(t)
		fields := map[string]map[string]any{}
		for _, d := range rep["drift"].([]any) {
			fields[str(d.(map[string]any)["field"])] = d.(map[string]any)
		}
		if rep["status"] != "repaired" || len(fields) != 2 || fields["instructions"]["actual"] != "Sell timeshares." || fields["tools"] == nil {
			t.Fatalf("drift %v", rep)
		}
		if acts := rep["actions"].([]any); len(acts) != 1 || acts[0] != "pushed_current_version" {
			t.Fatalf("actions %v", acts)
		}
		as := e.assistant(pid)
		if as.Instructions != str(a["instructions"]) || toolNamed(as, telnyx.ToolWebhook, "check_booking") == nil {
			t.Fatalf("not repaired: %+v", as)
		}
		if rep = e.do(tok, "POST", path, nil).expect(t, 200).data(t); rep["status"] != "in_sync" {
			t.Fatalf("second reconcile %v", rep)
		}
		// Someone deletes the assistant on the carrier.
		if err := e.carrier.DeleteAssistant(ctx, pid); err != nil {
			t.Fatal(err)
		}
		rep = e.do(tok, "POST", path, nil).expect(t, 200).data(t)
		agent := rep["agent"].(map[string]any)
		newID := str(agent["provider_agent_id"])
		if rep["status"] != "repaired" || newID == "" || newID == pid || rep["actions"].([]any)[0] != "recreated_assistant" {
			t.Fatalf("recreate %v", rep)
		}
		if e.assistant(newID).Name != "Front desk" {
			t.Fatal("recreated assistant is wrong")
		}
		if rep = e.do(tok, "POST", path, nil).expect(t, 200).data(t); rep["status"] != "in_sync" {
			t.Fatalf("after recreate %v", rep)
		}
		// A carrier outage during reconcile is a 503 and changes nothing.
		e.fault(telnyxsim.Fault{Kind: telnyxsim.FaultUnreachable, Count: 5, PathPrefix: "/v2/ai/assistants"})
		e.do(tok, "POST", path, nil).expectErr(t, 503, agents.CodeProviderUnavailable)
		e.sim.ClearFaults()
		if g := e.do(tok, "GET", "/api/v1/agents/"+id, nil).expect(t, 200).data(t); g["provider_sync_status"] != "synced" {
			t.Fatalf("after failed reconcile %v", g)
		}
	})
}

func TestDeleteRemovesAssistantDurably(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok, _ := e.register("del@example.com")
		a := e.createAgent(tok, map[string]any{"name": "Short-lived"})
		id, pid := str(a["id"]), str(a["provider_agent_id"])
		// The carrier fails the first deletes; the job keeps trying.
		e.fault(telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 500, Count: 4, Method: "DELETE", PathPrefix: "/v2/ai/assistants/"})
		r := e.do(tok, "DELETE", "/api/v1/agents/"+id, nil).expect(t, http.StatusNoContent)
		if len(r.raw) != 0 {
			t.Fatalf("204 with a body: %s", r.raw)
		}
		e.do(tok, "GET", "/api/v1/agents/"+id, nil).expectErr(t, 404, agents.CodeAgentNotFound)
		e.do(tok, "DELETE", "/api/v1/agents/"+id, nil).expectErr(t, 404, agents.CodeAgentNotFound)
		e.do(tok, "GET", "/api/v1/agents/"+id+"/versions", nil).expect(t, 404)
		if l := e.do(tok, "GET", "/api/v1/agents", nil).expect(t, 200).list(t); len(l) != 0 {
			t.Fatalf("deleted agent listed: %v", l)
		}
		eventually(t, "assistant deleted on the carrier", func() bool {
			_, err := e.carrier.GetAssistant(ctx, pid)
			return telnyx.IsNotFound(err)
		})
		eventually(t, "agent row marked deleted", func() bool {
			var st string
			_ = e.d.R.QueryRow(`SELECT provider_sync_status FROM agents WHERE id = $1`, id).Scan(&st)
			return st == "deleted"
		})
		// An assistant already gone on the carrier counts as deleted.
		b := e.createAgent(tok, map[string]any{"name": "Gone already"})
		if err := e.carrier.DeleteAssistant(ctx, str(b["provider_agent_id"])); err != nil {
			t.Fatal(err)
		}
		e.do(tok, "DELETE", "/api/v1/agents/"+str(b["id"]), nil).expect(t, http.StatusNoContent)
		eventually(t, "job done for a missing assistant", func() bool {
			var st string
			_ = e.d.R.QueryRow(`SELECT provider_sync_status FROM agents WHERE id = $1`, str(b["id"])).Scan(&st)
			return st == "deleted"
		})
	})
}

// TestOtherTeamsSeeNothing: every agent route answers 404 for another
// team's agent, and binding resolution does too.
func TestOtherTeamsSeeNothing(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		tok, team := e.register("owner@example.com")
		other, otherTeam := e.register("other@example.com")
		a := e.createAgent(tok, fullAgent())
		id := str(a["id"])
		p := "/api/v1/agents/" + id
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", p, nil}, {"PATCH", p, map[string]any{"name": "mine"}}, {"DELETE", p, nil},
			{"GET", p + "/versions", nil}, {"GET", p + "/versions/1", nil}, {"POST", p + "/reconcile", nil},
			{"GET", p + "/call-brief-schema", nil}, {"POST", p + "/call-brief/normalize", map[string]any{}},
		} {
			e.do(other, c.method, c.path, c.body).expectErr(t, 404, agents.CodeAgentNotFound)
		}
		if l := e.do(other, "GET", "/api/v1/agents", nil).expect(t, 200).list(t); len(l) != 0 {
			t.Fatalf("other team lists %v", l)
		}
		e.do(tok, "GET", p, nil).expect(t, 200) // still there, unchanged
		e.do("", "GET", "/api/v1/agents", nil).expect(t, 401)

		ctx := context.Background()
		info, err := e.svc.ResolveForBinding(ctx, team, id)
		if err != nil || info.ID != id || info.Provider != "telnyx" || info.ProviderAgentID != str(a["provider_agent_id"]) ||
			info.SyncStatus != "synced" || !info.HasChannel("sms") || info.HasChannel("voice_inbound") {
			t.Fatalf("binding info %+v %v", info, err)
		}
		if _, err := e.svc.ResolveForBinding(ctx, otherTeam, id); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("other team resolves: %v", err)
		}
		if _, err := e.svc.ResolveForBinding(ctx, team, "not-a-uuid"); !errors.Is(err, agents.ErrNotFound) {
			t.Fatalf("bad id resolves: %v", err)
		}
	})
}
