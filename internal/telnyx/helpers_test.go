package telnyx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// bundle is what most tests need: a simulator served over loopback HTTP
// and an adapter client pointed at it.
type bundle struct {
	sim      *telnyxsim.Server
	srv      *httptest.Server
	client   *telnyx.Client
	verifier *telnyx.Verifier
}

func setup(t *testing.T, mutate ...func(*telnyxsim.Config)) *bundle {
	t.Helper()
	cfg := telnyxsim.Config{
		APIKey:            "KEYtest",
		StepDelay:         2 * time.Millisecond,
		WebhookRetryDelay: 5 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	sim, err := telnyxsim.New(cfg)
	if err != nil {
		t.Fatalf("telnyxsim.New: %v", err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { sim.Close() })
	v, err := telnyx.NewVerifier(sim.PublicKey())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return &bundle{
		sim: sim, srv: srv, verifier: v,
		client: telnyx.New(telnyx.Config{BaseURL: srv.URL + "/v2", APIKey: "KEYtest", RetryDelay: 5 * time.Millisecond}),
	}
}

// simJSON performs a control-API request and decodes the answer's data.
func (b *bundle) simJSON(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, b.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(raw) > 0 {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			t.Fatalf("%s %s: decode data %s: %v", method, path, env.Data, err)
		}
	}
	return resp.StatusCode
}

func (b *bundle) addFault(t *testing.T, f telnyxsim.Fault) {
	t.Helper()
	if code := b.simJSON(t, http.MethodPost, "/_sim/faults", f, nil); code != http.StatusCreated {
		t.Fatalf("POST /_sim/faults: HTTP %d", code)
	}
}

func (b *bundle) faults(t *testing.T) []telnyxsim.Fault {
	t.Helper()
	var out []telnyxsim.Fault
	b.simJSON(t, http.MethodGet, "/_sim/faults", nil, &out)
	return out
}

func (b *bundle) simMessages(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	b.simJSON(t, http.MethodGet, "/_sim/messages", nil, &out)
	return out
}

// received is one verified webhook request.
type received struct {
	header http.Header
	body   []byte
	query  string
	method string
	ctx    context.Context
}

// receiver is a webhook endpoint that accepts only requests whose Telnyx
// signature verifies, and records them.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	rejected []error
}

// newReceiver starts a receiver; respond (optional) picks the answer for
// each verified request.
func newReceiver(t *testing.T, v *telnyx.Verifier, respond func(r received, w http.ResponseWriter)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := v.ReadVerified(r, time.Now())
		if err != nil {
			rc.mu.Lock()
			rc.rejected = append(rc.rejected, err)
			rc.mu.Unlock()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got := received{header: r.Header.Clone(), body: body, query: r.URL.RawQuery, method: r.Method, ctx: r.Context()}
		rc.mu.Lock()
		rc.got = append(rc.got, got)
		rc.mu.Unlock()
		if respond != nil {
			respond(got, w)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received{}, rc.got...)
}

func (rc *receiver) rejections() []error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]error{}, rc.rejected...)
}

// events parses every received body as a JSON event.
func (rc *receiver) events(t *testing.T) []*telnyx.Event {
	t.Helper()
	var out []*telnyx.Event
	for _, r := range rc.all() {
		ev, err := telnyx.ParseEvent(r.body)
		if err != nil {
			t.Fatalf("ParseEvent(%s): %v", r.body, err)
		}
		out = append(out, ev)
	}
	return out
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func str(s string) *string { return &s }
