package messaging

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/phonenum"
)

type sendInput struct {
	Body struct {
		To             string   `json:"to" maxLength:"64" doc:"Recipient in E.164, e.g. +14155550123."`
		Text           string   `json:"text" minLength:"1" maxLength:"1600" doc:"Message text (up to 1600 characters; long texts are sent as several segments)."`
		IdempotencyKey string   `json:"idempotency_key" minLength:"1" maxLength:"255" doc:"Required. Retrying with the same key and body returns the original message instead of sending again; the same key with a different body is refused."`
		FromNumber     string   `json:"from_number,omitempty" maxLength:"64" doc:"Sender: a number of your team, E.164. Give this or phone_number_id."`
		PhoneNumberID  string   `json:"phone_number_id,omitempty" maxLength:"64" doc:"Sender: the id of a number of your team. Give this or from_number."`
		MediaURLs      []string `json:"media_urls,omitempty" maxItems:"10" doc:"Public http(s) URLs of media to attach (MMS)."`
		WebhookURL     string   `json:"webhook_url,omitempty" maxLength:"2048" doc:"Receives sms.sent, sms.delivered and sms.failed events for this message."`
	}
}

type sendOutput struct {
	Status   int    `json:"-"`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this answer is the stored result of an earlier request with the same idempotency_key."`
	Body     httpapi.Data[Message]
}

type messageIDInput struct {
	MessageID string `path:"message_id"`
}

type listMessagesInput struct {
	httpapi.PageParams
	Direction      string    `query:"direction" enum:"inbound,outbound"`
	Status         string    `query:"status" enum:"queued,sending,sent,delivered,failed,received"`
	FromNumber     string    `query:"from_number" doc:"E.164 sender."`
	ToNumber       string    `query:"to_number" doc:"E.164 recipient."`
	PhoneNumberID  string    `query:"phone_number_id" doc:"The team's number."`
	ConversationID string    `query:"conversation_id"`
	Since          time.Time `query:"since" doc:"Only messages created at or after this time (RFC 3339)."`
	Until          time.Time `query:"until" doc:"Only messages created before this time (RFC 3339)."`
}

func (in listMessagesInput) filter() (MessageFilter, error) {
	f := MessageFilter{Direction: in.Direction, Status: in.Status, PhoneNumberID: in.PhoneNumberID, ConversationID: in.ConversationID}
	for _, p := range []struct {
		field string
		in    string
		out   *string
	}{{"from_number", in.FromNumber, &f.FromNumber}, {"to_number", in.ToNumber, &f.ToNumber}} {
		if p.in == "" {
			continue
		}
		e164, err := phonenum.E164(p.in)
		if err != nil {
			return f, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidPhoneNumber, phonenum.Describe(p.field, err))
		}
		*p.out = e164
	}
	if !in.Since.IsZero() {
		f.Since = &in.Since
	}
	if !in.Until.IsZero() {
		f.Until = &in.Until
	}
	return f, nil
}

type listConversationsInput struct {
	httpapi.PageParams
	PhoneNumberID string    `query:"phone_number_id" doc:"Only threads on this number of yours."`
	RemoteNumber  string    `query:"remote_number" doc:"Only threads with this E.164 number."`
	Since         time.Time `query:"since" doc:"Only threads active at or after this time."`
}

type conversationIDInput struct {
	ConversationID string `path:"conversation_id"`
}

type conversationMessagesInput struct {
	httpapi.PageParams
	ConversationID string `path:"conversation_id"`
}

// Routes mounts the SMS and conversation operations.
func (s *Service) Routes(api huma.API) {
	tags := []string{"SMS"}
	huma.Register(api, huma.Operation{
		OperationID: "send-sms", Method: http.MethodPost, Path: "/api/v1/sms/send", Tags: tags,
		Summary: "Send an SMS",
		Description: "Records the message, then hands it to the carrier once. Retries with the same `idempotency_key` and body return the stored outcome (header `Idempotent-Replayed: true`), and never send again.\n\n" +
			"Errors: 422 `invalid_phone_number` (with a `reason`), `invalid_sender` (give exactly one of from_number and phone_number_id), `invalid_media_url`, `invalid_webhook_url`, `idempotency_key_reused` (same key, different body); " +
			"404 `sender_not_found`; 409 `sender_inactive`, `sender_not_sms_capable`, `idempotent_request_in_progress` (with Retry-After); " +
			"422 `sms_rejected_by_carrier` (the carrier refused the destination or content); 502 `telephony_provider_error` (the carrier could not take it; it was not sent — retry with a new key).",
		Security: httpapi.Authed, DefaultStatus: http.StatusCreated, Errors: []int{401, 404, 409, 422, 502},
	}, func(ctx context.Context, in *sendInput) (*sendOutput, error) {
		b := in.Body
		m, replayed, err := s.Send(ctx, httpapi.MustPrincipal(ctx).TeamID, SendInput{To: b.To, Text: b.Text,
			IdempotencyKey: b.IdempotencyKey, FromNumber: b.FromNumber, PhoneNumberID: b.PhoneNumberID,
			MediaURLs: b.MediaURLs, WebhookURL: b.WebhookURL})
		if err != nil {
			var he *httpapi.Error
			if replayed && errors.As(err, &he) {
				return nil, he.WithHeader("Idempotent-Replayed", "true")
			}
			return nil, s.fail(ctx, err)
		}
		out := &sendOutput{Status: replyFor(m), Body: httpapi.Data[Message]{Data: m}}
		if replayed {
			out.Replayed = "true"
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-sms", Method: http.MethodGet, Path: "/api/v1/sms", Tags: tags,
		Summary: "List messages", Description: "Both directions, newest first.",
		Security: httpapi.Authed, Errors: []int{401, 422},
	}, func(ctx context.Context, in *listMessagesInput) (*httpapi.List[Message], error) {
		return s.list(ctx, *in, "")
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-sms", Method: http.MethodGet, Path: "/api/v1/sms/{message_id}", Tags: tags,
		Summary: "Get a message and its delivery state", Security: httpapi.Authed, Errors: []int{401, 404},
	}, func(ctx context.Context, in *messageIDInput) (*httpapi.Response[Message], error) {
		m, err := messageByID(ctx, s.db.R, httpapi.MustPrincipal(ctx).TeamID, in.MessageID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(m), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-inbound-sms", Method: http.MethodGet, Path: "/api/v1/sms/inbound", Tags: tags,
		Summary: "List inbound messages", Description: "Messages received on the team's numbers, newest first.",
		Security: httpapi.Authed, Errors: []int{401, 422},
	}, func(ctx context.Context, in *listMessagesInput) (*httpapi.List[Message], error) {
		return s.list(ctx, *in, Incoming)
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-inbound-sms", Method: http.MethodGet, Path: "/api/v1/sms/inbound/{message_id}", Tags: tags,
		Summary: "Get an inbound message", Security: httpapi.Authed, Errors: []int{401, 404},
	}, func(ctx context.Context, in *messageIDInput) (*httpapi.Response[Message], error) {
		m, err := messageByID(ctx, s.db.R, httpapi.MustPrincipal(ctx).TeamID, in.MessageID)
		if err == nil && m.Direction != Incoming {
			err = errNotFound
		}
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(m), nil
	})

	ctags := []string{"Conversations"}
	huma.Register(api, huma.Operation{
		OperationID: "list-conversations", Method: http.MethodGet, Path: "/api/v1/conversations", Tags: ctags,
		Summary: "List conversation threads", Description: "One thread per (your number, remote number), most recent activity first.",
		Security: httpapi.Authed, Errors: []int{401, 422},
	}, func(ctx context.Context, in *listConversationsInput) (*httpapi.List[Conversation], error) {
		f := ConversationFilter{PhoneNumberID: in.PhoneNumberID}
		if in.RemoteNumber != "" {
			e164, err := phonenum.E164(in.RemoteNumber)
			if err != nil {
				return nil, httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidPhoneNumber, phonenum.Describe("remote_number", err))
			}
			f.RemoteNumber = e164
		}
		if !in.Since.IsZero() {
			f.Since = &in.Since
		}
		cs, total, err := listConversations(ctx, s.db.R, httpapi.MustPrincipal(ctx).TeamID, f, in.Limit(), in.Offset())
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewList(cs, in.PageParams, total), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-conversation", Method: http.MethodGet, Path: "/api/v1/conversations/{conversation_id}", Tags: ctags,
		Summary: "Get a conversation thread", Security: httpapi.Authed, Errors: []int{401, 404},
	}, func(ctx context.Context, in *conversationIDInput) (*httpapi.Response[Conversation], error) {
		c, err := conversationByID(ctx, s.db.R, httpapi.MustPrincipal(ctx).TeamID, in.ConversationID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(c), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-conversation-messages", Method: http.MethodGet, Path: "/api/v1/conversations/{conversation_id}/messages", Tags: ctags,
		Summary: "List a thread's messages", Description: "Both directions, oldest first.",
		Security: httpapi.Authed, Errors: []int{401, 404},
	}, func(ctx context.Context, in *conversationMessagesInput) (*httpapi.List[Message], error) {
		team := httpapi.MustPrincipal(ctx).TeamID
		if _, err := conversationByID(ctx, s.db.R, team, in.ConversationID); err != nil {
			return nil, s.fail(ctx, err)
		}
		ms, total, err := listMessages(ctx, s.db.R, team, MessageFilter{ConversationID: in.ConversationID, Oldest: true}, in.Limit(), in.Offset())
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewList(ms, in.PageParams, total), nil
	})
}

func (s *Service) list(ctx context.Context, in listMessagesInput, direction string) (*httpapi.List[Message], error) {
	f, err := in.filter()
	if err != nil {
		return nil, err
	}
	if direction != "" {
		f.Direction = direction
	}
	ms, total, err := listMessages(ctx, s.db.R, httpapi.MustPrincipal(ctx).TeamID, f, in.Limit(), in.Offset())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return httpapi.NewList(ms, in.PageParams, total), nil
}

func (s *Service) fail(ctx context.Context, err error) error {
	return httpapi.Fail(ctx, s.log, err, errNotFound,
		httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "no such message or conversation"))
}
