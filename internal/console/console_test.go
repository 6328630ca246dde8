package console

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "/console/calls",
		"/console/agents":         "/console/agents",
		"/console/calls?status=x": "/console/calls?status=x",
		"//evil.example/console/": "/console/calls",
		"https://evil.example/":   "/console/calls",
		"/console/\\evil":         "/console/calls",
		"/consoleX":               "/console/calls",
		"/api/v1/agents":          "/console/calls",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	c := &Console{}
	for origin, want := range map[string]bool{
		"":                         true, // same-origin form posts may omit it
		"http://console.test":      true,
		"https://console.test":     true,
		"http://evil.example":      false,
		"null":                     false,
		"http://console.test.evil": false,
	} {
		r := httptest.NewRequest(http.MethodPost, "http://console.test/console/agents", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if got := c.sameOrigin(r); got != want {
			t.Errorf("Origin %q: %v, want %v", origin, got, want)
		}
	}
}

func TestDecode(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	rec.WriteHeader(http.StatusConflict)
	rec.WriteString(`{"error":{"code":"agent_not_synced","message":"reconcile the agent"}}`)
	_, err := decode(rec, nil)
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "agent_not_synced" || describe(err) != "reconcile the agent (agent_not_synced)" {
		t.Fatalf("error envelope: %#v", err)
	}

	rec = httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	rec.WriteString(`{"data":[{"id":"a"},{"id":"b"}],"meta":{"page":2,"per_page":2,"total":5}}`)
	var out []struct{ ID string }
	meta, err := decode(rec, &out)
	if err != nil || len(out) != 2 || meta.Total != 5 {
		t.Fatalf("list: %v %v %+v", err, out, meta)
	}
	if prev, next := pageLinks(mustURL(t, "/console/calls?status=completed&page=2"), meta); !strings.Contains(prev, "page=1") || !strings.Contains(next, "page=3") || !strings.Contains(next, "status=completed") {
		t.Fatalf("page links: %q %q", prev, next)
	}

	rec = httptest.NewRecorder()
	rec.Header().Set("Content-Type", "text/plain")
	rec.WriteHeader(http.StatusBadGateway)
	if _, err := decode(rec, nil); !errors.As(err, &ae) || ae.Status != 502 {
		t.Fatalf("non-JSON error: %v", err)
	}
}

func TestRefresherSharesOneRefresh(t *testing.T) {
	var f refresher
	calls := 0
	fresh := func() (tokens, error) {
		calls++
		return tokens{AccessToken: "a2", RefreshToken: "r2"}, nil
	}
	for range 3 {
		tok, err := f.do("r1", fresh)
		if err != nil || tok.RefreshToken != "r2" {
			t.Fatalf("%v %v", tok, err)
		}
	}
	if calls != 1 {
		t.Fatalf("%d refreshes for one token, want 1", calls)
	}
	// A failure is not remembered: the next request tries again.
	boom := errors.New("boom")
	if _, err := f.do("r9", func() (tokens, error) { return tokens{}, boom }); err != boom {
		t.Fatal(err)
	}
	if tok, _ := f.do("r9", fresh); tok.RefreshToken != "r2" || calls != 2 {
		t.Fatalf("retry after failure: %v, %d calls", tok, calls)
	}
}

func TestTemplatesParse(t *testing.T) {
	ps, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "register", "error", "calls", "call", "agents", "agent", "numbers", "sms",
		"thread", "inbound", "webhooks", "webhook", "keys", "simulator"} {
		if ps.byName[name] == nil {
			t.Errorf("no template %s", name)
		}
	}
}

func TestStatic(t *testing.T) {
	c, err := New(Config{API: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/console/static/console.css", "/console/static/console.js"} {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != 200 || rec.Body.Len() == 0 {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
	// A cross-site POST is refused before any handler runs.
	r := httptest.NewRequest(http.MethodPost, "http://console.test/console/login", strings.NewReader("email=a"))
	r.Header.Set("Origin", "http://evil.example")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", rec.Code)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCookieFlags(t *testing.T) {
	plain := httptest.NewRequest(http.MethodGet, "http://console.test/console/login", nil)
	dev := &Console{}
	ck := dev.cookie(plain, cookieAccess, "x", 0)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" || ck.Secure {
		t.Fatalf("development cookie over HTTP: %+v", ck)
	}
	if ck := (&Console{cfg: Config{Production: true}}).cookie(plain, cookieAccess, "x", 0); !ck.Secure {
		t.Fatal("production cookie is not Secure")
	}
	tlsReq := httptest.NewRequest(http.MethodGet, "https://console.test/console/login", nil)
	if ck := dev.cookie(tlsReq, cookieAccess, "x", 0); !ck.Secure {
		t.Fatal("cookie over TLS is not Secure")
	}
}
