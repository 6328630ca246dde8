package carrier_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/agents"
	"github.com/peakvoice/peakvoice/internal/carrier"
	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

func newRuntime(t *testing.T) (*carrier.AssistantRuntime, *telnyxsim.Server) {
	t.Helper()
	sim, err := telnyxsim.New(telnyxsim.Config{StepDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { srv.Close(); sim.Close() })
	c := telnyx.New(telnyx.Config{BaseURL: srv.URL + "/v2", APIKey: sim.APIKey(), MaxRetries: -1})
	return carrier.NewAssistantRuntime(c), sim
}

func kindOf(err error) agents.RuntimeErrorKind {
	var re *agents.RuntimeError
	if errors.As(err, &re) {
		return re.Kind
	}
	return 0
}

// TestAssistantRuntimeRoundTrip: what the bridge writes is what it reads
// back, field for field, through the simulator.
func TestAssistantRuntimeRoundTrip(t *testing.T) {
	t.Parallel()
	rt, _ := newRuntime(t)
	ctx := context.Background()
	spec := agents.AssistantSpec{
		Name: "Desk", Description: "Peak Voice agent x", Instructions: "Help.", Greeting: "", Model: "openai/gpt-4o",
		Voice: "Telnyx.KokoroTTS.af", Language: "en",
		DynamicVariables:           map[string]string{"customer_name": "", "tier": "basic"},
		DynamicVariablesWebhookURL: "https://pv.example.test/webhooks/telnyx/dynamic-variables",
		EnabledFeatures:            []string{"telephony", "messaging"},
		Tools: []agents.AssistantTool{
			{Type: agents.ToolWebhook, Webhook: &agents.WebhookTool{Name: "lookup", Description: "d", URL: "https://api.example.com/{id}",
				Method: "GET", Headers: map[string]string{"B": "2", "A": "1"},
				Parameters: map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string"}}}}},
			{Type: agents.ToolHandoff, Handoff: &agents.HandoffTool{VoiceMode: "unified",
				Assistants: []agents.HandoffAssistant{{ID: "assistant-1", Name: "Billing"}}}},
		},
	}
	created, err := rt.CreateAssistant(ctx, spec)
	if err != nil || created.ID == "" {
		t.Fatalf("create: %v", err)
	}
	got, err := rt.GetAssistant(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.AssistantSpec, spec) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got.AssistantSpec, spec)
	}
	spec.Instructions, spec.Tools, spec.Greeting = "Help more.", []agents.AssistantTool{}, "Hi"
	if _, err := rt.UpdateAssistant(ctx, created.ID, spec); err != nil {
		t.Fatal(err)
	}
	got, _ = rt.GetAssistant(ctx, created.ID)
	if got.Instructions != "Help more." || len(got.Tools) != 0 || got.Greeting != "Hi" {
		t.Fatalf("after update %+v", got)
	}
	if err := rt.DeleteAssistant(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.GetAssistant(ctx, created.ID); kindOf(err) != agents.RuntimeNotFound {
		t.Fatalf("get deleted: %v", err)
	}
	if err := rt.DeleteAssistant(ctx, created.ID); kindOf(err) != agents.RuntimeNotFound {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestAssistantRuntimeClassifiesFailures(t *testing.T) {
	t.Parallel()
	rt, sim := newRuntime(t)
	ctx := context.Background()
	spec := agents.AssistantSpec{Name: "x", Instructions: "y"}
	for _, c := range []struct {
		fault telnyxsim.Fault
		want  agents.RuntimeErrorKind
	}{
		{telnyxsim.Fault{Kind: telnyxsim.FaultUnreachable}, agents.RuntimeUnavailable},
		{telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 502}, agents.RuntimeUnavailable},
		{telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 429}, agents.RuntimeUnavailable},
		{telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 422}, agents.RuntimeRejected},
		{telnyxsim.Fault{Kind: telnyxsim.FaultStatus, Status: 403}, agents.RuntimeRejected},
	} {
		if _, err := sim.AddFault(c.fault); err != nil {
			t.Fatal(err)
		}
		_, err := rt.CreateAssistant(ctx, spec)
		var re *agents.RuntimeError
		if !errors.As(err, &re) || re.Kind != c.want || re.Detail == "" {
			t.Errorf("%+v: %v", c.fault, err)
		}
	}
	// The simulator's own validation is a rejection with its explanation.
	_, err := rt.CreateAssistant(ctx, agents.AssistantSpec{Name: "no instructions"})
	var re *agents.RuntimeError
	if !errors.As(err, &re) || re.Kind != agents.RuntimeRejected {
		t.Fatalf("invalid assistant: %v", err)
	}
}
