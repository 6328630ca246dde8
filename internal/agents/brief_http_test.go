package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/peakvoice/peakvoice/internal/agents"
)

// TestCallBriefOverHTTP: the schema projection, the preview and its strict
// string typing, and the enforcing form the calls domain uses.
func TestCallBriefOverHTTP(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		tok, team := e.register("brief@example.com")
		a := e.createAgent(tok, fullAgent())
		p := "/api/v1/agents/" + str(a["id"])
		s := e.do(tok, "GET", p+"/call-brief-schema", nil).expect(t, 200).data(t)
		schema := s["call_brief_variables_schema"].(map[string]any)
		props := schema["properties"].(map[string]any)
		if req := schema["required"].([]any); len(req) != 1 || req[0] != "customer_name" {
			t.Fatalf("required %v", schema)
		}
		if enum := props["tier"].(map[string]any)["enum"].([]any); len(enum) != 2 {
			t.Fatalf("enum %v", props)
		}
		if s["aliases"].(map[string]any)["name"] != "customer_name" || s["call_brief_text"].(map[string]any)["usage"] != "optional" {
			t.Fatalf("schema %v", s)
		}
		n := e.do(tok, "POST", p+"/call-brief/normalize", map[string]any{
			"call_brief_text": "Tier: GOLD\nRemember the anniversary.", "call_brief_variables": map[string]any{"Name": "Jane Doe"},
		}).expect(t, 200).data(t)
		vars, src := n["variables"].(map[string]any), n["sources"].(map[string]any)
		if vars["customer_name"] != "Jane Doe" || src["customer_name"] != "alias" || vars["tier"] != "gold" || src["tier"] != "text" ||
			n["enforce_required"] != false || len(n["missing_required_fields"].([]any)) != 0 {
			t.Fatalf("normalize %v", n)
		}
		if prev := n["dynamic_variables_preview"].(map[string]any); prev["call_brief_text"] != "Tier: GOLD\nRemember the anniversary." {
			t.Fatalf("preview %v", prev)
		}
		// Advisory only here.
		n = e.do(tok, "POST", p+"/call-brief/normalize", map[string]any{}).expect(t, 200).data(t)
		if m := n["missing_required_fields"].([]any); len(m) != 1 || m[0] != "customer_name" {
			t.Fatalf("missing %v", n)
		}
		// Strict strings: no coercion.
		for _, bad := range []any{42, true, map[string]any{"x": 1}, nil} {
			r := e.do(tok, "POST", p+"/call-brief/normalize", map[string]any{"call_brief_variables": map[string]any{"customer_name": bad}})
			r.expectErr(t, 422, "validation_error")
		}
		e.do(tok, "POST", p+"/call-brief/normalize", map[string]any{"call_brief_text": 7}).expectErr(t, 422, "validation_error")
		// The calls domain enforces.
		_, err := e.svc.NormalizeBrief(context.Background(), team, str(a["id"]), agents.BriefInput{}, true)
		var he interface{ GetStatus() int }
		if !errors.As(err, &he) || he.GetStatus() != 400 || !has(err.Error(), agents.CodeMissingBriefVariables) {
			t.Fatalf("enforced: %v", err)
		}
		raw, _ := json.Marshal(err)
		if !has(string(raw), `"missing_required_fields":["customer_name"]`) {
			t.Fatalf("error body %s", raw)
		}
	})
}
