package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// Secrets of the server under test. Given explicitly so that the test can
// verify the outgoing webhooks' signatures; the JWT secret must survive the
// restart too, and does, since it is the same flag.
const (
	restartJWTSecret     = "restart-test-jwt-secret-0123456789abcdef"
	restartWebhookSecret = "restart-test-webhook-signing-secret-0123"
)

// TestRestartMidCall proves issue 7's promise: kill the server mid-call and
// restart it, and the call still finishes and its result arrives.
//
// The carrier is a standalone Telnyx simulator in this test process, so it
// keeps running while the real peakvoice binary, pointed at it as a real
// carrier, is SIGKILLed. Two calls are live at the moment of the kill:
//
//   - B has just been placed: it is initiated or ringing. Its next status
//     callbacks fail while the server is down and land after the restart.
//   - A is answered and in conversation. While the server is down the call
//     is hung up at the carrier, so the call really ends with nobody
//     listening; its final callback is retried by the carrier until the
//     restarted server takes it, and only then is its result assembled.
//
// After the restart both calls must complete with a transcript and a
// downloadable recording, the customer's webhook must get call.completed
// and call.result_ready for each, the carrier must have been dialed exactly
// once per Idempotency-Key, replays must answer the same calls, and the
// SQLite file must pass PRAGMA integrity_check.
func TestRestartMidCall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it mid-call")
	}
	bin := filepath.Join(t.TempDir(), "peakvoice")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Run("sqlite", func(t *testing.T) { restartMidCall(t, bin, "") })
	if base := os.Getenv(dbtest.PostgresURLEnv); base != "" {
		t.Run("postgres", func(t *testing.T) { restartMidCall(t, bin, dbtest.FreshSchema(t, base)) })
	}
}

func restartMidCall(t *testing.T, bin, databaseURL string) {
	t0 := time.Now()
	// The carrier: slow enough to catch a call ringing, and patient with
	// webhooks (20 attempts, 0.3 s more between each: about a minute).
	sim, err := telnyxsim.New(telnyxsim.Config{
		StepDelay: 150 * time.Millisecond, WebhookAttempts: 20, WebhookRetryDelay: 300 * time.Millisecond,
		WebhookTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	t.Cleanup(func() { sim.Close() }) // runs first: stops play-outs, then the server closes
	hooks := newHookSink(t, []byte(restartWebhookSecret))

	dataDir := filepath.Join(t.TempDir(), "data")
	addr := freeLoopbackAddr(t)
	args := []string{"serve", "--addr", addr, "--data-dir", dataDir,
		"--telnyx-api-key", sim.APIKey(), "--telnyx-public-key", sim.PublicKey(),
		"--telnyx-api-base", simSrv.URL + "/v2", "--public-url", "http://" + addr,
		"--jwt-secret", restartJWTSecret, "--webhook-signing-secret", restartWebhookSecret,
		"--shutdown-timeout", "10s"}
	if databaseURL != "" {
		args = append(args, "--database-url", databaseURL)
	}
	srv := &procServer{t: t, bin: bin, args: args, base: "http://" + addr, client: &http.Client{Timeout: 15 * time.Second}}
	t.Cleanup(srv.cleanup)
	srv.start()
	tStarted := time.Now()

	// A team, an API key, an agent whose brief requires customer_name, and
	// one of the carrier's numbers bound to it.
	agent, _ := reminderTeam(t, srv, "Restart")
	auth := srv.auth
	agentID := str(agent, "id")
	if s := str(agent, "provider_sync_status"); s != "synced" {
		t.Fatalf("agent is %s on the carrier, want synced: %v", s, agent)
	}

	// A's callee talks, then stays on the line until the call is ended.
	const calleeA, calleeB = "+14155550143", "+14155550142"
	sim.SetScript(calleeA, []telnyxsim.ScriptStep{{Say: "Hello, who is this?"}, {PauseMS: 10 * 60 * 1000}})
	body := func(to string) map[string]any {
		return map[string]any{"agent_id": agentID, "phone_number_to": to, "webhook_url": hooks.srv.URL + "/hooks",
			"call_brief_variables": map[string]string{"customer_name": "Ada"}}
	}
	keyA, keyB := "restart-call-a", "restart-call-b"
	callA := str(srv.expect(srv.do("POST", "/api/v1/calls", body(calleeA), append(auth, "Idempotency-Key", keyA)...), http.StatusCreated).data(t), "id")
	tCreatedA := time.Now()
	a := srv.waitCall(callA, 30*time.Second, "in_progress", func(c map[string]any) bool { return str(c, "status") == "in_progress" })
	ccidA := str(a, "provider_call_id")
	// In conversation, not just answered: the callee has spoken and the
	// assistant, briefed with the customer's name, has replied.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(simTranscript(t, sim, simSrv.URL, ccidA), "Remind Ada"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("call A never got into conversation at the carrier: %q", simTranscript(t, sim, simSrv.URL, ccidA))
		}
	}
	tTalkingA := time.Now()

	callB := str(srv.expect(srv.do("POST", "/api/v1/calls", body(calleeB), append(auth, "Idempotency-Key", keyB)...), http.StatusCreated).data(t), "id")
	tCreatedB := time.Now()
	var statusB string
	srv.pollCall(callB, 30*time.Second, "initiated or ringing", 2*time.Millisecond, func(c map[string]any) bool {
		statusB = str(c, "status")
		return statusB != "queued"
	})
	if statusB != "initiated" && statusB != "ringing" {
		// Not a failure of the product, but the kill came later than
		// intended (a very slow machine); the rest still holds.
		t.Logf("note: call B was already %s when the server was killed", statusB)
	}

	// SIGKILL: no drain, no deferred cleanups, whatever was in flight is lost.
	srv.kill()
	tKilled := time.Now()
	beforeKill := len(sim.Deliveries())
	ccidB := simCallTo(t, sim, calleeB).CallControlID

	// With the server down, A ends at the carrier.
	hangupAtCarrier(t, simSrv.URL, sim.APIKey(), ccidA)
	// Wait until the carrier has really tried to tell the dead server: A's
	// final callback failed three times, and B's play-out hit the dead
	// server too (or B ended meanwhile).
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds := sim.Deliveries()[beforeKill:]
		aFailures, bFailed := 0, false
		for _, d := range ds {
			if d.Status >= 200 && d.Status <= 299 {
				continue
			}
			if d.Kind == "status:completed" {
				// A's: B's play-out is held up by its own failing callback.
				aFailures++
			} else {
				bFailed = true
			}
		}
		// Three attempts (about a second) rather than one, so the server
		// stays down across several of the carrier's retries.
		aFailed := aFailures >= 3
		ca, _ := sim.Call(ccidA)
		cb, _ := sim.Call(ccidB)
		if aFailed && ca.EndedAt != "" && (bFailed || cb.EndedAt != "") {
			if ca.Status != "completed" {
				t.Fatalf("call A is %s at the carrier after the hangup, want completed", ca.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the carrier never failed to reach the dead server (A %s, B %s):\n%v", ca.Status, cb.Status, ds)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tDownSeen := time.Now()

	srv.start()
	tRestarted := time.Now()

	// Both calls finish and get their results, from the carrier's retried
	// callbacks alone.
	done := map[string]time.Time{}
	ready := map[string]time.Time{}
	var detailA, detailB map[string]any
	deadline = time.Now().Add(45 * time.Second)
	for detailA == nil || detailB == nil {
		if time.Now().After(deadline) {
			t.Fatalf("calls did not settle after the restart:\nA %v\nB %v\nsim deliveries: %v",
				srv.getCall(callA)["call"], srv.getCall(callB)["call"], sim.Deliveries())
		}
		for _, id := range []string{callA, callB} {
			d := srv.getCall(id)
			c := d["call"].(map[string]any)
			st, rs := str(c, "status"), str(c, "result_status")
			if st == "completed" && done[id].IsZero() {
				done[id] = time.Now()
			}
			switch {
			case st != "completed" && isTerminal(st):
				t.Fatalf("call %s ended %s, want completed: %v", id, st, c)
			case rs == "failed":
				t.Fatalf("call %s result failed: %v", id, c)
			case st == "completed" && rs == "ready" && d["result"] != nil && ready[id].IsZero():
				ready[id] = time.Now()
				if id == callA {
					detailA = d
				} else {
					detailB = d
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}

	for _, tc := range []struct {
		name, id, ccid string
		d              map[string]any
	}{{"A", callA, ccidA, detailA}, {"B", callB, ccidB, detailB}} {
		c, r := tc.d["call"].(map[string]any), tc.d["result"].(map[string]any)
		if got := str(c, "provider_call_id"); got != tc.ccid {
			t.Errorf("call %s: provider_call_id %q, want %q", tc.name, got, tc.ccid)
		}
		if c["ended_at"] == nil || c["answered_at"] == nil {
			t.Errorf("call %s: answered_at %v, ended_at %v; want both", tc.name, c["answered_at"], c["ended_at"])
		}
		turns, _ := r["transcript"].([]any)
		if len(turns) == 0 {
			t.Errorf("call %s: empty transcript: %v", tc.name, r)
		}
		if tr, _ := json.Marshal(turns); !strings.Contains(string(tr), "Remind Ada") {
			t.Errorf("call %s: the assistant never used the brief (no \"Remind Ada\"): %s", tc.name, tr)
		}
		if r["recording_url"] == nil {
			t.Errorf("call %s: no recording_url: %v", tc.name, r)
		}
		res := srv.do("GET", "/api/v1/calls/"+tc.id+"/recording", nil, auth...)
		if res.Status != http.StatusOK || len(res.Raw) == 0 || !strings.HasPrefix(res.Header.Get("Content-Type"), "audio/") {
			t.Errorf("call %s: recording answered %d %q with %d bytes", tc.name, res.Status, res.Header.Get("Content-Type"), len(res.Raw))
		}
	}

	// The customer's webhook got both calls' completion and result
	// (at least once; deduplicated on event_id), all correctly signed.
	var tHooks time.Time
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		missing := hooks.missing(map[string][]string{
			callA: {"call.completed", "call.result_ready"},
			callB: {"call.completed", "call.result_ready"},
		})
		if len(missing) == 0 {
			tHooks = time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook receiver is missing %v; it got %v", missing, hooks.summary())
		}
	}
	// Delivered at least once, but each happened once: a redelivered
	// carrier callback must not make a second call.completed.
	for _, id := range []string{callA, callB} {
		for _, typ := range []string{"call.completed", "call.result_ready"} {
			if n := hooks.distinct(id, typ); n != 1 {
				t.Errorf("call %s: %d distinct %s events, want 1: %s", id, n, typ, hooks.summary())
			}
		}
	}
	if n := hooks.badSignatures(); n > 0 {
		t.Errorf("%d webhook deliveries had a bad signature", n)
	}

	// The carrier was dialed exactly once per call, and the API holds
	// exactly the two calls.
	perCallee := map[string]int{}
	for _, c := range sim.Calls() {
		perCallee[c.To]++
	}
	if perCallee[calleeA] != 1 || perCallee[calleeB] != 1 || len(sim.Calls()) != 2 {
		t.Errorf("carrier placed %v, want exactly one call to each of %s and %s", perCallee, calleeA, calleeB)
	}
	listed := srv.expect(srv.do("GET", "/api/v1/calls", nil, auth...), http.StatusOK)
	if rows, _ := listed.Body["data"].([]any); len(rows) != 2 {
		t.Errorf("GET /api/v1/calls lists %d calls, want 2: %s", len(rows), listed.Raw)
	}

	// Replaying the create requests answers the same calls.
	for _, rp := range []struct{ key, to, id string }{{keyA, calleeA, callA}, {keyB, calleeB, callB}} {
		res := srv.do("POST", "/api/v1/calls", body(rp.to), append(auth, "Idempotency-Key", rp.key)...)
		if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay of %s: %d, Idempotent-Replayed %q: %s", rp.key, res.Status, res.Header.Get("Idempotent-Replayed"), res.Raw)
			continue
		}
		if got := str(res.data(t), "id"); got != rp.id {
			t.Errorf("replay of %s answered call %s, want %s", rp.key, got, rp.id)
		}
	}
	if n := len(sim.Calls()); n != 2 {
		t.Errorf("after the replays the carrier has %d calls, want 2", n)
	}

	srv.stop()
	if databaseURL == "" {
		checkSQLiteIntegrity(t, filepath.Join(dataDir, "peakvoice.db"))
	}

	// The carrier's attempts since the kill that did not land, by kind.
	var failedSinceKill []string
	for _, d := range sim.Deliveries()[beforeKill:] {
		if d.Status < 200 || d.Status > 299 {
			failedSinceKill = append(failedSinceKill, fmt.Sprintf("%s#%d", d.Kind, d.Attempt))
		}
	}
	dvB := "none"
	if c, _ := sim.Call(ccidB); c.DynamicVariablesWebhook != nil {
		dvB = fmt.Sprintf("%d %s", c.DynamicVariablesWebhook.Status, c.DynamicVariablesWebhook.Error)
	}
	since := func(t time.Time) string { return t.Sub(tRestarted).Round(time.Millisecond).String() }
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("server up in %v; A created→in conversation %v; B created→killed %v (B was %s); A in conversation %v at the kill",
		ms(tStarted.Sub(t0)), ms(tTalkingA.Sub(tCreatedA)), ms(tKilled.Sub(tCreatedB)), statusB, ms(tKilled.Sub(tTalkingA)))
	t.Logf("down for %v (carrier failures to reach it seen after %v; restart took %v); failed carrier attempts since the kill: %v; B's dynamic-variables request: %s",
		ms(tRestarted.Sub(tKilled)), ms(tDownSeen.Sub(tKilled)), ms(tRestarted.Sub(tDownSeen)), failedSinceKill, dvB)
	t.Logf("after restart: A completed +%s, result +%s; B completed +%s, result +%s; all webhooks +%s; whole run %v",
		since(done[callA]), since(ready[callA]), since(done[callB]), since(ready[callB]), since(tHooks),
		time.Since(t0).Round(time.Millisecond))
	t.Logf("webhooks received: A %v; B %v (%d deliveries in all)", hooks.types(callA), hooks.types(callB), hooks.deliveries())
}

// procServer is the peakvoice binary, started, killed and restarted with
// the same flags.
type procServer struct {
	t      *testing.T
	bin    string
	args   []string
	base   string
	client *http.Client
	auth   []string // headers that authenticate API requests
	runs   []*procRun
}

type procRun struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	err    error
}

func (p *procServer) cur() *procRun { return p.runs[len(p.runs)-1] }

// start runs the binary and waits until /readyz answers 200.
func (p *procServer) start() {
	p.t.Helper()
	cmd := exec.Command(p.bin, p.args...)
	r := &procRun{cmd: cmd, log: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start server: %v", err)
	}
	p.runs = append(p.runs, r)
	go func() {
		r.err = cmd.Wait()
		close(r.exited)
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-r.exited:
			p.t.Fatalf("server exited while starting (run %d): %v\n%s", len(p.runs), r.err, r.log.String())
		default:
		}
		if res, err := p.client.Get(p.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("server not ready after 30 s (run %d):\n%s", len(p.runs), r.log.String())
		}
	}
}

// kill SIGKILLs the running server and waits for it to be gone.
func (p *procServer) kill() {
	p.t.Helper()
	r := p.cur()
	if err := r.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("kill: %v", err)
	}
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		p.t.Fatal("killed server did not exit")
	}
	p.client.CloseIdleConnections()
}

// stop SIGTERMs the running server and expects a clean exit.
func (p *procServer) stop() {
	p.t.Helper()
	r := p.cur()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("server did not stop after SIGTERM:\n%s", r.log.String())
	}
	if r.err != nil || !strings.Contains(r.log.String(), "stopped cleanly") {
		p.t.Errorf("server did not stop cleanly: %v\n%s", r.err, r.log.String())
	}
}

// cleanup kills a server the test left running and shows the servers'
// logs when the test failed.
func (p *procServer) cleanup() {
	for _, r := range p.runs {
		select {
		case <-r.exited:
		default:
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	}
	if p.t.Failed() {
		for i, r := range p.runs {
			p.t.Logf("--- server run %d log ---\n%s", i+1, r.log.String())
		}
	}
}

// httpReply is a decoded answer of the server.
type httpReply struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

func (r httpReply) data(t *testing.T) map[string]any {
	t.Helper()
	d, ok := r.Body["data"].(map[string]any)
	if !ok {
		t.Fatalf("no data object in %d %s", r.Status, r.Raw)
	}
	return d
}

// do sends a request; body is JSON-encoded when not nil; headers are name,
// value pairs.
func (p *procServer) do(method, path string, body any, headers ...string) httpReply {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			p.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		p.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := httpReply{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			p.t.Fatalf("%s %s: not JSON: %v: %s", method, path, err, raw)
		}
	}
	return r
}

func (p *procServer) expect(r httpReply, status int) httpReply {
	p.t.Helper()
	if r.Status != status {
		p.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// getCall returns GET /api/v1/calls/{id}'s data: {call, result}.
func (p *procServer) getCall(id string) map[string]any {
	p.t.Helper()
	return p.expect(p.do("GET", "/api/v1/calls/"+id, nil, p.auth...), http.StatusOK).data(p.t)
}

// pollCall polls a call every interval until ok(call) holds; it fails the
// test if a terminal status other than the awaited one shows up first.
func (p *procServer) pollCall(id string, within time.Duration, what string, every time.Duration, ok func(call map[string]any) bool) map[string]any {
	p.t.Helper()
	var c map[string]any
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(every) {
		c = p.getCall(id)["call"].(map[string]any)
		if ok(c) {
			return c
		}
		if isTerminal(str(c, "status")) {
			p.t.Fatalf("call %s ended %s while waiting for %s: %v", id, str(c, "status"), what, c)
		}
	}
	p.t.Fatalf("call %s never %s: %v", id, what, c)
	return nil
}

func (p *procServer) waitCall(id string, within time.Duration, what string, ok func(call map[string]any) bool) map[string]any {
	p.t.Helper()
	return p.pollCall(id, within, what, 10*time.Millisecond, ok)
}

func isTerminal(status string) bool {
	switch status {
	case "completed", "no_answer", "busy", "failed", "canceled":
		return true
	}
	return false
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago; the server is started, killed and restarted on it.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// simCallTo returns the simulator's one call to a number.
func simCallTo(t *testing.T, sim *telnyxsim.Server, to string) telnyxsim.Call {
	t.Helper()
	for _, c := range sim.Calls() {
		if c.To == to {
			return c
		}
	}
	t.Fatalf("the carrier has no call to %s", to)
	return telnyxsim.Call{}
}

// simTranscript returns the texts of a call's conversation at the carrier,
// read through the carrier's API; empty while there is none.
func simTranscript(t *testing.T, sim *telnyxsim.Server, simURL, ccid string) string {
	t.Helper()
	c, ok := sim.Call(ccid)
	if !ok || c.ConversationID == "" {
		return ""
	}
	req, _ := http.NewRequest("GET", simURL+"/v2/ai/conversations/"+c.ConversationID+"/messages", nil)
	req.Header.Set("Authorization", "Bearer "+sim.APIKey())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("conversation messages: %v", err)
	}
	defer res.Body.Close()
	var page struct {
		Data []struct {
			Role string  `json:"role"`
			Text *string `json:"text"`
		} `json:"data"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&page) != nil {
		t.Fatalf("conversation messages: %d", res.StatusCode)
	}
	var b strings.Builder
	for _, m := range page.Data {
		if m.Text != nil {
			fmt.Fprintf(&b, "%s: %s\n", m.Role, *m.Text)
		}
	}
	return b.String()
}

// hangupAtCarrier ends a call through the carrier's own API, as the other
// party hanging up would: the server is not involved.
func hangupAtCarrier(t *testing.T, simURL, apiKey, ccid string) {
	t.Helper()
	req, _ := http.NewRequest("POST", simURL+"/v2/calls/"+ccid+"/actions/hangup", strings.NewReader(`{"command_id":"restart-test"}`))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("hangup at the carrier: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("hangup at the carrier: %d %s", res.StatusCode, b)
	}
}

// checkSQLiteIntegrity runs PRAGMA integrity_check on a stopped server's
// database.
func checkSQLiteIntegrity(t *testing.T, path string) {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rows, err := d.Query(`PRAGMA integrity_check`)
	if err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0] != "ok" {
		t.Errorf("PRAGMA integrity_check: %v", out)
	}
	// For the record: what the job queue holds after the kill, restart and
	// clean stop (a job the killed process was running stays "running"
	// until River rescues it).
	jobs, err := d.Query(`SELECT kind, state, COUNT(*) FROM river_job GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		t.Fatalf("river_job: %v", err)
	}
	defer jobs.Close()
	var states []string
	for jobs.Next() {
		var kind, state string
		var n int
		if err := jobs.Scan(&kind, &state, &n); err != nil {
			t.Fatal(err)
		}
		states = append(states, fmt.Sprintf("%s/%s×%d", kind, state, n))
	}
	t.Logf("integrity_check ok; jobs left: %v", states)
}

// hookSink is the customer's webhook receiver: it checks each delivery's
// signature and keeps events by event_id.
type hookSink struct {
	secret []byte
	srv    *httptest.Server
	mu     sync.Mutex
	events map[string]hookEvent // by event_id
	got    int                  // deliveries, duplicates included
	badSig int
}

type hookEvent struct {
	Type   string
	CallID string
}

func newHookSink(t *testing.T, secret []byte) *hookSink {
	h := &hookSink{secret: secret, events: map[string]hookEvent{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mac := hmac.New(sha256.New, h.secret)
		mac.Write(raw)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		var ev struct {
			Event   string         `json:"event"`
			EventID string         `json:"event_id"`
			Data    map[string]any `json:"data"`
		}
		_ = json.Unmarshal(raw, &ev)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.got++
		if !hmac.Equal([]byte(r.Header.Get("X-Peak-Voice-Signature")), []byte(want)) {
			h.badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.events[ev.EventID] = hookEvent{Type: ev.Event, CallID: str(ev.Data, "call_id")}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// missing lists the wanted (call, event type) pairs not received yet.
func (h *hookSink) missing(want map[string][]string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	have := map[string]bool{}
	for _, e := range h.events {
		have[e.CallID+" "+e.Type] = true
	}
	var out []string
	for call, types := range want {
		for _, typ := range types {
			if !have[call+" "+typ] {
				out = append(out, call+" "+typ)
			}
		}
	}
	return out
}

// distinct counts the events (by event_id) of a type for a call.
func (h *hookSink) distinct(callID, typ string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range h.events {
		if e.CallID == callID && e.Type == typ {
			n++
		}
	}
	return n
}

// types lists the distinct event types received for a call, sorted.
func (h *hookSink) types(callID string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events {
		if e.CallID == callID {
			out = append(out, e.Type)
		}
	}
	sort.Strings(out)
	return out
}

func (h *hookSink) deliveries() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got
}

func (h *hookSink) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%d deliveries, %d distinct events:", h.got, len(h.events))
	for id, e := range h.events {
		b.WriteString(" " + e.CallID + "/" + e.Type + "(" + id + ")")
	}
	return b.String()
}

func (h *hookSink) badSignatures() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.badSig
}

// reminderTeam registers a team on srv, gives it an API key (which srv then
// sends), an agent whose brief requires customer_name, and one of the
// carrier's numbers bound to that agent. It returns the agent and number.
func reminderTeam(t *testing.T, srv *procServer, name string) (agent map[string]any, from string) {
	t.Helper()
	email := strings.ToLower(name) + "@example.com"
	reg := srv.expect(srv.do("POST", "/api/v1/auth/register", map[string]string{
		"email": email, "password": "correct horse battery staple", "team_name": name,
	}), http.StatusCreated)
	key := srv.expect(srv.do("POST", "/api/v1/auth/api-keys", map[string]string{"name": name + " test"},
		"Authorization", "Bearer "+str(reg.data(t), "access_token")), http.StatusCreated).data(t)
	srv.auth = []string{"X-API-Key", str(key, "key")}
	agent = srv.expect(srv.do("POST", "/api/v1/agents", map[string]any{
		"name": name, "instructions": "Remind {{customer_name}} of their 7pm table.",
		"channels":            []string{"voice_outbound"},
		"call_brief_contract": map[string]any{"variables": []map[string]any{{"name": "customer_name", "required": true}}},
	}, srv.auth...), http.StatusCreated).data(t)
	avail := srv.expect(srv.do("GET", "/api/v1/phone-numbers/available", nil, srv.auth...), http.StatusOK)
	list, _ := avail.Body["data"].([]any)
	if len(list) == 0 {
		t.Fatalf("no numbers available: %s", avail.Raw)
	}
	from = str(list[0].(map[string]any), "phone_number")
	srv.expect(srv.do("POST", "/api/v1/phone-numbers", map[string]any{"phone_number": from, "voice_agent_id": str(agent, "id")},
		srv.auth...), http.StatusCreated)
	return agent, from
}
