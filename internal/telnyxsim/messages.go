package telnyxsim

import (
	"context"
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/google/uuid"
)

// message is the wire shape of a Telnyx message (outbound or inbound).
type message struct {
	RecordType         string     `json:"record_type"`
	ID                 string     `json:"id"`
	Direction          string     `json:"direction"`
	Type               string     `json:"type"`
	MessagingProfileID *string    `json:"messaging_profile_id"`
	OrganizationID     string     `json:"organization_id"`
	From               msgParty   `json:"from"`
	To                 []msgParty `json:"to"`
	Cc                 []msgParty `json:"cc"`
	Text               string     `json:"text"`
	Subject            *string    `json:"subject"`
	Media              []msgMedia `json:"media"`
	WebhookURL         *string    `json:"webhook_url"`
	WebhookFailoverURL *string    `json:"webhook_failover_url"`
	Encoding           string     `json:"encoding"`
	Parts              int        `json:"parts"`
	Tags               []string   `json:"tags"`
	Cost               *money     `json:"cost"`
	ReceivedAt         string     `json:"received_at"`
	SentAt             *string    `json:"sent_at"`
	CompletedAt        *string    `json:"completed_at"`
	ValidUntil         *string    `json:"valid_until"`
	Errors             []apiError `json:"errors"`
	useProfileHooks    bool
}

type msgParty struct {
	PhoneNumber string `json:"phone_number"`
	Status      string `json:"status,omitempty"`
	Carrier     string `json:"carrier"`
	LineType    string `json:"line_type"`
}

type msgMedia struct {
	URL         string  `json:"url"`
	ContentType *string `json:"content_type"`
	SHA256      *string `json:"sha256"`
	Size        *int64  `json:"size"`
}

type money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// smsParts counts segments: 160/153 GSM characters, 70/67 for UCS-2.
func smsParts(text string) (encoding string, parts int) {
	single, multi, enc := 160, 153, "GSM-7"
	for _, r := range text {
		if r > 127 {
			single, multi, enc = 70, 67, "UCS-2"
			break
		}
	}
	n := utf8.RuneCountInString(text)
	if n <= single {
		return enc, 1
	}
	return enc, (n + multi - 1) / multi
}

func (s *Server) handleSendMessage(w http.ResponseWriter, r *http.Request) {
	var body struct {
		From               string   `json:"from"`
		To                 string   `json:"to"`
		Text               string   `json:"text"`
		MediaURLs          []string `json:"media_urls"`
		Subject            *string  `json:"subject"`
		MessagingProfileID string   `json:"messaging_profile_id"`
		WebhookURL         string   `json:"webhook_url"`
		WebhookFailoverURL string   `json:"webhook_failover_url"`
		UseProfileWebhooks *bool    `json:"use_profile_webhooks"`
		Type               string   `json:"type"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	switch {
	case body.To == "":
		invalid(w, "10004", "Missing required parameter", "to is required.", "/to")
		return
	case !validE164(body.To):
		invalid(w, "10016", "Phone number must be in +E.164 format", "to is not a valid +E.164 phone number.", "/to")
		return
	case body.From == "":
		invalid(w, "10004", "Missing required parameter", "from is required when sending from a number.", "/from")
		return
	case body.Text == "" && len(body.MediaURLs) == 0:
		invalid(w, "10004", "Missing required parameter", "text is required for SMS.", "/text")
		return
	}
	for _, u := range []string{body.WebhookURL, body.WebhookFailoverURL} {
		if u != "" && !isHTTPURL(u) {
			invalid(w, "10003", "Invalid URL", "webhook URLs must be http or https URLs.", "/webhook_url")
			return
		}
	}
	now := s.now()
	s.mu.Lock()
	from := s.numberByE164(body.From)
	if from == nil {
		s.mu.Unlock()
		invalid(w, "10002", "Invalid phone number", "from is not a phone number on this account.", "/from")
		return
	}
	typ, cost := "SMS", "0.0040"
	if len(body.MediaURLs) > 0 {
		typ, cost = "MMS", "0.0150"
	}
	enc, parts := smsParts(body.Text)
	m := &message{
		RecordType: "message", ID: uuid.NewString(), Direction: "outbound", Type: typ,
		OrganizationID: s.accountID,
		From:           msgParty{PhoneNumber: from.PhoneNumber, Carrier: "Telnyx", LineType: "VoIP"},
		To:             []msgParty{{PhoneNumber: body.To, Status: "queued", Carrier: "SIMULATED WIRELESS", LineType: "Wireless"}},
		Cc:             []msgParty{}, Text: body.Text, Subject: body.Subject, Media: []msgMedia{},
		Encoding: enc, Parts: parts, Tags: []string{},
		Cost:       &money{Amount: cost, Currency: "USD"},
		ReceivedAt: fmtMS(now), Errors: []apiError{},
		useProfileHooks: body.UseProfileWebhooks == nil || *body.UseProfileWebhooks,
	}
	for _, u := range body.MediaURLs {
		m.Media = append(m.Media, msgMedia{URL: u})
	}
	if from.MessagingProfileID != nil {
		id := *from.MessagingProfileID
		m.MessagingProfileID = &id
	} else if body.MessagingProfileID != "" {
		m.MessagingProfileID = &body.MessagingProfileID
	}
	if body.WebhookURL != "" {
		m.WebhookURL = &body.WebhookURL
	}
	if body.WebhookFailoverURL != "" {
		m.WebhookFailoverURL = &body.WebhookFailoverURL
	}
	s.st.messages = append(s.st.messages, m)
	s.forget()
	b, _ := json.Marshal(map[string]any{"data": m})
	s.mu.Unlock()

	s.spawn(func(ctx context.Context) { s.playMessage(ctx, m) })
	writeRaw(w, http.StatusOK, b)
}

// messageHookURLs picks where a message's webhooks go: the message's own
// URLs, then its profile's, then the configured default.
func (s *Server) messageHookURLs(m *message) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c []string
	if m.WebhookURL != nil {
		c = append(c, *m.WebhookURL)
	}
	if m.WebhookFailoverURL != nil {
		c = append(c, *m.WebhookFailoverURL)
	}
	if m.MessagingProfileID != nil && m.useProfileHooks {
		if p := s.st.profiles[*m.MessagingProfileID]; p != nil {
			c = append(c, p.WebhookURL, p.WebhookFailoverURL)
		}
	}
	c = append(c, s.cfg.MessagingWebhookURL)
	return urls(c...)
}

// playMessage moves an outbound message through sent and finalized,
// delivering a webhook for each.
func (s *Server) playMessage(ctx context.Context, m *message) {
	ob := s.newOutbox()
	defer ob.flush(ctx)
	hooks := s.messageHookURLs(m)
	step := func(event string, mutate func()) bool {
		if !sleep(ctx, nil, s.cfg.StepDelay) {
			return false
		}
		s.mu.Lock()
		mutate()
		snapshot, _ := json.Marshal(m)
		s.mu.Unlock()
		id, render := s.jsonEvent(event, s.now(), json.RawMessage(snapshot), true)
		ob.send(ctx, webhook{kind: event, eventID: id, urls: hooks, body: render})
		return true
	}
	failed := last4(m.To[0].PhoneNumber) == magicFailure
	if !step("message.sent", func() {
		m.To[0].Status = "sent"
		t := fmtMS(s.now())
		m.SentAt = &t
	}) {
		return
	}
	step("message.finalized", func() {
		t := fmtMS(s.now())
		m.CompletedAt = &t
		if failed {
			m.To[0].Status = "delivery_failed"
			m.Errors = []apiError{{Code: "40300", Title: "Unreachable destination",
				Detail: "The destination carrier could not deliver the message (simulated failure)."}}
			return
		}
		m.To[0].Status = "delivered"
	})
}

func (s *Server) handleGetMessage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.st.messages {
		if m.ID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, map[string]any{"data": m})
			return
		}
	}
	notFound(w, "Message")
}

// injectInbound records an inbound SMS to one of the account's numbers and
// delivers message.received to the number's messaging webhook.
func (s *Server) injectInbound(from, to, text string) (*message, []byte, apiError, int) {
	if !validE164(from) {
		return nil, nil, newAPIError("10016", "Phone number must be in +E.164 format", "from is not a valid +E.164 phone number."), http.StatusUnprocessableEntity
	}
	now := s.now()
	s.mu.Lock()
	n := s.numberByE164(to)
	if n == nil {
		s.mu.Unlock()
		return nil, nil, newAPIError("10005", "Resource not found", "to is not a phone number on this account."), http.StatusNotFound
	}
	enc, parts := smsParts(text)
	m := &message{
		RecordType: "message", ID: uuid.NewString(), Direction: "inbound", Type: "SMS",
		OrganizationID: s.accountID,
		From:           msgParty{PhoneNumber: from, Status: "received", Carrier: "SIMULATED WIRELESS", LineType: "Wireless"},
		To:             []msgParty{{PhoneNumber: to, Status: "webhook_delivered", Carrier: "Telnyx", LineType: "VoIP"}},
		Cc:             []msgParty{}, Text: text, Media: []msgMedia{}, Encoding: enc, Parts: parts,
		Tags: []string{}, Cost: &money{Amount: "0.0040", Currency: "USD"}, ReceivedAt: fmtMS(now),
		Errors: []apiError{}, useProfileHooks: true,
	}
	if n.MessagingProfileID != nil {
		id := *n.MessagingProfileID
		m.MessagingProfileID = &id
	}
	s.st.messages = append(s.st.messages, m)
	s.forget()
	snapshot, _ := json.Marshal(m)
	s.mu.Unlock()

	hooks := s.messageHookURLs(m)
	id, render := s.jsonEvent("message.received", now, json.RawMessage(snapshot), true)
	s.spawn(func(ctx context.Context) {
		ob := s.newOutbox()
		ob.send(ctx, webhook{kind: "message.received", eventID: id, urls: hooks, body: render})
		ob.flush(ctx)
	})
	return m, snapshot, apiError{}, http.StatusCreated
}
