package telnyx

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// TeXMLRequest is what Telnyx sends to a TeXML application's voice_url
// when a call arrives (form-encoded for POST, query string for GET).
type TeXMLRequest struct {
	AccountSID    string
	CallSID       string
	CallSIDLegacy string
	ConnectionID  string
	From          string
	To            string
	CallerID      string
	// CallingPartyType is "pstn" or "sip".
	CallingPartyType string
	CallStatus       string
	// Values holds every parameter, including ones not modelled here.
	Values url.Values
}

// ParseTeXMLRequest decodes a verified form-encoded voice_url request body.
func ParseTeXMLRequest(body []byte) (*TeXMLRequest, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("telnyx: texml request: %w", err)
	}
	return TeXMLRequestFromValues(v)
}

// TeXMLRequestFromValues decodes voice_url parameters already split into
// values (e.g. the query string of a GET request).
func TeXMLRequestFromValues(v url.Values) (*TeXMLRequest, error) {
	if v.Get("CallSid") == "" {
		return nil, fmt.Errorf("telnyx: texml request: CallSid is missing")
	}
	return &TeXMLRequest{
		AccountSID:       v.Get("AccountSid"),
		CallSID:          v.Get("CallSid"),
		CallSIDLegacy:    v.Get("CallSidLegacy"),
		ConnectionID:     v.Get("ConnectionId"),
		From:             v.Get("From"),
		To:               v.Get("To"),
		CallerID:         v.Get("CallerId"),
		CallingPartyType: v.Get("CallingPartyType"),
		CallStatus:       v.Get("CallStatus"),
		Values:           v,
	}, nil
}

// Call statuses reported by TeXML status callbacks.
const (
	CallStatusInitiated  = "initiated"
	CallStatusRinging    = "ringing"
	CallStatusInProgress = "in-progress"
	CallStatusCompleted  = "completed"
	CallStatusBusy       = "busy"
	CallStatusNoAnswer   = "no-answer"
	CallStatusFailed     = "failed"
	CallStatusCanceled   = "canceled"
)

// CallStatusCallback is a TeXML call-progress callback.
type CallStatusCallback struct {
	AccountSID   string
	CallSID      string
	ConnectionID string
	From         string
	To           string
	// CallStatus is one of the CallStatus* constants.
	CallStatus     string
	CallbackSource string
	// SequenceNumber orders callbacks of one call (they may arrive out of
	// order).
	SequenceNumber int
	Timestamp      time.Time
	// CallDuration is set on answered and final callbacks.
	CallDuration time.Duration
	// CallSessionID, CallLegID and CallControlID arrive on the final
	// callback; the session id finds the call's recordings.
	CallSessionID string
	CallLegID     string
	CallControlID string
	HangupCause   string
	HangupSource  string
	// AnsweredBy is human, machine, fax or unknown when machine detection ran.
	AnsweredBy   string
	ErrorCode    string
	ErrorMessage string
	Values       url.Values
}

// Final reports whether the status ends the call.
func (c *CallStatusCallback) Final() bool {
	switch c.CallStatus {
	case CallStatusCompleted, CallStatusBusy, CallStatusNoAnswer, CallStatusFailed, CallStatusCanceled:
		return true
	}
	return false
}

// ParseCallStatus decodes a verified form-encoded status callback body.
func ParseCallStatus(body []byte) (*CallStatusCallback, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("telnyx: status callback: %w", err)
	}
	if v.Get("CallSid") == "" || v.Get("CallStatus") == "" {
		return nil, fmt.Errorf("telnyx: status callback: CallSid and CallStatus are required")
	}
	cb := &CallStatusCallback{
		AccountSID:     v.Get("AccountSid"),
		CallSID:        v.Get("CallSid"),
		ConnectionID:   v.Get("ConnectionId"),
		From:           v.Get("From"),
		To:             v.Get("To"),
		CallStatus:     v.Get("CallStatus"),
		CallbackSource: v.Get("CallbackSource"),
		CallSessionID:  v.Get("CallSessionId"),
		CallLegID:      v.Get("CallLegId"),
		CallControlID:  v.Get("CallControlId"),
		HangupCause:    v.Get("HangupCause"),
		HangupSource:   v.Get("HangupSource"),
		AnsweredBy:     v.Get("AnsweredBy"),
		ErrorCode:      v.Get("ErrorCode"),
		ErrorMessage:   v.Get("ErrorMessage"),
		Values:         v,
	}
	if s := v.Get("SequenceNumber"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("telnyx: status callback: SequenceNumber %q: %w", s, err)
		}
		cb.SequenceNumber = n
	}
	if s := v.Get("CallDuration"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("telnyx: status callback: CallDuration %q: %w", s, err)
		}
		cb.CallDuration = time.Duration(n) * time.Second
	}
	if s := v.Get("Timestamp"); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			cb.Timestamp = t
		} else if t, err := http.ParseTime(s); err == nil {
			cb.Timestamp = t
		}
	}
	return cb, nil
}

// HeaderToolCallControlID carries the call id on webhook-tool requests.
const HeaderToolCallControlID = "x-telnyx-call-control-id"

// ToolCall request handling: Telnyx sends the tool's arguments as the JSON
// body (or query string for GET) and does not sign tool requests, so
// authenticate them with a secret in the tool's Headers.

// ToolRequest is an assistant's webhook-tool call as received.
type ToolRequest struct {
	// CallControlID identifies the call the assistant is on.
	CallControlID string
	// Arguments is the JSON body the assistant sent.
	Arguments json.RawMessage
}

// ParseToolRequest decodes a webhook-tool request given its headers and
// raw body.
func ParseToolRequest(h http.Header, body []byte) (*ToolRequest, error) {
	if len(body) > 0 && !json.Valid(body) {
		return nil, fmt.Errorf("telnyx: tool request body is not JSON")
	}
	return &ToolRequest{CallControlID: h.Get(HeaderToolCallControlID), Arguments: json.RawMessage(body)}, nil
}
