package agents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/agents"
	"github.com/peakvoice/peakvoice/internal/auth"
	"github.com/peakvoice/peakvoice/internal/carrier"
	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/httpapi"
	"github.com/peakvoice/peakvoice/internal/jobs"
	"github.com/peakvoice/peakvoice/internal/telnyx"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

const publicURL = "https://pv.example.test"

// env is a real API server (auth + agents) on a fresh database, with the
// carrier simulator behind the real Telnyx adapter and a running job queue.
type env struct {
	t       *testing.T
	d       *db.DB
	svc     *agents.Service
	sim     *telnyxsim.Server
	simURL  string
	carrier *telnyx.Client
	base    string
}

func setup(t *testing.T, d *db.DB) *env {
	t.Helper()
	sim, err := telnyxsim.New(telnyxsim.Config{StepDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { simSrv.Close(); sim.Close() })
	tc := telnyx.New(telnyx.Config{BaseURL: simSrv.URL + "/v2", APIKey: sim.APIKey(), MaxRetries: 1, RetryDelay: 10 * time.Millisecond})

	a, err := auth.New(auth.Config{DB: d, JWTSecret: []byte("agents-test-secret-of-32-bytes-or-more!"), AllowRegistration: true,
		Password: auth.PasswordParams{MemoryKiB: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	reg := jobs.NewRegistry()
	svc, err := agents.New(agents.Config{DB: d, Runtime: carrier.NewAssistantRuntime(tc), PublicURL: publicURL + "/",
		DeleteRetryCap: 50 * time.Millisecond, RuntimeTimeout: 10 * time.Second}, reg)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(d, reg, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetQueue(q)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	srv := httpapi.New(httpapi.Config{Title: "test", Version: "test", Auth: a})
	a.Routes(srv.API)
	svc.Routes(srv.API)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{t: t, d: d, svc: svc, sim: sim, simURL: simSrv.URL, carrier: tc, base: hs.URL}
}

// each runs fn on every database engine with a fresh environment.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		fn(t, setup(t, d))
	})
}

type reply struct {
	status int
	raw    []byte
	body   map[string]any
}

func (r reply) data(t *testing.T) map[string]any {
	t.Helper()
	d, ok := r.body["data"].(map[string]any)
	if !ok {
		t.Fatalf("no data object in %d %s", r.status, r.raw)
	}
	return d
}

func (r reply) list(t *testing.T) []any {
	t.Helper()
	d, ok := r.body["data"].([]any)
	if !ok {
		t.Fatalf("no data list in %d %s", r.status, r.raw)
	}
	return d
}

// code returns error.code, failing unless r is an error envelope.
func (r reply) code(t *testing.T) string {
	t.Helper()
	e, ok := r.body["error"].(map[string]any)
	if !ok || e["message"] == "" {
		t.Fatalf("no error envelope in %d %s", r.status, r.raw)
	}
	return e["code"].(string)
}

func (r reply) expect(t *testing.T, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// expectErr checks status and error code together.
func (r reply) expectErr(t *testing.T, status int, code string) reply {
	t.Helper()
	r.expect(t, status)
	if got := r.code(t); got != code {
		t.Fatalf("code %q, want %q: %s", got, code, r.raw)
	}
	return r
}

func (e *env) do(token, method, path string, body any) reply {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return r
}

// register creates a team and returns its owner's access token and team id.
func (e *env) register(email string) (token, teamID string) {
	e.t.Helper()
	r := e.do("", "POST", "/api/v1/auth/register", map[string]string{"email": email, "password": "correct horse battery", "team_name": "T " + email}).
		expect(e.t, http.StatusCreated).data(e.t)
	return r["access_token"].(string), r["team"].(map[string]any)["id"].(string)
}

// createAgent creates an agent and fails the test unless it is synced.
func (e *env) createAgent(token string, body map[string]any) map[string]any {
	e.t.Helper()
	a := e.do(token, "POST", "/api/v1/agents", body).expect(e.t, http.StatusCreated).data(e.t)
	if a["provider_sync_status"] != agents.SyncSynced || a["provider_agent_id"] == nil {
		e.t.Fatalf("agent not synced: %v", a)
	}
	return a
}

// assistant reads an assistant from the simulator through the adapter.
func (e *env) assistant(id string) *telnyx.Assistant {
	e.t.Helper()
	a, err := e.carrier.GetAssistant(context.Background(), id)
	if err != nil {
		e.t.Fatalf("get assistant %s: %v", id, err)
	}
	return a
}

// simAssistantCount counts the assistants the simulator holds.
func (e *env) simAssistantCount() int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.simURL+"/v2/ai/assistants", nil)
	req.Header.Set("Authorization", "Bearer "+e.sim.APIKey())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Data []any `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	return len(out.Data)
}

func (e *env) fault(f telnyxsim.Fault) {
	e.t.Helper()
	if _, err := e.sim.AddFault(f); err != nil {
		e.t.Fatal(err)
	}
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func toolNamed(a *telnyx.Assistant, typ telnyx.ToolType, name string) *telnyx.Tool {
	for i, t := range a.Tools {
		if t.Type != typ {
			continue
		}
		if typ == telnyx.ToolWebhook && (t.Webhook == nil || t.Webhook.Name != name) {
			continue
		}
		return &a.Tools[i]
	}
	return nil
}

func str(v any) string { s, _ := v.(string); return s }

func has(s, sub string) bool { return strings.Contains(s, sub) }
