package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func itoa(n int) string { return strconv.Itoa(n) }

type inboundData struct {
	Sessions []inboundSession
	Pool     []poolEntry
	NumberBy map[string]string
	AgentBy  map[string]string
}

// inboundPage shows the inbound sessions with their callback targets and
// expected callers, and the number pool.
func (c *Console) inboundPage(s *session) {
	d := inboundData{NumberBy: map[string]string{}}
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/inbound-sessions?per_page=50"}, &d.Sessions); err != nil {
		s.fail(err)
		return
	}
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/number-pool?per_page=100"}, &d.Pool); err != nil {
		s.fail(err)
		return
	}
	nums, err := s.numbers()
	if err != nil {
		s.fail(err)
		return
	}
	for _, n := range nums {
		d.NumberBy[n.ID] = n.PhoneNumber
	}
	if _, d.AgentBy, err = s.agents(); err != nil {
		s.fail(err)
		return
	}
	s.page("inbound", "Inbound sessions", "inbound", d)
}

type webhooksData struct {
	Deliveries []delivery
	Status     string
	Prev, Next string
}

func (c *Console) webhooksPage(s *session) {
	d := webhooksData{Status: s.r.URL.Query().Get("status")}
	v := url.Values{"per_page": {"25"}, "page": {itoa(atoiDefault(s.r.URL.Query().Get("page"), 1))}}
	if d.Status != "" {
		v.Set("status", d.Status)
	}
	meta, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/webhook-deliveries?" + v.Encode()}, &d.Deliveries)
	if err != nil {
		s.fail(err)
		return
	}
	d.Prev, d.Next = pageLinks(s.r.URL, meta)
	s.page("webhooks", "Webhook deliveries", "webhooks", d)
}

func (c *Console) webhookEventPage(s *session) {
	var ev webhookEvent
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/webhook-events/" + url.PathEscape(s.r.PathValue("id"))}, &ev); err != nil {
		s.fail(err)
		return
	}
	s.page("webhook", "Webhook event "+ev.Type, "webhooks", ev)
}

// redeliver starts a new delivery round of an event.
func (c *Console) redeliver(s *session) {
	id := s.r.PathValue("id")
	_, err := s.api(apiCall{method: http.MethodPost, path: "/api/v1/webhook-events/" + url.PathEscape(id) + "/redeliver"}, nil)
	s.done(Prefix+"/webhooks/"+url.PathEscape(id), "Redelivery queued.", err)
}

type keysData struct {
	Keys    []apiKey
	Created *apiKey // the key just made: its secret is shown this once
}

func (c *Console) keysPage(s *session) {
	var d keysData
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/auth/api-keys?per_page=100"}, &d.Keys); err != nil {
		s.fail(err)
		return
	}
	s.page("keys", "API keys", "keys", d)
}

// createKey makes a key and shows its secret in this one answer (no
// redirect, nothing stored): reloading the list never shows it again.
func (c *Console) createKey(s *session) {
	var k apiKey
	if _, err := s.api(apiCall{method: http.MethodPost, path: "/api/v1/auth/api-keys",
		body: map[string]string{"name": strings.TrimSpace(s.r.PostForm.Get("name"))}}, &k); err != nil {
		s.done(Prefix+"/keys", "", err)
		return
	}
	d := keysData{Created: &k}
	if _, err := s.api(apiCall{method: http.MethodGet, path: "/api/v1/auth/api-keys?per_page=100"}, &d.Keys); err != nil {
		s.fail(err)
		return
	}
	s.page("keys", "API keys", "keys", d)
}

func (c *Console) revokeKey(s *session) {
	_, err := s.api(apiCall{method: http.MethodDelete, path: "/api/v1/auth/api-keys/" + url.PathEscape(s.r.PathValue("id"))}, nil)
	s.done(Prefix+"/keys", "Key revoked.", err)
}
