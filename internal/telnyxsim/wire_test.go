package telnyxsim_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// These tests check the simulator's bytes against the shapes written down
// in the Telnyx facts file (research/telnyx-api.md), independently of the
// adapter, so the two cannot drift into agreeing with each other.

var (
	uuidRe      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	numericRe   = regexp.MustCompile(`^[0-9]{15,20}$`)
	callIDRe    = regexp.MustCompile(`^v3:[A-Za-z0-9_-]+$`)
	assistantRe = regexp.MustCompile(`^assistant-[0-9a-f-]{36}$`)
	msTimeRe    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	usTimeRe    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	e164Re      = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)
	digitsRe    = regexp.MustCompile(`^\d+$`)
)

const key = "KEYwire"

func newSim(t *testing.T) (*telnyxsim.Server, *httptest.Server) {
	t.Helper()
	sim, err := telnyxsim.New(telnyxsim.Config{APIKey: key, StepDelay: 2 * time.Millisecond, WebhookRetryDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { sim.Close() })
	return sim, srv
}

// call performs a raw request and returns status, headers and the decoded body.
func call(t *testing.T, srv *httptest.Server, method, path, auth string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 204 && ct != "application/json" {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, out
}

// requireKeys fails unless every key is present in obj.
func requireKeys(t *testing.T, what string, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: missing key %q", what, k)
		}
	}
}

func match(t *testing.T, what string, re *regexp.Regexp, v any) {
	t.Helper()
	s, _ := v.(string)
	if !re.MatchString(s) {
		t.Errorf("%s = %#v, want %s", what, v, re)
	}
}

// checkErrorEnvelope asserts Telnyx's {"errors":[{code,title,...}]} shape.
func checkErrorEnvelope(t *testing.T, what string, body map[string]any, code string) map[string]any {
	t.Helper()
	errs, _ := body["errors"].([]any)
	if len(errs) != 1 {
		t.Fatalf("%s: errors = %v", what, body)
	}
	e := errs[0].(map[string]any)
	requireKeys(t, what, e, "code", "title")
	if e["code"] != code {
		t.Errorf("%s: code %#v, want string %q", what, e["code"], code)
	}
	match(t, what+" code", digitsRe, e["code"])
	return e
}

func TestAuthEnvelope(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t)
	for _, auth := range []string{"", "wrong"} {
		status, body := call(t, srv, "GET", "/v2/phone_numbers", auth, nil)
		if status != 401 {
			t.Errorf("auth %q: HTTP %d", auth, status)
		}
		e := checkErrorEnvelope(t, "401", body, "10009")
		if e["title"] != "Authentication failed" {
			t.Errorf("title %v", e["title"])
		}
	}
	status, body := call(t, srv, "GET", "/v2/no_such_thing", key, nil)
	if status != 404 {
		t.Errorf("unknown route: %d", status)
	}
	checkErrorEnvelope(t, "404", body, "10005")
}

func TestPhoneNumberShapes(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t)
	status, body := call(t, srv, "GET", "/v2/phone_numbers?page[size]=2&page[number]=2", key, nil)
	if status != 200 {
		t.Fatalf("HTTP %d", status)
	}
	meta, _ := body["meta"].(map[string]any)
	requireKeys(t, "meta", meta, "page_number", "page_size", "total_pages", "total_results")
	if meta["page_number"] != 2.0 || meta["page_size"] != 2.0 || meta["total_results"] != 5.0 || meta["total_pages"] != 3.0 {
		t.Errorf("meta = %v", meta)
	}
	data := body["data"].([]any)
	n := data[0].(map[string]any)
	requireKeys(t, "phone number", n, "id", "record_type", "phone_number", "status", "tags", "country_iso_alpha2",
		"phone_number_type", "purchased_at", "created_at", "external_pin", "deletion_lock_enabled", "connection_id", "messaging_profile_id")
	match(t, "id", numericRe, n["id"])
	match(t, "phone_number", e164Re, n["phone_number"])
	if n["record_type"] != "phone_number" || n["status"] != "active" || n["connection_id"] != nil {
		t.Errorf("number = %v", n)
	}
	status, body = call(t, srv, "GET", "/v2/phone_numbers/"+n["id"].(string)+"/messaging", key, nil)
	d := body["data"].(map[string]any)
	requireKeys(t, "messaging settings", d, "id", "record_type", "phone_number", "messaging_profile_id", "messaging_product", "type", "country_code")
	if status != 200 || d["record_type"] != "messaging_settings" {
		t.Errorf("messaging settings: %d %v", status, d)
	}
	status, body = call(t, srv, "PATCH", "/v2/phone_numbers/"+n["id"].(string), key, map[string]any{"messaging_profile_id": "x"})
	if status != 422 {
		t.Errorf("messaging_profile_id on PATCH /phone_numbers: HTTP %d", status)
	}
	e := checkErrorEnvelope(t, "422", body, "10015")
	if src, _ := e["source"].(map[string]any); src["pointer"] != "/messaging_profile_id" {
		t.Errorf("source = %v", e["source"])
	}
}

func TestAssistantAndTeXMLShapes(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t)
	status, a := call(t, srv, "POST", "/v2/ai/assistants", key, map[string]any{"name": "A", "instructions": "I", "custom_field": "kept"})
	if status != 200 {
		t.Fatalf("HTTP %d", status)
	}
	if _, wrapped := a["data"]; wrapped {
		t.Error("assistant create must be bare, not {data}")
	}
	requireKeys(t, "assistant", a, "id", "created_at", "model", "name", "instructions", "version_id", "telephony_settings")
	match(t, "assistant id", assistantRe, a["id"])
	if a["custom_field"] != "kept" {
		t.Error("unknown fields should round-trip")
	}
	id := a["id"].(string)
	status, list := call(t, srv, "GET", "/v2/ai/assistants", key, nil)
	if _, hasMeta := list["meta"]; status != 200 || hasMeta || len(list["data"].([]any)) != 1 {
		t.Errorf("list: %d %v", status, list)
	}
	status, del := call(t, srv, "DELETE", "/v2/ai/assistants/"+id, key, nil)
	if status != 200 || del["id"] != id || del["deleted"] != true || del["object"] == nil {
		t.Errorf("delete: %d %v", status, del)
	}
	status, v := call(t, srv, "POST", "/v2/ai/assistants", key, map[string]any{"name": "A"})
	detail, _ := v["detail"].([]any)
	if status != 422 || len(detail) != 1 {
		t.Fatalf("validation: %d %v", status, v)
	}
	item := detail[0].(map[string]any)
	requireKeys(t, "validation item", item, "loc", "msg", "type")

	status, app := call(t, srv, "POST", "/v2/texml_applications", key, map[string]any{"friendly_name": "x", "voice_url": "https://example.invalid/v"})
	if status != 201 {
		t.Errorf("texml create: HTTP %d, want 201", status)
	}
	d := app["data"].(map[string]any)
	requireKeys(t, "texml app", d, "id", "record_type", "friendly_name", "voice_url", "voice_method", "status_callback", "status_callback_method", "active", "created_at", "updated_at")
	match(t, "app id", numericRe, d["id"])
	if d["record_type"] != "texml_application" || d["voice_method"] != "post" {
		t.Errorf("app = %v", d)
	}
}

// hook records signed requests and checks each signature with the
// simulator's published key, using only the standard library.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	forms  []url.Values
	bad    int
}

func newHook(t *testing.T, pub string) *hook {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(pub)
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("telnyx-timestamp")
		sig, _ := base64.StdEncoding.DecodeString(r.Header.Get("telnyx-signature-ed25519"))
		sec, _ := strconv.ParseInt(ts, 10, 64)
		h.mu.Lock()
		defer h.mu.Unlock()
		if !ed25519.Verify(ed25519.PublicKey(key), append([]byte(ts+"|"), body...), sig) || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			h.bad++
			w.WriteHeader(401)
			return
		}
		h.bodies = append(h.bodies, body)
		if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
			f, _ := url.ParseQuery(string(body))
			h.forms = append(h.forms, f)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMessageShapesAndWebhooks(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t)
	h := newHook(t, sim.PublicKey())
	status, body := call(t, srv, "POST", "/v2/messages", key, map[string]any{
		"from": telnyxsim.DefaultNumbers()[0], "to": "+13125550100", "text": "hello", "webhook_url": h.URL})
	if status != 200 {
		t.Fatalf("HTTP %d %v", status, body)
	}
	m := body["data"].(map[string]any)
	requireKeys(t, "message", m, "record_type", "id", "direction", "type", "from", "to", "text", "encoding", "parts",
		"cost", "received_at", "sent_at", "completed_at", "errors", "webhook_url", "messaging_profile_id", "organization_id", "media", "tags")
	match(t, "message id", uuidRe, m["id"])
	match(t, "received_at", msTimeRe, m["received_at"])
	to := m["to"].([]any)[0].(map[string]any)
	cost := m["cost"].(map[string]any)
	if m["record_type"] != "message" || m["direction"] != "outbound" || to["status"] != "queued" || m["completed_at"] != nil {
		t.Errorf("queued message = %v", m)
	}
	if _, isString := cost["amount"].(string); !isString || cost["currency"] != "USD" {
		t.Errorf("cost = %v (amount must be a string)", cost)
	}
	waitFor(t, "two webhooks", func() bool { return h.count() >= 2 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bad != 0 {
		t.Errorf("%d webhooks had bad signatures", h.bad)
	}
	for i, want := range []string{"message.sent", "message.finalized"} {
		var env map[string]map[string]any
		if err := json.Unmarshal(h.bodies[i], &env); err != nil {
			t.Fatal(err)
		}
		requireKeys(t, "event data", env["data"], "event_type", "id", "occurred_at", "payload", "record_type")
		requireKeys(t, "event meta", env["meta"], "attempt", "delivered_to")
		match(t, "event id", uuidRe, env["data"]["id"])
		match(t, "occurred_at", usTimeRe, env["data"]["occurred_at"])
		if env["data"]["event_type"] != want || env["data"]["record_type"] != "event" || env["meta"]["attempt"] != 1.0 || env["meta"]["delivered_to"] != h.URL {
			t.Errorf("event %d = %v", i, env)
		}
		p := env["data"]["payload"].(map[string]any)
		if p["id"] != m["id"] {
			t.Errorf("payload id %v", p["id"])
		}
		if want == "message.finalized" {
			match(t, "completed_at", msTimeRe, p["completed_at"])
			if p["to"].([]any)[0].(map[string]any)["status"] != "delivered" {
				t.Errorf("finalized status: %v", p["to"])
			}
		}
	}
}

func TestAICallShapesAndStatusCallbacks(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t)
	h := newHook(t, sim.PublicKey())
	_, a := call(t, srv, "POST", "/v2/ai/assistants", key, map[string]any{"name": "A", "instructions": "I"})
	app := a["telephony_settings"].(map[string]any)["default_texml_app_id"].(string)
	status, body := call(t, srv, "POST", "/v2/texml/ai_calls/"+app, key, map[string]any{
		"From": telnyxsim.DefaultNumbers()[0], "To": "+13125550123", "AIAssistantId": a["id"],
		"StatusCallback": h.URL, "StatusCallbackEvent": "answered completed"})
	if status != 200 {
		t.Fatalf("HTTP %d %v", status, body)
	}
	if _, wrapped := body["data"]; wrapped || len(body) != 4 {
		t.Errorf("AI call answer must be flat {call_sid, from, to, status}: %v", body)
	}
	match(t, "call_sid", callIDRe, body["call_sid"])
	if body["status"] != "queued" {
		t.Errorf("status %v", body["status"])
	}
	// Only the subscribed events arrive.
	waitFor(t, "two callbacks", func() bool { return h.count() >= 2 })
	sim.Close() // stops play-out; nothing more may arrive
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.forms) != 2 {
		t.Fatalf("callbacks: %v", h.forms)
	}
	answered, done := h.forms[0], h.forms[1]
	for _, f := range h.forms {
		for _, k := range []string{"AccountSid", "CallSid", "CallSidLegacy", "CallStatus", "CallbackSource", "ConnectionId", "From", "To", "SequenceNumber", "Timestamp"} {
			if f.Get(k) == "" {
				t.Errorf("callback lacks %s: %v", k, f)
			}
		}
		if f.Get("CallbackSource") != "call-progress-events" || f.Get("CallSid") != body["call_sid"] || f.Get("ConnectionId") != app {
			t.Errorf("callback: %v", f)
		}
	}
	if answered.Get("CallStatus") != "in-progress" || answered.Get("SequenceNumber") != "0" || done.Get("CallStatus") != "completed" || done.Get("SequenceNumber") != "1" {
		t.Errorf("sequence: %v / %v", answered, done)
	}
	for _, k := range []string{"CallSessionId", "CallLegId", "CallControlId", "CallDuration", "HangupCause", "HangupSource"} {
		if done.Get(k) == "" {
			t.Errorf("completed callback lacks %s", k)
		}
	}
	match(t, "CallSessionId", uuidRe, done.Get("CallSessionId"))
}

func TestCloseStopsPlayOut(t *testing.T) {
	t.Parallel()
	sim, err := telnyxsim.New(telnyxsim.Config{APIKey: key, StepDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	h := newHook(t, sim.PublicKey())
	status, _ := call(t, srv, "POST", "/v2/messages", key, map[string]any{"from": telnyxsim.DefaultNumbers()[0], "to": "+13125550100", "text": "x", "webhook_url": h.URL})
	if status != 200 {
		t.Fatalf("HTTP %d", status)
	}
	// With an hour between steps, only Close's cancellation lets this return.
	sim.Close()
	if h.count() != 0 {
		t.Error("webhooks were sent after Close")
	}
	// After Close the API still answers but starts no play-out.
	status, _ = call(t, srv, "POST", "/v2/messages", key, map[string]any{"from": telnyxsim.DefaultNumbers()[0], "to": "+13125550100", "text": "x"})
	if status != 200 {
		t.Errorf("after close: HTTP %d", status)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	if _, err := telnyxsim.New(telnyxsim.Config{Numbers: []string{"+15551234567"}}); err == nil {
		t.Error("invalid number accepted")
	}
	if _, err := telnyxsim.New(telnyxsim.Config{Numbers: []string{"+13125550100", "+13125550100"}}); err == nil {
		t.Error("duplicate number accepted")
	}
	s, err := telnyxsim.New(telnyxsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.APIKey() != telnyxsim.DefaultAPIKey {
		t.Errorf("default key %q", s.APIKey())
	}
	if raw, _ := base64.StdEncoding.DecodeString(s.PublicKey()); len(raw) != ed25519.PublicKeySize {
		t.Errorf("public key has %d bytes", len(raw))
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- telnyxsim.Run(ctx, "127.0.0.1:0", telnyxsim.Config{APIKey: key}, func(base string, _ *telnyxsim.Server) { ready <- base })
	}()
	base := <-ready
	req, _ := http.NewRequest("GET", base+"/phone_numbers", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", base, err, resp)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
}
