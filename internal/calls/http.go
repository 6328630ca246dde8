package calls

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/peakvoice/peakvoice/internal/carriererr"
	"github.com/peakvoice/peakvoice/internal/httpapi"
)

type createInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes retries safe: one call per key per team. The same key with the same body answers the stored outcome (header Idempotent-Replayed: true); with a different body, 422 idempotency_key_reused."`
	Body           struct {
		AgentID            string            `json:"agent_id" minLength:"1" maxLength:"64" doc:"The agent that runs the call."`
		PhoneNumberTo      string            `json:"phone_number_to" maxLength:"64" doc:"Callee, E.164."`
		PhoneNumberFrom    string            `json:"phone_number_from,omitempty" maxLength:"64" doc:"Caller line, E.164: an active, voice-capable number of your team not bound to another agent. Omitted: the number bound to the agent."`
		CallBriefText      string            `json:"call_brief_text,omitempty" maxLength:"20000" doc:"Free-text brief for the call, per the agent's call-brief contract."`
		CallBriefVariables map[string]string `json:"call_brief_variables,omitempty" doc:"Brief variables; values must be strings."`
		WebhookURL         string            `json:"webhook_url,omitempty" maxLength:"2048" doc:"Receives call.initiated, call.answered, call.completed, call.failed and call.result_ready."`
		VoiceProvider      string            `json:"voice_provider,omitempty" maxLength:"50" deprecated:"true" doc:"Compatibility field. Must match the agent's runtime (telnyx) when given; otherwise 409 phone_provider_mismatch."`
		Greeting           string            `json:"greeting,omitempty" maxLength:"3000" deprecated:"true" doc:"Compatibility field, recorded on the call only; edit the agent's greeting instead."`
		Voice              string            `json:"voice,omitempty" maxLength:"200" deprecated:"true" doc:"Compatibility field, recorded on the call only; set the agent's voice_config.voice instead."`
		VoiceID            string            `json:"voice_id,omitempty" maxLength:"200" deprecated:"true" doc:"Compatibility field, recorded on the call only."`
	}
}

type createOutput struct {
	Status   int    `json:"-"`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this answer is the stored outcome of an earlier request with the same Idempotency-Key."`
	Body     httpapi.Data[Call]
}

type callIDInput struct {
	CallID string `path:"call_id"`
}

// CallDetail is a call with its result.
type CallDetail struct {
	Call   Call    `json:"call"`
	Result *Result `json:"result" doc:"Null until the call's artifacts are assembled."`
}

type listInput struct {
	httpapi.PageParams
	AgentID   string    `query:"agent_id"`
	Direction string    `query:"direction" enum:"outbound,inbound"`
	Status    string    `query:"status" enum:"queued,initiated,ringing,in_progress,completed,no_answer,busy,failed,canceled"`
	Since     time.Time `query:"since" doc:"Only calls created at or after this time (RFC 3339)."`
	Until     time.Time `query:"until" doc:"Only calls created before this time (RFC 3339)."`
}

type streamInput struct {
	CallID      string `path:"call_id"`
	LastEventID string `header:"Last-Event-ID" doc:"Resume after this event number."`
}

// Routes mounts the call operations.
func (s *Service) Routes(api huma.API) {
	tags := []string{"Calls"}
	huma.Register(api, huma.Operation{
		OperationID: "create-call", Method: http.MethodPost, Path: "/api/v1/calls", Tags: tags,
		Summary: "Place an outbound call",
		Description: "Records the call and its dispatch in one transaction, then dials once. Follow it with GET /api/v1/calls/{call_id}/stream or the webhook_url.\n\n" +
			"Errors: 404 `agent_not_found`, `phone_number_not_found`; 409 `agent_not_synced`, `missing_provider_resource_id` (reconcile the agent), `incompatible_phone` (line inactive, without voice, or bound to another agent), `phone_provider_mismatch`, `idempotent_request_in_progress`; " +
			"400 `no_phone_number`, `missing_required_call_brief_variables`; 422 `invalid_phone_number`, `invalid_webhook_url`, `idempotency_key_reused`; 429 `rate_limited`, `concurrent_call_limit` (with Retry-After); " +
			"502 `telephony_provider_error` (the carrier could not place it), 502/503 `voice_provider_error` (the assistant runtime failed or is unavailable).",
		Security: httpapi.Authed, DefaultStatus: http.StatusCreated, Errors: []int{400, 401, 404, 409, 422, 429, 502, 503},
	}, func(ctx context.Context, in *createInput) (*createOutput, error) {
		b := in.Body
		over := map[string]string{}
		for k, v := range map[string]string{"greeting": b.Greeting, "voice": b.Voice, "voice_id": b.VoiceID, "voice_provider": b.VoiceProvider} {
			if v != "" {
				over[k] = v
			}
		}
		c, replayed, err := s.Create(ctx, httpapi.MustPrincipal(ctx).TeamID, CreateInput{AgentID: b.AgentID, To: b.PhoneNumberTo,
			From: b.PhoneNumberFrom, BriefText: b.CallBriefText, BriefVariables: b.CallBriefVariables, WebhookURL: b.WebhookURL,
			IdempotencyKey: in.IdempotencyKey, Overrides: over, OverrideProvider: b.VoiceProvider})
		if err != nil {
			var he *httpapi.Error
			if replayed && errors.As(err, &he) {
				return nil, he.WithHeader("Idempotent-Replayed", "true")
			}
			return nil, s.fail(ctx, err)
		}
		out := &createOutput{Status: replyFor(c), Body: httpapi.Data[Call]{Data: c}}
		if replayed {
			out.Replayed = "true"
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-calls", Method: http.MethodGet, Path: "/api/v1/calls", Tags: tags,
		Summary: "List calls", Description: "Newest first.", Security: httpapi.Authed, Errors: []int{401, 422},
	}, func(ctx context.Context, in *listInput) (*httpapi.List[Call], error) {
		f := Filter{AgentID: in.AgentID, Direction: in.Direction, Status: in.Status}
		if !in.Since.IsZero() {
			f.Since = &in.Since
		}
		if !in.Until.IsZero() {
			f.Until = &in.Until
		}
		cs, total, err := listCalls(ctx, s.db.R, httpapi.MustPrincipal(ctx).TeamID, f, in.Limit(), in.Offset())
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewList(cs, in.PageParams, total), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-call", Method: http.MethodGet, Path: "/api/v1/calls/{call_id}", Tags: tags,
		Summary: "Get a call and its result", Security: httpapi.Authed, Errors: []int{401, 404},
	}, func(ctx context.Context, in *callIDInput) (*httpapi.Response[CallDetail], error) {
		c, err := callByID(ctx, s.db.R, httpapi.MustPrincipal(ctx).TeamID, in.CallID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		r, _, err := s.resultOf(ctx, c)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(CallDetail{Call: c, Result: r}), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "hangup-call", Method: http.MethodPost, Path: "/api/v1/calls/{call_id}/hangup", Tags: tags,
		Summary: "End a live call",
		Description: "Asks the carrier to hang up; the call's status follows from the carrier's events. A call not yet dialed is canceled at once. " +
			"Errors: 404; 409 `call_not_active` (it has ended), `idempotent_request_in_progress` (still being dialed; retry); 502 `telephony_provider_error`.",
		Security: httpapi.Authed, DefaultStatus: http.StatusAccepted, Errors: []int{401, 404, 409, 502},
	}, func(ctx context.Context, in *callIDInput) (*httpapi.Response[Call], error) {
		c, err := s.Hangup(ctx, httpapi.MustPrincipal(ctx).TeamID, in.CallID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(c), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-call-recording", Method: http.MethodGet, Path: "/api/v1/calls/{call_id}/recording", Tags: tags,
		Summary:     "Download a call's recording",
		Description: "Streams the audio (audio/mpeg) from the carrier through this API, so the link does not expire. Errors: 404 `not_found`, `recording_not_available`; 502 `telephony_provider_error`.",
		Security:    httpapi.Authed, Errors: []int{401, 404, 502},
	}, func(ctx context.Context, in *callIDInput) (*huma.StreamResponse, error) {
		body, ctype, err := s.OpenRecording(ctx, httpapi.MustPrincipal(ctx).TeamID, in.CallID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			defer body.Close()
			hc.SetHeader("Content-Type", ctype)
			hc.SetHeader("Cache-Control", "private, max-age=0")
			hc.SetStatus(http.StatusOK)
			_, _ = io.Copy(hc.BodyWriter(), body)
		}}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "stream-call", Method: http.MethodGet, Path: "/api/v1/calls/{call_id}/stream", Tags: tags,
		Metadata: map[string]any{httpapi.MetaLongLived: true},
		Summary:  "Follow a call live (server-sent events)",
		Description: "`text/event-stream`. Each event has `id:` (the event's number in the call's log), `event:` (`call.status`, `call.result_ready`, `call.result_failed`) and `data:` (the log entry as JSON). " +
			"Send `Last-Event-ID` to resume after an event. Comment lines keep the connection alive. The stream ends once the call has ended and its result is settled; for a call that already ended it replays the log and ends.",
		Security: httpapi.Authed, Errors: []int{401, 404},
	}, func(ctx context.Context, in *streamInput) (*huma.StreamResponse, error) {
		// Read off this goroutine: it becomes the stream's (see offRead).
		var c Call
		var err error
		offRead(func() { c, err = callByID(ctx, s.db.R, httpapi.MustPrincipal(ctx).TeamID, in.CallID) })
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		last := parseLastEventID(in.LastEventID)
		// The stream re-reads the call; keep only its identity for the
		// stream's lifetime, not the whole row.
		c = Call{ID: c.ID, teamID: c.teamID}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			// Over HTTP/1.x the hub takes the connection and this handler
			// returns at once (see serveHijacked).
			if w, ok := hc.BodyWriter().(http.ResponseWriter); ok &&
				s.serveHijacked(w, hc.Version().ProtoMajor, hc.Method(), c, last) {
				return
			}
			hc.SetHeader("Content-Type", "text/event-stream")
			hc.SetHeader("Cache-Control", "no-cache")
			hc.SetHeader("X-Accel-Buffering", "no")
			hc.SetStatus(http.StatusOK)
			w := hc.BodyWriter()
			if err := s.stream(hc.Context(), w, flusher(w), c, last); err != nil && hc.Context().Err() == nil {
				s.log.WarnContext(hc.Context(), "call stream ended early", "call_id", c.ID, "err", err)
			}
		}}, nil
	})
}

func (s *Service) fail(ctx context.Context, err error) error {
	var he *httpapi.Error
	switch {
	case errors.As(err, &he):
		return he
	case errors.Is(err, errNotFound):
		return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "no such call")
	case errors.Is(err, errNoRecording):
		return httpapi.NewError(http.StatusNotFound, CodeNoRecording, "this call has no recording (yet)")
	}
	if isCarrierErr(err) {
		s.log.WarnContext(ctx, "carrier request failed", "err", err)
		return httpapi.NewError(http.StatusBadGateway, CodeTelephonyProvider, "the carrier could not serve this request; retry later")
	}
	s.log.ErrorContext(ctx, "calls request failed", "err", err)
	return httpapi.Internal()
}

func isCarrierErr(err error) bool {
	return errors.Is(err, carriererr.ErrUnavailable) || errors.Is(err, carriererr.ErrRejected) || errors.Is(err, carriererr.ErrNotFound)
}
