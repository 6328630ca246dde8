package telnyx

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"time"
)

// Conversation is an AI assistant conversation (one per call or SMS thread).
type Conversation struct {
	ID            string
	Name          string
	CreatedAt     time.Time
	LastMessageAt time.Time
	// Metadata holds Telnyx's keys (assistant_id, call_control_id,
	// telnyx_agent_target, telnyx_end_user_target,
	// telnyx_conversation_channel) and any set by the dynamic-variables
	// webhook's conversation.metadata.
	Metadata map[string]string
}

// UnmarshalJSON decodes a conversation, turning metadata values into text.
func (c *Conversation) UnmarshalJSON(b []byte) error {
	var w struct {
		ID            string         `json:"id"`
		Name          string         `json:"name"`
		CreatedAt     time.Time      `json:"created_at"`
		LastMessageAt time.Time      `json:"last_message_at"`
		Metadata      map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = Conversation{ID: w.ID, Name: w.Name, CreatedAt: w.CreatedAt, LastMessageAt: w.LastMessageAt, Metadata: stringifyMap(w.Metadata)}
	return nil
}

// FindConversationByCall returns the conversation held on the given call.
// It answers a NotFound *Error when there is none (yet).
func (c *Client) FindConversationByCall(ctx context.Context, callControlID string) (*Conversation, error) {
	if err := requireID("GET /ai/conversations", "call control id", callControlID); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("metadata->call_control_id", "eq."+callControlID)
	q.Set("order", "created_at.desc")
	q.Set("limit", "1")
	var env dataEnvelope[[]Conversation]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/ai/conversations", query: q, retrySafe: true}, &env); err != nil {
		return nil, err
	}
	if len(env.Data) == 0 {
		return nil, &Error{Kind: KindNotFound, Op: "GET /ai/conversations", Title: "Resource not found",
			Detail: "no conversation for call " + callControlID}
	}
	return &env.Data[0], nil
}

// GetConversation fetches a conversation by id.
func (c *Client) GetConversation(ctx context.Context, id string) (*Conversation, error) {
	if err := requireID("GET /ai/conversations/{id}", "conversation id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[Conversation]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/ai/conversations/" + escape(id), retrySafe: true}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// ConversationMessage is one turn of a transcript.
type ConversationMessage struct {
	// Role is "user", "assistant" or "tool".
	Role string `json:"role"`
	// Text is empty for a turn that only calls tools.
	Text      string     `json:"text"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    time.Time  `json:"sent_at"`
	ToolCalls []ToolCall `json:"tool_calls"`
}

// ToolCall is a tool invocation made by the assistant.
type ToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
		// Arguments is the JSON-encoded argument object.
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// ListConversationMessages returns a conversation's whole transcript,
// oldest first (Telnyx does not document its order, so it is sorted here).
func (c *Client) ListConversationMessages(ctx context.Context, conversationID string) ([]ConversationMessage, error) {
	if err := requireID("GET /ai/conversations/{id}/messages", "conversation id", conversationID); err != nil {
		return nil, err
	}
	var all []ConversationMessage
	for page := 1; ; page++ {
		var env listEnvelope[ConversationMessage]
		q := pageQuery(nil, page, 100)
		if err := c.do(ctx, request{method: http.MethodGet, path: "/ai/conversations/" + escape(conversationID) + "/messages", query: q, retrySafe: true}, &env); err != nil {
			return nil, err
		}
		all = append(all, env.Data...)
		if len(env.Data) == 0 || page >= env.Meta.TotalPages {
			break
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].CreatedAt.Before(all[j].CreatedAt) })
	return all, nil
}

// ConversationInsights is one run of an insight group over a conversation.
type ConversationInsights struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// Status is pending, in_progress, completed or failed.
	Status  string          `json:"status"`
	Results []InsightResult `json:"conversation_insights"`
}

// InsightResult is the output of one insight; JSON-schema insights carry
// stringified JSON in Result.
type InsightResult struct {
	InsightID string `json:"insight_id"`
	Result    string `json:"result"`
}

// ListConversationInsights returns the insight runs of a conversation.
func (c *Client) ListConversationInsights(ctx context.Context, conversationID string) ([]ConversationInsights, error) {
	if err := requireID("GET /ai/conversations/{id}/conversations-insights", "conversation id", conversationID); err != nil {
		return nil, err
	}
	var all []ConversationInsights
	for page := 1; ; page++ {
		var env listEnvelope[ConversationInsights]
		q := pageQuery(nil, page, 100)
		if err := c.do(ctx, request{method: http.MethodGet, path: "/ai/conversations/" + escape(conversationID) + "/conversations-insights", query: q, retrySafe: true}, &env); err != nil {
			return nil, err
		}
		all = append(all, env.Data...)
		if len(env.Data) == 0 || page >= env.Meta.TotalPages {
			return all, nil
		}
	}
}

// Recording is a call recording.
type Recording struct {
	ID            string `json:"id"`
	CallControlID string `json:"call_control_id"`
	CallLegID     string `json:"call_leg_id"`
	CallSessionID string `json:"call_session_id"`
	// Channels is "single" or "dual".
	Channels       string `json:"channels"`
	Status         string `json:"status"`
	Source         string `json:"source"`
	DurationMillis int64  `json:"duration_millis"`
	// DownloadURLs link to the audio; Telnyx's links expire, so fetch the
	// recording again for fresh ones.
	DownloadURLs struct {
		MP3 string `json:"mp3"`
		WAV string `json:"wav"`
	} `json:"download_urls"`
	RecordingStartedAt time.Time `json:"recording_started_at"`
	RecordingEndedAt   time.Time `json:"recording_ended_at"`
	CreatedAt          time.Time `json:"created_at"`
}

// RecordingFilter narrows ListRecordings. Telnyx cannot filter by
// call_control_id; use the call session id from the completed status
// callback.
type RecordingFilter struct {
	CallSessionID string
	CallLegID     string
	ConnectionID  string
	From          string
	To            string
	PageNumber    int
	PageSize      int
}

// GetRecording fetches a recording by id.
func (c *Client) GetRecording(ctx context.Context, id string) (*Recording, error) {
	if err := requireID("GET /recordings/{id}", "recording id", id); err != nil {
		return nil, err
	}
	var env dataEnvelope[Recording]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/recordings/" + escape(id), retrySafe: true}, &env); err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// ListRecordings returns one page of recordings matching f.
func (c *Client) ListRecordings(ctx context.Context, f RecordingFilter) ([]Recording, PageMeta, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("filter[call_session_id]", f.CallSessionID)
	set("filter[call_leg_id]", f.CallLegID)
	set("filter[connection_id]", f.ConnectionID)
	set("filter[from]", f.From)
	set("filter[to]", f.To)
	q = pageQuery(q, f.PageNumber, f.PageSize)
	var env listEnvelope[Recording]
	if err := c.do(ctx, request{method: http.MethodGet, path: "/recordings", query: q, retrySafe: true}, &env); err != nil {
		return nil, PageMeta{}, err
	}
	return env.Data, env.Meta, nil
}
