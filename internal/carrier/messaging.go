package carrier

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/messaging"
	"github.com/peakvoice/peakvoice/internal/telnyx"
)

// Messages adapts the Telnyx client to messaging.Carrier.
type Messages struct{ C *telnyx.Client }

var _ messaging.Carrier = Messages{}

// SendMessage hands one message to Telnyx. It is never retried here: the
// messaging domain decides, and it sends at most once.
func (m Messages) SendMessage(ctx context.Context, o messaging.Outbound) (messaging.Accepted, error) {
	msg, err := m.C.SendMessage(ctx, telnyx.SendMessageParams{From: o.From, To: o.To, Text: o.Text,
		MediaURLs: o.MediaURLs, WebhookURL: o.WebhookURL})
	if err != nil {
		return messaging.Accepted{}, wrap(err)
	}
	return messaging.Accepted{ProviderID: msg.ID, Status: msg.Status(), Parts: msg.Parts}, nil
}

var _ messaging.StatusChecker = Messages{}

// MessageStatus asks Telnyx where a message stands, for the reconciler.
func (m Messages) MessageStatus(ctx context.Context, providerID string) (messaging.StatusUpdate, error) {
	msg, err := m.C.GetMessage(ctx, providerID)
	if err != nil {
		return messaging.StatusUpdate{}, wrap(err)
	}
	// The record says when the message was finalized or sent; that, not
	// the moment we asked, is when its state changed.
	at := msg.CompletedAt
	if at.IsZero() {
		at = msg.SentAt
	}
	return statusUpdate(msg, at), nil
}

// statusUpdate is what a Telnyx message record says about its state.
func statusUpdate(msg *telnyx.Message, at time.Time) messaging.StatusUpdate {
	u := messaging.StatusUpdate{ProviderID: msg.ID, Status: msg.Status(), Parts: msg.Parts, At: at}
	if len(msg.Errors) > 0 {
		u.ErrorCode, u.ErrorDetail = msg.Errors[0].Code, msg.Errors[0].Title
		if msg.Errors[0].Detail != "" {
			u.ErrorDetail = msg.Errors[0].Detail
		}
	}
	return u
}

// MessageEvents applies verified carrier message events.
type MessageEvents interface {
	ApplyStatus(ctx context.Context, eventID, eventType string, u messaging.StatusUpdate) error
	Receive(ctx context.Context, eventID string, in messaging.Inbound) error
}

// Codes for rejected carrier webhooks.
const (
	CodeInvalidSignature = "invalid_signature"
	CodeInvalidEvent     = "invalid_event"
)

// MessagingWebhook is the endpoint Telnyx posts message events to. The
// signature is checked over the raw body before anything is parsed or
// stored; forged, stale or re-serialized requests get 401 and change
// nothing. A 503 asks Telnyx to deliver again later.
func MessagingWebhook(v *telnyx.Verifier, sink MessageEvents, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.ReadVerified(r, time.Now())
		if err != nil {
			log.WarnContext(r.Context(), "rejected carrier webhook", "err", err)
			httpapi.WriteError(w, httpapi.NewError(http.StatusUnauthorized, CodeInvalidSignature, "the webhook signature is missing, invalid or stale"))
			return
		}
		ev, err := telnyx.ParseEvent(body)
		if err != nil {
			httpapi.WriteError(w, httpapi.NewError(http.StatusBadRequest, CodeInvalidEvent, "the body is not a carrier event"))
			return
		}
		switch ev.Type {
		case telnyx.EventMessageSent, telnyx.EventMessageFinalized, telnyx.EventMessageReceived:
		default:
			w.WriteHeader(http.StatusNoContent) // not ours to handle
			return
		}
		msg, err := ev.Message()
		if err != nil {
			httpapi.WriteError(w, httpapi.NewError(http.StatusBadRequest, CodeInvalidEvent, "the message payload does not decode"))
			return
		}
		if ev.Type == telnyx.EventMessageReceived {
			in := messaging.Inbound{ProviderID: msg.ID, From: msg.From.PhoneNumber, Text: msg.Text, At: msg.ReceivedAt}
			if len(msg.To) > 0 {
				in.To = msg.To[0].PhoneNumber
			}
			for _, m := range msg.Media {
				in.MediaURLs = append(in.MediaURLs, m.URL)
			}
			err = sink.Receive(r.Context(), ev.ID, in)
		} else {
			u := statusUpdate(msg, ev.OccurredAt)
			err = applySoon(r.Context(), func() error { return sink.ApplyStatus(r.Context(), ev.ID, ev.Type, u) }, messaging.IsRetryLater)
		}
		switch {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case messaging.IsRetryLater(err):
			w.Header().Set("Retry-After", "1")
			httpapi.WriteError(w, httpapi.NewError(http.StatusServiceUnavailable, httpapi.CodeUnavailable, "not ready for this event yet; deliver it again"))
		default:
			failRequest(w, r, log, err, "apply carrier message event", "event", ev.Type)
		}
	})
}
