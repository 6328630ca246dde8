package app

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
)

var update = flag.Bool("update", false, "rewrite golden files")

func dbOptionsSQLite(t *testing.T) db.Options { return db.Options{DataDir: t.TempDir()} }

func TestErrorsUseTheEnvelope(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	acc := s.register(t, "ada@example.com")
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		hdr    []string
		status int
		code   string
	}{
		{"unknown route", "GET", "/api/v1/nothing-here", nil, nil, 404, "not_found"},
		{"unknown top-level route", "GET", "/wp-admin", nil, nil, 404, "not_found"},
		{"wrong method", "DELETE", "/api/v1/auth/me", nil, nil, 405, "method_not_allowed"},
		{"malformed JSON", "POST", "/api/v1/auth/login", `{"email":`, nil, 400, "invalid_json"},
		{"wrong types", "POST", "/api/v1/auth/login", `{"email":5,"password":"x"}`, nil, 422, "validation_error"},
		{"unknown field", "POST", "/api/v1/auth/login", `{"email":"a@b.co","password":"x","team_id":"t"}`, nil, 422, "validation_error"},
		{"missing credentials", "GET", "/api/v1/auth/me", nil, nil, 401, "missing_credentials"},
		{"garbage bearer", "GET", "/api/v1/auth/me", nil, []string{"Authorization", "Bearer nope"}, 401, "invalid_token"},
		{"basic auth", "GET", "/api/v1/auth/me", nil, []string{"Authorization", "Basic Zm9vOmJhcg=="}, 401, "invalid_token"},
		{"malformed API key", "GET", "/api/v1/auth/me", nil, []string{"X-API-Key", "pv_nope"}, 401, "invalid_api_key"},
		{"field errors", "POST", "/api/v1/auth/register", map[string]string{"email": "not-an-email", "password": "short"}, nil, 422, "validation_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(c.method, c.path, c.body, c.hdr...).expect(t, c.status)
			if got := r.errCode(t); got != c.code {
				t.Fatalf("code %q, want %q", got, c.code)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
		})
	}

	t.Run("405 names the allowed methods", func(t *testing.T) {
		r := s.do("DELETE", "/api/v1/auth/me", nil)
		if !strings.Contains(r.Header.Get("Allow"), "GET") {
			t.Fatalf("Allow %q", r.Header.Get("Allow"))
		}
	})
	t.Run("validation details name each field and never echo secrets", func(t *testing.T) {
		r := s.do("POST", "/api/v1/auth/register", map[string]string{"email": "not-an-email", "password": "short"})
		fields := r.Body["error"].(map[string]any)["details"].(map[string]any)["fields"].([]any)
		locs := map[string]bool{}
		for _, f := range fields {
			locs[f.(map[string]any)["location"].(string)] = true
		}
		if !locs["body.email"] || !locs["body.password"] {
			t.Fatalf("locations %v", locs)
		}
		if strings.Contains(string(r.Raw), `"short"`) {
			t.Fatalf("password echoed: %s", r.Raw)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		big := `{"email":"` + strings.Repeat("a", 2<<20) + `","password":"x"}`
		r := s.do("POST", "/api/v1/auth/login", big).expect(t, 413)
		if c := r.errCode(t); c != "payload_too_large" {
			t.Fatalf("code %q", c)
		}
	})
	t.Run("unsupported content type", func(t *testing.T) {
		req, _ := http.NewRequest("POST", s.base+"/api/v1/auth/api-keys", strings.NewReader("name=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+acc.access)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Error struct{ Code string } }
		_ = json.NewDecoder(res.Body).Decode(&body)
		if res.StatusCode != 415 || body.Error.Code != "unsupported_media_type" {
			t.Fatalf("%d %q", res.StatusCode, body.Error.Code)
		}
	})
	t.Run("request ids", func(t *testing.T) {
		r := s.do("GET", "/healthz", nil, "X-Request-Id", "client-chosen-42")
		if got := r.Header.Get("X-Request-Id"); got != "client-chosen-42" {
			t.Fatalf("echoed %q", got)
		}
		r = s.do("GET", "/healthz", nil, "X-Request-Id", "bad id with spaces")
		if got := r.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
			t.Fatalf("generated %q", got)
		}
		r = s.do("GET", "/api/v1/nothing", nil)
		if r.Header.Get("X-Request-Id") == "" {
			t.Fatal("no request id on an error")
		}
	})
}

func TestOperationalAndDocsRoutes(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	s.do("GET", "/healthz", nil).expect(t, 200)
	s.do("GET", "/readyz", nil).expect(t, 200)
	s.do("GET", "/api/v1/auth/me", nil).expect(t, 401)

	metrics := s.do("GET", "/metrics", nil).expect(t, 200)
	for _, want := range []string{
		`peakvoice_http_requests_total{method="GET",route="GET /api/v1/auth/me",status="401"} 1`,
		"peakvoice_http_request_duration_seconds_bucket",
		"peakvoice_jobs_waiting 0",
		"peakvoice_jobs_running 0",
		"go_goroutines",
	} {
		if !strings.Contains(string(metrics.Raw), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	pages := []struct{ path, ctype, contains string }{
		{"/openapi.json", "application/", `"openapi":"3.1`},
		{"/docs", "text/html", "swagger-ui-bundle.js"},
		{"/docs/assets/swagger-ui-bundle.js", "text/javascript", "SwaggerUIBundle"},
		{"/docs/assets/swagger-ui.css", "text/css", ".swagger-ui"},
		{"/docs/init.js", "text/javascript", "/openapi.json"},
		{"/redoc", "text/html", "redoc"},
		{"/documentation", "text/html", "<h1"},
		{"/documentation/index.md", "text/markdown", "/documentation/peak-voice-api.md"},
		{"/documentation/peak-voice-api.md", "text/markdown", "Authorization: Bearer"},
		{"/documentation/agents.md", "text/markdown", "Authorization: Bearer"},
		{"/documentation/runbooks/inbound-callback-local-e2e-test.md", "text/markdown", "sim call-in"},
		{"/documentation/simulator.md", "text/markdown", "/_sim/faults"},
	}
	for _, p := range pages {
		r := s.do("GET", p.path, nil).expect(t, 200)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, p.ctype) {
			t.Errorf("%s: content type %q", p.path, ct)
		}
		if !strings.Contains(string(r.Raw), p.contains) {
			t.Errorf("%s lacks %q", p.path, p.contains)
		}
	}
}

// TestOpenAPIGolden keeps a reviewed copy of the API contract: any change to
// a route, field or error shows up as a diff in testdata/openapi.json.
// Regenerate with: go test ./internal/app -run TestOpenAPIGolden -update
func TestOpenAPIGolden(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	got := s.do("GET", "/openapi.json", nil).expect(t, 200).Raw
	var pretty map[string]any
	if err := json.Unmarshal(got, &pretty); err != nil {
		t.Fatal(err)
	}
	// The build's version string is not part of the contract.
	pretty["info"].(map[string]any)["version"] = "golden"
	out, _ := json.MarshalIndent(pretty, "", "  ")
	out = append(out, '\n')
	path := filepath.Join("testdata", "openapi.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(out) {
		t.Fatalf("the OpenAPI document changed; review and run: go test ./internal/app -run TestOpenAPIGolden -update")
	}
	for _, want := range []string{`"bearerAuth"`, `"apiKeyAuth"`, `"/api/v1/auth/api-keys/{key_id}"`, `"ErrorInfo"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("document lacks %s", want)
		}
	}
}

// TestRestartKeepsSecretsAndData stops a server and starts another on the
// same data directory: accounts survive and old access tokens still verify,
// because the generated signing secret is kept in the data directory.
func TestRestartKeepsSecretsAndData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testConfig(t, db.Options{DataDir: dir})
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, nilLogger())
	if err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, func(addr string) { addrc <- addr }) }()
	first := &testServer{t: t, base: "http://" + <-addrc}
	acc := first.register(t, "ada@example.com")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("clean shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown hung")
	}
	if _, err := http.Get(first.base + "/healthz"); err == nil {
		t.Fatal("server still answering after shutdown")
	}
	info, err := os.Stat(filepath.Join(dir, "secrets.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v %v", info, err)
	}

	second := startServer(t, cfg)
	second.do("GET", "/api/v1/auth/me", nil, bearer(acc.access)...).expect(t, 200)
	second.do("POST", "/api/v1/auth/login", map[string]string{"email": acc.email, "password": acc.password}).expect(t, 200)
}

// TestLogLinesCarryTheRequestID: every line logged while serving a request
// names its request id.
func TestLogLinesCarryTheRequestID(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	cfg := testConfig(t, dbOptionsSQLite(t))
	cfg.LogLevel, cfg.LogFormat = "info", "json"
	s := startServerLogging(t, cfg, NewLogger(cfg, &buf))
	s.do("GET", "/api/v1/auth/me", nil, "X-Request-Id", "trace-me-123").expect(t, 401)
	s.shutdown()
	found := false
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, `"path":"/api/v1/auth/me"`) {
			found = true
			if !strings.Contains(line, `"request_id":"trace-me-123"`) {
				t.Fatalf("request log line without its id: %s", line)
			}
		}
	}
	if !found {
		t.Fatalf("no request log line in:\n%s", buf.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
