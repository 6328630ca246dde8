package telnyxsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ScriptStep is one turn of the scripted other party of a call (the
// callee of an outbound call, the caller of an inbound one). Steps run in
// order; after each the assistant answers deterministically.
type ScriptStep struct {
	// Say is what the other party says.
	Say string `json:"say,omitempty"`
	// Tool makes the assistant call its webhook tool of this name with
	// Arguments.
	Tool      string         `json:"tool,omitempty"`
	Arguments map[string]any `json:"arguments,omitempty"`
	// Handoff makes the assistant hand the call to the assistant with this
	// id or name, which must be a target of its handoff tool.
	Handoff string `json:"handoff,omitempty"`
	// PauseMS keeps the line silent this long first (a hangup command
	// interrupts it).
	PauseMS int `json:"pause_ms,omitempty"`
	// Hangup ends the call from the other party's side after this step.
	Hangup bool `json:"hangup,omitempty"`
}

// DefaultScript is the other party used when nothing else is configured.
func DefaultScript() []ScriptStep {
	return []ScriptStep{{Say: "Hello, who is this?"}, {Say: "Thanks, that is all. Goodbye.", Hangup: true}}
}

// turnLength is the simulated length of one conversation message; call
// durations and transcript timestamps derive from it deterministically.
const turnLength = 2 * time.Second

// voicemailPrompt is what an answering machine says.
const voicemailPrompt = "Hi, you have reached a voicemail box. Please leave a message after the tone."

// converse runs the conversation of an answered call and its post-call
// work (conversation, recording, insights). It returns the hangup source.
func (s *Server) converse(ctx context.Context, c *call, voicemail bool) string {
	remote, local := "callee", "caller"
	if c.Direction == "inbound" {
		remote, local = "caller", "callee"
	}
	s.mu.Lock()
	view, err := s.assistantView(c.AssistantIDs[0], c.assistantVersion)
	s.mu.Unlock()
	if err != nil {
		s.mu.Lock()
		c.Error = "conversation could not start: " + err.Error()
		s.mu.Unlock()
		return local
	}
	vars, meta := s.resolveVariables(ctx, c, view)
	conv := s.startConversation(c, view, meta)
	defer s.postCall(c, conv, view)

	if g := render(view.Greeting, vars); g != "" {
		s.addMessage(conv, "assistant", g, nil)
	}
	s.setInstructions(c, render(view.Instructions, vars), vars)
	if voicemail {
		s.addMessage(conv, "user", voicemailPrompt, nil)
		action := view.Telephony.Voicemail.OnDetected.Action
		if msg := view.Telephony.Voicemail.OnDetected.Message.Message; action == "leave_message_and_stop_assistant" && msg != "" {
			s.addMessage(conv, "assistant", render(msg, vars), nil)
		}
		if action != "continue_assistant" {
			return local
		}
	}
	first := true
	for _, step := range c.Script {
		if !sleep(ctx, c.hangup, s.cfg.StepDelay) {
			return local
		}
		if step.PauseMS > 0 && !sleep(ctx, c.hangup, time.Duration(step.PauseMS)*time.Millisecond) {
			return local
		}
		if step.Say != "" {
			s.addMessage(conv, "user", step.Say, nil)
		}
		if step.Tool != "" {
			s.callTool(ctx, c, conv, view, vars, step)
		}
		if step.Handoff != "" {
			view = s.handoff(c, conv, view, vars, step.Handoff)
		}
		if step.Say != "" {
			reply := fmt.Sprintf("You said: %s", step.Say)
			if first {
				reply += " " + render(view.Instructions, vars)
				first = false
			}
			s.addMessage(conv, "assistant", reply, nil)
		}
		if step.Hangup {
			return remote
		}
	}
	return remote
}

func (s *Server) setInstructions(c *call, instructions string, vars map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Instructions = instructions
	c.DynamicVariables = make(map[string]string, len(vars))
	for k, v := range vars {
		c.DynamicVariables[k] = v
	}
}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}`)

// render fills {{variables}}; unknown ones stay as written, as on Telnyx.
func render(text string, vars map[string]string) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

func stringify(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// resolveVariables merges, lowest precedence first: assistant defaults,
// the dynamic-variables webhook, the call's own variables, then the
// reserved telnyx_* system variables. It also returns the conversation
// metadata the webhook asked for.
func (s *Server) resolveVariables(ctx context.Context, c *call, view *assistantView) (map[string]string, map[string]string) {
	vars := map[string]string{}
	for k, v := range view.DynamicVariables {
		vars[k] = stringify(v)
	}
	meta := map[string]string{}
	s.mu.Lock()
	agent, user := c.From, c.To
	if c.Direction == "inbound" {
		agent, user = c.To, c.From
	}
	callID, callerName := c.CallControlID, c.CallerName
	callVars := c.callVars
	s.mu.Unlock()
	if view.DVWebhookURL != "" {
		res, hookVars, hookMeta := s.initializationWebhook(ctx, view, callID, agent, user)
		for k, v := range hookVars {
			vars[k] = v
		}
		for k, v := range hookMeta {
			meta[k] = v
		}
		s.mu.Lock()
		c.DynamicVariablesWebhook = &res
		s.mu.Unlock()
	}
	for k, v := range callVars {
		vars[k] = v
	}
	vars["telnyx_conversation_channel"] = "phone_call"
	vars["telnyx_agent_target"] = agent
	vars["telnyx_end_user_target"] = user
	vars["call_control_id"] = callID
	vars["telnyx_call_from"] = c.From
	vars["telnyx_call_to"] = c.To
	if callerName != "" {
		vars["telnyx_call_caller_id_name"] = callerName
	}
	return vars, meta
}

// initializationWebhook POSTs the signed assistant.initialization request
// and waits at most the assistant's timeout for the answer.
func (s *Server) initializationWebhook(ctx context.Context, view *assistantView, callID, agent, user string) (WebhookResult, map[string]string, map[string]string) {
	timeout := time.Duration(view.DVWebhookTimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 1500 * time.Millisecond
	}
	payload := map[string]any{
		"telnyx_conversation_channel":     "phone_call",
		"telnyx_agent_target":             agent,
		"telnyx_end_user_target":          user,
		"telnyx_end_user_target_verified": false,
		"call_control_id":                 callID,
		"assistant_id":                    view.ID,
	}
	id, render := s.jsonEvent("assistant.initialization", s.now(), payload, false)
	res := WebhookResult{URL: view.DVWebhookURL}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := s.signedRequest(hctx, http.MethodPost, view.DVWebhookURL, false, render(1, view.DVWebhookURL))
	var body []byte
	if err == nil {
		var resp *http.Response
		resp, err = s.client.Do(req)
		if err == nil {
			res.Status = resp.StatusCode
			body, err = io.ReadAll(io.LimitReader(resp.Body, 256<<10))
			resp.Body.Close()
		}
	}
	if err != nil {
		res.Error = err.Error()
		res.TimedOut = errors.Is(hctx.Err(), context.DeadlineExceeded)
	}
	s.mu.Lock()
	s.st.deliveries = append(s.st.deliveries, Delivery{Kind: "assistant.initialization", EventID: id, URL: view.DVWebhookURL,
		Attempt: 1, Status: res.Status, Error: res.Error, At: fmtMS(s.now())})
	s.forget()
	s.mu.Unlock()
	if err != nil || res.Status < 200 || res.Status > 299 {
		return res, nil, nil
	}
	var answer struct {
		DynamicVariables map[string]any `json:"dynamic_variables"`
		Conversation     struct {
			Metadata map[string]any `json:"metadata"`
		} `json:"conversation"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		res.Error = "answer is not JSON: " + err.Error()
		return res, nil, nil
	}
	vars, meta := map[string]string{}, map[string]string{}
	for k, v := range answer.DynamicVariables {
		vars[k] = stringify(v)
	}
	for k, v := range answer.Conversation.Metadata {
		meta[k] = stringify(v)
	}
	return res, vars, meta
}

// callTool performs the webhook tool a script step asks for and records
// the exchange in the transcript.
func (s *Server) callTool(ctx context.Context, c *call, conv *conversation, view *assistantView, vars map[string]string, step ScriptStep) {
	args := step.Arguments
	if args == nil {
		args = map[string]any{}
	}
	argJSON, _ := json.Marshal(args)
	s.addMessage(conv, "assistant", "", []convToolCall{newToolCall(step.Tool, string(argJSON))})
	var tool *webhookToolView
	for _, t := range view.Tools {
		if t.Type == "webhook" && t.Webhook != nil && t.Webhook.Name == step.Tool {
			tool = t.Webhook
		}
	}
	rec := ToolCallRecord{Name: step.Tool, Arguments: args}
	defer func() {
		s.mu.Lock()
		c.ToolCalls = append(c.ToolCalls, rec)
		s.mu.Unlock()
	}()
	if tool == nil {
		rec.Error = "assistant has no webhook tool named " + step.Tool
		s.addMessage(conv, "tool", "error: "+rec.Error, nil)
		return
	}
	rec.Method = strings.ToUpper(tool.Method)
	if rec.Method == "" {
		rec.Method = http.MethodPost
	}
	target := tool.URL
	rest := map[string]any{}
	for k, v := range args {
		if ph := "{" + k + "}"; strings.Contains(target, ph) {
			target = strings.ReplaceAll(target, ph, url.PathEscape(stringify(v)))
			continue
		}
		rest[k] = v
	}
	var body io.Reader
	if rec.Method == http.MethodGet || rec.Method == http.MethodDelete {
		q := url.Values{}
		for k, v := range rest {
			q.Set(k, stringify(v))
		}
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
	} else {
		b, _ := json.Marshal(rest)
		body = bytes.NewReader(b)
	}
	rec.URL = target
	timeout := time.Duration(tool.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(tctx, rec.Method, target, body)
	if err != nil {
		rec.Error = err.Error()
		s.addMessage(conv, "tool", "error: "+rec.Error, nil)
		return
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range tool.Headers {
		req.Header.Set(h.Name, render(h.Value, vars))
	}
	req.Header.Set("x-telnyx-call-control-id", c.CallControlID)
	resp, err := s.client.Do(req)
	if err != nil {
		rec.Error = err.Error()
		s.addMessage(conv, "tool", "error: "+rec.Error, nil)
		return
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	rec.Status, rec.Response = resp.StatusCode, string(raw)
	s.addMessage(conv, "tool", string(raw), nil)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return
	}
	var parsed any
	if json.Unmarshal(raw, &parsed) == nil {
		for _, f := range tool.Store {
			if v, ok := lookupPath(parsed, f.ValuePath); ok {
				vars[f.Name] = stringify(v)
			}
		}
		s.setInstructions(c, render(view.Instructions, vars), vars)
	}
}

// lookupPath follows a dot path through decoded JSON objects.
func lookupPath(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

func newToolCall(name, args string) convToolCall {
	b := make([]byte, 12)
	rand.Read(b)
	tc := convToolCall{ID: "call_" + hex.EncodeToString(b), Type: "function"}
	tc.Function.Name, tc.Function.Arguments = name, args
	return tc
}

// handoff switches the call to another assistant named by the current
// assistant's handoff tool; the new assistant greets with the same variables.
func (s *Server) handoff(c *call, conv *conversation, view *assistantView, vars map[string]string, target string) *assistantView {
	var id, name string
	for _, t := range view.Tools {
		if t.Type != "handoff" || t.Handoff == nil {
			continue
		}
		for _, a := range t.Handoff.Assistants {
			if a.ID == target || strings.EqualFold(a.Name, target) {
				id, name = a.ID, a.Name
			}
		}
	}
	if id == "" {
		s.addMessage(conv, "assistant", "I'm sorry, I cannot transfer you to "+target+".", nil)
		return view
	}
	args, _ := json.Marshal(map[string]string{"assistant_id": id, "name": name})
	s.addMessage(conv, "assistant", "", []convToolCall{newToolCall("handoff", string(args))})
	s.mu.Lock()
	next, err := s.assistantView(id, "")
	if err == nil {
		c.AssistantIDs = append(c.AssistantIDs, id)
	}
	s.mu.Unlock()
	if err != nil {
		s.addMessage(conv, "assistant", "I'm sorry, "+name+" is not available.", nil)
		return view
	}
	for k, v := range next.DynamicVariables {
		if _, set := vars[k]; !set {
			vars[k] = stringify(v)
		}
	}
	if g := render(next.Greeting, vars); g != "" {
		s.addMessage(conv, "assistant", g, nil)
	}
	s.setInstructions(c, render(next.Instructions, vars), vars)
	return next
}

// startConversation creates the call's conversation record.
func (s *Server) startConversation(c *call, view *assistantView, extra map[string]string) *conversation {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	agent, user := c.From, c.To
	if c.Direction == "inbound" {
		agent, user = c.To, c.From
	}
	meta := map[string]string{}
	for k, v := range extra {
		meta[k] = v
	}
	meta["assistant_id"] = view.ID
	meta["call_control_id"] = c.CallControlID
	meta["telnyx_agent_target"] = agent
	meta["telnyx_end_user_target"] = user
	meta["telnyx_conversation_channel"] = "phone_call"
	conv := &conversation{ID: uuid.NewString(), Name: "", start: now, Metadata: meta, Messages: []convMessage{}, Insights: []insightRun{}}
	s.st.conversations = append(s.st.conversations, conv)
	s.forget()
	c.ConversationID = conv.ID
	return conv
}

// addMessage appends a transcript turn on the simulated timeline.
func (s *Server) addMessage(conv *conversation, role, text string, calls []convToolCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := fmtUS(conv.start.Add(time.Duration(len(conv.Messages)) * turnLength))
	m := convMessage{Role: role, CreatedAt: at, SentAt: at, ToolCalls: calls}
	if text != "" || len(calls) == 0 {
		t := text
		m.Text = &t
	}
	conv.Messages = append(conv.Messages, m)
}

// postCall stores the call's duration, recording and insights. It runs
// before the final status callback so everything is retrievable by then.
func (s *Server) postCall(c *call, conv *conversation, view *assistantView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(conv.Messages)
	dur := time.Duration(n) * turnLength
	c.DurationSecs = int(dur / time.Second)
	users, tools := 0, 0
	for _, m := range conv.Messages {
		switch m.Role {
		case "user":
			users++
		case "tool":
			tools++
		}
	}
	summary := fmt.Sprintf("The caller spoke %d times; the assistant answered; %d tool calls; assistants: %s.",
		users, tools, strings.Join(c.AssistantIDs, ", "))
	conv.Insights = append(conv.Insights, insightRun{
		ID: uuid.NewString(), CreatedAt: fmtUS(conv.start.Add(dur)), Status: "completed",
		Results: []insightResult{{InsightID: summaryInsightID, Result: summary}},
	})
	if view.Telephony.Recording.Enabled != nil && !*view.Telephony.Recording.Enabled && !c.record {
		return
	}
	started := c.AnsweredAt
	if started == "" {
		started = fmtUS(conv.start)
	}
	rec := &recording{
		ID: uuid.NewString(), CallControlID: c.CallControlID, CallLegID: c.CallLegID, CallSessionID: c.CallSessionID,
		Channels: "dual", CreatedAt: fmtUS(s.now()), DurationMillis: dur.Milliseconds(), RecordType: "recording",
		RecordingStartedAt: started, RecordingEndedAt: fmtUS(conv.start.Add(dur)), Source: "call", Status: "completed",
		UpdatedAt: fmtUS(s.now()), connectionID: c.ConnectionID, from: c.From, to: c.To,
	}
	s.st.recordings = append(s.st.recordings, rec)
	s.forget()
	c.RecordingID = rec.ID
}

// summaryInsightID is the fixed id of the simulator's one built-in insight.
const summaryInsightID = "00000000-0000-4000-8000-00000000beef"
