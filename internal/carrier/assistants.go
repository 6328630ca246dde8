package carrier

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/peakvoice/peakvoice/internal/agents"
	"github.com/peakvoice/peakvoice/internal/telnyx"
)

// AssistantRuntime runs agents as Telnyx AI assistants.
type AssistantRuntime struct {
	c *telnyx.Client
}

var _ agents.AssistantRuntime = (*AssistantRuntime)(nil)

// NewAssistantRuntime adapts c to agents.AssistantRuntime.
func NewAssistantRuntime(c *telnyx.Client) *AssistantRuntime { return &AssistantRuntime{c: c} }

// CreateAssistant creates an assistant from spec.
func (r *AssistantRuntime) CreateAssistant(ctx context.Context, spec agents.AssistantSpec) (agents.RemoteAssistant, error) {
	p, err := assistantParams(spec)
	if err != nil {
		return agents.RemoteAssistant{}, err
	}
	a, err := r.c.CreateAssistant(ctx, p)
	if err != nil {
		return agents.RemoteAssistant{}, classifyAssistantErr(err)
	}
	return remoteAssistant(a), nil
}

// GetAssistant reads the main version of an assistant.
func (r *AssistantRuntime) GetAssistant(ctx context.Context, id string) (agents.RemoteAssistant, error) {
	a, err := r.c.GetAssistant(ctx, id)
	if err != nil {
		return agents.RemoteAssistant{}, classifyAssistantErr(err)
	}
	return remoteAssistant(a), nil
}

// UpdateAssistant sets every field of spec on the assistant, as a new main
// version.
func (r *AssistantRuntime) UpdateAssistant(ctx context.Context, id string, spec agents.AssistantSpec) (agents.RemoteAssistant, error) {
	p, err := assistantParams(spec)
	if err != nil {
		return agents.RemoteAssistant{}, err
	}
	a, err := r.c.UpdateAssistant(ctx, id, p)
	if err != nil {
		return agents.RemoteAssistant{}, classifyAssistantErr(err)
	}
	return remoteAssistant(a), nil
}

// DeleteAssistant deletes an assistant.
func (r *AssistantRuntime) DeleteAssistant(ctx context.Context, id string) error {
	return classifyAssistantErr(r.c.DeleteAssistant(ctx, id))
}

// classifyAssistantErr turns a Telnyx failure into the runtime error kinds agents acts on.
func classifyAssistantErr(err error) error {
	if err == nil {
		return nil
	}
	kind := agents.RuntimeRejected
	switch telnyx.KindOf(err) {
	case telnyx.KindNotFound:
		kind = agents.RuntimeNotFound
	case telnyx.KindUnavailable, telnyx.KindRateLimited:
		kind = agents.RuntimeUnavailable
	case telnyx.KindUnknown:
		var te *telnyx.Error
		if !errors.As(err, &te) {
			kind = agents.RuntimeUnavailable // transport-level failure outside the typed errors
		}
	}
	return &agents.RuntimeError{Kind: kind, Detail: assistantErrDetail(err), Err: err}
}

// assistantErrDetail is the part of a Telnyx error worth showing to a team.
func assistantErrDetail(err error) string {
	var te *telnyx.Error
	if !errors.As(err, &te) {
		return "the voice runtime could not be reached"
	}
	var parts []string
	if te.Status != 0 {
		parts = append(parts, "HTTP "+strconv.Itoa(te.Status))
	} else {
		parts = append(parts, "no response")
	}
	if te.Title != "" {
		parts = append(parts, te.Title)
	}
	if te.Detail != "" && te.Detail != te.Title {
		parts = append(parts, te.Detail)
	}
	if te.Source != "" {
		parts = append(parts, "at "+te.Source)
	}
	return strings.Join(parts, ": ")
}

func assistantParams(s agents.AssistantSpec) (telnyx.AssistantParams, error) {
	greeting, dvURL := s.Greeting, s.DynamicVariablesWebhookURL
	p := telnyx.AssistantParams{
		Name: s.Name, Description: s.Description, Instructions: s.Instructions, Model: s.Model,
		Greeting: &greeting, DynamicVariablesWebhookURL: &dvURL,
		DynamicVariables: s.DynamicVariables, EnabledFeatures: s.EnabledFeatures,
		Tools: make([]telnyx.Tool, 0, len(s.Tools)),
	}
	if p.DynamicVariables == nil {
		p.DynamicVariables = map[string]string{}
	}
	if p.EnabledFeatures == nil {
		p.EnabledFeatures = []string{}
	}
	if s.Voice != "" {
		p.Voice = &telnyx.VoiceSettings{Voice: s.Voice}
	}
	if s.Language != "" {
		p.Transcription = &telnyx.TranscriptionSettings{Language: s.Language}
	}
	for _, t := range s.Tools {
		switch {
		case t.Webhook != nil:
			w, err := assistantWebhookTool(t.Webhook)
			if err != nil {
				return p, err
			}
			p.Tools = append(p.Tools, telnyx.Tool{Type: telnyx.ToolWebhook, Webhook: w})
		case t.Handoff != nil:
			h := &telnyx.HandoffTool{VoiceMode: t.Handoff.VoiceMode, Assistants: []telnyx.HandoffTarget{}}
			for _, a := range t.Handoff.Assistants {
				h.Assistants = append(h.Assistants, telnyx.HandoffTarget{ID: a.ID, Name: a.Name})
			}
			p.Tools = append(p.Tools, telnyx.Tool{Type: telnyx.ToolHandoff, Handoff: h})
		}
	}
	return p, nil
}

func assistantWebhookTool(w *agents.WebhookTool) (*telnyx.WebhookTool, error) {
	out := &telnyx.WebhookTool{Name: w.Name, Description: w.Description, URL: w.URL, Method: w.Method}
	names := make([]string, 0, len(w.Headers))
	for k := range w.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out.Headers = append(out.Headers, telnyx.Header{Name: k, Value: w.Headers[k]})
	}
	if w.Parameters != nil {
		b, err := json.Marshal(w.Parameters)
		if err != nil {
			return nil, err
		}
		out.BodyParameters = b
	}
	return out, nil
}

func remoteAssistant(a *telnyx.Assistant) agents.RemoteAssistant {
	out := agents.RemoteAssistant{ID: a.ID, AssistantSpec: agents.AssistantSpec{
		Name: a.Name, Description: a.Description, Instructions: a.Instructions, Greeting: a.Greeting, Model: a.Model,
		DynamicVariables: a.DynamicVariables, DynamicVariablesWebhookURL: a.DynamicVariablesWebhookURL,
		EnabledFeatures: a.EnabledFeatures, Tools: []agents.AssistantTool{},
	}}
	if a.Voice != nil {
		out.Voice = a.Voice.Voice
	}
	if a.Transcription != nil {
		out.Language = a.Transcription.Language
	}
	for _, t := range a.Tools {
		switch {
		case t.Type == telnyx.ToolWebhook && t.Webhook != nil:
			w := &agents.WebhookTool{Name: t.Webhook.Name, Description: t.Webhook.Description, URL: t.Webhook.URL,
				Method: t.Webhook.Method, Headers: map[string]string{}}
			for _, h := range t.Webhook.Headers {
				w.Headers[h.Name] = h.Value
			}
			if len(t.Webhook.BodyParameters) > 0 {
				_ = json.Unmarshal(t.Webhook.BodyParameters, &w.Parameters)
			}
			out.Tools = append(out.Tools, agents.AssistantTool{Type: agents.ToolWebhook, Webhook: w})
		case t.Type == telnyx.ToolHandoff && t.Handoff != nil:
			h := &agents.HandoffTool{VoiceMode: t.Handoff.VoiceMode}
			for _, x := range t.Handoff.Assistants {
				h.Assistants = append(h.Assistants, agents.HandoffAssistant{ID: x.ID, Name: x.Name})
			}
			out.Tools = append(out.Tools, agents.AssistantTool{Type: agents.ToolHandoff, Handoff: h})
		default:
			out.Tools = append(out.Tools, agents.AssistantTool{Type: string(t.Type)})
		}
	}
	return out
}
