package telnyxsim

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// injectCall starts an inbound call from a simulated caller to one of the
// account's numbers.
func (s *Server) injectCall(from, to, callerName string, script []ScriptStep) (*Call, apiError, int) {
	if !validE164(from) {
		return nil, newAPIError("10016", "Phone number must be in +E.164 format", "from is not a valid +E.164 phone number."), http.StatusUnprocessableEntity
	}
	s.mu.Lock()
	n := s.numberByE164(to)
	if n == nil {
		s.mu.Unlock()
		return nil, newAPIError("10005", "Resource not found", "to is not a phone number on this account."), http.StatusNotFound
	}
	connID := ""
	if n.ConnectionID != nil {
		connID = *n.ConnectionID
	}
	c := s.newCall("inbound", from, to, connID)
	c.CallerName = callerName
	c.Script = script
	if c.Script == nil {
		c.Script = s.scriptFor(from)
	}
	if app := s.st.apps[connID]; app != nil {
		c.statusURL, c.statusMethod = app.StatusCallback, http.MethodPost
		if app.StatusCallbackMethod == "get" {
			c.statusMethod = http.MethodGet
		}
	}
	s.st.calls = append(s.st.calls, c)
	s.forget()
	snap := c.snapshot()
	s.mu.Unlock()
	s.spawn(func(ctx context.Context) { s.runInbound(ctx, c) })
	return &snap, apiError{}, http.StatusCreated
}

// texmlVerb is any TeXML element, with the attributes the simulator reads.
type texmlVerb struct {
	XMLName xml.Name
	Reason  string      `xml:"reason,attr"`
	ID      string      `xml:"id,attr"`
	Inner   []texmlVerb `xml:",any"`
}

type texmlDoc struct {
	XMLName xml.Name    `xml:"Response"`
	Verbs   []texmlVerb `xml:",any"`
}

// runInbound plays out an inbound call: fetch the TeXML app's instructions
// and obey them.
func (s *Server) runInbound(ctx context.Context, c *call) {
	ob := s.newOutbox()
	defer ob.flush(ctx)
	finish := func(status, cause, source, errMsg string) {
		if errMsg != "" {
			s.mu.Lock()
			c.Error = errMsg
			s.mu.Unlock()
		}
		s.end(c, status, cause, source)
		s.statusCallback(ctx, ob, c, status)
	}
	s.setStatus(c, "ringing")
	if !sleep(ctx, c.hangup, s.cfg.StepDelay) {
		finish("canceled", "originator_cancel", "callee", "")
		return
	}
	s.mu.Lock()
	app := s.st.apps[c.ConnectionID]
	var appCopy texmlApp
	if app != nil {
		appCopy = *app
	}
	s.mu.Unlock()
	if app == nil {
		finish("failed", "unspecified", "unknown", "the number has no voice connection")
		return
	}
	assistantID := appCopy.assistantID
	if assistantID == "" {
		doc, err := s.fetchTeXML(ctx, c, appCopy)
		if err != nil {
			finish("failed", "unspecified", "unknown", "voice_url: "+err.Error())
			return
		}
		verb, id, reason := firstAction(doc)
		switch verb {
		case "Reject":
			if reason == "busy" {
				finish("busy", "user_busy", "callee", "")
			} else {
				finish("no-answer", "call_rejected", "callee", "")
			}
			return
		case "Hangup", "":
			s.setStatus(c, "in-progress")
			s.statusCallback(ctx, ob, c, "in-progress")
			finish("completed", "normal_clearing", "callee", "")
			return
		case "AIAssistant":
			assistantID = id
		default:
			s.setStatus(c, "in-progress")
			s.statusCallback(ctx, ob, c, "in-progress")
			finish("completed", "normal_clearing", "callee", "unsupported TeXML verb "+verb)
			return
		}
	}
	s.mu.Lock()
	c.AssistantIDs = []string{assistantID}
	_, err := s.assistantView(assistantID, "")
	s.mu.Unlock()
	s.setStatus(c, "in-progress")
	s.statusCallback(ctx, ob, c, "in-progress")
	if err != nil {
		finish("completed", "normal_clearing", "callee", "conversation could not start: "+err.Error())
		return
	}
	source := s.converse(ctx, c, false)
	finish("completed", "normal_clearing", source, "")
}

// firstAction finds the first verb that decides the call: Reject, Hangup
// or Connect/AIAssistant. Say and Pause are skipped; any other verb is
// returned as unsupported.
func firstAction(doc *texmlDoc) (verb, id, reason string) {
	for _, v := range doc.Verbs {
		switch v.XMLName.Local {
		case "Say", "Pause", "Play":
			continue
		case "Reject":
			return "Reject", "", v.Reason
		case "Hangup":
			return "Hangup", "", ""
		case "Connect":
			for _, in := range v.Inner {
				if in.XMLName.Local == "AIAssistant" {
					return "AIAssistant", in.ID, ""
				}
			}
			return "Connect", "", ""
		default:
			return v.XMLName.Local, "", ""
		}
	}
	return "", "", ""
}

// fetchTeXML requests the app's voice_url (then voice_fallback_url) with
// the signed call parameters and parses the TeXML answer.
func (s *Server) fetchTeXML(ctx context.Context, c *call, app texmlApp) (*texmlDoc, error) {
	s.mu.Lock()
	v := url.Values{}
	v.Set("AccountSid", s.accountID)
	v.Set("CallSid", c.CallControlID)
	v.Set("CallSidLegacy", c.legacySID)
	v.Set("CallerId", c.From)
	v.Set("CallingPartyType", "pstn")
	v.Set("From", c.From)
	v.Set("FromSipUri", "sip:"+c.From+"@sip.telnyx.com")
	v.Set("To", c.To)
	v.Set("ToSipUri", "sip:"+c.To+"@sip.telnyx.com")
	v.Set("ConnectionId", c.ConnectionID)
	v.Set("CallStatus", "in-progress")
	s.mu.Unlock()
	method := http.MethodPost
	if app.VoiceMethod == "get" {
		method = http.MethodGet
	}
	var lastErr error
	for _, target := range urls(app.VoiceURL, app.VoiceFallbackURL) {
		doc, raw, err := s.fetchOne(ctx, method, target, []byte(v.Encode()))
		s.mu.Lock()
		d := Delivery{Kind: "texml.request", URL: target, Attempt: 1, At: fmtMS(s.now())}
		if err != nil {
			d.Error = err.Error()
		} else {
			d.Status = http.StatusOK
			c.TeXML = raw
		}
		s.st.deliveries = append(s.st.deliveries, d)
		s.forget()
		s.mu.Unlock()
		if err == nil {
			return doc, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("the TeXML application has no voice_url")
	}
	return nil, lastErr
}

func (s *Server) fetchOne(ctx context.Context, method, target string, form []byte) (*texmlDoc, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WebhookTimeout)
	defer cancel()
	req, err := s.signedRequest(ctx, method, target, true, form)
	if err != nil {
		return nil, "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("answered HTTP %d", resp.StatusCode)
	}
	var doc texmlDoc
	if err := xml.Unmarshal(raw, &doc); err != nil {
		return nil, "", fmt.Errorf("answer is not TeXML: %w", err)
	}
	return &doc, string(raw), nil
}
