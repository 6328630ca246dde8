package console

import (
	"net/http"
	"net/url"
	"strings"
)

type smsData struct {
	Conversations []conversation
	Numbers       []phoneNumber
	IdemKey       string
	To            string
	Prev, Next    string
}

func (c *Console) smsPage(s *session) {
	d := smsData{IdemKey: newToken()}
	page := atoiDefault(s.r.URL.Query().Get("page"), 1)
	meta, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/conversations?per_page=25&page=" + itoa(page)}, &d.Conversations)
	if err != nil {
		s.fail(err)
		return
	}
	d.Prev, d.Next = pageLinks(s.r.URL, meta)
	if d.Numbers, err = s.numbers(); err != nil {
		s.fail(err)
		return
	}
	s.page("sms", "SMS", "sms", d)
}

type threadData struct {
	Conversation conversation
	Messages     []message
	Numbers      []phoneNumber
	IdemKey      string
	To           string
}

func (c *Console) threadPage(s *session) {
	id := url.PathEscape(s.r.PathValue("id"))
	d := threadData{IdemKey: newToken()}
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/conversations/" + id}, &d.Conversation); err != nil {
		s.fail(err)
		return
	}
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/conversations/" + id + "/messages?per_page=100"}, &d.Messages); err != nil {
		s.fail(err)
		return
	}
	var err error
	if d.Numbers, err = s.numbers(); err != nil {
		s.fail(err)
		return
	}
	d.To = d.Conversation.RemoteNumber
	s.page("thread", "Conversation with "+d.Conversation.RemoteNumber, "sms", d)
}

// sendSMS sends through POST /api/v1/sms/send with the idempotency key the
// form was rendered with: a second submit of the same form is answered
// with the first message, so one message goes out.
func (c *Console) sendSMS(s *session) {
	f := s.r.PostForm
	key := f.Get("idempotency_key")
	if key == "" {
		key = newToken()
	}
	var sent struct {
		ID             string `json:"id"`
		ConversationID string `json:"conversation_id"`
	}
	_, err := s.api(apiCall{method: http.MethodPost, path: "/api/v1/sms/send", body: map[string]any{
		"to": strings.TrimSpace(f.Get("to")), "text": f.Get("text"), "from_number": f.Get("from"), "idempotency_key": key,
	}}, &sent)
	back := Prefix + "/sms"
	if err == nil && sent.ConversationID != "" {
		back = Prefix + "/sms/" + url.PathEscape(sent.ConversationID)
	} else if next := f.Get("next"); next != "" {
		back = safeNext(next)
	}
	s.done(back, "Message sent.", err)
}
