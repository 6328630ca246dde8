package carrier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/peakvoice/peakvoice/internal/calls"
	"github.com/peakvoice/peakvoice/internal/carriererr"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/telnyx"
)

// Calls adapts the Telnyx client to calls.Carrier. Media is the client
// that downloads recordings from the carrier's short-lived links (nil:
// a client with a one-minute timeout).
type Calls struct {
	C     *telnyx.Client
	Media *http.Client
}

var _ calls.Carrier = Calls{}

// voiceRuntime marks an assistant-side failure.
func voiceRuntime(err error) error {
	return fmt.Errorf("%w: %w", calls.ErrVoiceRuntime, wrap(err))
}

// StartCall places an outbound AI call through the assistant's own TeXML
// application. The dial is never retried here: Telnyx has no idempotency
// key for it, so a repeat could ring the callee twice.
func (b Calls) StartCall(ctx context.Context, d calls.Dial) (calls.Placed, error) {
	a, err := b.C.GetAssistant(ctx, d.AssistantID)
	if err != nil {
		return calls.Placed{}, voiceRuntime(err)
	}
	if a.Telephony == nil || a.Telephony.DefaultTeXMLAppID == "" {
		return calls.Placed{}, fmt.Errorf("%w: %w: assistant %s has no TeXML application for calls",
			calls.ErrVoiceRuntime, carriererr.ErrRejected, d.AssistantID)
	}
	call, err := b.C.StartAICall(ctx, telnyx.AICallParams{
		ConnectionID: a.Telephony.DefaultTeXMLAppID, From: d.From, To: d.To, AssistantID: d.AssistantID,
		DynamicVariables: d.Variables, StatusCallback: d.StatusCallbackURL,
	})
	if err != nil {
		return calls.Placed{}, wrap(err)
	}
	return calls.Placed{CallControlID: call.CallSID}, nil
}

// Hangup ends a live call.
func (b Calls) Hangup(ctx context.Context, callControlID string) error {
	return wrap(b.C.HangupCall(ctx, callControlID))
}

// FetchResults gathers a finished call's conversation, insights and
// recording. It answers calls.ErrNotReady until the conversation exists
// and its insights are done.
func (b Calls) FetchResults(ctx context.Context, f calls.Finished) (calls.Artifacts, error) {
	conv, err := b.C.FindConversationByCall(ctx, f.CallControlID)
	if telnyx.IsNotFound(err) {
		return calls.Artifacts{}, fmt.Errorf("%w: no conversation yet for call %s", calls.ErrNotReady, f.CallControlID)
	}
	if err != nil {
		return calls.Artifacts{}, wrap(err)
	}
	a := calls.Artifacts{ConversationID: conv.ID, Transcript: []calls.Turn{}}
	msgs, err := b.C.ListConversationMessages(ctx, conv.ID)
	if err != nil {
		return a, wrap(err)
	}
	for _, m := range msgs {
		for _, tc := range m.ToolCalls {
			if tc.Function.Name == "handoff" {
				a.Handoffs = append(a.Handoffs, tc.Function.Arguments)
			}
		}
		if m.Text == "" {
			continue // a turn that only called tools
		}
		at := m.SentAt
		if at.IsZero() {
			at = m.CreatedAt
		}
		a.Transcript = append(a.Transcript, calls.Turn{Role: m.Role, Text: m.Text, At: at.UTC()})
	}
	runs, err := b.C.ListConversationInsights(ctx, conv.ID)
	if err != nil {
		return a, wrap(err)
	}
	for _, run := range runs {
		switch run.Status {
		case "pending", "in_progress":
			return a, fmt.Errorf("%w: insights of conversation %s are %s", calls.ErrNotReady, conv.ID, run.Status)
		case "completed":
			for _, r := range run.Results {
				a.Insights = append(a.Insights, calls.InsightResult{ID: r.InsightID, Result: r.Result})
			}
		}
	}
	if f.SessionID != "" {
		recs, _, err := b.C.ListRecordings(ctx, telnyx.RecordingFilter{CallSessionID: f.SessionID})
		if err != nil {
			return a, wrap(err)
		}
		if len(recs) > 0 {
			a.RecordingID = recs[0].ID
		}
	}
	return a, nil
}

// OpenRecording fetches a fresh download link for a recording and streams
// its audio.
func (b Calls) OpenRecording(ctx context.Context, recordingID string) (io.ReadCloser, string, error) {
	rec, err := b.C.GetRecording(ctx, recordingID)
	if err != nil {
		return nil, "", wrap(err)
	}
	link, ctype := rec.DownloadURLs.MP3, "audio/mpeg"
	if link == "" {
		link, ctype = rec.DownloadURLs.WAV, "audio/wav"
	}
	if link == "" {
		return nil, "", fmt.Errorf("%w: recording %s has no download link", carriererr.ErrNotFound, recordingID)
	}
	client := b.Media
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", carriererr.ErrUnavailable, err)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("%w: download recording: %w", carriererr.ErrUnavailable, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, "", fmt.Errorf("%w: download recording: status %d", carriererr.ErrUnavailable, res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "" {
		ctype = ct
	}
	return res.Body, ctype, nil
}

// CallStatuses applies verified call-progress events.
type CallStatuses interface {
	ApplyStatus(ctx context.Context, u calls.StatusUpdate) error
}

// callStatus maps a TeXML CallStatus to the calls domain's words.
var callStatus = map[string]string{
	telnyx.CallStatusInitiated: calls.StatusInitiated, telnyx.CallStatusRinging: calls.StatusRinging,
	telnyx.CallStatusInProgress: calls.StatusInProgress, telnyx.CallStatusCompleted: calls.StatusCompleted,
	telnyx.CallStatusBusy: calls.StatusBusy, telnyx.CallStatusNoAnswer: calls.StatusNoAnswer,
	telnyx.CallStatusFailed: calls.StatusFailed, telnyx.CallStatusCanceled: calls.StatusCanceled,
}

// CallStatusWebhook is the endpoint Telnyx posts TeXML status callbacks
// (form-encoded) to. The signature is checked over the raw body first;
// forged or stale requests get 401 and change nothing. A callback for a
// call whose dial is still being recorded waits briefly for it; if the
// dial is still not recorded, a 503 asks Telnyx to deliver again.
func CallStatusWebhook(v *telnyx.Verifier, sink CallStatuses, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.ReadVerified(r, time.Now())
		if err != nil {
			log.WarnContext(r.Context(), "rejected call status callback", "err", err)
			httpapi.WriteError(w, httpapi.NewError(http.StatusUnauthorized, CodeInvalidSignature, "the webhook signature is missing, invalid or stale"))
			return
		}
		cb, err := telnyx.ParseCallStatus(body)
		if err != nil {
			httpapi.WriteError(w, httpapi.NewError(http.StatusBadRequest, CodeInvalidEvent, "the body is not a call status callback"))
			return
		}
		status, ok := callStatus[cb.CallStatus]
		if !ok {
			w.WriteHeader(http.StatusNoContent) // a status with no news for us
			return
		}
		u := calls.StatusUpdate{CallControlID: cb.CallSID, Status: status, Sequence: cb.SequenceNumber, At: cb.Timestamp,
			SessionID: cb.CallSessionID, HangupCause: cb.HangupCause, HangupSource: cb.HangupSource,
			AnsweredBy: cb.AnsweredBy, ErrorCode: cb.ErrorCode, ErrorMessage: cb.ErrorMessage,
			Duration: cb.CallDuration, HasDuration: cb.Values.Get("CallDuration") != "" && cb.Final()}
		if t, err := time.Parse(time.RFC3339Nano, cb.Values.Get("AnsweredTime")); err == nil {
			u.AnsweredAt = t
		}
		err = applySoon(r.Context(), func() error { return sink.ApplyStatus(r.Context(), u) }, calls.IsRetryLater)
		switch {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case calls.IsRetryLater(err):
			w.Header().Set("Retry-After", "1")
			httpapi.WriteError(w, httpapi.NewError(http.StatusServiceUnavailable, httpapi.CodeUnavailable, "not ready for this event yet; deliver it again"))
		default:
			failRequest(w, r, log, err, "apply call status callback", "status", cb.CallStatus)
		}
	})
}

// CallVariables answers the dynamic variables of a call; found is false
// for calls it does not know.
type CallVariables interface {
	DynamicVariables(ctx context.Context, callControlID string) (vars map[string]string, found bool, err error)
}

// DynamicVariablesWebhook answers the assistant.initialization request
// Telnyx signs and posts at the start of each conversation with the
// variables src gives. A call src does not know gets no variables, and
// the assistant runs on its defaults.
func DynamicVariablesWebhook(v *telnyx.Verifier, log *slog.Logger, src CallVariables) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.ReadVerified(r, time.Now())
		if err != nil {
			log.WarnContext(r.Context(), "rejected dynamic-variables request", "err", err)
			httpapi.WriteError(w, httpapi.NewError(http.StatusUnauthorized, CodeInvalidSignature, "the webhook signature is missing, invalid or stale"))
			return
		}
		ev, err := telnyx.ParseEvent(body)
		if err != nil || ev.Type != telnyx.EventAssistantInitialization {
			httpapi.WriteError(w, httpapi.NewError(http.StatusBadRequest, CodeInvalidEvent, "the body is not an assistant.initialization event"))
			return
		}
		init, err := ev.AssistantInitialization()
		if err != nil {
			httpapi.WriteError(w, httpapi.NewError(http.StatusBadRequest, CodeInvalidEvent, "the payload does not decode"))
			return
		}
		resp := telnyx.DynamicVariablesResponse{}
		vars, found, err := src.DynamicVariables(r.Context(), init.CallControlID)
		if err != nil {
			failRequest(w, r, log, err, "dynamic variables", "call_control_id", init.CallControlID)
			return
		}
		if found {
			resp.Variables = vars
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

// CallState asks Telnyx whether a call is still up. Telnyx forgets calls
// some minutes after they end: that answers found = false.
func (b Calls) CallState(ctx context.Context, callControlID string) (calls.LiveState, bool, error) {
	st, err := b.C.GetCallState(ctx, callControlID)
	if telnyx.IsNotFound(err) {
		return calls.LiveState{}, false, nil
	}
	if err != nil {
		return calls.LiveState{}, false, wrap(err)
	}
	return calls.LiveState{Alive: st.IsAlive, SessionID: st.CallSessionID, DurationSeconds: st.CallDuration}, true, nil
}
