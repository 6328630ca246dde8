package console

import "encoding/json"

// The console's views of API objects: only the fields the pages show.
// Nullable API fields decode into plain strings (null stays empty).

type call struct {
	ID                 string            `json:"id"`
	AgentID            string            `json:"agent_id"`
	Direction          string            `json:"direction"`
	Status             string            `json:"status"`
	From               string            `json:"phone_number_from"`
	To                 string            `json:"phone_number_to"`
	BriefText          string            `json:"call_brief_text"`
	BriefVariables     map[string]string `json:"call_brief_variables"`
	HangupCause        string            `json:"hangup_cause"`
	DurationSeconds    int               `json:"duration_seconds"`
	ErrorCode          string            `json:"error_code"`
	ErrorDetail        string            `json:"error_detail"`
	ResultStatus       string            `json:"result_status"`
	CreatedAt          string            `json:"created_at"`
	EndedAt            string            `json:"ended_at"`
	ProviderCallID     string            `json:"provider_call_id"`
	DynamicVariables   map[string]string `json:"dynamic_variables"`
	AnsweredBy         string            `json:"answered_by"`
	ProviderAgentID    string            `json:"provider_agent_id"`
	IdempotencyKey     string            `json:"idempotency_key"`
	WebhookURL         string            `json:"webhook_url"`
	CallSessionID      string            `json:"provider_call_session_id"`
	HangupSource       string            `json:"hangup_source"`
	UpdatedAt          string            `json:"updated_at"`
	InitiatedAt        string            `json:"initiated_at"`
	AnsweredAt         string            `json:"answered_at"`
	PhoneNumberID      string            `json:"phone_number_id"`
	CompatibilityExtra map[string]string `json:"compatibility_overrides"`
}

type turn struct {
	Role string `json:"role"`
	Text string `json:"text"`
	At   string `json:"at"`
}

type objectiveResult struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Evidence string `json:"evidence"`
}

type callResult struct {
	Transcript     []turn            `json:"transcript"`
	RecordingURL   string            `json:"recording_url"`
	Summary        string            `json:"summary"`
	StructuredData map[string]any    `json:"structured_data"`
	Objectives     []objectiveResult `json:"objectives"`
}

type callDetail struct {
	Call   call        `json:"call"`
	Result *callResult `json:"result"`
}

// callEvent is one entry of a call's event log, as the stream sends it.
type callEvent struct {
	Seq    int             `json:"seq"`
	Type   string          `json:"type"`
	Status string          `json:"status"`
	At     string          `json:"at"`
	Data   json.RawMessage `json:"data"`
}

type agent struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Instructions       string   `json:"instructions"`
	Greeting           string   `json:"greeting"`
	Channels           []string `json:"channels"`
	ProviderAgentID    string   `json:"provider_agent_id"`
	ProviderSyncStatus string   `json:"provider_sync_status"`
	ProviderSyncError  string   `json:"provider_sync_error"`
	CurrentVersion     int      `json:"current_version"`
	Objectives         []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"objectives"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type agentVersion struct {
	VersionNumber int      `json:"version_number"`
	Name          string   `json:"name"`
	ChangedFields []string `json:"changed_fields"`
	CreatedAt     string   `json:"created_at"`
}

type phoneNumber struct {
	ID           string `json:"id"`
	PhoneNumber  string `json:"phone_number"`
	Status       string `json:"status"`
	VoiceAgentID string `json:"voice_agent_id"`
	Label        string `json:"label"`
	Capabilities struct {
		SMS   bool `json:"sms"`
		Voice bool `json:"voice"`
	} `json:"capabilities"`
}

type conversation struct {
	ID                 string `json:"id"`
	OurNumber          string `json:"our_number"`
	RemoteNumber       string `json:"remote_number"`
	MessageCount       int    `json:"message_count"`
	LastMessageAt      string `json:"last_message_at"`
	LastMessagePreview string `json:"last_message_preview"`
	LastDirection      string `json:"last_direction"`
}

type message struct {
	ID          string `json:"id"`
	Direction   string `json:"direction"`
	Status      string `json:"status"`
	From        string `json:"from"`
	To          string `json:"to"`
	Text        string `json:"text"`
	ErrorCode   string `json:"error_code"`
	ErrorDetail string `json:"error_detail"`
	CreatedAt   string `json:"created_at"`
}

type inboundSession struct {
	ID                  string         `json:"id"`
	PhoneNumberID       string         `json:"phone_number_id"`
	AgentID             string         `json:"agent_id"`
	Status              string         `json:"status"`
	ExpiresAt           string         `json:"expires_at"`
	AllowedCallerNumber string         `json:"allowed_caller_number"`
	ExternalSessionID   string         `json:"external_session_id"`
	ContextVariables    map[string]any `json:"context_variables"`
	CallbackTargets     []struct {
		ID                string   `json:"id"`
		Label             string   `json:"label"`
		OrganizationName  string   `json:"organization_name"`
		ContactName       string   `json:"contact_name"`
		KnownPhoneNumbers []string `json:"known_phone_numbers"`
		Priority          int      `json:"priority"`
	} `json:"callback_targets"`
	ExpectedCallers []struct {
		ID          string `json:"id"`
		PhoneNumber string `json:"phone_number"`
		ContactName string `json:"contact_name"`
		Label       string `json:"label"`
	} `json:"expected_callers"`
	CreatedAt string `json:"created_at"`
}

type poolEntry struct {
	PhoneNumberID string `json:"phone_number_id"`
	PhoneNumber   string `json:"phone_number"`
	Status        string `json:"status"`
	SessionID     string `json:"inbound_session_id"`
	StateUntil    string `json:"state_until"`
	Leases        int    `json:"leases"`
}

type delivery struct {
	ID             string `json:"id"`
	EventID        string `json:"event_id"`
	EventType      string `json:"event_type"`
	URL            string `json:"url"`
	Status         string `json:"status"`
	Round          int    `json:"round"`
	AttemptCount   int    `json:"attempt_count"`
	LastStatusCode int    `json:"last_status_code"`
	LastError      string `json:"last_error"`
	CreatedAt      string `json:"created_at"`
	Attempts       []struct {
		ID         string `json:"id"`
		Round      int    `json:"round"`
		Attempt    int    `json:"attempt"`
		StartedAt  string `json:"started_at"`
		StatusCode int    `json:"status_code"`
		LatencyMS  int64  `json:"latency_ms"`
		Error      string `json:"error"`
		Succeeded  bool   `json:"succeeded"`
	} `json:"attempts"`
}

type webhookEvent struct {
	ID         string          `json:"event_id"`
	Type       string          `json:"event"`
	OccurredAt string          `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
	Deliveries []delivery      `json:"deliveries"`
}

type apiKey struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Prefix     string `json:"prefix"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	Key        string `json:"key"`
}
