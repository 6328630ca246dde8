package agents

import (
	"time"
)

// Channels an agent may serve.
const (
	ChannelVoiceOutbound = "voice_outbound"
	ChannelVoiceInbound  = "voice_inbound"
	ChannelSMS           = "sms"
)

// ProviderTelnyx is the only voice provider Peak Voice runs agents on.
const ProviderTelnyx = "telnyx"

// Sync states of an agent's carrier assistant.
const (
	SyncPending  = "pending"  // a change is being pushed to the carrier
	SyncSynced   = "synced"   // the carrier has the agent's current settings
	SyncError    = "error"    // the last push failed; provider_sync_error says why
	SyncDeleting = "deleting" // the agent is deleted; its assistant is being removed
	syncDeleted  = "deleted"  // the assistant is gone (the row is kept for history, never shown)
)

// Settings are the parts of an agent that decide how it behaves on a call.
// A change to any of them creates a new version; name and metadata do not.
type Settings struct {
	Instructions         string            `json:"instructions" doc:"The system prompt. May use {{variable}} placeholders filled from the call brief and the dynamic-variables webhook."`
	Greeting             string            `json:"greeting" doc:"The agent's first turn. Empty: the agent waits for the other party to speak."`
	VoiceConfig          VoiceConfig       `json:"voice_config"`
	Tools                []WebhookTool     `json:"tools" doc:"Webhook tools the agent may call mid-conversation."`
	Channels             []string          `json:"channels" doc:"Where the agent works: voice_outbound, voice_inbound, sms."`
	DefaultVoiceProvider string            `json:"default_voice_provider" enum:"telnyx" doc:"The voice runtime the agent is provisioned on. Always telnyx."`
	CallBriefContract    CallBriefContract `json:"call_brief_contract"`
	Objectives           []AgentObjective  `json:"objectives" doc:"What a call should achieve; results report each objective's outcome."`
	StructuredDataSchema map[string]any    `json:"structured_data_schema" doc:"A JSON Schema (type object) for the structured data extracted from each call. Empty: none."`
}

// VoiceConfig tunes the agent's voice runtime.
type VoiceConfig struct {
	Provider string       `json:"provider" required:"false" enum:"telnyx" doc:"Voice runtime. Always telnyx."`
	Voice    string       `json:"voice" required:"false" maxLength:"200" doc:"Text-to-speech voice, e.g. Telnyx.KokoroTTS.af. Empty: the runtime's default."`
	Language string       `json:"language" required:"false" maxLength:"20" doc:"Speech-recognition language, e.g. en or auto. Empty: the runtime's default."`
	Model    string       `json:"model" required:"false" maxLength:"200" doc:"Language model. Empty: the runtime's default."`
	Telnyx   TelnyxConfig `json:"telnyx" required:"false"`
}

// TelnyxConfig holds settings specific to the Telnyx runtime.
type TelnyxConfig struct {
	Handoff HandoffPolicy `json:"handoff" required:"false"`
}

// HandoffPolicy lets an inbound (front-desk) agent pass a live call to
// specialist agents. See the guide's "Handoff configuration".
type HandoffPolicy struct {
	Enabled   bool            `json:"enabled" required:"false" doc:"Turns handoff on. Also adds the lookup_inbound_caller_context tool to the assistant."`
	VoiceMode string          `json:"voice_mode" required:"false" doc:"How voices behave across a handoff. Only unified (one shared voice) is supported; anything else is 400 invalid_handoff_policy. Default unified."`
	Targets   []HandoffTarget `json:"targets" required:"false" doc:"The agents this one may hand off to."`
}

// HandoffTarget is one specialist a call may be handed to.
type HandoffTarget struct {
	Name        string `json:"name" required:"false" maxLength:"200" doc:"How the assistant refers to the specialist. Default: the target agent's name."`
	AgentID     string `json:"agent_id" doc:"The target agent, in the same team."`
	Trigger     string `json:"trigger" required:"false" maxLength:"1000" doc:"When to hand off, in plain words; added to the assistant's instructions."`
	Description string `json:"description" required:"false" maxLength:"2000" doc:"What the specialist does; added to the assistant's instructions."`
}

// WebhookTool is an HTTP endpoint the agent may call during a conversation.
type WebhookTool struct {
	Name        string            `json:"name" minLength:"1" maxLength:"64" doc:"Tool name the model sees: letters, digits, _ and -, up to 64."`
	Description string            `json:"description" minLength:"1" maxLength:"2000" doc:"When and why to call the tool."`
	URL         string            `json:"url" minLength:"1" maxLength:"2048" doc:"http(s) URL; may contain {placeholders} filled from path parameters."`
	Method      string            `json:"method" required:"false" doc:"HTTP method: GET, POST, PUT, PATCH or DELETE. Default POST."`
	Headers     map[string]string `json:"headers" required:"false" doc:"Headers sent with every call; values may use {{variables}}."`
	Parameters  map[string]any    `json:"parameters" required:"false" doc:"JSON Schema (type object) of the arguments the model supplies, sent as the JSON body."`
}

// AgentObjective is one goal of a call.
type AgentObjective struct {
	Name        string `json:"name" minLength:"1" maxLength:"100"`
	Description string `json:"description" required:"false" maxLength:"2000"`
}

// Agent is a voice agent as the API shows it.
type Agent struct {
	ID   string `json:"id" format:"uuid"`
	Name string `json:"name"`
	Settings
	Metadata map[string]any `json:"metadata"`

	ProviderAgentID    *string `json:"provider_agent_id" doc:"The carrier assistant backing this agent. Read-only."`
	ProviderSyncStatus string  `json:"provider_sync_status" enum:"pending,synced,error,deleting" doc:"Whether the carrier assistant matches the agent. Read-only."`
	ProviderSyncError  *string `json:"provider_sync_error" doc:"Why the last push to the carrier failed, while provider_sync_status is error. Read-only."`
	CurrentVersion     int     `json:"current_version" doc:"The number of the agent's newest version. Read-only."`

	VoiceProvider        string  `json:"voice_provider" deprecated:"true" doc:"Compatibility only: the same as default_voice_provider."`
	VoiceProviderAgentID *string `json:"voice_provider_agent_id" deprecated:"true" doc:"Compatibility only: the same as provider_agent_id."`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AgentVersion is an immutable snapshot of an agent's settings.
type AgentVersion struct {
	AgentID       string `json:"agent_id" format:"uuid"`
	VersionNumber int    `json:"version_number" doc:"1 for the agent as created, then one more for each change that alters behaviour."`
	Name          string `json:"name" doc:"The agent's name when the version was made."`
	Settings
	ChangedFields []string  `json:"changed_fields" doc:"The settings that differ from the previous version (every field for version 1)."`
	CreatedAt     time.Time `json:"created_at"`
}

// BindingInfo is what the phone-numbers domain needs to bind a number to an
// agent.
type BindingInfo struct {
	ID              string
	Provider        string
	Channels        []string
	ProviderAgentID string
	SyncStatus      string
}

// HasChannel reports whether the agent serves channel c.
func (b BindingInfo) HasChannel(c string) bool { return contains(b.Channels, c) }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// row is an agent as stored.
type row struct {
	ID, TeamID, Name   string
	Settings           Settings
	Metadata           map[string]any
	ProviderAgentID    string
	SyncStatus         string
	SyncError          string
	SyncGeneration     int64
	CurrentVersion     int
	CreatedAt, Updated time.Time
}

func (r row) view() Agent {
	a := Agent{ID: r.ID, Name: r.Name, Settings: r.Settings, Metadata: r.Metadata,
		ProviderSyncStatus: r.SyncStatus, CurrentVersion: r.CurrentVersion,
		VoiceProvider: r.Settings.DefaultVoiceProvider, CreatedAt: r.CreatedAt, UpdatedAt: r.Updated}
	if r.ProviderAgentID != "" {
		id := r.ProviderAgentID
		a.ProviderAgentID, a.VoiceProviderAgentID = &id, &id
	}
	if r.SyncError != "" {
		e := r.SyncError
		a.ProviderSyncError = &e
	}
	if a.Metadata == nil {
		a.Metadata = map[string]any{}
	}
	a.Settings = a.Settings.withEmptyCollections()
	return a
}

// withEmptyCollections replaces nil lists and maps with empty ones so the
// API always sends [] and {} rather than null.
func (s Settings) withEmptyCollections() Settings {
	if s.Tools == nil {
		s.Tools = []WebhookTool{}
	}
	for i := range s.Tools {
		if s.Tools[i].Headers == nil {
			s.Tools[i].Headers = map[string]string{}
		}
	}
	if s.Channels == nil {
		s.Channels = []string{}
	}
	if s.Objectives == nil {
		s.Objectives = []AgentObjective{}
	}
	if s.StructuredDataSchema == nil {
		s.StructuredDataSchema = map[string]any{}
	}
	if s.VoiceConfig.Telnyx.Handoff.Targets == nil {
		s.VoiceConfig.Telnyx.Handoff.Targets = []HandoffTarget{}
	}
	s.CallBriefContract = s.CallBriefContract.withEmptyCollections()
	return s
}
