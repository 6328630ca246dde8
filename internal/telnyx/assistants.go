package telnyx

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Assistant is a Telnyx AI assistant (one version of it).
type Assistant struct {
	ID           string
	Name         string
	Description  string
	Instructions string
	Model        string
	// Greeting is the assistant's first turn; empty means it waits for the
	// other party to speak.
	Greeting string
	// DynamicVariables are default values for {{placeholders}}.
	DynamicVariables map[string]string
	// DynamicVariablesWebhookURL receives the signed assistant.initialization
	// request at the start of each conversation.
	DynamicVariablesWebhookURL string
	// DynamicVariablesWebhookTimeout is how long Telnyx waits for it.
	DynamicVariablesWebhookTimeout time.Duration
	EnabledFeatures                []string
	Tools                          []Tool
	Voice                          *VoiceSettings
	Transcription                  *TranscriptionSettings
	Telephony                      *TelephonySettings
	Messaging                      *AssistantMessaging
	// InsightGroupID names the insight group run on every conversation.
	InsightGroupID string
	Tags           []string
	VersionID      string
	VersionName    string
	CreatedAt      time.Time
}

// VoiceSettings selects the assistant's text-to-speech voice.
type VoiceSettings struct {
	Voice      string  `json:"voice"`
	VoiceSpeed float64 `json:"voice_speed,omitempty"`
}

// TranscriptionSettings selects the assistant's speech-to-text model.
type TranscriptionSettings struct {
	Model    string `json:"model,omitempty"`
	Language string `json:"language,omitempty"`
}

// TelephonySettings are the assistant's voice-call settings.
type TelephonySettings struct {
	// DefaultTeXMLAppID is the TeXML application Telnyx creates for the
	// assistant; pointing a number's connection at it routes calls here.
	DefaultTeXMLAppID string `json:"default_texml_app_id,omitempty"`
	TimeLimitSecs     int    `json:"time_limit_secs,omitempty"`
	// Recording controls call recording; nil keeps Telnyx's default (on).
	Recording *RecordingSettings `json:"recording_settings,omitempty"`
	// Voicemail says what to do when a machine answers.
	Voicemail *VoicemailDetection `json:"voicemail_detection,omitempty"`
}

// RecordingSettings control an assistant's call recording.
type RecordingSettings struct {
	Enabled  *bool  `json:"enabled,omitempty"`
	Channels string `json:"channels,omitempty"`
	Format   string `json:"format,omitempty"`
}

// VoicemailDetection tells the assistant how to treat an answering machine.
type VoicemailDetection struct {
	OnVoicemailDetected struct {
		// Action is stop_assistant, leave_message_and_stop_assistant or
		// continue_assistant.
		Action           string `json:"action,omitempty"`
		VoicemailMessage *struct {
			Type    string `json:"type,omitempty"`
			Message string `json:"message,omitempty"`
			Prompt  string `json:"prompt,omitempty"`
		} `json:"voicemail_message,omitempty"`
	} `json:"on_voicemail_detected"`
}

// AssistantMessaging are the assistant's SMS settings.
type AssistantMessaging struct {
	DefaultMessagingProfileID string `json:"default_messaging_profile_id,omitempty"`
	DeliveryStatusWebhookURL  string `json:"delivery_status_webhook_url,omitempty"`
}

// AssistantParams is the body of an assistant create or update. Zero fields
// are omitted (left unchanged on update); nil maps and slices are omitted,
// while empty non-nil ones are sent and clear the value on update.
type AssistantParams struct {
	Name         string
	Description  string
	Instructions string
	Model        string
	// Greeting is a pointer because "" is meaningful (wait for the caller).
	Greeting                       *string
	DynamicVariables               map[string]string
	DynamicVariablesWebhookURL     *string
	DynamicVariablesWebhookTimeout time.Duration
	EnabledFeatures                []string
	Tools                          []Tool
	Voice                          *VoiceSettings
	Transcription                  *TranscriptionSettings
	Telephony                      *TelephonySettings
	Messaging                      *AssistantMessaging
	InsightGroupID                 string
	Tags                           []string
	// VersionName labels the version an update creates.
	VersionName string
	// PromoteToMain, on update, controls whether the new version becomes
	// the main one (Telnyx's default is true).
	PromoteToMain *bool
}

// MarshalJSON encodes the params in Telnyx's snake_case shape.
func (p AssistantParams) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	setStr := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	setStr("name", p.Name)
	setStr("description", p.Description)
	setStr("instructions", p.Instructions)
	setStr("model", p.Model)
	setStr("version_name", p.VersionName)
	if p.Greeting != nil {
		m["greeting"] = *p.Greeting
	}
	if p.DynamicVariables != nil {
		m["dynamic_variables"] = p.DynamicVariables
	}
	if p.DynamicVariablesWebhookURL != nil {
		m["dynamic_variables_webhook_url"] = *p.DynamicVariablesWebhookURL
	}
	if p.DynamicVariablesWebhookTimeout > 0 {
		m["dynamic_variables_webhook_timeout_ms"] = p.DynamicVariablesWebhookTimeout.Milliseconds()
	}
	if p.EnabledFeatures != nil {
		m["enabled_features"] = p.EnabledFeatures
	}
	if p.Tools != nil {
		m["tools"] = p.Tools
	}
	if p.Voice != nil {
		m["voice_settings"] = p.Voice
	}
	if p.Transcription != nil {
		m["transcription"] = p.Transcription
	}
	if p.Telephony != nil {
		m["telephony_settings"] = p.Telephony
	}
	if p.Messaging != nil {
		m["messaging_settings"] = p.Messaging
	}
	if p.InsightGroupID != "" {
		m["insight_settings"] = map[string]string{"insight_group_id": p.InsightGroupID}
	}
	if p.Tags != nil {
		m["tags"] = p.Tags
	}
	if p.PromoteToMain != nil {
		m["promote_to_main"] = *p.PromoteToMain
	}
	return json.Marshal(m)
}

// wireAssistant is the assistant object as Telnyx returns it.
type wireAssistant struct {
	ID                         string                 `json:"id"`
	Name                       string                 `json:"name"`
	Description                string                 `json:"description"`
	Instructions               string                 `json:"instructions"`
	Model                      string                 `json:"model"`
	Greeting                   string                 `json:"greeting"`
	DynamicVariables           map[string]any         `json:"dynamic_variables"`
	DynamicVariablesWebhookURL string                 `json:"dynamic_variables_webhook_url"`
	DynamicVariablesTimeoutMS  int64                  `json:"dynamic_variables_webhook_timeout_ms"`
	EnabledFeatures            []string               `json:"enabled_features"`
	Tools                      []Tool                 `json:"tools"`
	VoiceSettings              *VoiceSettings         `json:"voice_settings"`
	Transcription              *TranscriptionSettings `json:"transcription"`
	TelephonySettings          *TelephonySettings     `json:"telephony_settings"`
	MessagingSettings          *AssistantMessaging    `json:"messaging_settings"`
	InsightSettings            *struct {
		InsightGroupID string `json:"insight_group_id"`
	} `json:"insight_settings"`
	Tags        []string  `json:"tags"`
	VersionID   string    `json:"version_id"`
	VersionName string    `json:"version_name"`
	CreatedAt   time.Time `json:"created_at"`
}

func (w wireAssistant) toAssistant() Assistant {
	a := Assistant{
		ID:                             w.ID,
		Name:                           w.Name,
		Description:                    w.Description,
		Instructions:                   w.Instructions,
		Model:                          w.Model,
		Greeting:                       w.Greeting,
		DynamicVariables:               stringifyMap(w.DynamicVariables),
		DynamicVariablesWebhookURL:     w.DynamicVariablesWebhookURL,
		DynamicVariablesWebhookTimeout: time.Duration(w.DynamicVariablesTimeoutMS) * time.Millisecond,
		EnabledFeatures:                w.EnabledFeatures,
		Tools:                          w.Tools,
		Voice:                          w.VoiceSettings,
		Transcription:                  w.Transcription,
		Telephony:                      w.TelephonySettings,
		Messaging:                      w.MessagingSettings,
		Tags:                           w.Tags,
		VersionID:                      w.VersionID,
		VersionName:                    w.VersionName,
		CreatedAt:                      w.CreatedAt,
	}
	if w.InsightSettings != nil {
		a.InsightGroupID = w.InsightSettings.InsightGroupID
	}
	return a
}

// stringifyMap turns a JSON object with arbitrary scalar values into
// strings, because Telnyx substitutes variables as text.
func stringifyMap(in map[string]any) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		switch t := v.(type) {
		case string:
			out[k] = t
		case nil:
			out[k] = ""
		default:
			b, _ := json.Marshal(t)
			out[k] = string(b)
		}
	}
	return out
}

// CreateAssistant creates an AI assistant. Name and Instructions are required.
func (c *Client) CreateAssistant(ctx context.Context, p AssistantParams) (*Assistant, error) {
	var w wireAssistant
	if err := c.do(ctx, request{method: http.MethodPost, path: "/ai/assistants", body: p}, &w); err != nil {
		return nil, err
	}
	a := w.toAssistant()
	return &a, nil
}

// GetAssistant fetches the main version of an assistant.
func (c *Client) GetAssistant(ctx context.Context, id string) (*Assistant, error) {
	if err := requireID("GET /ai/assistants/{id}", "assistant id", id); err != nil {
		return nil, err
	}
	var w wireAssistant
	if err := c.do(ctx, request{method: http.MethodGet, path: "/ai/assistants/" + escape(id), retrySafe: true}, &w); err != nil {
		return nil, err
	}
	a := w.toAssistant()
	return &a, nil
}

// UpdateAssistant changes an assistant (Telnyx uses POST for this). The
// update creates a new version, promoted to main unless
// p.PromoteToMain is false.
func (c *Client) UpdateAssistant(ctx context.Context, id string, p AssistantParams) (*Assistant, error) {
	if err := requireID("POST /ai/assistants/{id}", "assistant id", id); err != nil {
		return nil, err
	}
	var w wireAssistant
	if err := c.do(ctx, request{method: http.MethodPost, path: "/ai/assistants/" + escape(id), body: p}, &w); err != nil {
		return nil, err
	}
	a := w.toAssistant()
	return &a, nil
}

// DeleteAssistant deletes an assistant.
func (c *Client) DeleteAssistant(ctx context.Context, id string) error {
	if err := requireID("DELETE /ai/assistants/{id}", "assistant id", id); err != nil {
		return err
	}
	var out struct {
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}
	if err := c.do(ctx, request{method: http.MethodDelete, path: "/ai/assistants/" + escape(id), retrySafe: true}, &out); err != nil {
		return err
	}
	if !out.Deleted {
		return &Error{Kind: KindUnknown, Op: "DELETE /ai/assistants/" + id, Title: "Not deleted", Detail: fmt.Sprintf("Telnyx answered deleted=false for %s", id)}
	}
	return nil
}

// ListAssistantVersions returns every version of an assistant.
func (c *Client) ListAssistantVersions(ctx context.Context, id string) ([]Assistant, error) {
	if err := requireID("GET /ai/assistants/{id}/versions", "assistant id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[[]wireAssistant]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/ai/assistants/" + escape(id) + "/versions", retrySafe: true}, &env); err != nil {
		return nil, err
	}
	out := make([]Assistant, 0, len(env.Data))
	for _, w := range env.Data {
		out = append(out, w.toAssistant())
	}
	return out, nil
}
