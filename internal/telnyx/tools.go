package telnyx

import (
	"encoding/json"
	"fmt"
)

// ToolType names the kind of an assistant tool.
type ToolType string

// Tool types the product configures. Others round-trip through Tool.Raw.
const (
	ToolWebhook  ToolType = "webhook"
	ToolHandoff  ToolType = "handoff"
	ToolHangup   ToolType = "hangup"
	ToolTransfer ToolType = "transfer"
)

// Tool is one assistant tool. Exactly one of Webhook, Handoff, Hangup or
// Transfer is set, matching Type; tools of other types keep their JSON in
// Raw so an update does not lose them.
type Tool struct {
	Type     ToolType
	Webhook  *WebhookTool
	Handoff  *HandoffTool
	Hangup   *HangupTool
	Transfer *TransferTool
	// Raw is the tool's full JSON for types this package does not model.
	Raw json.RawMessage
}

// WebhookTool lets the assistant call an HTTP endpoint mid-conversation.
type WebhookTool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// URL may contain {placeholders} filled from PathParameters.
	URL    string `json:"url"`
	Method string `json:"method,omitempty"`
	// Headers are sent with every call; values may use {{variables}}.
	Headers []Header `json:"headers,omitempty"`
	// BodyParameters, QueryParameters and PathParameters are JSON Schema
	// objects describing the arguments the model fills in.
	BodyParameters  json.RawMessage `json:"body_parameters,omitempty"`
	QueryParameters json.RawMessage `json:"query_parameters,omitempty"`
	PathParameters  json.RawMessage `json:"path_parameters,omitempty"`
	Async           bool            `json:"async,omitempty"`
	TimeoutMS       int             `json:"timeout_ms,omitempty"`
	// StoreFieldsAsVariables copies response fields into dynamic variables.
	StoreFieldsAsVariables []StoredField `json:"store_fields_as_variables,omitempty"`
}

// Header is a name/value pair.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// StoredField maps a dot path in a webhook tool's response to a variable.
type StoredField struct {
	Name      string `json:"name"`
	ValuePath string `json:"value_path"`
}

// HandoffTool lets the assistant hand the live call to other assistants.
type HandoffTool struct {
	Assistants []HandoffTarget `json:"ai_assistants"`
	// VoiceMode is "unified" (one shared voice) or "distinct".
	VoiceMode string `json:"voice_mode,omitempty"`
}

// HandoffTarget is one assistant a handoff may switch to.
type HandoffTarget struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// HangupTool lets the assistant end the call.
type HangupTool struct {
	Description string `json:"description,omitempty"`
}

// TransferTool lets the assistant transfer the call to a phone number.
type TransferTool struct {
	From        string           `json:"from"`
	Targets     []TransferTarget `json:"targets"`
	Description string           `json:"description,omitempty"`
}

// TransferTarget is one destination of a transfer tool.
type TransferTarget struct {
	Name string `json:"name,omitempty"`
	To   string `json:"to"`
}

// MarshalJSON encodes {"type": T, T: {...}}.
func (t Tool) MarshalJSON() ([]byte, error) {
	var inner any
	switch t.Type {
	case ToolWebhook:
		inner = t.Webhook
	case ToolHandoff:
		inner = t.Handoff
	case ToolHangup:
		if t.Hangup == nil {
			inner = HangupTool{}
		} else {
			inner = t.Hangup
		}
	case ToolTransfer:
		inner = t.Transfer
	default:
		if len(t.Raw) > 0 {
			return t.Raw, nil
		}
		return nil, fmt.Errorf("telnyx: tool type %q has no body", t.Type)
	}
	if inner == nil {
		return nil, fmt.Errorf("telnyx: tool type %q has no body", t.Type)
	}
	return json.Marshal(map[string]any{"type": string(t.Type), string(t.Type): inner})
}

// UnmarshalJSON decodes {"type": T, T: {...}}.
func (t *Tool) UnmarshalJSON(b []byte) error {
	var head struct {
		Type ToolType `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil {
		return err
	}
	*t = Tool{Type: head.Type, Raw: append(json.RawMessage(nil), b...)}
	inner := body[string(head.Type)]
	if len(inner) == 0 || string(inner) == "null" {
		return nil
	}
	switch head.Type {
	case ToolWebhook:
		t.Webhook = new(WebhookTool)
		return json.Unmarshal(inner, t.Webhook)
	case ToolHandoff:
		t.Handoff = new(HandoffTool)
		return json.Unmarshal(inner, t.Handoff)
	case ToolHangup:
		t.Hangup = new(HangupTool)
		return json.Unmarshal(inner, t.Hangup)
	case ToolTransfer:
		t.Transfer = new(TransferTool)
		return json.Unmarshal(inner, t.Transfer)
	}
	return nil
}
