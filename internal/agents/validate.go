package agents

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/webhooks"
)

// AgentFields are the writable fields of an agent other than its name. On
// create an omitted field takes its default; on update an omitted field is
// left as it is, and an empty list or object clears it.
type AgentFields struct {
	Instructions         *string            `json:"instructions,omitempty" maxLength:"50000" doc:"The system prompt; may use {{variable}} placeholders."`
	Greeting             *string            `json:"greeting,omitempty" maxLength:"5000" doc:"The first turn. Empty: wait for the other party."`
	VoiceConfig          *VoiceConfig       `json:"voice_config,omitempty" doc:"Replaced as a whole when given."`
	Tools                []WebhookTool      `json:"tools,omitempty" maxItems:"32" doc:"Webhook tools. Replaced as a whole when given."`
	Channels             []string           `json:"channels,omitempty" maxItems:"3" doc:"voice_outbound, voice_inbound, sms. Default on create: voice_inbound and voice_outbound."`
	DefaultVoiceProvider *string            `json:"default_voice_provider,omitempty" doc:"Only telnyx."`
	CallBriefContract    *CallBriefContract `json:"call_brief_contract,omitempty" doc:"Replaced as a whole when given."`
	Objectives           []AgentObjective   `json:"objectives,omitempty" maxItems:"50"`
	StructuredDataSchema map[string]any     `json:"structured_data_schema,omitempty" doc:"JSON Schema with type object; {} clears it."`
	Metadata             map[string]any     `json:"metadata,omitempty" doc:"Your own key-values, up to 16 KiB; not used by the agent."`

	VoiceProvider *string `json:"voice_provider,omitempty" deprecated:"true" doc:"Compatibility only: an alias of default_voice_provider (only telnyx). Prefer omitting it."`
	VoiceID       *string `json:"voice_id,omitempty" deprecated:"true" maxLength:"200" doc:"Compatibility only: an alias of voice_config.voice. Prefer voice_config."`
}

// fieldError is one problem with the request body.
type fieldError struct {
	Field   string
	Message string
}

// validationError turns field problems into the 422 envelope, with the same
// details.fields shape huma uses for schema errors.
func validationError(errs []fieldError) error {
	fields := make([]map[string]any, 0, len(errs))
	for _, e := range errs {
		fields = append(fields, map[string]any{"location": "body." + e.Field, "message": e.Message})
	}
	msg := "the request is invalid"
	if len(errs) > 0 {
		msg = errs[0].Field + " " + errs[0].Message
	}
	return httpapi.NewError(http.StatusUnprocessableEntity, httpapi.CodeValidation, msg).
		WithDetails(map[string]any{"fields": fields})
}

// defaultSettings are a new agent's settings before the request applies.
func defaultSettings() Settings {
	return Settings{
		DefaultVoiceProvider: ProviderTelnyx,
		Channels:             []string{ChannelVoiceInbound, ChannelVoiceOutbound},
		VoiceConfig:          VoiceConfig{Provider: ProviderTelnyx, Telnyx: TelnyxConfig{Handoff: HandoffPolicy{VoiceMode: HandoffUnified}}},
		CallBriefContract:    CallBriefContract{Text: BriefText{Usage: TextOptional, MaxLength: DefaultTextMaxLength}},
	}
}

var (
	toolNamePattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]{1,100}$`)
	placeholder       = regexp.MustCompile(`\{[^{}/]*\}`)
)

const maxMetadataBytes = 16 << 10

// apply lays the request's fields over base and checks the result. It does
// not check handoff targets against the database (see checkHandoff).
func (s *Service) apply(base Settings, f AgentFields, meta map[string]any) (Settings, map[string]any, []fieldError) {
	var errs []fieldError
	bad := func(field, msg string, args ...any) {
		errs = append(errs, fieldError{Field: field, Message: fmt.Sprintf(msg, args...)})
	}
	st := base
	if f.Instructions != nil {
		st.Instructions = *f.Instructions
	}
	if f.Greeting != nil {
		st.Greeting = *f.Greeting
	}
	if f.VoiceConfig != nil {
		st.VoiceConfig = *f.VoiceConfig
	}
	if f.VoiceID != nil {
		st.VoiceConfig.Voice = *f.VoiceID
	}
	for field, p := range map[string]*string{"default_voice_provider": f.DefaultVoiceProvider, "voice_provider": f.VoiceProvider} {
		if p != nil && *p != ProviderTelnyx {
			bad(field, "must be %q, the only supported voice provider", ProviderTelnyx)
		}
	}
	st.DefaultVoiceProvider = ProviderTelnyx
	if p := st.VoiceConfig.Provider; p != "" && p != ProviderTelnyx {
		bad("voice_config.provider", "must be %q", ProviderTelnyx)
	}
	st.VoiceConfig.Provider = ProviderTelnyx
	if st.VoiceConfig.Telnyx.Handoff.VoiceMode == "" {
		st.VoiceConfig.Telnyx.Handoff.VoiceMode = HandoffUnified
	}
	if f.Tools != nil {
		st.Tools = f.Tools
	}
	st.Tools, errs = s.checkTools(st.Tools, errs)
	if f.Channels != nil {
		st.Channels = f.Channels
	}
	st.Channels, errs = checkChannels(st.Channels, errs)
	if f.CallBriefContract != nil {
		c, cerrs := normalizeContract(*f.CallBriefContract)
		st.CallBriefContract, errs = c, append(errs, cerrs...)
	}
	if f.Objectives != nil {
		st.Objectives = f.Objectives
	}
	seen := map[string]bool{}
	for i, o := range st.Objectives {
		if seen[o.Name] {
			bad(fmt.Sprintf("objectives[%d].name", i), "%q is listed twice", o.Name)
		}
		seen[o.Name] = true
	}
	if f.StructuredDataSchema != nil {
		st.StructuredDataSchema = f.StructuredDataSchema
	}
	if len(st.StructuredDataSchema) > 0 {
		if t, _ := st.StructuredDataSchema["type"].(string); t != "object" {
			bad("structured_data_schema.type", "must be \"object\"")
		}
	} else {
		st.StructuredDataSchema = nil
	}
	if f.Metadata != nil {
		meta = f.Metadata
	}
	if meta == nil {
		meta = map[string]any{}
	}
	if b, _ := json.Marshal(meta); len(b) > maxMetadataBytes {
		bad("metadata", "is larger than %d bytes", maxMetadataBytes)
	}
	return st.withEmptyCollections(), meta, errs
}

func (s *Service) checkTools(tools []WebhookTool, errs []fieldError) ([]WebhookTool, []fieldError) {
	out := make([]WebhookTool, 0, len(tools))
	names := map[string]bool{}
	for i, t := range tools {
		f := fmt.Sprintf("tools[%d]", i)
		bad := func(field, msg string, args ...any) {
			errs = append(errs, fieldError{Field: f + field, Message: fmt.Sprintf(msg, args...)})
		}
		t.Name = strings.TrimSpace(t.Name)
		switch {
		case !toolNamePattern.MatchString(t.Name):
			bad(".name", "must be 1 to 64 letters, digits, _ or -")
		case t.Name == LookupToolName:
			bad(".name", "%q is reserved: it is added automatically when handoff is enabled", LookupToolName)
		case names[t.Name]:
			bad(".name", "%q is used by another tool", t.Name)
		}
		names[t.Name] = true
		if strings.TrimSpace(t.Description) == "" {
			bad(".description", "must not be empty")
		}
		// {placeholders} are filled in by the runtime; check the URL around them.
		if err := webhooks.ValidateURL(placeholder.ReplaceAllString(t.URL, "x"), s.cfg.AllowPrivate); err != nil {
			bad(".url", "%s", err.Error())
		}
		t.Method = strings.ToUpper(strings.TrimSpace(t.Method))
		switch t.Method {
		case "":
			t.Method = http.MethodPost
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			bad(".method", "must be GET, POST, PUT, PATCH or DELETE")
		}
		if len(t.Headers) > 20 {
			bad(".headers", "has more than 20 headers")
		}
		for _, k := range sortedKeys(t.Headers) {
			if !headerNamePattern.MatchString(k) {
				bad(".headers", "%q is not a valid header name", k)
			}
		}
		if t.Headers == nil {
			t.Headers = map[string]string{}
		}
		if t.Parameters == nil {
			t.Parameters = map[string]any{"type": "object", "properties": map[string]any{}}
		}
		if typ, _ := t.Parameters["type"].(string); typ != "object" {
			bad(".parameters.type", "must be \"object\"")
		}
		if p, ok := t.Parameters["properties"]; ok {
			if _, isObj := p.(map[string]any); !isObj {
				bad(".parameters.properties", "must be an object")
			}
		}
		out = append(out, t)
	}
	return out, errs
}

func checkChannels(ch []string, errs []fieldError) ([]string, []fieldError) {
	set := map[string]bool{}
	for i, c := range ch {
		switch c {
		case ChannelVoiceInbound, ChannelVoiceOutbound, ChannelSMS:
			set[c] = true
		default:
			errs = append(errs, fieldError{Field: fmt.Sprintf("channels[%d]", i), Message: "must be voice_outbound, voice_inbound or sms"})
		}
	}
	if len(ch) == 0 {
		errs = append(errs, fieldError{Field: "channels", Message: "must list at least one channel"})
	}
	out := sortedKeys(set)
	sort.Strings(out)
	return out, errs
}

// changedFields names the settings that differ between two versions.
func changedFields(a, b Settings) []string {
	var out []string
	pairs := []struct {
		name string
		x, y any
	}{
		{"instructions", a.Instructions, b.Instructions},
		{"greeting", a.Greeting, b.Greeting},
		{"voice_config", a.VoiceConfig, b.VoiceConfig},
		{"tools", a.Tools, b.Tools},
		{"channels", a.Channels, b.Channels},
		{"default_voice_provider", a.DefaultVoiceProvider, b.DefaultVoiceProvider},
		{"call_brief_contract", a.CallBriefContract, b.CallBriefContract},
		{"objectives", a.Objectives, b.Objectives},
		{"structured_data_schema", a.StructuredDataSchema, b.StructuredDataSchema},
	}
	for _, p := range pairs {
		if !sameJSON(p.x, p.y) {
			out = append(out, p.name)
		}
	}
	return out
}

// sameJSON compares two values by their canonical JSON (maps encode with
// sorted keys), so nil and empty collections need normalizing first.
func sameJSON(x, y any) bool {
	bx, err1 := json.Marshal(x)
	by, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && string(bx) == string(by)
}
