package telnyx

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event types this package knows how to decode.
const (
	EventMessageSent              = "message.sent"
	EventMessageFinalized         = "message.finalized"
	EventMessageReceived          = "message.received"
	EventAssistantInitialization  = "assistant.initialization"
	EventCallInitiated            = "call.initiated"
	EventCallAnswered             = "call.answered"
	EventCallHangup               = "call.hangup"
	EventCallRecordingSaved       = "call.recording.saved"
	EventCallConversationEnded    = "call.conversation.ended"
	EventCallConversationInsights = "call.conversation_insights.generated"
)

// ErrNotEvent means a body is not a Telnyx JSON event envelope.
var ErrNotEvent = errors.New("telnyx webhook: not an event envelope")

// Event is a Telnyx JSON webhook: {"data": {...}, "meta": {...}}.
type Event struct {
	// ID identifies the event; redeliveries and duplicates repeat it.
	ID         string
	Type       string
	OccurredAt time.Time
	// Attempt counts delivery attempts (1 for the first); zero when the
	// envelope has no meta block.
	Attempt int
	// DeliveredTo is the URL Telnyx delivered to.
	DeliveredTo string
	// Payload is the event's payload object, undecoded.
	Payload json.RawMessage
}

// ParseEvent decodes a verified JSON webhook body.
func ParseEvent(body []byte) (*Event, error) {
	var w struct {
		Data *struct {
			ID         string          `json:"id"`
			EventType  string          `json:"event_type"`
			RecordType string          `json:"record_type"`
			OccurredAt time.Time       `json:"occurred_at"`
			Payload    json.RawMessage `json:"payload"`
		} `json:"data"`
		Meta *struct {
			Attempt     int    `json:"attempt"`
			DeliveredTo string `json:"delivered_to"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotEvent, err)
	}
	if w.Data == nil || w.Data.EventType == "" || w.Data.ID == "" {
		return nil, fmt.Errorf("%w: data.event_type and data.id are required", ErrNotEvent)
	}
	ev := &Event{ID: w.Data.ID, Type: w.Data.EventType, OccurredAt: w.Data.OccurredAt, Payload: w.Data.Payload}
	if w.Meta != nil {
		ev.Attempt = w.Meta.Attempt
		ev.DeliveredTo = w.Meta.DeliveredTo
	}
	return ev, nil
}

// Message decodes the payload of a message.* event.
func (e *Event) Message() (*Message, error) {
	switch e.Type {
	case EventMessageSent, EventMessageFinalized, EventMessageReceived:
	default:
		return nil, fmt.Errorf("telnyx: event %s is not a message event", e.Type)
	}
	var m Message
	if err := json.Unmarshal(e.Payload, &m); err != nil {
		return nil, fmt.Errorf("telnyx: decode %s payload: %w", e.Type, err)
	}
	return &m, nil
}

// CallEvent is the common payload of Call Control call.* events.
type CallEvent struct {
	CallControlID  string `json:"call_control_id"`
	CallLegID      string `json:"call_leg_id"`
	CallSessionID  string `json:"call_session_id"`
	ConnectionID   string `json:"connection_id"`
	ClientState    string `json:"client_state"`
	From           string `json:"from"`
	To             string `json:"to"`
	Direction      string `json:"direction"`
	State          string `json:"state"`
	HangupCause    string `json:"hangup_cause"`
	HangupSource   string `json:"hangup_source"`
	ConversationID string `json:"conversation_id"`
	AssistantID    string `json:"assistant_id"`
	RecordingID    string `json:"recording_id"`
	RecordingURLs  struct {
		MP3 string `json:"mp3"`
		WAV string `json:"wav"`
	} `json:"recording_urls"`
}

// Call decodes the payload of a call.* event.
func (e *Event) Call() (*CallEvent, error) {
	var c CallEvent
	if err := json.Unmarshal(e.Payload, &c); err != nil {
		return nil, fmt.Errorf("telnyx: decode %s payload: %w", e.Type, err)
	}
	return &c, nil
}

// AssistantInitialization is the payload of the assistant.initialization
// request Telnyx posts to an assistant's dynamic-variables webhook.
type AssistantInitialization struct {
	EventID string
	// Channel is phone_call, web_call, sms_chat or web_chat.
	Channel string `json:"telnyx_conversation_channel"`
	// AgentTarget is the assistant's side: our number.
	AgentTarget string `json:"telnyx_agent_target"`
	// EndUserTarget is the other party's number.
	EndUserTarget string `json:"telnyx_end_user_target"`
	// EndUserTargetVerified is true for inbound calls with verified
	// STIR/SHAKEN A attestation.
	EndUserTargetVerified bool   `json:"telnyx_end_user_target_verified"`
	CallControlID         string `json:"call_control_id"`
	AssistantID           string `json:"assistant_id"`
}

// AssistantInitialization decodes an assistant.initialization event.
func (e *Event) AssistantInitialization() (*AssistantInitialization, error) {
	if e.Type != EventAssistantInitialization {
		return nil, fmt.Errorf("telnyx: event %s is not %s", e.Type, EventAssistantInitialization)
	}
	var a AssistantInitialization
	if err := json.Unmarshal(e.Payload, &a); err != nil {
		return nil, fmt.Errorf("telnyx: decode %s payload: %w", e.Type, err)
	}
	a.EventID = e.ID
	return &a, nil
}

// DynamicVariablesResponse is the answer to assistant.initialization.
// Encode it with encoding/json and reply 200 application/json.
type DynamicVariablesResponse struct {
	// Variables fill the assistant's {{placeholders}}.
	Variables map[string]string
	// ConversationMetadata is attached to the new conversation.
	ConversationMetadata map[string]string
	// MemoryConversationQuery selects past conversations the assistant
	// remembers (a list-conversations query string).
	MemoryConversationQuery string
	// MemoryInsightQuery limits memory to some insights ("insight_ids=...").
	MemoryInsightQuery string
}

// MarshalJSON encodes Telnyx's shape: variables nested under
// "dynamic_variables" (a flat object would be ignored).
func (r DynamicVariablesResponse) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	vars := r.Variables
	if vars == nil {
		vars = map[string]string{}
	}
	m["dynamic_variables"] = vars
	if len(r.ConversationMetadata) > 0 {
		m["conversation"] = map[string]any{"metadata": r.ConversationMetadata}
	}
	if r.MemoryConversationQuery != "" || r.MemoryInsightQuery != "" {
		mem := map[string]string{}
		if r.MemoryConversationQuery != "" {
			mem["conversation_query"] = r.MemoryConversationQuery
		}
		if r.MemoryInsightQuery != "" {
			mem["insight_query"] = r.MemoryInsightQuery
		}
		m["memory"] = mem
	}
	return json.Marshal(m)
}
