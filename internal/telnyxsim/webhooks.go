package telnyxsim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Delivery records one webhook attempt; GET /_sim/webhook-deliveries
// lists them.
type Delivery struct {
	// Kind is the event type (e.g. "message.sent") or "status:<CallStatus>"
	// for TeXML status callbacks.
	Kind string `json:"kind"`
	// EventID is the JSON event id, if any.
	EventID string `json:"event_id,omitempty"`
	URL     string `json:"url"`
	Attempt int    `json:"attempt"`
	// Status is the receiver's HTTP status, 0 when the request failed.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	At     string `json:"at"`
}

// webhook is one logical webhook to deliver, possibly to several URLs.
type webhook struct {
	kind    string
	eventID string
	urls    []string
	method  string // POST (default) or GET
	form    bool   // form-encoded TeXML callback rather than JSON
	// body renders the payload for an attempt; JSON events carry the
	// attempt number and URL in meta.
	body func(attempt int, url string) []byte
}

// sign returns the Telnyx signature headers for body at time t.
func (s *Server) sign(body []byte, t time.Time) (ts, sig string) {
	ts = strconv.FormatInt(t.Unix(), 10)
	msg := append([]byte(ts+"|"), body...)
	return ts, base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, msg))
}

// signedRequest builds a signed request. For GET, the payload goes in the
// query string and the signature covers an empty body.
func (s *Server) signedRequest(ctx context.Context, method, target string, form bool, payload []byte) (*http.Request, error) {
	var body io.Reader
	signed := payload
	if method == http.MethodGet {
		sep := "?"
		if bytes.ContainsRune([]byte(target), '?') {
			sep = "&"
		}
		target += sep + string(payload)
		signed = nil
	} else {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	ts, sig := s.sign(signed, s.now())
	req.Header.Set("telnyx-timestamp", ts)
	req.Header.Set("telnyx-signature-ed25519", sig)
	req.Header.Set("User-Agent", "telnyx-webhooks")
	if method != http.MethodGet {
		if form {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	return req, nil
}

// deliver tries each URL in turn, up to WebhookAttempts times each, until
// one answers 2xx. It reports whether any did.
func (s *Server) deliver(ctx context.Context, wh webhook) bool {
	method := wh.method
	if method == "" {
		method = http.MethodPost
	}
	for _, target := range wh.urls {
		for attempt := 1; attempt <= s.cfg.WebhookAttempts; attempt++ {
			if attempt > 1 && !sleep(ctx, nil, time.Duration(attempt-1)*s.cfg.WebhookRetryDelay) {
				return false
			}
			status, err := s.attempt(ctx, method, target, wh, attempt)
			d := Delivery{Kind: wh.kind, EventID: wh.eventID, URL: target, Attempt: attempt, Status: status, At: fmtMS(s.now())}
			if err != nil {
				d.Error = err.Error()
			}
			s.mu.Lock()
			s.st.deliveries = append(s.st.deliveries, d)
			s.forget()
			s.mu.Unlock()
			if err == nil && status >= 200 && status <= 299 {
				return true
			}
			if ctx.Err() != nil {
				return false
			}
			s.cfg.Logger.Debug("webhook attempt failed", "kind", wh.kind, "url", target, "attempt", attempt, "status", status, "err", err)
		}
	}
	return false
}

func (s *Server) attempt(ctx context.Context, method, target string, wh webhook, attempt int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WebhookTimeout)
	defer cancel()
	req, err := s.signedRequest(ctx, method, target, wh.form, wh.body(attempt, target))
	if err != nil {
		return 0, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// jsonEvent renders Telnyx's JSON event envelope. payload is rendered
// once, so every attempt and duplicate carries the same event.
func (s *Server) jsonEvent(eventType string, occurred time.Time, payload any, withMeta bool) (id string, render func(int, string) []byte) {
	id = uuid.NewString()
	p, _ := json.Marshal(payload)
	data := map[string]any{
		"event_type": eventType, "id": id, "occurred_at": fmtUS(occurred),
		"payload": json.RawMessage(p), "record_type": "event",
	}
	return id, func(attempt int, url string) []byte {
		env := map[string]any{"data": data}
		if withMeta {
			env["meta"] = map[string]any{"attempt": attempt, "delivered_to": url}
		}
		b, _ := json.Marshal(env)
		return b
	}
}

// outbox delivers the webhooks of one message or call in order, applying
// the duplicate and reorder faults.
type outbox struct {
	s    *Server
	held *webhook
}

func (s *Server) newOutbox() *outbox { return &outbox{s: s} }

func (o *outbox) send(ctx context.Context, wh webhook) {
	if len(wh.urls) == 0 {
		return
	}
	if o.s.takeWebhookFault(FaultDropWebhooks) {
		o.s.mu.Lock()
		o.s.st.deliveries = append(o.s.st.deliveries, Delivery{Kind: wh.kind, EventID: wh.eventID, URL: wh.urls[0],
			At: fmtMS(o.s.now()), Error: "dropped by a drop_webhooks fault"})
		o.s.forget()
		o.s.mu.Unlock()
		return
	}
	if o.held == nil && o.s.takeWebhookFault(FaultReorderWebhooks) {
		o.held = &wh
		return
	}
	o.s.deliver(ctx, wh)
	if o.s.takeWebhookFault(FaultDuplicateWebhooks) {
		o.s.deliver(ctx, wh)
	}
	o.flush(ctx)
}

// flush delivers a held webhook, if any.
func (o *outbox) flush(ctx context.Context) {
	if o.held == nil {
		return
	}
	h := *o.held
	o.held = nil
	o.s.deliver(ctx, h)
}

// urls returns the non-empty, distinct URLs in order.
func urls(candidates ...string) []string {
	var out []string
	for _, u := range candidates {
		if u != "" && !contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}
