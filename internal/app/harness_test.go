package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
)

// testServer is a real Peak Voice server on a loopback port with its own
// fresh database.
type testServer struct {
	t    *testing.T
	app  *App
	base string
	cfg  Config
	stop func()
	once sync.Once
}

func testConfig(t *testing.T, opts db.Options) Config {
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	return Config{
		Addr: "127.0.0.1:0", DataDir: dataDir, DatabaseURL: opts.URL, AllowRegistration: true,
		LogLevel: "error", LogFormat: "text", ShutdownTimeout: 20 * time.Second, Mode: ModeDevelopment,
		SimAddr: "127.0.0.1:0", TelnyxAPIBase: "https://api.telnyx.com/v2", simStepDelay: 5 * time.Millisecond, inboundSweep: 250 * time.Millisecond,
		PoolDrain: time.Second, PoolCooldown: time.Second,
		// The per-team request limits are off here; TestTeamLimits turns them on.
		TeamRate: -1, TeamInFlight: -1,
		passwordCostLow: true, webhookSchedule: []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond},
	}
}

// startServer builds and runs the app with cfg until the test ends.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return startServerLogging(t, cfg, slog.New(slog.DiscardHandler))
}

// startServerLogging is startServer with the given logger, for tests that
// read what the server logs.
func startServerLogging(t *testing.T, cfg Config, log *slog.Logger) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("new app: %v", err)
	}
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx, func(addr string) { addrc <- addr }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		cancel()
		t.Fatalf("run: %v", err)
	}
	s := &testServer{t: t, app: a, base: "http://" + addr, cfg: cfg}
	s.stop = func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("shutdown: %v", err)
			}
		case <-time.After(40 * time.Second):
			t.Error("server did not stop")
		}
	}
	t.Cleanup(func() { s.once.Do(s.stop) })
	return s
}

// shutdown stops the server now (and not again at cleanup).
func (s *testServer) shutdown() { s.once.Do(s.stop) }

// eachServer runs fn against a fresh server on every database engine.
func eachServer(t *testing.T, fn func(t *testing.T, s *testServer)) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, startServer(t, testConfig(t, e.Options(t))))
		})
	}
}

// reply is a decoded response.
type reply struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// data returns body.data as an object.
func (r reply) data(t *testing.T) map[string]any {
	t.Helper()
	d, ok := r.Body["data"].(map[string]any)
	if !ok {
		t.Fatalf("no data object in %d %s", r.Status, r.Raw)
	}
	return d
}

// errCode returns body.error.code, failing unless the body is an error
// envelope with a message.
func (r reply) errCode(t *testing.T) string {
	t.Helper()
	e, ok := r.Body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error envelope in %d %s", r.Status, r.Raw)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without a message: %s", r.Raw)
	}
	code, _ := e["code"].(string)
	return code
}

// do sends a request. body may be nil, a string (sent raw) or a value sent
// as JSON. headers are name, value pairs.
func (s *testServer) do(method, path string, body any, headers ...string) reply {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	r := reply{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			s.t.Fatalf("%s %s: response is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return r
}

// expect fails unless r has the wanted status.
func (r reply) expect(t *testing.T, status int) reply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// account is a registered user with an access token.
type account struct {
	email, password string
	access, refresh string
	userID, teamID  string
}

func (s *testServer) register(t *testing.T, email string) account {
	t.Helper()
	pw := "correct horse " + email
	r := s.do("POST", "/api/v1/auth/register", map[string]string{"email": email, "password": pw, "team_name": "Team " + email}).
		expect(t, http.StatusCreated)
	d := r.data(t)
	return account{
		email: email, password: pw,
		access: d["access_token"].(string), refresh: d["refresh_token"].(string),
		userID: d["user"].(map[string]any)["id"].(string), teamID: d["team"].(map[string]any)["id"].(string),
	}
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func nilLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
