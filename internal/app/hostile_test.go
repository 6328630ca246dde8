package app

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/telnyxsim"
)

// TestHostileInput: every malformed or abusive request is answered in the
// envelope with a 4xx, never a 500 or a hang.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	ada := s.register(t, "ada@example.com")
	h := bearer(ada.access)
	pnID, _ := s.claimNumber(t, ada)
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	cases := []struct {
		name, method, path, body string
	}{
		{"deep JSON", "POST", "/api/v1/inbound-sessions", `{"phone_number_id":"x","agent_id":"y","context_variables":` + deep + `}`},
		{"deep JSON in SMS", "POST", "/api/v1/sms/send", deep},
		{"huge string", "POST", "/api/v1/sms/send", `{"to":"+14155550142","text":"` + strings.Repeat("x", 5000) + `","idempotency_key":"k","phone_number_id":"` + pnID + `"}`},
		{"huge key", "POST", "/api/v1/sms/send", `{"to":"+14155550142","text":"x","idempotency_key":"` + strings.Repeat("k", 1000) + `","phone_number_id":"` + pnID + `"}`},
		{"wrong types", "POST", "/api/v1/calls", `{"agent_id":[1,2],"phone_number_to":{"x":1}}`},
		{"null body", "POST", "/api/v1/agents", `null`},
		{"array body", "POST", "/api/v1/phone-numbers", `[1,2,3]`},
		{"trailing garbage", "POST", "/api/v1/numbers/parse", `{"number":"+14155550142"} garbage`},
		{"negative page", "GET", "/api/v1/calls?page=-1&per_page=100000", ""},
		{"bad time filter", "GET", "/api/v1/sms?since=yesterday", ""},
		{"path traversal id", "GET", "/api/v1/calls/..%2F..%2Fetc%2Fpasswd", ""},
		{"SQL in an id", "GET", "/api/v1/agents/x'%20OR%20'1'='1", ""},
	}
	for _, c := range cases {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := s.do(c.method, c.path, body, h...)
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("%s: status %d (%.200s)", c.name, r.Status, r.Raw)
			continue
		}
		r.errCode(t) // an enveloped error with a code and message
	}

	// Invalid UTF-8 inside a JSON string is replaced (U+FFFD) as JSON
	// decoders do; it must simply not break anything.
	if r := s.do("POST", "/api/v1/agents", "{\"name\":\"\xff\xfe\xfd\"}", h...); r.Status >= 500 {
		t.Fatalf("non-UTF-8: %d", r.Status)
	}

	// A client that sends headers, then trickles its body, is cut off by
	// the body deadline rather than holding the handler forever: the
	// connection is closed or answered, never left hanging past it.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"em")
	_ = conn.SetReadDeadline(time.Now().Add(45 * time.Second))
	start := time.Now()
	line, err := bufio.NewReader(conn).ReadString('\n')
	t.Logf("trickling client: %q %v after %s", line, err, time.Since(start).Round(time.Millisecond))
	if err == nil && !strings.HasPrefix(line, "HTTP/1.1 4") {
		t.Fatalf("trickling client got %q", line)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a trickling client held the connection past the body deadline")
	}
	// The server is still fine.
	s.do("GET", "/healthz", nil).expect(t, 200)
	res, err := http.Post(s.base+"/api/v1/auth/login", "application/json", bytes.NewReader([]byte(`{"email":"a@b.c","password":"x"}`)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}

// TestSlowHeadersAreCutOff: a client that starts a request and never
// finishes its headers (slowloris) loses the connection once the header
// timeout passes; it cannot hold a connection and a goroutine forever.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t, dbOptionsSQLite(t)))
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nX-Slow: a")
	_ = conn.SetReadDeadline(time.Now().Add(45 * time.Second))
	start := time.Now()
	line, err := bufio.NewReader(conn).ReadString('\n')
	t.Logf("slow-header client: %q %v after %s", line, err, time.Since(start).Round(time.Millisecond))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a client that never finished its headers held the connection for 45 s")
	}
	if err == nil && !strings.HasPrefix(line, "HTTP/1.1 4") {
		t.Fatalf("slow-header client got %q", line)
	}
	s.do("GET", "/healthz", nil).expect(t, 200)
}

// TestTeamLimits: one team flooding the API, or holding many slow
// requests open, gets 429s in the envelope with Retry-After, while another
// team on the same server is served as usual.
func TestTeamLimits(t *testing.T) {
	t.Parallel()
	// The request rate, with the in-flight cap off.
	cfg := testConfig(t, dbOptionsSQLite(t))
	cfg.TeamRate, cfg.TeamBurst, cfg.TeamInFlight = 5, 10, -1
	s := startServer(t, cfg)
	flood, quiet := s.register(t, "flood@example.com"), s.register(t, "quiet@example.com")

	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.do("GET", "/api/v1/calls", nil, bearer(flood.access)...)
			code := "ok"
			if r.Status != http.StatusOK {
				if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
					t.Errorf("flood: status %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
				}
				code = r.errCode(t)
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	for range 5 {
		s.do("GET", "/api/v1/calls", nil, bearer(quiet.access)...).expect(t, http.StatusOK)
	}
	wg.Wait()
	t.Logf("flooding team: %v", codes)
	if codes["rate_limited"] == 0 || codes["ok"] < 3 || codes["ok"] > 30 {
		t.Fatalf("40 requests at once against a burst of 10: %v", codes)
	}

	// Requests in progress, with the rate off: the carrier answers slowly,
	// so three number searches hold the team's three slots and the rest
	// are refused.
	cfg = testConfig(t, dbOptionsSQLite(t))
	cfg.TeamRate, cfg.TeamInFlight = -1, 3
	s = startServer(t, cfg)
	if _, err := s.app.Sim.AddFault(telnyxsim.Fault{Kind: telnyxsim.FaultLatency, LatencyMS: 5000, Count: 10, Method: "GET", PathPrefix: "/v2/phone_numbers"}); err != nil {
		t.Fatal(err)
	}
	slow := s.register(t, "slow@example.com")
	results := make(chan reply, 5)
	for range 5 {
		go func() { results <- s.do("GET", "/api/v1/phone-numbers/available", nil, bearer(slow.access)...) }()
	}
	busy := 0
	for range 5 {
		r := <-results
		if r.Status == http.StatusTooManyRequests && r.errCode(t) == "too_many_concurrent_requests" {
			busy++
		} else if r.Status != http.StatusOK {
			t.Fatalf("slow search: %d %s", r.Status, r.Raw)
		}
	}
	if busy != 2 {
		t.Fatalf("%d of 5 concurrent requests refused with a cap of 3, want 2", busy)
	}
}
