package app

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
)

// browser is a console visitor: an HTTP client with its own cookie jar
// that does not follow redirects, so tests see them.
type browser struct {
	t    *testing.T
	s    *testServer
	c    *http.Client
	jar  *cookiejar.Jar
	csrf string
}

func newBrowser(t *testing.T, s *testServer) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, s: s, jar: jar, c: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// consolePage is a fetched console page.
type consolePage struct {
	Status   int
	Location string
	Body     string
}

var (
	csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	idemRe = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)
)

func (b *browser) send(req *http.Request) consolePage {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := consolePage{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(raw)}
	if m := csrfRe.FindStringSubmatch(p.Body); m != nil {
		b.csrf = m[1]
	}
	return p
}

func (b *browser) get(path string) consolePage {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.s.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.send(req)
}

// post submits a form; the CSRF token of the last page is added unless
// the form sets csrf_token itself. headers are name, value pairs.
func (b *browser) post(path string, form url.Values, headers ...string) consolePage {
	b.t.Helper()
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.send(req)
}

// follow fetches the page a redirect points at.
func (b *browser) follow(p consolePage) consolePage {
	b.t.Helper()
	if p.Status != http.StatusSeeOther || p.Location == "" {
		b.t.Fatalf("want a redirect, got %d: %.400s", p.Status, p.Body)
	}
	return b.get(p.Location)
}

// signIn signs in through the console's form.
func (b *browser) signIn(a account) {
	b.t.Helper()
	b.get("/console/login")
	p := b.post("/console/login", url.Values{"email": {a.email}, "password": {a.password}})
	if p.Status != http.StatusSeeOther || p.Location != "/console/calls" {
		b.t.Fatalf("sign in: %d %s: %.400s", p.Status, p.Location, p.Body)
	}
}

func consoleServer(t *testing.T) *testServer {
	return startServer(t, testConfig(t, db.Options{}))
}

func TestConsoleSignIn(t *testing.T) {
	t.Parallel()
	s := consoleServer(t)
	acct := s.register(t, "console-signin@example.com")
	b := newBrowser(t, s)

	// Signed out: pages redirect to the sign-in page, remembering the way back.
	p := b.get("/console/agents")
	if p.Status != http.StatusSeeOther || p.Location != "/console/login?next=%2Fconsole%2Fagents" {
		t.Fatalf("signed-out page: %d %q", p.Status, p.Location)
	}
	if p := b.get("/console"); p.Status != http.StatusMovedPermanently || p.Location != "/console/" {
		t.Fatalf("/console: %d %q", p.Status, p.Location)
	}
	login := b.get("/console/login?next=%2Fconsole%2Fagents")
	for _, want := range []string{`<label for="email">`, `<label for="password">`, `name="viewport"`, "<main", `href="/console/register"`} {
		if !strings.Contains(login.Body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}

	// A wrong password shows the API's error on the form.
	p = b.post("/console/login", url.Values{"email": {acct.email}, "password": {"wrong password"}})
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "invalid_credentials") {
		t.Fatalf("wrong password: %d %.600s", p.Status, p.Body)
	}

	// The right one lands on the page the visitor wanted.
	p = b.post("/console/login", url.Values{"email": {acct.email}, "password": {acct.password}, "next": {"/console/agents"}})
	if p.Status != http.StatusSeeOther || p.Location != "/console/agents" {
		t.Fatalf("sign in: %d %q %.400s", p.Status, p.Location, p.Body)
	}
	u, _ := url.Parse(s.base + "/console/")
	for _, ck := range b.jar.Cookies(u) {
		if ck.Name == "pv_console_access" && ck.Value == "" {
			t.Error("empty access cookie")
		}
	}
	p = b.get("/console/agents")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, acct.email) {
		t.Fatalf("agents page: %d %.400s", p.Status, p.Body)
	}
	// A redirect target outside the console is ignored.
	b2 := newBrowser(t, s)
	b2.get("/console/login")
	p = b2.post("/console/login", url.Values{"email": {acct.email}, "password": {acct.password}, "next": {"//evil.example/x"}})
	if p.Location != "/console/calls" {
		t.Fatalf("open redirect: %q", p.Location)
	}

	// An expired or broken access token is refreshed with the refresh token.
	b.jar.SetCookies(u, []*http.Cookie{{Name: "pv_console_access", Value: "not-a-token", Path: "/console"}})
	if p := b.get("/console/agents"); p.Status != http.StatusOK {
		t.Fatalf("after refresh: %d %.300s", p.Status, p.Body)
	}
	for _, ck := range b.jar.Cookies(u) {
		if ck.Name == "pv_console_access" && ck.Value == "not-a-token" {
			t.Error("the access cookie was not renewed")
		}
	}

	// Signing out clears the session.
	p = b.post("/console/logout", url.Values{})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.Status)
	}
	if p := b.get("/console/agents"); p.Status != http.StatusSeeOther {
		t.Fatalf("after sign out: %d", p.Status)
	}
}

func TestConsoleCSRF(t *testing.T) {
	t.Parallel()
	s := consoleServer(t)
	acct := s.register(t, "console-csrf@example.com")
	b := newBrowser(t, s)
	b.signIn(acct)
	b.get("/console/agents")

	form := func(token string) url.Values {
		return url.Values{"csrf_token": {token}, "name": {"Sneaky"}, "channels": {"voice_outbound"}}
	}
	if p := b.post("/console/agents", form("")); p.Status != http.StatusForbidden {
		t.Fatalf("no token: %d", p.Status)
	}
	if p := b.post("/console/agents", form("a-token-that-does-not-match")); p.Status != http.StatusForbidden {
		t.Fatalf("wrong token: %d", p.Status)
	}
	if p := b.post("/console/agents", form(b.csrf), "Origin", "http://evil.example"); p.Status != http.StatusForbidden {
		t.Fatalf("foreign origin: %d", p.Status)
	}
	if n := len(s.do("GET", "/api/v1/agents", nil, bearer(acct.access)...).expect(t, 200).Body["data"].([]any)); n != 0 {
		t.Fatalf("%d agents created by refused forms", n)
	}
	// The same form with the token and this origin works.
	p := b.post("/console/agents", form(b.csrf), "Origin", s.base)
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/agents/") {
		t.Fatalf("create agent: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	if p := b.follow(p); !strings.Contains(p.Body, "Sneaky") || !strings.Contains(p.Body, "created") {
		t.Fatalf("agent page: %.500s", p.Body)
	}
}

func TestConsoleTeamIsolation(t *testing.T) {
	t.Parallel()
	s := consoleServer(t)
	rig := newCallRig(t, s)
	id := rig.place(t, map[string]any{"phone_number_to": "+14155550123",
		"call_brief_variables": map[string]string{"customer_name": "Ada"}}).expect(t, 201).data(t)["id"].(string)
	rig.waitCall(t, id, "settled", settled)

	mine := newBrowser(t, s)
	mine.signIn(rig.acct)
	p := mine.get("/console/calls/" + id)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, id) || !strings.Contains(p.Body, `id="timeline"`) {
		t.Fatalf("own call: %d %.500s", p.Status, p.Body)
	}
	if !strings.Contains(p.Body, "call.status") {
		t.Errorf("finished call's page has no timeline events")
	}
	if p := mine.get("/console/calls"); !strings.Contains(p.Body, id[len(id)-8:]) {
		t.Errorf("calls list lacks the call")
	}
	// The recording plays through the console with the cookie.
	if strings.Contains(p.Body, "<audio") {
		if r := mine.get("/console/calls/" + id + "/recording"); r.Status != http.StatusOK || !strings.Contains(r.Body, "simulated recording") {
			t.Errorf("recording: %d %.200s", r.Status, r.Body)
		}
	} else {
		t.Error("finished call has no audio player")
	}

	other := newBrowser(t, s)
	other.signIn(s.register(t, "console-other@example.com"))
	for _, path := range []string{"/console/calls/" + id, "/console/agents/" + rig.agent.ID} {
		if p := other.get(path); p.Status != http.StatusNotFound || strings.Contains(p.Body, "+14155550123") {
			t.Fatalf("other team sees %s: %d", path, p.Status)
		}
	}
	for _, relay := range []string{"/events", "/recording"} {
		if p := other.get("/console/calls/" + id + relay); p.Status != http.StatusNotFound {
			t.Fatalf("other team's %s: %d", relay, p.Status)
		}
	}
	if p := other.get("/console/calls"); strings.Contains(p.Body, id[len(id)-8:]) {
		t.Fatal("other team's list shows the call")
	}
}

func TestConsoleSMSDoubleSubmit(t *testing.T) {
	t.Parallel()
	s := consoleServer(t)
	acct := s.register(t, "console-sms@example.com")
	_, from := s.claimNumber(t, acct)
	b := newBrowser(t, s)
	b.signIn(acct)
	p := b.get("/console/sms")
	m := idemRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("send form has no idempotency key: %.500s", p.Body)
	}
	form := url.Values{"idempotency_key": {m[1]}, "from": {from}, "to": {"+14155550199"}, "text": {"Your table is ready"}}
	first := b.post("/console/sms", form)
	second := b.post("/console/sms", form)
	for _, r := range []consolePage{first, second} {
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/console/sms/") {
			t.Fatalf("send: %d %q %.300s", r.Status, r.Location, r.Body)
		}
	}
	list := s.do("GET", "/api/v1/sms?direction=outbound", nil, bearer(acct.access)...).expect(t, 200)
	if n := len(list.Body["data"].([]any)); n != 1 {
		t.Fatalf("%d messages after a double submit, want 1", n)
	}
	thread := b.follow(first)
	if !strings.Contains(thread.Body, "Your table is ready") {
		t.Fatalf("thread: %.500s", thread.Body)
	}
	// A fresh form has a fresh key.
	if m2 := idemRe.FindStringSubmatch(thread.Body); m2 == nil || m2[1] == m[1] {
		t.Fatal("the reply form reuses the old key")
	}
}

func TestConsoleAPIKeyShownOnce(t *testing.T) {
	t.Parallel()
	s := consoleServer(t)
	acct := s.register(t, "console-keys@example.com")
	b := newBrowser(t, s)
	b.signIn(acct)
	b.get("/console/keys")
	p := b.post("/console/keys", url.Values{"name": {"ci"}})
	key := regexp.MustCompile(`value="(pv_[^"]+)"`).FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || key == nil {
		t.Fatalf("create key: %d %.600s", p.Status, p.Body)
	}
	// The key works against the API.
	s.do("GET", "/api/v1/agents", nil, "X-API-Key", html.UnescapeString(key[1])).expect(t, 200)
	again := b.get("/console/keys")
	if strings.Contains(again.Body, key[1]) || !strings.Contains(again.Body, ">ci<") {
		t.Fatalf("the list shows the secret or lacks the key: %.600s", again.Body)
	}
	ids := s.do("GET", "/api/v1/auth/api-keys", nil, bearer(acct.access)...).expect(t, 200).Body["data"].([]any)
	keyID := ids[0].(map[string]any)["id"].(string)
	if r := b.post(fmt.Sprintf("/console/keys/%s/revoke", keyID), url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Status)
	}
	s.do("GET", "/api/v1/agents", nil, "X-API-Key", html.UnescapeString(key[1])).expect(t, 401)
}

func TestConsolePages(t *testing.T) {
	t.Parallel()
	s := consoleServer(t)
	rig := newCallRig(t, s)
	b := newBrowser(t, s)
	b.signIn(rig.acct)
	for _, path := range []string{"/console/calls", "/console/calls?status=completed&agent_id=" + rig.agent.ID,
		"/console/agents", "/console/agents/" + rig.agent.ID, "/console/numbers", "/console/sms", "/console/inbound",
		"/console/webhooks", "/console/keys", "/console/simulator", "/console/static/console.css", "/console/static/console.js"} {
		p := b.get(path)
		if p.Status != http.StatusOK {
			t.Errorf("%s: %d %.300s", path, p.Status, p.Body)
		}
	}
	if p := b.get("/console/calls?status=bogus"); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "validation") {
		t.Errorf("bad filter: %d %.300s", p.Status, p.Body)
	}
	if p := b.get("/console/nope"); p.Status != http.StatusNotFound {
		t.Errorf("unknown page: %d", p.Status)
	}
	// Unbind and bind again through the numbers page.
	b.get("/console/numbers")
	if p := b.post("/console/numbers/"+rig.fromID+"/agent", url.Values{"agent_id": {rig.agent.ID}, "unbind": {"1"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("unbind: %d", p.Status)
	}
	n := s.do("GET", "/api/v1/phone-numbers/"+rig.fromID, nil, rig.h...).expect(t, 200).data(t)
	if n["voice_agent_id"] != nil {
		t.Fatalf("still bound: %v", n["voice_agent_id"])
	}
	b.post("/console/numbers/"+rig.fromID+"/agent", url.Values{"agent_id": {rig.agent.ID}})
	n = s.do("GET", "/api/v1/phone-numbers/"+rig.fromID, nil, rig.h...).expect(t, 200).data(t)
	if n["voice_agent_id"] != rig.agent.ID {
		t.Fatalf("not bound: %v", n["voice_agent_id"])
	}
	// A simulated inbound text lands in a conversation.
	b.get("/console/simulator")
	p := b.post("/console/simulator/sms", url.Values{"from": {"+14155550142"}, "to": {rig.from}, "text": {"hi there"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sim sms: %d", p.Status)
	}
	if f := b.follow(p); !strings.Contains(f.Body, "Simulated text sent") {
		t.Fatalf("sim sms flash: %.400s", f.Body)
	}
	// Only the team's numbers may be targeted.
	p = b.post("/console/simulator/call", url.Values{"from": {"+14155550142"}, "to": {"+15005550000"}})
	if f := b.follow(p); !strings.Contains(f.Body, "your team&#39;s numbers") {
		t.Fatalf("sim call to a foreign number: %.600s", f.Body)
	}
	// A webhook event's attempts, and a redelivery.
	sink := newEventSink(t)
	ev := s.do("POST", "/api/v1/webhook-events/test", map[string]any{"url": sink.srv.URL}, rig.h...).expect(t, 202).data(t)
	evID := ev["event_id"].(string)
	if p := b.get("/console/webhooks/" + evID); p.Status != http.StatusOK || !strings.Contains(p.Body, "webhook.test") {
		t.Fatalf("event page: %d %.300s", p.Status, p.Body)
	}
	if p := b.post("/console/webhooks/"+evID+"/redeliver", url.Values{}); p.Status != http.StatusSeeOther {
		t.Fatalf("redeliver: %d %.300s", p.Status, p.Body)
	} else if f := b.follow(p); !strings.Contains(f.Body, "Redelivery queued") {
		t.Fatalf("redeliver flash: %.600s", f.Body)
	}
	// Reconcile from the agent page.
	b.get("/console/agents/" + rig.agent.ID)
	if p := b.post("/console/agents/"+rig.agent.ID+"/reconcile", url.Values{}); p.Status != http.StatusSeeOther {
		t.Fatalf("reconcile: %d", p.Status)
	}
}

// TestConsoleConcurrentRefresh: a page and its live streams may all find
// the access token expired at once. They share one refresh, so the API
// never sees the refresh token spent twice (which would revoke the
// session).
func TestConsoleConcurrentRefresh(t *testing.T) {
	t.Parallel()
	s := consoleServer(t)
	acct := s.register(t, "console-refresh@example.com")
	b := newBrowser(t, s)
	b.signIn(acct)
	u, _ := url.Parse(s.base + "/console/")
	b.jar.SetCookies(u, []*http.Cookie{{Name: "pv_console_access", Value: "expired", Path: "/console"}})
	cookies := b.jar.Cookies(u)

	const n = 5
	type answer struct {
		status  int
		refresh string
	}
	answers := make(chan answer, n)
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, s.base+"/console/agents", nil)
			for _, ck := range cookies {
				req.AddCookie(ck)
			}
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				answers <- answer{}
				return
			}
			res.Body.Close()
			a := answer{status: res.StatusCode}
			for _, ck := range res.Cookies() {
				if ck.Name == "pv_console_refresh" {
					a.refresh = ck.Value
				}
			}
			answers <- a
		}()
	}
	var fresh string
	for range n {
		a := <-answers
		if a.status != http.StatusOK || a.refresh == "" {
			t.Fatalf("concurrent page: %d, refresh cookie %q", a.status, a.refresh)
		}
		if fresh != "" && a.refresh != fresh {
			t.Fatal("concurrent refreshes handed out different tokens")
		}
		fresh = a.refresh
	}
	// The session survived: its new refresh token still works.
	s.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": fresh}).expect(t, http.StatusOK)
}
