package agents

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// AssistantRuntime is the voice runtime (the carrier's AI assistants) as
// this package uses it. internal/carrier adapts the Telnyx client to it.
// Failures should be *RuntimeError so they map to the right answer.
type AssistantRuntime interface {
	CreateAssistant(ctx context.Context, spec AssistantSpec) (RemoteAssistant, error)
	GetAssistant(ctx context.Context, id string) (RemoteAssistant, error)
	// UpdateAssistant replaces every field of spec on the assistant.
	UpdateAssistant(ctx context.Context, id string, spec AssistantSpec) (RemoteAssistant, error)
	DeleteAssistant(ctx context.Context, id string) error
}

// AssistantSpec is everything Peak Voice sets on a carrier assistant.
type AssistantSpec struct {
	Name         string
	Description  string
	Instructions string
	Greeting     string
	// Model, Voice and Language are left to the runtime's defaults when empty.
	Model    string
	Voice    string
	Language string
	// DynamicVariables are assistant-level defaults for {{placeholders}}.
	DynamicVariables           map[string]string
	DynamicVariablesWebhookURL string
	// EnabledFeatures holds "telephony" and/or "messaging".
	EnabledFeatures []string
	Tools           []AssistantTool
}

// RemoteAssistant is an assistant as the runtime reports it.
type RemoteAssistant struct {
	ID string
	AssistantSpec
}

// Tool types Peak Voice configures.
const (
	ToolWebhook = "webhook"
	ToolHandoff = "handoff"
)

// AssistantTool is one tool of an assistant: a webhook or a handoff. A tool
// of another type read from the runtime has only Type set.
type AssistantTool struct {
	Type    string
	Webhook *WebhookTool
	Handoff *HandoffTool
}

// HandoffTool lets the assistant pass the call to other assistants.
type HandoffTool struct {
	VoiceMode  string
	Assistants []HandoffAssistant
}

// HandoffAssistant is one assistant a handoff tool may switch to.
type HandoffAssistant struct {
	ID   string
	Name string
}

// RuntimeErrorKind classifies a runtime failure.
type RuntimeErrorKind int

// Runtime failure kinds.
const (
	// RuntimeUnavailable: unreachable, timed out, 5xx or throttled. Later may work.
	RuntimeUnavailable RuntimeErrorKind = iota + 1
	// RuntimeRejected: the runtime refused the request (4xx other than 404).
	RuntimeRejected
	// RuntimeNotFound: the assistant does not exist.
	RuntimeNotFound
)

// RuntimeError is a failed runtime call.
type RuntimeError struct {
	Kind RuntimeErrorKind
	// Detail is the runtime's explanation, safe to show to the team.
	Detail string
	Err    error
}

func (e *RuntimeError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Detail
}

func (e *RuntimeError) Unwrap() error { return e.Err }

// runtimeKind returns the kind of a runtime failure; errors that are not
// *RuntimeError count as unavailable (the runtime could not be used).
func runtimeKind(err error) RuntimeErrorKind {
	var re *RuntimeError
	if errors.As(err, &re) {
		return re.Kind
	}
	return RuntimeUnavailable
}

func runtimeDetail(err error) string {
	var re *RuntimeError
	if errors.As(err, &re) && re.Detail != "" {
		return re.Detail
	}
	return "the voice runtime could not be reached"
}

// Paths on this server that the carrier calls.
const (
	DynamicVariablesPath = "/webhooks/telnyx/dynamic-variables"
	LookupToolPath       = "/webhooks/telnyx/tools/lookup-inbound-caller-context"
	// LookupToolName is the webhook tool injected when handoff is enabled.
	LookupToolName = "lookup_inbound_caller_context"
)

// defaultInstructions stands in for empty instructions: the carrier needs some.
const defaultInstructions = "You are a helpful, concise voice assistant."

// targetRef is what building a spec needs to know about a handoff target.
type targetRef struct {
	Name            string
	ProviderAgentID string
}

// specFor builds the assistant an agent should have. targets maps handoff
// target agent ids to their current names and assistant ids.
func (s *Service) specFor(r row, targets map[string]targetRef) AssistantSpec {
	st := r.Settings
	spec := AssistantSpec{
		Name:                       r.Name,
		Description:                "Peak Voice agent " + r.ID,
		Instructions:               st.Instructions,
		Greeting:                   st.Greeting,
		Model:                      st.VoiceConfig.Model,
		Voice:                      st.VoiceConfig.Voice,
		Language:                   st.VoiceConfig.Language,
		DynamicVariables:           map[string]string{},
		DynamicVariablesWebhookURL: s.cfg.PublicURL + DynamicVariablesPath,
		EnabledFeatures:            []string{},
		Tools:                      []AssistantTool{},
	}
	if strings.TrimSpace(spec.Instructions) == "" {
		spec.Instructions = defaultInstructions
	}
	if contains(st.Channels, ChannelVoiceInbound) || contains(st.Channels, ChannelVoiceOutbound) {
		spec.EnabledFeatures = append(spec.EnabledFeatures, "telephony")
	}
	if contains(st.Channels, ChannelSMS) {
		spec.EnabledFeatures = append(spec.EnabledFeatures, "messaging")
	}
	// Every contract variable gets a default so an unset one never reaches
	// the model as a raw {{placeholder}}.
	for _, v := range st.CallBriefContract.Variables {
		spec.DynamicVariables[v.Name] = ""
		if v.Default != nil {
			spec.DynamicVariables[v.Name] = *v.Default
		}
	}
	if st.CallBriefContract.Text.Usage != TextIgnored {
		spec.DynamicVariables[TextVariable] = ""
	}
	for _, t := range st.Tools {
		t := t
		spec.Tools = append(spec.Tools, AssistantTool{Type: ToolWebhook, Webhook: &t})
	}
	h := st.VoiceConfig.Telnyx.Handoff
	if h.Enabled {
		ho := &HandoffTool{VoiceMode: h.VoiceMode}
		var guide []string
		for _, t := range h.Targets {
			ref := targets[t.AgentID]
			if ref.ProviderAgentID == "" {
				continue // the target lost its assistant; reconcile it, then this agent
			}
			name := t.Name
			if name == "" {
				name = ref.Name
			}
			ho.Assistants = append(ho.Assistants, HandoffAssistant{ID: ref.ProviderAgentID, Name: name})
			line := "- " + name
			if t.Trigger != "" {
				line += ": hand off when " + t.Trigger
			}
			if t.Description != "" {
				line += ". " + t.Description
			}
			guide = append(guide, line)
		}
		if len(ho.Assistants) > 0 {
			spec.Tools = append(spec.Tools, AssistantTool{Type: ToolHandoff, Handoff: ho})
			spec.Instructions += "\n\nSpecialists you can hand the call to:\n" + strings.Join(guide, "\n")
		}
		spec.Tools = append(spec.Tools, AssistantTool{Type: ToolWebhook, Webhook: s.lookupTool(r.ID)})
	}
	return spec
}

// lookupTool is the auto-injected tool that identifies a caller mid-call
// against the inbound session's callback targets.
func (s *Service) lookupTool(agentID string) *WebhookTool {
	headers := map[string]string{}
	if s.cfg.ToolHeaders != nil {
		headers = s.cfg.ToolHeaders(agentID)
	}
	return &WebhookTool{
		Name: LookupToolName,
		Description: "Look up who is calling and why, using the name the caller gives and/or their phone number. " +
			"Call it once you know either; it returns the caller's context when they are expected.",
		URL:     s.cfg.PublicURL + LookupToolPath,
		Method:  "POST",
		Headers: headers,
		Parameters: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"caller_name":         map[string]any{"type": "string", "description": "The caller's name as they said it."},
				"caller_phone_number": map[string]any{"type": "string", "description": "The caller's phone number, in E.164 if known."},
			},
		},
	}
}

// handoffTargets loads what specFor needs about an agent's handoff targets.
func (s *Service) handoffTargets(ctx context.Context, teamID string, st Settings) (map[string]targetRef, error) {
	out := map[string]targetRef{}
	if !st.VoiceConfig.Telnyx.Handoff.Enabled {
		return out, nil
	}
	for _, t := range st.VoiceConfig.Telnyx.Handoff.Targets {
		r, err := s.load(ctx, s.db.R, teamID, t.AgentID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load handoff target %s: %w", t.AgentID, err)
		}
		out[t.AgentID] = targetRef{Name: r.Name, ProviderAgentID: r.ProviderAgentID}
	}
	return out, nil
}

// sortedFeatures returns a sorted copy, for comparisons.
func sortedFeatures(f []string) []string {
	out := append([]string{}, f...)
	sort.Strings(out)
	return out
}
