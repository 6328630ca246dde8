package telnyxsim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Call is the simulator's record of a call, as GET /_sim/calls returns it.
type Call struct {
	CallControlID string `json:"call_control_id"`
	CallLegID     string `json:"call_leg_id"`
	CallSessionID string `json:"call_session_id"`
	// Direction is "outbound" or "inbound".
	Direction    string `json:"direction"`
	From         string `json:"from"`
	To           string `json:"to"`
	CallerName   string `json:"caller_name,omitempty"`
	ConnectionID string `json:"connection_id"`
	// Status uses TeXML CallStatus values: queued, initiated, ringing,
	// in-progress, completed, busy, no-answer, failed, canceled.
	Status       string `json:"status"`
	AnsweredBy   string `json:"answered_by,omitempty"`
	HangupCause  string `json:"hangup_cause,omitempty"`
	HangupSource string `json:"hangup_source,omitempty"`
	// AssistantIDs lists the assistants that held the call, in order
	// (more than one after a handoff).
	AssistantIDs []string `json:"assistant_ids"`
	// DynamicVariables are the resolved variables of the conversation.
	DynamicVariables map[string]string `json:"dynamic_variables,omitempty"`
	// Instructions are the current assistant's rendered instructions.
	Instructions string `json:"instructions,omitempty"`
	// DynamicVariablesWebhook reports the assistant.initialization request.
	DynamicVariablesWebhook *WebhookResult `json:"dynamic_variables_webhook,omitempty"`
	// TeXML is the document the inbound voice_url answered with.
	TeXML          string           `json:"texml,omitempty"`
	ToolCalls      []ToolCallRecord `json:"tool_calls"`
	ConversationID string           `json:"conversation_id,omitempty"`
	RecordingID    string           `json:"recording_id,omitempty"`
	Script         []ScriptStep     `json:"script"`
	// Error explains a failed call or a conversation that could not start.
	Error        string `json:"error,omitempty"`
	DurationSecs int    `json:"duration_secs"`
	CreatedAt    string `json:"created_at"`
	AnsweredAt   string `json:"answered_at,omitempty"`
	EndedAt      string `json:"ended_at,omitempty"`
}

// WebhookResult is the outcome of a synchronous webhook the simulator made.
type WebhookResult struct {
	URL      string `json:"url"`
	Status   int    `json:"status"`
	TimedOut bool   `json:"timed_out"`
	Error    string `json:"error,omitempty"`
}

// ToolCallRecord is a webhook-tool request made during a conversation.
type ToolCallRecord struct {
	Name      string         `json:"name"`
	URL       string         `json:"url"`
	Method    string         `json:"method"`
	Arguments map[string]any `json:"arguments"`
	Status    int            `json:"status"`
	Response  string         `json:"response,omitempty"`
	Error     string         `json:"error,omitempty"`
}

// call is the live state behind a Call. Guarded by Server.mu.
type call struct {
	Call
	legacySID        string
	statusURL        string
	statusMethod     string
	events           map[string]bool // nil: every event
	amd              bool
	record           bool
	callVars         map[string]string
	assistantVersion string
	hangup           chan struct{}
	hungUp           bool
	commands         map[string]bool
	seq              int
	createdAt        time.Time
}

func (s *Server) newCall(direction, from, to, connectionID string) *call {
	now := s.now()
	return &call{
		Call: Call{
			CallControlID: opaqueID("v3:", 36), CallLegID: uuid.NewString(), CallSessionID: uuid.NewString(),
			Direction: direction, From: from, To: to, ConnectionID: connectionID, Status: "queued",
			AssistantIDs: []string{}, ToolCalls: []ToolCallRecord{}, CreatedAt: fmtUS(now),
		},
		legacySID: opaqueID("v2:", 24), hangup: make(chan struct{}), commands: map[string]bool{}, createdAt: now,
	}
}

// snapshot copies a call for output. Callers hold s.mu.
func (c *call) snapshot() Call {
	cp := c.Call
	cp.AssistantIDs = append([]string{}, c.AssistantIDs...)
	cp.ToolCalls = append([]ToolCallRecord{}, c.ToolCalls...)
	cp.Script = append([]ScriptStep{}, c.Script...)
	if c.DynamicVariables != nil {
		cp.DynamicVariables = make(map[string]string, len(c.DynamicVariables))
		for k, v := range c.DynamicVariables {
			cp.DynamicVariables[k] = v
		}
	}
	if c.DynamicVariablesWebhook != nil {
		w := *c.DynamicVariablesWebhook
		cp.DynamicVariablesWebhook = &w
	}
	return cp
}

// findCall returns a call by call_control_id. Callers hold s.mu.
func (s *Server) findCall(id string) *call {
	for _, c := range s.st.calls {
		if c.CallControlID == id {
			return c
		}
	}
	return nil
}

func (s *Server) handleStartAICall(w http.ResponseWriter, r *http.Request) {
	var body struct {
		From                 string         `json:"From"`
		To                   string         `json:"To"`
		AIAssistantID        string         `json:"AIAssistantId"`
		AIAssistantVersion   string         `json:"AIAssistantVersion"`
		DynamicVariables     map[string]any `json:"AIAssistantDynamicVariables"`
		StatusCallback       string         `json:"StatusCallback"`
		StatusCallbackEvent  string         `json:"StatusCallbackEvent"`
		StatusCallbackMethod string         `json:"StatusCallbackMethod"`
		MachineDetection     string         `json:"MachineDetection"`
		Record               bool           `json:"Record"`
		URL                  *string        `json:"Url"`
		Texml                *string        `json:"Texml"`
		Twiml                *string        `json:"Twiml"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	switch {
	case body.URL != nil || body.Texml != nil || body.Twiml != nil:
		invalid(w, "10015", "Bad Request", "Url, Texml and Twiml are not accepted on AI calls.", "/Url")
		return
	case body.From == "":
		invalid(w, "10004", "Missing required parameter", "From is required.", "/From")
		return
	case body.To == "":
		invalid(w, "10004", "Missing required parameter", "To is required.", "/To")
		return
	case body.AIAssistantID == "":
		invalid(w, "10004", "Missing required parameter", "AIAssistantId is required.", "/AIAssistantId")
		return
	case !validE164(body.To):
		invalid(w, "10016", "Phone number must be in +E.164 format", "To is not a valid +E.164 phone number.", "/To")
		return
	case body.StatusCallback != "" && !isHTTPURL(body.StatusCallback):
		invalid(w, "10003", "Invalid URL", "StatusCallback must be an http or https URL.", "/StatusCallback")
		return
	}
	connID := r.PathValue("connection_id")
	s.mu.Lock()
	app := s.st.apps[connID]
	from := s.numberByE164(body.From)
	_, asstErr := s.assistantView(body.AIAssistantID, body.AIAssistantVersion)
	switch {
	case app == nil:
		s.mu.Unlock()
		invalid(w, "10015", "Bad Request", "connection_id does not name a TeXML application on this account.", "/connection_id")
		return
	case from == nil:
		s.mu.Unlock()
		invalid(w, "10002", "Invalid phone number", "From is not a phone number on this account.", "/From")
		return
	case asstErr != nil:
		s.mu.Unlock()
		invalid(w, "10015", "Bad Request", "AIAssistantId: "+asstErr.Error()+".", "/AIAssistantId")
		return
	}
	c := s.newCall("outbound", body.From, body.To, connID)
	c.AssistantIDs = []string{body.AIAssistantID}
	c.assistantVersion = body.AIAssistantVersion
	c.statusURL = body.StatusCallback
	c.statusMethod = strings.ToUpper(body.StatusCallbackMethod)
	if c.statusURL == "" {
		c.statusURL, c.statusMethod = app.StatusCallback, strings.ToUpper(app.StatusCallbackMethod)
	}
	events := body.StatusCallbackEvent
	if events == "" {
		events = "completed"
	}
	c.events = map[string]bool{}
	for _, e := range strings.Fields(events) {
		c.events[e] = true
	}
	c.amd = body.MachineDetection != "" && !strings.EqualFold(body.MachineDetection, "Disable")
	c.record = body.Record
	c.callVars = map[string]string{}
	for k, v := range body.DynamicVariables {
		c.callVars[k] = stringify(v)
	}
	c.Script = s.scriptFor(body.To)
	s.st.calls = append(s.st.calls, c)
	s.forget()
	resp, _ := json.Marshal(map[string]any{"call_sid": c.CallControlID, "from": c.From, "to": c.To, "status": "queued"})
	s.mu.Unlock()

	s.spawn(func(ctx context.Context) { s.runOutbound(ctx, c) })
	writeRaw(w, http.StatusOK, resp)
}

// scriptFor returns the registered script for a number or the default.
// Callers hold s.mu.
func (s *Server) scriptFor(number string) []ScriptStep {
	if sc, ok := s.st.scripts[number]; ok {
		return append([]ScriptStep{}, sc...)
	}
	return append([]ScriptStep{}, s.cfg.DefaultScript...)
}

// handleGetCallStatus answers Call Control's call-status lookup:
// {data:{call_control_id, call_leg_id, call_session_id, is_alive,
// record_type, call_duration, start_time, end_time}}.
func (s *Server) handleGetCallStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findCall(r.PathValue("id"))
	if c == nil {
		notFound(w, "Call")
		return
	}
	data := map[string]any{"record_type": "call", "call_control_id": c.CallControlID, "call_leg_id": c.CallLegID,
		"call_session_id": c.CallSessionID, "is_alive": c.EndedAt == "", "call_duration": c.DurationSecs,
		"start_time": c.CreatedAt, "end_time": nil, "client_state": nil}
	if c.EndedAt != "" {
		data["end_time"] = c.EndedAt
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) handleHangup(w http.ResponseWriter, r *http.Request) {
	var body struct {
		CommandID string `json:"command_id"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findCall(r.PathValue("id"))
	if c == nil {
		notFound(w, "Call")
		return
	}
	if body.CommandID != "" && c.commands[body.CommandID] {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{"result": "ok"}})
		return
	}
	if c.EndedAt != "" || c.hungUp {
		writeErr(w, http.StatusUnprocessableEntity, newAPIError("90018", "Call has already ended",
			"This call is no longer active and can't receive commands."))
		return
	}
	if body.CommandID != "" {
		c.commands[body.CommandID] = true
	}
	c.hungUp = true
	close(c.hangup)
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{"result": "ok"}})
}

// setStatus moves a call to a non-final status.
func (s *Server) setStatus(c *call, status string) {
	s.mu.Lock()
	c.Status = status
	if status == "in-progress" {
		c.AnsweredAt = fmtUS(s.now())
	}
	s.mu.Unlock()
}

// end moves a call to a final status.
func (s *Server) end(c *call, status, cause, source string) {
	s.mu.Lock()
	c.Status, c.HangupCause, c.HangupSource = status, cause, source
	c.EndedAt = fmtUS(s.now())
	s.mu.Unlock()
}

// hungUpByAPI reports whether a hangup command arrived.
func (s *Server) hungUpByAPI(c *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.hungUp
}

func finalStatus(status string) bool {
	switch status {
	case "completed", "busy", "no-answer", "failed", "canceled":
		return true
	}
	return false
}

// statusCallback sends a TeXML call-progress callback if the call
// subscribed to the event.
func (s *Server) statusCallback(ctx context.Context, ob *outbox, c *call, status string) {
	event := status
	if status == "in-progress" {
		event = "answered"
	}
	s.mu.Lock()
	subscribed := c.events == nil || c.events[event] || (finalStatus(status) && c.events["completed"])
	if c.statusURL == "" || !subscribed {
		s.mu.Unlock()
		return
	}
	v := url.Values{}
	v.Set("AccountSid", s.accountID)
	v.Set("CallSid", c.CallControlID)
	v.Set("CallSidLegacy", c.legacySID)
	v.Set("CallStatus", status)
	v.Set("CallbackSource", "call-progress-events")
	v.Set("ConnectionId", c.ConnectionID)
	v.Set("From", c.From)
	v.Set("To", c.To)
	v.Set("CallerId", c.From)
	v.Set("SequenceNumber", strconv.Itoa(c.seq))
	v.Set("Timestamp", fmtUS(s.now()))
	v.Set("CallInitiatedAt", c.CreatedAt)
	if status == "in-progress" {
		v.Set("CallDuration", "0")
		if c.AnsweredBy != "" {
			v.Set("AnsweredBy", c.AnsweredBy)
		}
	}
	if finalStatus(status) {
		v.Set("CallControlId", c.CallControlID)
		v.Set("CallLegId", c.CallLegID)
		v.Set("CallSessionId", c.CallSessionID)
		v.Set("CallDuration", strconv.Itoa(c.DurationSecs))
		v.Set("HangupCause", c.HangupCause)
		v.Set("HangupSource", c.HangupSource)
		v.Set("EndTime", c.EndedAt)
		v.Set("OccurredAt", c.EndedAt)
		v.Set("OrganizationId", s.accountID)
		if c.AnsweredAt != "" {
			v.Set("AnsweredTime", c.AnsweredAt)
		}
		if c.AnsweredBy != "" {
			v.Set("AnsweredBy", c.AnsweredBy)
		}
		if status == "failed" {
			v.Set("ErrorCode", "10007")
			v.Set("ErrorMessage", c.Error)
		}
	}
	c.seq++
	target, method := c.statusURL, c.statusMethod
	s.mu.Unlock()
	if method != http.MethodGet {
		method = http.MethodPost
	}
	payload := []byte(v.Encode())
	ob.send(ctx, webhook{kind: "status:" + status, urls: []string{target}, method: method, form: true,
		body: func(int, string) []byte { return payload }})
}

// runOutbound plays out an outbound AI call.
func (s *Server) runOutbound(ctx context.Context, c *call) {
	ob := s.newOutbox()
	defer ob.flush(ctx)
	pause := func() bool { return sleep(ctx, c.hangup, s.cfg.StepDelay) }
	finish := func(status, cause, source string) {
		s.end(c, status, cause, source)
		s.statusCallback(ctx, ob, c, status)
	}
	s.setStatus(c, "initiated")
	s.statusCallback(ctx, ob, c, "initiated")
	magic := last4(c.To)
	if !pause() {
		finish("canceled", "originator_cancel", "caller")
		return
	}
	if magic == magicFailure {
		s.mu.Lock()
		c.Error = "simulated carrier failure"
		s.mu.Unlock()
		finish("failed", "unspecified", "unknown")
		return
	}
	s.setStatus(c, "ringing")
	s.statusCallback(ctx, ob, c, "ringing")
	if !pause() {
		finish("canceled", "originator_cancel", "caller")
		return
	}
	switch magic {
	case magicBusy:
		finish("busy", "user_busy", "callee")
		return
	case magicNoAnswer:
		if !pause() {
			finish("canceled", "originator_cancel", "caller")
			return
		}
		finish("no-answer", "timeout", "callee")
		return
	}
	s.mu.Lock()
	if c.amd {
		c.AnsweredBy = "human"
		if magic == magicVoicemail {
			c.AnsweredBy = "machine"
		}
	}
	s.mu.Unlock()
	s.setStatus(c, "in-progress")
	s.statusCallback(ctx, ob, c, "in-progress")
	source := s.converse(ctx, c, magic == magicVoicemail)
	finish("completed", "normal_clearing", source)
}
