package telnyx

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Message delivery statuses Telnyx reports per recipient.
const (
	MessageQueued              = "queued"
	MessageSending             = "sending"
	MessageSent                = "sent"
	MessageDelivered           = "delivered"
	MessageSendingFailed       = "sending_failed"
	MessageDeliveryFailed      = "delivery_failed"
	MessageDeliveryUnconfirmed = "delivery_unconfirmed"
	MessageExpired             = "expired"
	MessageReceived            = "received"
)

// SendMessageParams is an SMS or MMS to send.
type SendMessageParams struct {
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	Text string `json:"text,omitempty"`
	// MediaURLs makes the message an MMS.
	MediaURLs          []string `json:"media_urls,omitempty"`
	Subject            string   `json:"subject,omitempty"`
	MessagingProfileID string   `json:"messaging_profile_id,omitempty"`
	// WebhookURL receives this message's delivery events before the
	// messaging profile's URL.
	WebhookURL         string `json:"webhook_url,omitempty"`
	WebhookFailoverURL string `json:"webhook_failover_url,omitempty"`
	// UseProfileWebhooks, when false, suppresses the profile's webhooks.
	UseProfileWebhooks *bool `json:"use_profile_webhooks,omitempty"`
}

// Message is an SMS/MMS as Telnyx reports it, outbound or inbound.
type Message struct {
	ID                 string            `json:"id"`
	Direction          string            `json:"direction"`
	Type               string            `json:"type"`
	MessagingProfileID string            `json:"messaging_profile_id"`
	From               MessageEndpoint   `json:"from"`
	To                 []MessageEndpoint `json:"to"`
	Text               string            `json:"text"`
	Subject            string            `json:"subject"`
	Media              []MessageMedia    `json:"media"`
	WebhookURL         string            `json:"webhook_url"`
	Encoding           string            `json:"encoding"`
	Parts              int               `json:"parts"`
	Tags               []string          `json:"tags"`
	Cost               *Money            `json:"cost"`
	// Errors explain a failed delivery (e.g. code "40300").
	Errors []MessageError `json:"errors"`
	// ReceivedAt is when Telnyx accepted the message; SentAt and
	// CompletedAt are zero until the message is sent and finalized.
	ReceivedAt  time.Time `json:"received_at"`
	SentAt      time.Time `json:"sent_at"`
	CompletedAt time.Time `json:"completed_at"`
}

// Status returns the delivery status of the first recipient, which for a
// one-to-one SMS is the message's status.
func (m *Message) Status() string {
	if len(m.To) == 0 {
		return ""
	}
	return m.To[0].Status
}

// MessageEndpoint is a sender or recipient of a message.
type MessageEndpoint struct {
	PhoneNumber string `json:"phone_number"`
	Status      string `json:"status,omitempty"`
	Carrier     string `json:"carrier,omitempty"`
	LineType    string `json:"line_type,omitempty"`
}

// MessageMedia is one MMS attachment.
type MessageMedia struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// Money is an amount as a decimal string with its ISO currency.
type Money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// MessageError is one delivery error attached to a message.
type MessageError struct {
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// UnmarshalJSON accepts the error code as a string or an integer.
func (e *MessageError) UnmarshalJSON(b []byte) error {
	var w struct {
		Code   json.RawMessage `json:"code"`
		Title  string          `json:"title"`
		Detail string          `json:"detail"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var s string
	if json.Unmarshal(w.Code, &s) != nil {
		s = string(w.Code)
	}
	*e = MessageError{Code: s, Title: w.Title, Detail: w.Detail}
	return nil
}

// SendMessage sends an SMS (or MMS with media). Telnyx answers with the
// message queued; delivery is reported by message.sent and
// message.finalized webhooks. It is never retried automatically, because
// Telnyx offers no idempotency key for it and a repeat would send twice.
func (c *Client) SendMessage(ctx context.Context, p SendMessageParams) (*Message, error) {
	var env dataEnvelope[Message]
	if err := c.do(ctx, request{method: http.MethodPost, path: "/messages", body: p}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// GetMessage fetches a message (Telnyx keeps them for 10 days).
func (c *Client) GetMessage(ctx context.Context, id string) (*Message, error) {
	if err := requireID("GET /messages/{id}", "message id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[Message]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/messages/" + escape(id), retrySafe: true}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}
