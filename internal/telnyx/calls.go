package telnyx

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// TeXMLApp is a TeXML application: a voice connection whose calls are
// driven by the TeXML documents its VoiceURL returns.
type TeXMLApp struct {
	ID               string `json:"id"`
	FriendlyName     string `json:"friendly_name"`
	Active           bool   `json:"active"`
	VoiceURL         string `json:"voice_url"`
	VoiceMethod      string `json:"voice_method"`
	VoiceFallbackURL string `json:"voice_fallback_url"`
	// StatusCallback receives form-encoded call-progress callbacks.
	StatusCallback       string    `json:"status_callback"`
	StatusCallbackMethod string    `json:"status_callback_method"`
	Tags                 []string  `json:"tags"`
	CreatedAt            time.Time `json:"created_at"`
	UpdatedAt            time.Time `json:"updated_at"`
}

// TeXMLAppParams creates or updates a TeXML application. On create,
// FriendlyName and VoiceURL are required.
type TeXMLAppParams struct {
	FriendlyName string `json:"friendly_name,omitempty"`
	VoiceURL     string `json:"voice_url,omitempty"`
	// VoiceMethod is "get" or "post" (Telnyx's default).
	VoiceMethod          string   `json:"voice_method,omitempty"`
	VoiceFallbackURL     string   `json:"voice_fallback_url,omitempty"`
	StatusCallback       string   `json:"status_callback,omitempty"`
	StatusCallbackMethod string   `json:"status_callback_method,omitempty"`
	Active               *bool    `json:"active,omitempty"`
	Tags                 []string `json:"tags,omitempty"`
}

// CreateTeXMLApp creates a TeXML application.
func (c *Client) CreateTeXMLApp(ctx context.Context, p TeXMLAppParams) (*TeXMLApp, error) {
	var env dataEnvelope[TeXMLApp]
	if err := c.do(ctx, request{method: http.MethodPost, path: "/texml_applications", body: p}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// GetTeXMLApp fetches a TeXML application.
func (c *Client) GetTeXMLApp(ctx context.Context, id string) (*TeXMLApp, error) {
	if err := requireID("GET /texml_applications/{id}", "texml application id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[TeXMLApp]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/texml_applications/" + escape(id), retrySafe: true}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// UpdateTeXMLApp patches a TeXML application.
func (c *Client) UpdateTeXMLApp(ctx context.Context, id string, p TeXMLAppParams) (*TeXMLApp, error) {
	if err := requireID("PATCH /texml_applications/{id}", "texml application id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[TeXMLApp]
	if err := c.do(ctx, request{method: http.MethodPatch, path: "/texml_applications/" + escape(id), body: p}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// Call-progress events a status callback can subscribe to.
const (
	CallEventInitiated = "initiated"
	CallEventRinging   = "ringing"
	CallEventAnswered  = "answered"
	CallEventCompleted = "completed"
	CallEventNoAnswer  = "no-answer"
	CallEventBusy      = "busy"
	CallEventCanceled  = "canceled"
	CallEventFailed    = "failed"
)

// AllCallEvents lists every call-progress event, to subscribe to all of them.
func AllCallEvents() []string {
	return []string{CallEventInitiated, CallEventRinging, CallEventAnswered, CallEventCompleted,
		CallEventNoAnswer, CallEventBusy, CallEventCanceled, CallEventFailed}
}

// AICallParams places an outbound call answered by an AI assistant.
type AICallParams struct {
	// ConnectionID is the TeXML application placing the call (for example
	// the assistant's DefaultTeXMLAppID).
	ConnectionID     string
	From             string
	To               string
	AssistantID      string
	AssistantVersion string
	// DynamicVariables take precedence over every other variable source.
	DynamicVariables map[string]string
	// StatusCallback receives form-encoded call-progress callbacks.
	StatusCallback string
	// StatusCallbackEvents chooses which; nil means AllCallEvents().
	StatusCallbackEvents []string
	// Timeout is how long to ring (5s-120s; Telnyx default 30s).
	Timeout time.Duration
	// TimeLimit caps the call's length (Telnyx default 4h).
	TimeLimit time.Duration
	// MachineDetection is "Enable", "Disable" or "DetectMessageEnd".
	MachineDetection string
	// Record asks Telnyx to record the call.
	Record bool
}

// AICall is Telnyx's answer to an outbound AI call request.
type AICall struct {
	// CallSID is the TeXML call id, which is also the Call Control
	// call_control_id.
	CallSID string `json:"call_sid"`
	From    string `json:"from"`
	To      string `json:"to"`
	Status  string `json:"status"`
}

// StartAICall places an outbound call through
// POST /texml/ai_calls/{connection_id}. It is never retried automatically:
// Telnyx offers no idempotency key for it and a repeat would dial twice.
func (c *Client) StartAICall(ctx context.Context, p AICallParams) (*AICall, error) {
	if err := requireID("POST /texml/ai_calls/{connection_id}", "connection id", p.ConnectionID); err != nil {
		return nil, err
	}
	body := map[string]any{
		"From":          p.From,
		"To":            p.To,
		"AIAssistantId": p.AssistantID,
	}
	if p.AssistantVersion != "" {
		body["AIAssistantVersion"] = p.AssistantVersion
	}
	if len(p.DynamicVariables) > 0 {
		body["AIAssistantDynamicVariables"] = p.DynamicVariables
	}
	if p.StatusCallback != "" {
		events := p.StatusCallbackEvents
		if events == nil {
			events = AllCallEvents()
		}
		body["StatusCallback"] = p.StatusCallback
		body["StatusCallbackEvent"] = strings.Join(events, " ")
		body["StatusCallbackMethod"] = "POST"
	}
	if p.Timeout > 0 {
		body["Timeout"] = int(p.Timeout / time.Second)
	}
	if p.TimeLimit > 0 {
		body["TimeLimit"] = int(p.TimeLimit / time.Second)
	}
	if p.MachineDetection != "" {
		body["MachineDetection"] = p.MachineDetection
	}
	if p.Record {
		body["Record"] = true
	}
	var out AICall
	if err := c.do(ctx, request{method: http.MethodPost, path: "/texml/ai_calls/" + escape(p.ConnectionID), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// HangupCall ends a live call through the Call Control hangup command.
// Each call carries a fresh command_id, which Telnyx uses to ignore
// duplicates, so the command is retried on transient failures.
func (c *Client) HangupCall(ctx context.Context, callControlID string) error {
	if err := requireID("POST /calls/{id}/actions/hangup", "call control id", callControlID); err != nil {
		return err
	}
	body := map[string]string{"command_id": uuid.NewString()}
	return c.do(ctx, request{
		method: http.MethodPost, path: "/calls/" + escape(callControlID) + "/actions/hangup",
		body: body, retrySafe: true,
	}, nil)
}

// texmlResponse is the root of a TeXML document.
type texmlResponse struct {
	XMLName xml.Name `xml:"Response"`
	Reject  *struct {
		Reason string `xml:"reason,attr,omitempty"`
	} `xml:"Reject,omitempty"`
	Connect *struct {
		AIAssistant struct {
			ID string `xml:"id,attr"`
		} `xml:"AIAssistant"`
	} `xml:"Connect,omitempty"`
}

// TeXMLReject returns a TeXML document that rejects an inbound call
// without answering it. Reason is "rejected" (default when empty) or "busy".
func TeXMLReject(reason string) []byte {
	doc := texmlResponse{Reject: &struct {
		Reason string `xml:"reason,attr,omitempty"`
	}{Reason: reason}}
	return marshalTeXML(doc)
}

// TeXMLConnectAssistant returns a TeXML document that answers the call and
// connects it to the given AI assistant.
func TeXMLConnectAssistant(assistantID string) []byte {
	doc := texmlResponse{Connect: &struct {
		AIAssistant struct {
			ID string `xml:"id,attr"`
		} `xml:"AIAssistant"`
	}{}}
	doc.Connect.AIAssistant.ID = assistantID
	return marshalTeXML(doc)
}

// TeXMLContentType is the content type to answer TeXML requests with.
const TeXMLContentType = "application/xml"

func marshalTeXML(doc texmlResponse) []byte {
	b, err := xml.Marshal(doc)
	if err != nil {
		// The document is built from fixed types; failure is a programming error.
		panic("telnyx: marshal texml: " + err.Error())
	}
	return append([]byte(xml.Header), b...)
}

// CallState is Call Control's view of a call: whether it is still up and,
// once it ended, how long it lasted. Telnyx keeps it for about ten minutes
// after the call ends.
type CallState struct {
	CallControlID string `json:"call_control_id"`
	CallLegID     string `json:"call_leg_id"`
	CallSessionID string `json:"call_session_id"`
	IsAlive       bool   `json:"is_alive"`
	// CallDuration is in seconds.
	CallDuration int `json:"call_duration"`
}

// GetCallState looks a call up by its call_control_id
// (GET /calls/{call_control_id}).
func (c *Client) GetCallState(ctx context.Context, callControlID string) (*CallState, error) {
	if err := requireID("GET /calls/{call_control_id}", "call control id", callControlID); err != nil {
		return nil, err
	}
	var env dataEnvelope[CallState]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/calls/" + escape(callControlID)}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}
