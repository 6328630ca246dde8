package carrier_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/calls"
	"github.com/peakvoice/peakvoice/internal/carrier"
	"github.com/peakvoice/peakvoice/internal/carriererr"
	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// TestCallsBridgeAgainstSimulator: a call placed through the bridge plays
// out, its artifacts are fetched and its recording streams; failures are
// classified as the calls domain expects.
func TestCallsBridgeAgainstSimulator(t *testing.T) {
	t.Parallel()
	sim, err := telnyxsim.New(telnyxsim.Config{StepDelay: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { srv.Close(); sim.Close() })
	c := telnyx.New(telnyx.Config{BaseURL: srv.URL + "/v2", APIKey: sim.APIKey(), MaxRetries: -1})
	b := carrier.Calls{C: c}
	ctx := context.Background()

	_, err = b.StartCall(ctx, calls.Dial{AssistantID: "assistant-missing", From: "+13126200100", To: "+14155550142"})
	if !errors.Is(err, calls.ErrVoiceRuntime) || !errors.Is(err, carriererr.ErrNotFound) {
		t.Fatalf("unknown assistant: %v", err)
	}
	a, err := c.CreateAssistant(ctx, telnyx.AssistantParams{Name: "A", Instructions: "Hi {{name}}"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.StartCall(ctx, calls.Dial{AssistantID: a.ID, From: "+19995550100", To: "+14155550142"})
	if errors.Is(err, calls.ErrVoiceRuntime) || !errors.Is(err, carriererr.ErrRejected) {
		t.Fatalf("caller not on the account: %v", err)
	}
	placed, err := b.StartCall(ctx, calls.Dial{AssistantID: a.ID, From: "+13126200100", To: "+14155550142", Variables: map[string]string{"name": "Ada"}})
	if err != nil || placed.CallControlID == "" {
		t.Fatalf("dial: %v", err)
	}
	var sc telnyxsim.Call
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		sc, _ = sim.Call(placed.CallControlID)
		if sc.EndedAt != "" || time.Now().After(deadline) {
			break
		}
	}
	if sc.Status != "completed" || sc.DynamicVariables["name"] != "Ada" {
		t.Fatalf("simulated call: %+v", sc)
	}
	art, err := b.FetchResults(ctx, calls.Finished{CallControlID: placed.CallControlID, SessionID: sc.CallSessionID})
	if err != nil || art.ConversationID == "" || len(art.Transcript) == 0 || len(art.Insights) == 0 || art.RecordingID == "" {
		t.Fatalf("artifacts %+v, %v", art, err)
	}
	body, ctype, err := b.OpenRecording(ctx, art.RecordingID)
	if err != nil || ctype == "" {
		t.Fatalf("recording: %v", err)
	}
	body.Close()
	if err := b.Hangup(ctx, placed.CallControlID); !errors.Is(err, carriererr.ErrRejected) {
		t.Fatalf("hangup of an ended call: %v", err)
	}
	if _, err := b.FetchResults(ctx, calls.Finished{CallControlID: "v3:nothing"}); !errors.Is(err, calls.ErrNotReady) {
		t.Fatalf("results of an unknown call: %v", err)
	}
}
