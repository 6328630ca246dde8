package webhooks

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The SSRF table from the reliability research: every address is refused by
// the production dial guard; public addresses on 80/443 pass.
func TestDialGuardTable(t *testing.T) {
	t.Parallel()
	guard := dialGuard(false)
	denied := []string{
		"127.0.0.1", "127.1.2.3", "0.0.0.0", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"100.64.0.1", "100.100.100.200", "169.254.169.254", "169.254.170.2", "192.0.0.1", "192.0.2.1",
		"198.18.0.1", "198.51.100.1", "203.0.113.1", "224.0.0.1", "240.0.0.1", "255.255.255.255",
		"[::]", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:169.254.169.254]", "[::ffff:10.0.0.1]", "[fe80::1]",
		"[fc00::1]", "[fd00:ec2::254]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[2001:db8::1]", "[2001::1]", "[ff02::1]",
	}
	for _, host := range denied {
		for _, port := range []string{"80", "443"} {
			network := "tcp4"
			if strings.HasPrefix(host, "[") {
				network = "tcp6"
			}
			if err := guard(network, host+":"+port, nil); err == nil {
				t.Errorf("%s:%s allowed", host, port)
			}
		}
	}
	for _, port := range []string{"22", "25", "6379", "8080"} {
		if err := guard("tcp4", "93.184.216.34:"+port, nil); err == nil {
			t.Errorf("public address on port %s allowed", port)
		}
	}
	for _, network := range []string{"udp", "unix"} {
		if err := guard(network, "93.184.216.34:443", nil); err == nil {
			t.Errorf("network %s allowed", network)
		}
	}
	for _, ok := range []string{"93.184.216.34:80", "93.184.216.34:443", "8.8.8.8:443"} {
		if err := guard("tcp4", ok, nil); err != nil {
			t.Errorf("public %s refused: %v", ok, err)
		}
	}
	if err := guard("tcp6", "[2606:4700:4700::1111]:443", nil); err != nil {
		t.Errorf("public IPv6 refused: %v", err)
	}
}

// TestProductionClientNeverConnectsToLoopback aims the production client at
// a live loopback listener by several spellings; none may connect.
func TestProductionClientNeverConnectsToLoopback(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	client := newClient(2*time.Second, false, nil)
	for _, u := range []string{
		srv.URL, "http://localhost:" + port + "/", "http://[::1]:" + port + "/",
		"http://127.0.0.1/",
	} {
		// Only spellings that resolve without DNS: tests send nothing off
		// this machine. Numeric spellings are refused by ValidateURL.
		req, _ := http.NewRequestWithContext(context.Background(), "POST", u, nil)
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			t.Errorf("%s: request went through", u)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("loopback listener saw %d connections", n)
	}
}

func TestValidateURL(t *testing.T) {
	t.Parallel()
	bad := []string{
		"", "not a url", "ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)",
		"http://", "https://user:pass@example.com/", "https://example.com/#frag",
		"https://" + strings.Repeat("a", MaxURLLength) + ".com/",
	}
	prodOnly := []string{
		"http://localhost/", "http://app.localhost/", "http://metadata.google.internal/", "http://127.0.0.1/",
		"http://10.0.0.1/", "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
		"http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "https://example.com:8443/",
	}
	for _, u := range bad {
		if ValidateURL(u, true) == nil || ValidateURL(u, false) == nil {
			t.Errorf("%q accepted", u)
		}
	}
	for _, u := range prodOnly {
		if err := ValidateURL(u, false); err == nil {
			t.Errorf("production accepted %q", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8081/hooks", "http://localhost:3000/x"} {
		if err := ValidateURL(u, true); err != nil {
			t.Errorf("development refused %q: %v", u, err)
		}
	}
	for _, u := range []string{"https://example.com/hooks", "http://hooks.example.org:80/a?b=c", "https://93.184.216.34/x"} {
		if err := ValidateURL(u, false); err != nil {
			t.Errorf("production refused %q: %v", u, err)
		}
	}
}
